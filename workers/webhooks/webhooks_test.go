package webhooks_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/photodesk/photodesk/pipeline"
	"github.com/photodesk/photodesk/pipeline/config"
	"github.com/photodesk/photodesk/pipeline/contract"
	"github.com/photodesk/photodesk/pipeline/devstack"
	"github.com/photodesk/photodesk/workers/webhooks"
)

// env is a real embedded NATS server with photodesk's streams, and the
// logs of everything the test ran (checked for secrets at the end).
type env struct {
	js   jetstream.JetStream
	cfg  config.Config
	logs *lockedBuffer
}

func newEnv(t *testing.T) *env {
	t.Helper()
	cfg := config.Default()
	cfg.AckWait = time.Second // kept alive by InProgress through longer outages
	cfg, js := devstack.NATSForTest(t, cfg)
	e := &env{js: js, cfg: cfg, logs: &lockedBuffer{}}
	t.Cleanup(func() {
		for _, s := range []string{secretA, secretB} {
			if strings.Contains(e.logs.String(), s) {
				t.Errorf("a secret is in the logs:\n%s", e.logs.String())
			}
		}
	})
	return e
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type testWriter struct {
	t    *testing.T
	also io.Writer
}

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return w.also.Write(p)
}

// deliverer is the role with tiny back-offs (20 ms doubling to 160 ms).
func (e *env) deliverer(t *testing.T, eps ...webhooks.Endpoint) *webhooks.Deliverer {
	cfg := webhooks.DefaultConfig()
	cfg.Endpoints = eps
	cfg.MinBackoff = 20 * time.Millisecond
	cfg.MaxBackoff = 160 * time.Millisecond
	cfg.Timeout = time.Second
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return &webhooks.Deliverer{
		JS: e.js, Pipeline: e.cfg, Cfg: cfg, PollWait: 200 * time.Millisecond,
		Log: slog.New(slog.NewTextHandler(testWriter{t, e.logs}, nil)),
	}
}

// start runs d (its consumers exist when start returns); stop cancels it
// and says how long Run took to return.
func start(t *testing.T, d *webhooks.Deliverer) (stop func() time.Duration) {
	t.Helper()
	if _, err := d.Ensure(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	var once sync.Once
	var took time.Duration
	stop = func() time.Duration {
		once.Do(func() {
			t0 := time.Now()
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not return within 10s of cancel")
			}
			took = time.Since(t0)
		})
		return took
	}
	t.Cleanup(func() { stop() })
	return stop
}

// published is one article event as it is on the stream.
type published struct {
	seq     uint64
	event   string
	id      string
	gallery string
	data    []byte
}

// publish puts an article event on the stream as the assembler would:
// version 1 is article.ready, later ones article.updated.
func (e *env) publish(t *testing.T, gallery string, version int) published {
	t.Helper()
	rec := fmt.Sprintf(`{"uri":"urn:photodesk:gallery:%s","type":"composite","version":"%d","headlines":[{"role":"main","value":"高清大图|%s"}]}`, gallery, version, gallery)
	now := time.Date(2026, 7, 31, 8, 0, version, 0, time.UTC)
	ev := contract.ArticleEvent{
		Gallery: gallery, Version: version, FirstCreated: now, VersionCreated: now,
		Bucket: "articles", Key: gallery + "/article.json", PreviewKey: gallery + "/index.html", Photos: 3,
		Record: json.RawMessage(rec),
	}
	subject, event := contract.SubjectArticleReady, "article.ready"
	if version > 1 {
		subject, event = contract.SubjectArticleUpdated, "article.updated"
	}
	id := fmt.Sprintf("article:%s:v%d", gallery, version)
	out, err := contract.JSONOutput(contract.GallerySubject(subject, gallery), id, ev)
	if err != nil {
		t.Fatal(err)
	}
	ack, err := e.js.Publish(context.Background(), out.Subject, out.Data, jetstream.WithMsgID(out.MsgID))
	if err != nil {
		t.Fatal(err)
	}
	return published{seq: ack.Sequence, event: event, id: id, gallery: gallery, data: out.Data}
}

// publishMany publishes versions 1..n of each gallery, interleaved.
func (e *env) publishMany(t *testing.T, n int, galleries ...string) []published {
	var ps []published
	for v := 1; v <= n; v++ {
		for _, g := range galleries {
			ps = append(ps, e.publish(t, g, v))
		}
	}
	return ps
}

// hangUp as a status makes the receiver close the connection unanswered.
const hangUp = -1

