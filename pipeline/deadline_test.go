package pipeline_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/photodesk/photodesk/pipeline"
	"github.com/photodesk/photodesk/pipeline/config"
	"github.com/photodesk/photodesk/pipeline/contract"
	"github.com/photodesk/photodesk/pipeline/devstack"
)

// newEnvWith is newEnv with the consumers' MaxDeliver and a deadline for
// the exif role.
func newEnvWith(t *testing.T, maxDeliver int, deadline time.Duration) *env {
	t.Helper()
	cfg := config.Default()
	cfg.AckWait = 2 * time.Second
	cfg.MaxDeliver = maxDeliver
	cfg.Backoff = []time.Duration{50 * time.Millisecond}
	cfg.Deadlines[contract.StageExif] = deadline
	cfg, js := devstack.NATSForTest(t, cfg)
	return &env{js: js, cfg: cfg}
}

// stuckHandler is a handler that never returns for the photos named
// stuck*, whatever its context says (as one inside libvips would not),
// until the test lets them go; the others it records as done.
type stuckHandler struct {
	release chan struct{}
	once    sync.Once
	running atomic.Int32 // stuck handlers not yet returned
	started chan string
	mu      sync.Mutex
	done    []string
}

func newStuckHandler(t *testing.T) *stuckHandler {
	h := &stuckHandler{release: make(chan struct{}), started: make(chan string, 16)}
	t.Cleanup(h.letGo)
	return h
}

func (h *stuckHandler) letGo() { h.once.Do(func() { close(h.release) }) }

func (h *stuckHandler) handle(_ context.Context, m *pipeline.Message) ([]contract.Output, error) {
	h.started <- m.Ref.Photo
	if strings.HasPrefix(m.Ref.Photo, "stuck") {
		h.running.Add(1)
		defer h.running.Add(-1)
		<-h.release
		return nil, nil
	}
	h.mu.Lock()
	h.done = append(h.done, m.Ref.Photo)
	h.mu.Unlock()
	out, err := contract.JSONOutput(contract.GallerySubject(contract.SubjectPhotoExif, m.Ref.Gallery), contract.MsgID("exif", m.Ref), contract.PhotoExif{Ref: m.Ref})
	return []contract.Output{out}, err
}

func (h *stuckHandler) isDone(photo string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, p := range h.done {
		if p == photo {
			return true
		}
	}
	return false
}

