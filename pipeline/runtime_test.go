package pipeline_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/photodesk/photodesk/pipeline"
	"github.com/photodesk/photodesk/pipeline/config"
	"github.com/photodesk/photodesk/pipeline/contract"
	"github.com/photodesk/photodesk/pipeline/devstack"
)

// env is a real embedded NATS server with photodesk's streams.
type env struct {
	js  jetstream.JetStream
	cfg config.Config
}

func newEnv(t *testing.T) *env {
	t.Helper()
	cfg := config.Default()
	cfg.AckWait = 2 * time.Second
	cfg.MaxDeliver = 3
	cfg.Backoff = []time.Duration{50 * time.Millisecond}
	cfg, js := devstack.NATSForTest(t, cfg)
	return &env{js: js, cfg: cfg}
}

func (e *env) runtime(t *testing.T) *pipeline.Runtime {
	return &pipeline.Runtime{
		JS: e.js, Cfg: e.cfg, PollWait: 300 * time.Millisecond, ShutdownGrace: 2 * time.Second,
		Log: slog.New(slog.NewTextHandler(testWriter{t}, nil)),
	}
}

// upload publishes a photo.uploaded event as ingest would.
func (e *env) upload(t *testing.T, gallery, photo string) {
	t.Helper()
	ev := contract.PhotoUploaded{Ref: contract.Ref{Gallery: gallery, Photo: photo, Bucket: "originals", Key: gallery + "/" + photo, ETag: "e1"}}
	out, err := contract.JSONOutput(contract.GallerySubject(contract.SubjectPhotoUploaded, gallery), contract.MsgID("uploaded", ev.Ref), ev)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.js.Publish(context.Background(), out.Subject, out.Data, jetstream.WithMsgID(out.MsgID)); err != nil {
		t.Fatal(err)
	}
}

// collect returns the events on subject filter seen within d.
func (e *env) collect(t *testing.T, filter string, want int, d time.Duration) []jetstream.Msg {
	t.Helper()
	cons, err := e.js.OrderedConsumer(context.Background(), contract.EventsStream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter}})
	if err != nil {
		t.Fatal(err)
	}
	var msgs []jetstream.Msg
	deadline := time.Now().Add(d)
	for len(msgs) < want && time.Now().Before(deadline) {
		b, err := cons.Fetch(want-len(msgs), jetstream.FetchMaxWait(200*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		for m := range b.Messages() {
			msgs = append(msgs, m)
		}
	}
	return msgs
}

// settle waits until the role's consumer has nothing pending or unacked.
func (e *env) settle(t *testing.T, role string) *jetstream.ConsumerInfo {
	t.Helper()
	return devstack.Settle(t, e.js, contract.EventsStream, role, 5*time.Second)
}

func start(t *testing.T, rt *pipeline.Runtime, w pipeline.Worker) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rt.Run(ctx, w) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
}

func TestRuntimePublishesOutputsAndAcks(t *testing.T) {
	e := newEnv(t)
	w := pipeline.Worker{Role: "exif", Handler: func(_ context.Context, m *pipeline.Message) ([]contract.Output, error) {
		out, err := contract.JSONOutput(contract.GallerySubject(contract.SubjectPhotoExif, m.Ref.Gallery), contract.MsgID("exif", m.Ref), contract.PhotoExif{Ref: m.Ref})
		return []contract.Output{out}, err
	}}
	stop := start(t, e.runtime(t), w)
	defer stop()
	for i := range 3 {
		e.upload(t, "g1", fmt.Sprintf("p%d.jpg", i))
	}
	e.upload(t, "g1", "p0.jpg") // a duplicate upload event: JetStream drops it
	msgs := e.collect(t, contract.SubjectPhotoExif+".g1", 3, 5*time.Second)
	if len(msgs) != 3 {
		t.Fatalf("got %d exif events, want 3", len(msgs))
	}
	var r contract.PhotoExif
	if err := contract.Decode(msgs[0].Subject(), msgs[0].Data(), &r); err != nil || r.Gallery != "g1" || r.Photo != "p0.jpg" {
		t.Fatalf("first result = %+v, %v", r, err)
	}
	if id := msgs[0].Headers().Get("Nats-Msg-Id"); id != "exif:originals/g1/p0.jpg@e1" {
		t.Errorf("Nats-Msg-Id = %q", id)
	}
	if info := e.settle(t, "exif"); info.Delivered.Consumer != 3 {
		t.Errorf("delivered %d times, want 3 (duplicate upload must be dropped)", info.Delivered.Consumer)
	}
}