// receiver is a newsroom endpoint: it checks every request's signature
// and answers as respond says for its nth request (1-based).
type receiver struct {
	t       *testing.T
	name    string
	kid     string
	secret  string
	respond func(n int) int

	mu       sync.Mutex
	slow     time.Duration // wait before answering
	requests int
	tries    []delivery // every signed request, headers only
	got      []delivery // answered 2xx while the sender still waited
	problems []string

	addr string
	ln   net.Listener
	srv  *http.Server
}

type delivery struct {
	seq     uint64
	event   string
	id      string
	attempt int
	body    []byte
}

func newReceiver(t *testing.T, name, kid, secret string, respond func(n int) int) *receiver {
	r := &receiver{t: t, name: name, kid: kid, secret: secret, respond: respond}
	r.up()
	t.Cleanup(r.down)
	return r
}

func (r *receiver) endpoint() webhooks.Endpoint {
	return webhooks.Endpoint{Name: r.name, URL: "http://" + r.addr + "/hooks/photodesk", KeyID: r.kid, Secret: r.secret}
}

// up listens (again, on the same address after down).
func (r *receiver) up() {
	r.t.Helper()
	addr := r.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ { // the old socket may linger a moment
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		r.t.Fatal(err)
	}
	r.addr, r.ln = ln.Addr().String(), ln
	r.srv = &http.Server{Handler: http.HandlerFunc(r.serve)}
	go func() { _ = r.srv.Serve(ln) }()
}

// down stops listening and drops open connections: connection refused.
func (r *receiver) down() {
	if r.srv != nil {
		_ = r.srv.Close()
		r.srv = nil
	}
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	r.mu.Lock()
	r.requests++
	n, slow := r.requests, r.slow
	r.mu.Unlock()
	problem := func(format string, a ...any) {
		r.mu.Lock()
		r.problems = append(r.problems, fmt.Sprintf("request %d: ", n)+fmt.Sprintf(format, a...))
		r.mu.Unlock()
	}
	if err != nil {
		problem("body: %v", err)
		return
	}
	if req.Method != http.MethodPost || req.URL.Path != "/hooks/photodesk" || req.Header.Get("Content-Type") != "application/json" {
		problem("%s %s %q", req.Method, req.URL.Path, req.Header.Get("Content-Type"))
	}
	if err := webhooks.Verify(req.Header.Get(webhooks.SignatureHeader), body, map[string]string{r.kid: r.secret}, time.Now(), time.Minute); err != nil {
		problem("signature: %v", err)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	seq, _ := strconv.ParseUint(req.Header.Get(webhooks.DeliveryHeader), 10, 64)
	attempt, _ := strconv.Atoi(req.Header.Get(webhooks.AttemptHeader))
	d := delivery{seq: seq, event: req.Header.Get(webhooks.EventHeader), id: req.Header.Get(webhooks.EventIDHeader), attempt: attempt, body: body}
	r.mu.Lock()
	r.tries = append(r.tries, d)
	r.mu.Unlock()
	if slow > 0 {
		select {
		case <-time.After(slow):
		case <-req.Context().Done(): // the sender gave up
			return
		}
	}
	status := r.respond(n)
	if status == hangUp {
		hj, ok := w.(http.Hijacker)
		if !ok {
			problem("cannot hijack")
			return
		}
		c, _, _ := hj.Hijack()
		c.Close()
		return
	}
	if status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "1")
	}
	if status >= 200 && status < 300 {
		r.mu.Lock()
		r.got = append(r.got, d)
		r.mu.Unlock()
	}
	w.WriteHeader(status)
	fmt.Fprintf(w, "status %d for request %d", status, n)
}

func (r *receiver) setSlow(d time.Duration) {
	r.mu.Lock()
	r.slow = d
	r.mu.Unlock()
}

// checkAttempts asserts each event was tried as attempts 1, 2, 3… one
// after another: no event was ever handed to a second process while the
// first still held it (InProgress kept it), and none was tried after
// a later one.
func (r *receiver) checkAttempts(t *testing.T) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	var last uint64
	next := 1
	for i, d := range r.tries {
		if d.seq != last {
			if d.seq < last {
				t.Errorf("%s request %d: seq %d after seq %d", r.name, i+1, d.seq, last)
			}
			last, next = d.seq, 1
		}
		if d.attempt != next {
			t.Errorf("%s request %d: seq %d attempt %d, want %d", r.name, i+1, d.seq, d.attempt, next)
		}
		next = d.attempt + 1
	}
}

func (r *receiver) delivered() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery(nil), r.got...)
}

func (r *receiver) count() (requests, delivered int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.requests, len(r.got)
}

// waitFor waits until cond holds.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: still not %s", d, what)
		}
	}
}