// TestDeadlineAbandonsAStuckJob: a handler that never returns, in a role
// with one slot, is abandoned at its deadline: the failure event comes
// (its last attempt), the slot goes to the next photo while the stuck
// handler still runs, and nothing is left pending. A second stuck job,
// past the limit of abandoned handlers without a slot (the role's
// concurrency), is still failed on time but keeps its slot, and /healthz's
// check says so, until the stuck handlers return.
func TestDeadlineAbandonsAStuckJob(t *testing.T) {
	const deadline = 500 * time.Millisecond
	e := newEnvWith(t, 1, deadline)
	h := newStuckHandler(t)
	stop := start(t, e.runtime(t), pipeline.Worker{Role: "exif", Concurrency: 1, Handler: h.handle})
	defer stop()

	e.upload(t, "dl", "stuck-1.jpg")
	if p := <-h.started; p != "stuck-1.jpg" {
		t.Fatalf("first job %s", p)
	}
	t0 := time.Now()
	e.upload(t, "dl", "next.jpg")
	msgs := e.collect(t, contract.FailedSubject("exif", "dl"), 1, 10*time.Second)
	if len(msgs) != 1 {
		t.Fatalf("got %d failure events, want 1", len(msgs))
	}
	if took := time.Since(t0); took < deadline {
		t.Errorf("failed after %s, before its %s deadline", took, deadline)
	}
	var f contract.Failure
	if err := contract.Decode(msgs[0].Subject(), msgs[0].Data(), &f); err != nil {
		t.Fatal(err)
	}
	if f.Photo != "stuck-1.jpg" || f.Permanent || f.Attempts != 1 ||
		f.Reason != "gave up after 1 attempts: job deadline passed: no result within the exif deadline of 500ms; the job was abandoned" {
		t.Errorf("failure = %+v", f)
	}
	// The one slot is free again, though the stuck handler runs on.
	if got := e.collect(t, contract.SubjectPhotoExif+".dl", 1, 10*time.Second); len(got) != 1 || !h.isDone("next.jpg") {
		t.Fatalf("the photo after the stuck one was not done (%d results): its slot was not freed", len(got))
	}
	if p := <-h.started; p != "next.jpg" {
		t.Fatalf("second job %s", p)
	}
	if n := h.running.Load(); n != 1 {
		t.Fatalf("%d stuck handlers running, want the abandoned one", n)
	}
	e.settle(t, "exif")
	if err := pipeline.Stuck(); err != nil {
		t.Errorf("one abandoned handler, within the limit of 1, reported: %v", err)
	}

	// Past the limit: failed on time all the same, but the slot stays taken.
	e.upload(t, "dl", "stuck-2.jpg")
	if p := <-h.started; p != "stuck-2.jpg" {
		t.Fatalf("third job %s", p)
	}
	if msgs := e.collect(t, contract.FailedSubject("exif", "dl"), 2, 10*time.Second); len(msgs) != 2 {
		t.Fatalf("got %d failure events, want 2", len(msgs))
	}
	err := pipeline.Stuck()
	if err == nil || err.Error() != "exif: 2 jobs abandoned at their deadline still running, 1 of them holding a slot" {
		t.Errorf("Stuck() = %v", err)
	}
	e.upload(t, "dl", "after.jpg")
	select {
	case p := <-h.started:
		t.Fatalf("%s started while the role's slot was held by a stuck handler past the limit", p)
	case <-time.After(2 * deadline):
	}
	h.letGo()
	if p := <-h.started; p != "after.jpg" {
		t.Errorf("next job %s, want after.jpg", p)
	}
	e.settle(t, "exif")
	for h.running.Load() > 0 {
		time.Sleep(10 * time.Millisecond)
	}
	for deadline := time.Now().Add(5 * time.Second); pipeline.Stuck() != nil && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if err := pipeline.Stuck(); err != nil {
		t.Errorf("the stuck handlers returned, and still: %v", err)
	}
}

// TestDeadlineRetries: a deadline is a transient failure like any other:
// the job is redelivered after the back-off and a later attempt's result
// stands. A handler that heeds its context returns at the deadline, and
// what it returns then is dropped.
func TestDeadlineRetries(t *testing.T) {
	e := newEnvWith(t, 3, 300*time.Millisecond)
	var attempts atomic.Int32
	var late atomic.Bool
	w := pipeline.Worker{Role: "exif", Concurrency: 1, Handler: func(ctx context.Context, m *pipeline.Message) ([]contract.Output, error) {
		if attempts.Add(1) == 1 {
			<-ctx.Done()
			late.Store(errors.Is(ctx.Err(), context.DeadlineExceeded))
			// A result after the deadline: never published.
			out, err := contract.JSONOutput(contract.GallerySubject(contract.SubjectPhotoExif, m.Ref.Gallery), "late", contract.PhotoExif{Ref: m.Ref})
			return []contract.Output{out}, err
		}
		out, err := contract.JSONOutput(contract.GallerySubject(contract.SubjectPhotoExif, m.Ref.Gallery), contract.MsgID("exif", m.Ref), contract.PhotoExif{Ref: m.Ref})
		return []contract.Output{out}, err
	}}
	stop := start(t, e.runtime(t), w)
	defer stop()
	e.upload(t, "dr", "slow.jpg")
	info := e.settle(t, "exif")
	if n := attempts.Load(); n != 2 || info.Delivered.Consumer != 2 {
		t.Errorf("handler ran %d times, delivered %d; want 2 (the deadline, then the retry)", n, info.Delivered.Consumer)
	}
	if !late.Load() {
		t.Error("the first attempt's context did not end with DeadlineExceeded")
	}
	msgs := e.collect(t, contract.SubjectPhotoExif+".dr", 2, time.Second)
	if len(msgs) != 1 || msgs[0].Headers().Get("Nats-Msg-Id") == "late" {
		t.Errorf("got %d results (want 1, from the second attempt)", len(msgs))
	}
	if n := len(e.collect(t, contract.FailedSubject("exif", "dr"), 1, 300*time.Millisecond)); n != 0 {
		t.Errorf("%d failure events for a job that succeeded on its retry", n)
	}
}
