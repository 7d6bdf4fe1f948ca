package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/photodesk/photodesk/internal/fixture"
	"github.com/photodesk/photodesk/pipeline"
	"github.com/photodesk/photodesk/pipeline/contract"
	"github.com/photodesk/photodesk/pipeline/devstack"
	"github.com/photodesk/photodesk/workers/webhooks"
)

const whSecret = "whsec-e2e-0123456789abcdef0123"

// whBuffer collects a child's stderr (and shows it in the test log).
type whBuffer struct {
	t  *testing.T
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *whBuffer) Write(p []byte) (int, error) {
	w.t.Log("webhooks: " + strings.TrimRight(string(p), "\n"))
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *whBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// whProc is this test binary run as `photodesk args...`, its output kept.
type whProc struct {
	cmd  *exec.Cmd
	out  *whBuffer
	done chan struct{}
	err  error
}

// whChild starts a whProc; it is killed when the test ends if still running.
func whChild(t *testing.T, env []string, args ...string) *whProc {
	t.Helper()
	p := &whProc{cmd: exec.Command(os.Args[0], args...), out: &whBuffer{t: t}, done: make(chan struct{})}
	p.cmd.Env = append(append(os.Environ(), "PHOTODESK_TEST_CHILD=1"), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { _ = p.cmd.Process.Kill(); <-p.done })
	return p
}

// exit waits up to d for the process to end: its error, and whether it did.
func (p *whProc) exit(d time.Duration) (error, bool) {
	select {
	case <-p.done:
		return p.err, true
	case <-time.After(d):
		return nil, false
	}
}

// stop sends SIGTERM and expects a clean exit.
func (p *whProc) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err, ok := p.exit(15 * time.Second); !ok {
		t.Error("the worker did not stop within 15s of SIGTERM")
	} else if err != nil {
		t.Errorf("the worker exited with %v after SIGTERM, want a clean exit", err)
	}
}