func TestRuntimePermanentErrorFailsAtOnce(t *testing.T) {
	e := newEnv(t)
	var calls atomic.Int32
	w := pipeline.Worker{Role: "exif", Handler: func(_ context.Context, m *pipeline.Message) ([]contract.Output, error) {
		calls.Add(1)
		if m.Ref.Photo == "bad.jpg" {
			return nil, pipeline.Permanentf("not an image: text")
		}
		return nil, nil
	}}
	stop := start(t, e.runtime(t), w)
	defer stop()
	e.upload(t, "g2", "bad.jpg")
	e.upload(t, "g2", "good.jpg")
	msgs := e.collect(t, contract.FailedSubject("exif", "g2"), 1, 5*time.Second)
	if len(msgs) != 1 {
		t.Fatalf("got %d failure events, want 1", len(msgs))
	}
	var f contract.Failure
	if err := contract.Decode(msgs[0].Subject(), msgs[0].Data(), &f); err != nil {
		t.Fatal(err)
	}
	if f.Photo != "bad.jpg" || f.Stage != "exif" || !f.Permanent || f.Attempts != 1 || f.Reason != "not an image: text" {
		t.Errorf("failure = %+v", f)
	}
	e.settle(t, "exif")
	if n := calls.Load(); n != 2 {
		t.Errorf("handler ran %d times, want 2 (a permanent error is not retried)", n)
	}
}

func TestRuntimeRetriesThenGivesUp(t *testing.T) {
	e := newEnv(t)
	var flaky, broken atomic.Int32
	w := pipeline.Worker{Role: "exif", Handler: func(_ context.Context, m *pipeline.Message) ([]contract.Output, error) {
		switch m.Ref.Photo {
		case "flaky.jpg":
			if flaky.Add(1) < 2 {
				return nil, errors.New("S3 timeout")
			}
			return nil, nil
		default:
			broken.Add(1)
			return nil, errors.New("S3 unreachable")
		}
	}}
	stop := start(t, e.runtime(t), w)
	defer stop()
	e.upload(t, "g3", "flaky.jpg")
	e.upload(t, "g3", "broken.jpg")
	msgs := e.collect(t, contract.FailedSubject("exif", "g3"), 1, 8*time.Second)
	if len(msgs) != 1 {
		t.Fatalf("got %d failure events, want 1", len(msgs))
	}
	var f contract.Failure
	_ = contract.Decode(msgs[0].Subject(), msgs[0].Data(), &f)
	if f.Photo != "broken.jpg" || f.Permanent || f.Attempts != 3 || !strings.Contains(f.Reason, "gave up after 3 attempts: S3 unreachable") {
		t.Errorf("failure = %+v", f)
	}
	e.settle(t, "exif")
	if n := len(e.collect(t, contract.FailedSubject("exif", "g3"), 2, 300*time.Millisecond)); n != 1 {
		t.Errorf("got %d failure events, want 1 (for broken.jpg only)", n)
	}
	if flaky.Load() != 2 || broken.Load() != 3 {
		t.Errorf("attempts: flaky %d (want 2), broken %d (want MaxDeliver 3)", flaky.Load(), broken.Load())
	}
}

func TestRuntimeRecoversPanics(t *testing.T) {
	e := newEnv(t)
	var ok atomic.Int32
	w := pipeline.Worker{Role: "exif", Handler: func(_ context.Context, m *pipeline.Message) ([]contract.Output, error) {
		if m.Ref.Photo == "boom.jpg" {
			var p *pipeline.Message
			_ = p.Subject // nil dereference
		}
		ok.Add(1)
		return nil, nil
	}}
	stop := start(t, e.runtime(t), w)
	defer stop()
	e.upload(t, "g4", "boom.jpg")
	e.upload(t, "g4", "fine.jpg")
	msgs := e.collect(t, contract.FailedSubject("exif", "g4"), 1, 5*time.Second)
	if len(msgs) != 1 {
		t.Fatalf("got %d failure events, want 1", len(msgs))
	}
	var f contract.Failure
	_ = contract.Decode(msgs[0].Subject(), msgs[0].Data(), &f)
	if f.Photo != "boom.jpg" || !f.Permanent || !strings.Contains(f.Reason, "panicked") {
		t.Errorf("failure = %+v", f)
	}
	e.settle(t, "exif")
	if ok.Load() != 1 {
		t.Errorf("the photo after the panic ran %d times, want 1", ok.Load())
	}
}

func TestRuntimeBoundsConcurrency(t *testing.T) {
	e := newEnv(t)
	var cur, peak atomic.Int32
	w := pipeline.Worker{Role: "exif", Concurrency: 2, Handler: func(context.Context, *pipeline.Message) ([]contract.Output, error) {
		n := cur.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(100 * time.Millisecond)
		cur.Add(-1)
		return nil, nil
	}}
	stop := start(t, e.runtime(t), w)
	defer stop()
	for i := range 8 {
		e.upload(t, "g5", fmt.Sprintf("p%d.jpg", i))
	}
	info := e.settle(t, "exif")
	if peak.Load() != 2 {
		t.Errorf("peak concurrency %d, want 2", peak.Load())
	}
	if info.Delivered.Consumer != 8 {
		t.Errorf("delivered %d, want 8", info.Delivered.Consumer)
	}
}