// check asserts the receiver took every event exactly once, in stream
// order, signed, with the event's bytes as the body and the right
// headers, and that the endpoint's consumer has nothing left.
func (e *env) check(t *testing.T, r *receiver, want []published) {
	t.Helper()
	waitFor(t, 20*time.Second, fmt.Sprintf("%d deliveries to %s", len(want), r.name), func() bool {
		_, n := r.count()
		return n >= len(want)
	})
	devstack.Settle(t, e.js, contract.EventsStream, webhooks.ConsumerName(r.name), 5*time.Second)
	time.Sleep(100 * time.Millisecond) // anything extra would show now
	got := r.delivered()
	r.mu.Lock()
	for _, p := range r.problems {
		t.Errorf("%s: %s", r.name, p)
	}
	r.mu.Unlock()
	if len(got) != len(want) {
		t.Errorf("%s took %d deliveries, want %d", r.name, len(got), len(want))
	}
	for i := range min(len(got), len(want)) {
		g, w := got[i], want[i]
		if g.seq != w.seq || g.event != w.event || g.id != w.id || !bytes.Equal(g.body, w.data) {
			t.Errorf("%s delivery %d: seq %d %s %s, want seq %d %s %s (body as on the stream: %v)",
				r.name, i+1, g.seq, g.event, g.id, w.seq, w.event, w.id, bytes.Equal(g.body, w.data))
		}
	}
}

// Events reach a failing endpoint in order, once each, whatever it does
// in between: 500s, hang-ups, a refusal (401), 429 with Retry-After, a
// slow answer past the time limit, and a stretch of failures several
// times AckWait, with a second process of the same endpoint standing by.
func TestDeliversInOrderThroughFailures(t *testing.T) {
	e := newEnv(t)
	var mu sync.Mutex
	failing := map[int]int{
		1: 500, 2: 503, 3: hangUp, 4: 401, // the first event: four failures
		6: hangUp, 7: 429, 10: 500, 11: 500, 12: 500, 13: hangUp, 14: 502, 15: 500, 16: 500, 17: 404, 18: 500,
	}
	rcv := newReceiver(t, "cms", "k1", secretA, func(n int) int {
		mu.Lock()
		defer mu.Unlock()
		if s, ok := failing[n]; ok {
			return s
		}
		return http.StatusNoContent
	})
	for range 2 {
		d := e.deliverer(t, rcv.endpoint())
		d.Cfg.MaxBackoff = 1200 * time.Millisecond // the failures 10–18 last about 5 s, AckWait is 1 s
		start(t, d)
	}
	want := e.publishMany(t, 3, "summer-expo", "winter-fair")
	e.check(t, rcv, want)
	if got := rcv.delivered(); len(got) > 0 && got[0].attempt != 5 {
		t.Errorf("the first event was taken on attempt %d, want 5", got[0].attempt)
	}
	if !strings.Contains(e.logs.String(), "endpoint refuses the delivery") {
		t.Error("a 401 was not logged as a refusal")
	}

	// A slow endpoint: the attempt times out (1 s) and is retried.
	rcv.setSlow(1500 * time.Millisecond)
	more := e.publish(t, "summer-expo", 4)
	time.Sleep(1200 * time.Millisecond)
	rcv.setSlow(0)
	e.check(t, rcv, append(want, more))
	if got := rcv.delivered(); got[len(got)-1].attempt < 2 {
		t.Errorf("the slow delivery was taken on attempt %d", got[len(got)-1].attempt)
	}
	rcv.checkAttempts(t)
}

// One endpoint being down does not hold up another.
func TestEndpointsAreIndependent(t *testing.T) {
	e := newEnv(t)
	var healthy atomic.Bool
	down := newReceiver(t, "down", "k1", secretA, func(int) int {
		if healthy.Load() {
			return http.StatusOK
		}
		return http.StatusServiceUnavailable
	})
	up := newReceiver(t, "up", "k2", secretB, func(int) int { return http.StatusOK })
	start(t, e.deliverer(t, down.endpoint(), up.endpoint()))
	want := e.publishMany(t, 2, "a", "b")
	t0 := time.Now()
	e.check(t, up, want)
	if took := time.Since(t0); took > 3*time.Second {
		t.Errorf("the healthy endpoint took %s", took)
	}
	if req, n := down.count(); n != 0 || req < 2 {
		t.Errorf("the broken endpoint had %d requests, %d taken", req, n)
	}
	healthy.Store(true)
	e.check(t, down, want)
	down.checkAttempts(t)
}