// TestWebhooksEndToEnd: a gallery goes through the real pipeline and its
// article.ready reaches a newsroom endpoint, from `photodesk worker --role
// webhooks` configured by PHOTODESK_WEBHOOKS, signed, exactly as on the
// stream, after the endpoint failed twice; the secret is never printed.
func TestWebhooksEndToEnd(t *testing.T) {
	s := devstack.ForTest(t)
	startRoles(t, s, "ingest", "exif", "renditions", "watermark", "assembler")

	type request struct {
		header http.Header
		body   []byte
	}
	var mu sync.Mutex
	var reqs []request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		reqs = append(reqs, request{r.Header.Clone(), body})
		n := len(reqs)
		mu.Unlock()
		if err := webhooks.Verify(r.Header.Get(webhooks.SignatureHeader), body, map[string]string{"k1": whSecret}, time.Now(), time.Minute); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		if n <= 2 {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()

	worker := whChild(t, []string{
		"PHOTODESK_WEBHOOKS=cms=" + srv.URL + "/hooks;k1;" + whSecret,
		"PHOTODESK_WEBHOOK_BACKOFF=50ms", "PHOTODESK_WEBHOOK_MAX_BACKOFF=400ms",
	}, append([]string{"worker", "--role", "webhooks"}, connFlags(s.Config)...)...)

	// The consumer starts at new events: wait for it before the gallery.
	nc, js, err := pipeline.Connect(s.Config, t.Name())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err := js.Consumer(context.Background(), contract.EventsStream, webhooks.ConsumerName("cms")); err == nil {
			break
		} else if !errors.Is(err, jetstream.ErrConsumerNotFound) || time.Now().After(deadline) {
			t.Fatalf("consumer %s: %v", webhooks.ConsumerName("cms"), err)
		}
	}

	for i, name := range []string{"a.jpg", "b.jpg"} {
		putObject(t, s.Config, "hook-1/"+name, photo(t, int64(i+1), &fixture.EXIF{DateTimeOriginal: "2026:07:28 09:30:00"}))
	}
	putObject(t, s.Config, "hook-1/gallery.json", []byte(`{"headline":"高清大图|钩子","photos":[{"file":"a.jpg","caption":"甲"},{"file":"b.jpg","caption":"乙"}]}`))

	evs := articleEvents(t, s.Config, "hook-1", 1, 60*time.Second)
	devstack.Settle(t, js, contract.EventsStream, webhooks.ConsumerName("cms"), 20*time.Second)
	mu.Lock()
	got := append([]request(nil), reqs...)
	mu.Unlock()
	if len(got) != 3 {
		t.Fatalf("the endpoint had %d requests, want 3 (two refused with 503, then taken)", len(got))
	}
	last := got[2]
	seq, err := strconv.ParseUint(last.header.Get(webhooks.DeliveryHeader), 10, 64)
	if err != nil {
		t.Fatalf("%s: %v", webhooks.DeliveryHeader, err)
	}
	stream, err := js.Stream(context.Background(), contract.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := stream.GetMsg(context.Background(), seq)
	if err != nil {
		t.Fatal(err)
	}
	if raw.Subject != "photodesk.article.ready.hook-1" || !bytes.Equal(raw.Data, last.body) {
		t.Errorf("delivered body is not stream message %d (%s) as published", seq, raw.Subject)
	}
	var ev contract.ArticleEvent
	if err := json.Unmarshal(last.body, &ev); err != nil || ev.Gallery != "hook-1" || ev.Version != evs[0].Version || ev.Photos != 2 || len(ev.Record) == 0 {
		t.Errorf("delivered event: %+v, %v", ev, err)
	}
	for h, want := range map[string]string{
		"Content-Type": "application/json", webhooks.EventHeader: "article.ready",
		webhooks.EventIDHeader: "article:hook-1:v1", webhooks.AttemptHeader: "3",
	} {
		if g := last.header.Get(h); g != want {
			t.Errorf("%s: %q, want %q", h, g, want)
		}
	}
	for i, r := range got {
		if d := r.header.Get(webhooks.DeliveryHeader); d != strconv.FormatUint(seq, 10) {
			t.Errorf("request %d is delivery %s, want %d: retries keep the id", i+1, d, seq)
		}
	}

	worker.stop(t)
	log := worker.out.String()
	if strings.Contains(log, whSecret) {
		t.Errorf("the secret is in the worker's output:\n%s", log)
	}
	for _, want := range []string{"webhooks started", "status=503", "msg=delivered", "webhooks stopped"} {
		if !strings.Contains(log, want) {
			t.Errorf("the worker's log does not say %q", want)
		}
	}
}

// TestWebhooksRoleConfiguration: without endpoints the role runs, says it
// has nothing to do, and stops cleanly; a bad endpoint stops the worker
// with the reason; -h shows endpoints masked. No secret is ever printed.
func TestWebhooksRoleConfiguration(t *testing.T) {
	ns, err := devstack.StartNATS(devstack.NATSOptions{Addr: "127.0.0.1:0", StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Shutdown()
	flags := []string{"worker", "--role", "webhooks", "--nats", ns.ClientURL()}

	idle := whChild(t, []string{"PHOTODESK_WEBHOOKS="}, flags...)
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(idle.out.String(), "no webhook endpoints configured"); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the role did not say it has no endpoints:\n%s", idle.out.String())
		}
	}
	if err, ok := idle.exit(300 * time.Millisecond); ok {
		t.Fatalf("the role exited (%v) instead of waiting quietly", err)
	}
	idle.stop(t)

	bad := whChild(t, nil, append(flags, "--webhooks", "cms=ftp://ops:pw-in-url-0000@cms.example.com/hooks;k1;"+whSecret)...)
	if err, _ := bad.exit(20 * time.Second); err == nil || !strings.Contains(bad.out.String(), "webhook endpoint cms: URL ftp://ops:xxxxx@cms.example.com/hooks must be http or https") {
		t.Errorf("a bad endpoint: exit %v, output:\n%s", err, bad.out.String())
	}

	help := whChild(t, []string{"PHOTODESK_WEBHOOKS=cms=https://ops:pw-in-url-0000@cms.example.com/hooks;k1;" + whSecret}, "worker", "-h")
	help.exit(20 * time.Second)
	if !strings.Contains(help.out.String(), "cms=https://ops:xxxxx@cms.example.com/hooks;k1;***") {
		t.Errorf("-h does not show the endpoint masked:\n%s", help.out.String())
	}
	for _, p := range []*whProc{idle, bad, help} {
		if o := p.out.String(); strings.Contains(o, whSecret) || strings.Contains(o, "pw-in-url-0000") {
			t.Errorf("a secret is printed:\n%s", o)
		}
	}
}