func TestRuntimeShutdownFinishesOrReleases(t *testing.T) {
	e := newEnv(t)
	started := make(chan string, 2)
	var finished sync.Map
	w := pipeline.Worker{Role: "exif", Concurrency: 2, Handler: func(ctx context.Context, m *pipeline.Message) ([]contract.Output, error) {
		started <- m.Ref.Photo
		if m.Ref.Photo == "quick.jpg" {
			time.Sleep(300 * time.Millisecond) // finishes within the grace period
			finished.Store(m.Ref.Photo, true)
			return nil, nil
		}
		<-ctx.Done() // never finishes by itself: released at the end of the grace period
		return nil, ctx.Err()
	}}
	rt := e.runtime(t)
	rt.ShutdownGrace = time.Second
	stop := start(t, rt, w)
	e.upload(t, "g6", "quick.jpg")
	e.upload(t, "g6", "stuck.jpg")
	<-started
	<-started
	t0 := time.Now()
	stop()
	if d := time.Since(t0); d > 3*time.Second {
		t.Errorf("shutdown took %s, want about the 1s grace period", d)
	}
	if _, ok := finished.Load("quick.jpg"); !ok {
		t.Error("in-flight job was not allowed to finish")
	}
	// The released message goes straight to the next process of the role.
	got := make(chan string, 1)
	w2 := pipeline.Worker{Role: "exif", Handler: func(_ context.Context, m *pipeline.Message) ([]contract.Output, error) {
		got <- m.Ref.Photo
		return nil, nil
	}}
	stop2 := start(t, e.runtime(t), w2)
	defer stop2()
	select {
	case p := <-got:
		if p != "stuck.jpg" {
			t.Errorf("next process got %s, want stuck.jpg", p)
		}
	case <-time.After(time.Second): // well under AckWait: it was released, not timed out
		t.Fatal("released job was not redelivered promptly")
	}
}

// testWriter sends the runtime's log lines to the test log with -v.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	if testing.Verbose() {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

// TestRuntimeKeepsLongJobsAlive: a job that runs for more than twice the
// ack wait (a 100 MP photo, say) is not redelivered to the free slot while
// it is being worked on, and finishes once.
func TestRuntimeKeepsLongJobsAlive(t *testing.T) {
	e := newEnv(t) // AckWait 2s
	var calls atomic.Int32
	w := pipeline.Worker{Role: "renditions", Concurrency: 2, Handler: func(ctx context.Context, m *pipeline.Message) ([]contract.Output, error) {
		calls.Add(1)
		select {
		case <-time.After(5 * time.Second):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return nil, nil
	}}
	stop := start(t, e.runtime(t), w)
	defer stop()
	e.upload(t, "slow", "huge.tif")
	info := devstack.Settle(t, e.js, contract.EventsStream, "renditions", 15*time.Second)
	if n := calls.Load(); n != 1 || info.Delivered.Consumer != 1 {
		t.Fatalf("handler ran %d times, delivered %d; want once", n, info.Delivered.Consumer)
	}
}

func TestRuntimeSkipsEventsAddressedToOtherRoles(t *testing.T) {
	e := newEnv(t)
	var handled atomic.Int32
	w := pipeline.Worker{Role: "exif", Handler: func(_ context.Context, m *pipeline.Message) ([]contract.Output, error) {
		handled.Add(1)
		return nil, nil
	}}
	stop := start(t, e.runtime(t), w)
	defer stop()
	publish := func(photo, roles string) {
		ev := contract.PhotoUploaded{Ref: contract.Ref{Gallery: "g1", Photo: photo, Bucket: "originals", Key: "g1/" + photo, ETag: "e1"}}
		msg := nats.NewMsg(contract.GallerySubject(contract.SubjectPhotoUploaded, "g1"))
		msg.Data, _ = json.Marshal(ev)
		if roles != "" {
			msg.Header.Set(contract.RolesHeader, roles)
		}
		if _, err := e.js.PublishMsg(context.Background(), msg); err != nil {
			t.Fatal(err)
		}
	}
	publish("a.jpg", "renditions,watermark")
	publish("b.jpg", "renditions, exif")
	publish("c.jpg", "")
	info := e.settle(t, "exif")
	if info.Delivered.Consumer != 3 {
		t.Fatalf("delivered %d, want 3", info.Delivered.Consumer)
	}
	if n := handled.Load(); n != 2 {
		t.Errorf("handler ran %d times, want 2 (b.jpg names exif, c.jpg names no role)", n)
	}
}