// Stopping the role mid-outage releases the waiting event at once; a new
// process (new connection) resumes from the durable consumer, in order.
func TestRestartMidOutage(t *testing.T) {
	e := newEnv(t)
	var mu sync.Mutex
	healthy := 2 // then hang up on everything
	rcv := newReceiver(t, "cms", "k1", secretA, func(n int) int {
		mu.Lock()
		defer mu.Unlock()
		if n <= healthy {
			return http.StatusOK
		}
		return hangUp
	})
	stop := start(t, e.deliverer(t, rcv.endpoint()))
	want := e.publishMany(t, 3, "a", "b")
	waitFor(t, 5*time.Second, "two delivered and the third tried", func() bool {
		req, n := rcv.count()
		return n == 2 && req >= 4
	})
	rcv.down() // now connections are refused
	time.Sleep(1500 * time.Millisecond)
	if took := stop(); took > 500*time.Millisecond {
		t.Errorf("stopping took %s: a delivery waiting for its next attempt should be released at once", took)
	}
	// Released, not left to time out: a pull gets it at once (well within
	// the AckWait the last InProgress bought), as its second delivery.
	c, err := e.js.Consumer(context.Background(), contract.EventsStream, webhooks.ConsumerName("cms"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.Fetch(1, jetstream.FetchMaxWait(300*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	released := false
	for m := range b.Messages() {
		md, _ := m.Metadata()
		released = md.Sequence.Stream == want[2].seq && md.NumDelivered == 2
		_ = m.Nak()
	}
	if !released {
		t.Error("the event under way was not released at shutdown")
	}
	more := e.publish(t, "c", 1) // published while nothing runs

	// A new process, its own connection; the endpoint comes back a moment later.
	nc, js, err := pipeline.Connect(e.cfg, t.Name()+"-2")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	d2 := e.deliverer(t, rcv.endpoint())
	d2.JS = js
	start(t, d2)
	time.Sleep(300 * time.Millisecond)
	mu.Lock()
	healthy = 1 << 30
	mu.Unlock()
	rcv.up()
	e.check(t, rcv, append(want, more))
}

// A request under way when the role stops is finished and acked, not cut
// off and sent again.
func TestShutdownFinishesInFlightDelivery(t *testing.T) {
	e := newEnv(t)
	entered, release := make(chan struct{}, 10), make(chan struct{})
	rcv := newReceiver(t, "cms", "k1", secretA, func(int) int {
		entered <- struct{}{}
		<-release
		return http.StatusOK
	})
	stop := start(t, e.deliverer(t, rcv.endpoint()))
	want := []published{e.publish(t, "a", 1)}
	<-entered
	stopped := make(chan time.Duration)
	go func() { stopped <- stop() }()
	time.Sleep(200 * time.Millisecond)
	close(release)
	<-stopped
	e.check(t, rcv, want)
}

// A new endpoint starts with events from now by default; Start "all"
// replays what the stream holds. Either way the consumer keeps its place
// across restarts and configuration changes.
func TestStartNewOrAll(t *testing.T) {
	e := newEnv(t)
	old := e.publish(t, "a", 1)
	ok := func(int) int { return http.StatusOK }
	fresh := newReceiver(t, "fresh", "k1", secretA, ok)
	all := newReceiver(t, "all", "k1", secretA, ok)
	dAll := e.deliverer(t, all.endpoint())
	dAll.Cfg.Start = webhooks.StartAll
	start(t, dAll)
	start(t, e.deliverer(t, fresh.endpoint()))
	next := e.publish(t, "b", 1)
	e.check(t, fresh, []published{next})
	e.check(t, all, []published{old, next})

	// Restarted with the other setting: the consumer keeps its policy and place.
	dAgain := e.deliverer(t, fresh.endpoint())
	dAgain.Cfg.Start = webhooks.StartAll
	if _, err := dAgain.Ensure(context.Background()); err != nil {
		t.Fatal(err)
	}
	info := devstack.Settle(t, e.js, contract.EventsStream, webhooks.ConsumerName("fresh"), time.Second)
	if info.Config.DeliverPolicy != jetstream.DeliverNewPolicy || info.Config.MaxAckPending != 1 || info.Config.MaxDeliver != -1 {
		t.Errorf("consumer config after restart: %+v", info.Config)
	}
}

// Without endpoints the role says so and waits quietly for shutdown.
func TestNoEndpoints(t *testing.T) {
	e := newEnv(t)
	stop := start(t, e.deliverer(t))
	time.Sleep(100 * time.Millisecond)
	stop()
	if !strings.Contains(e.logs.String(), "no webhook endpoints configured") {
		t.Errorf("logs:\n%s", e.logs.String())
	}
	stream, err := e.js.Stream(context.Background(), contract.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	lister := stream.ListConsumers(context.Background())
	for ci := range lister.Info() {
		if strings.HasPrefix(ci.Name, "webhook-") {
			t.Errorf("consumer %s created without endpoints", ci.Name)
		}
	}
	if err := lister.Err(); err != nil && !errors.Is(err, jetstream.ErrEndOfData) {
		t.Fatal(err)
	}
}
