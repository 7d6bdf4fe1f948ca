package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/photodesk/photodesk/pipeline/config"
	"github.com/photodesk/photodesk/pipeline/contract"
)

// fakeMsg records how a delivery was settled; the rest of jetstream.Msg
// is never called by these tests.
type fakeMsg struct {
	jetstream.Msg
	mu         sync.Mutex
	calls      []string
	delay      time.Duration
	inProgress int
}

func (f *fakeMsg) record(c string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, c)
	return nil
}
func (f *fakeMsg) Ack() error { return f.record("ack") }
func (f *fakeMsg) Nak() error { return f.record("nak") }
func (f *fakeMsg) NakWithDelay(d time.Duration) error {
	f.delay = d
	return f.record("nak-delay")
}
func (f *fakeMsg) TermWithReason(string) error { return f.record("term") }
func (f *fakeMsg) InProgress() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inProgress++
	return nil
}

// value reads a counter or gauge.
func value(c prometheus.Metric) float64 {
	var d dto.Metric
	_ = c.Write(&d)
	return d.GetCounter().GetValue() + d.GetGauge().GetValue()
}

func testMessage(attempt int) *Message {
	return &Message{
		Subject:   contract.GallerySubject(contract.SubjectPhotoUploaded, "g1"),
		Data:      []byte(`{}`),
		Attempt:   attempt,
		StreamSeq: 7,
		Ref:       contract.Ref{Gallery: "g1", Photo: "p.jpg"},
		Log:       slog.New(slog.DiscardHandler),
		msg:       &fakeMsg{},
	}
}

func returning(outs []contract.Output, err error) Handler {
	return func(context.Context, *Message) ([]contract.Output, error) { return outs, err }
}

var result = contract.Output{Subject: "photodesk.photo.exif.g1", Data: []byte(`{}`)}

func TestFailuresTurnsPermanentErrorIntoFailureEvent(t *testing.T) {
	m := testMessage(1)
	outs, err := Chain(returning([]contract.Output{result}, Permanentf("not an image")), Failures("exif", 3))(context.Background(), m)
	var f *failedError
	if !errors.As(err, &f) || !f.perm || f.reason != "not an image" || !IsPermanent(err) {
		t.Fatalf("err %#v, want a permanent failedError", err)
	}
	if len(outs) != 2 || outs[0].Subject != result.Subject {
		t.Fatalf("outputs %v, want the handler's then the failure event", outs)
	}
	ev := outs[1]
	if ev.Subject != contract.FailedSubject("exif", "g1") || ev.MsgID != contract.FailureMsgID("exif", m.Subject, 7) {
		t.Errorf("failure event subject %s Msg-Id %s", ev.Subject, ev.MsgID)
	}
	var fe contract.Failure
	if err := json.Unmarshal(ev.Data, &fe); err != nil {
		t.Fatal(err)
	}
	if fe.Stage != "exif" || !fe.Permanent || fe.Attempts != 1 || fe.EventSeq != 7 || fe.EventSubject != m.Subject || fe.Photo != "p.jpg" {
		t.Errorf("failure %+v", fe)
	}
}

func TestFailuresGivesUpOnlyOnTheLastAttempt(t *testing.T) {
	h := Chain(returning(nil, errors.New("storage down")), Failures("exif", 3))
	if _, err := h(context.Background(), testMessage(2)); disposed(err) || err.Error() != "storage down" {
		t.Errorf("attempt 2 of 3: %v, want the error untouched", err)
	}
	outs, err := h(context.Background(), testMessage(3))
	var f *failedError
	if !errors.As(err, &f) || f.perm || f.reason != "gave up after 3 attempts: storage down" || len(outs) != 1 {
		t.Errorf("attempt 3 of 3: %v %v, want a failure event", err, outs)
	}
	if _, err := Chain(returning(nil, errors.New("x")), Failures("exif", 0))(context.Background(), testMessage(50)); disposed(err) {
		t.Errorf("no MaxDeliver: %v, want the error untouched", err)
	}
}

func TestRoleFilterSkipsOtherRolesEvents(t *testing.T) {
	called := 0
	h := func(context.Context, *Message) ([]contract.Output, error) { called++; return nil, nil }
	skipped := value(jobsTotal.WithLabelValues("exif", "skipped"))
	m := testMessage(1)
	m.Header = map[string][]string{contract.RolesHeader: []string{"renditions, watermark"}}
	if _, err := RoleFilter("exif")(h)(context.Background(), m); !errors.Is(err, errSkipped) || called != 0 {
		t.Errorf("exif: err %v, handler called %d times", err, called)
	}
	if d := value(jobsTotal.WithLabelValues("exif", "skipped")) - skipped; d != 1 {
		t.Errorf("skipped grew by %v", d)
	}
	if _, err := RoleFilter("watermark")(h)(context.Background(), m); err != nil || called != 1 {
		t.Errorf("watermark: err %v, handler called %d times", err, called)
	}
}

func TestRetryMapsAttemptsToBackoff(t *testing.T) {
	cfg := config.Config{Backoff: []time.Duration{time.Second, 5 * time.Second, time.Minute}}
	h := Chain(returning(nil, errors.New("flaky")), Retry(cfg.BackoffFor))
	for attempt, want := range map[int]time.Duration{1: time.Second, 2: 5 * time.Second, 3: time.Minute, 9: time.Minute} {
		_, err := h(context.Background(), testMessage(attempt))
		var r *retryError
		if !errors.As(err, &r) || r.delay != want || err.Error() != "flaky" {
			t.Errorf("attempt %d: %#v, want a retry in %s", attempt, err, want)
		}
	}
	if _, err := Chain(returning(nil, nil), Retry(cfg.BackoffFor))(context.Background(), testMessage(1)); err != nil {
		t.Errorf("success became %v", err)
	}
	// What Failures decided stands.
	_, err := Chain(returning(nil, Permanentf("bad")), Retry(cfg.BackoffFor), Failures("exif", 3))(context.Background(), testMessage(1))
	var f *failedError
	if !errors.As(err, &f) {
		t.Errorf("permanent error became %#v, want a failure", err)
	}
}

// A job cut off at shutdown is released, even with a permanent error or on
// its last attempt: it was not its input that failed.
func TestReleaseAtShutdown(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	h := Chain(returning(nil, Permanent(context.Canceled)), Retry(func(int) time.Duration { return 0 }), Failures("exif", 3), Release)
	var r *releasedError
	if _, err := h(ctx, testMessage(3)); !errors.As(err, &r) {
		t.Errorf("cancelled: %#v, want released", err)
	}
	if _, err := Chain(returning(nil, nil), Release)(ctx, testMessage(1)); err != nil {
		t.Errorf("a job that finished despite the cancel: %v", err)
	}
	if _, err := h(context.Background(), testMessage(1)); errors.As(err, &r) {
		t.Errorf("not cancelled: %#v, want no release", err)
	}
}

func TestRecoverMakesPanicsPermanent(t *testing.T) {
	h := Recover(func(context.Context, *Message) ([]contract.Output, error) { panic("boom") })
	outs, err := h(context.Background(), testMessage(1))
	if outs != nil || !IsPermanent(err) || err.Error() != "internal error: handler panicked: boom" {
		t.Errorf("%v %v", outs, err)
	}
}

func TestInProgressWhileTheHandlerRuns(t *testing.T) {
	m := testMessage(1)
	fm := m.msg.(*fakeMsg)
	h := InProgress(60 * time.Millisecond)(func(context.Context, *Message) ([]contract.Output, error) {
		time.Sleep(150 * time.Millisecond)
		return nil, nil
	})
	_, _ = h(context.Background(), m)
	fm.mu.Lock()
	n := fm.inProgress
	fm.mu.Unlock()
	if n < 2 {
		t.Errorf("%d InProgress in 150ms at 20ms intervals", n)
	}
	time.Sleep(60 * time.Millisecond)
	fm.mu.Lock()
	defer fm.mu.Unlock()
	if fm.inProgress != n {
		t.Errorf("InProgress went on after the handler returned")
	}
}

// JobMetrics counts a job when it is settled, and the failure event when
// the settlement says one was published.
func TestJobMetricsCountTheSettlement(t *testing.T) {
	const role = "test-metrics"
	m := testMessage(2)
	_, _ = JobMetrics(role)(returning(nil, nil))(context.Background(), m)
	if n := value(redeliveries.WithLabelValues(role)); n != 1 {
		t.Errorf("redeliveries %v", n)
	}
	if n := value(jobsTotal.WithLabelValues(role, "failed")); n != 0 {
		t.Errorf("counted before the settlement: %v", n)
	}
	m.settle(settlement{outcome: "failed", failure: "bad_input"})
	if n := value(jobsTotal.WithLabelValues(role, "failed")); n != 1 {
		t.Errorf("failed jobs %v", n)
	}
	if n := value(failures.WithLabelValues(role, "bad_input")); n != 1 {
		t.Errorf("bad_input failures %v", n)
	}
	if n := value(jobsInFlight.WithLabelValues(role)); n != 0 {
		t.Errorf("in flight %v", n)
	}
}

// settle does what the chain decided; these settlements need no server.
func TestSettleFollowsTheDisposition(t *testing.T) {
	j := &job{rt: &Runtime{}}
	cause := errors.New("cause")
	for _, c := range []struct {
		err     error
		call    string
		outcome string
	}{
		{errSkipped, "ack", "skipped"},
		{&retryError{delay: 3 * time.Second, err: cause}, "nak-delay", "retry"},
		{&releasedError{err: cause}, "nak", "released"},
		{&failedError{reason: "r", event: cause, err: cause}, "nak-delay", "failed"},
	} {
		m := testMessage(1)
		s := j.settle(context.Background(), m, nil, c.err, time.Now())
		fm := m.msg.(*fakeMsg)
		if s.outcome != c.outcome || len(fm.calls) != 1 || fm.calls[0] != c.call || s.failure != "" {
			t.Errorf("%T: %+v, calls %v; want %s by %s", c.err, s, fm.calls, c.outcome, c.call)
		}
		if c.outcome != "skipped" && s.err != cause {
			t.Errorf("%T: settled with err %v, want the cause", c.err, s.err)
		}
		if c.call == "nak-delay" && c.outcome == "retry" && fm.delay != 3*time.Second {
			t.Errorf("retried in %s", fm.delay)
		}
	}
}

// TestPermanentIfAndSuperseded: the two ways a role sorts a failed read,
// the input's own fault (permanent) and a replaced object (nothing to do).
func TestPermanentIfAndSuperseded(t *testing.T) {
	bad := errors.New("bad photo")
	if err := PermanentIf(fmt.Errorf("decode: %w", bad), ErrTooLarge, bad); !IsPermanent(err) || !errors.Is(err, bad) {
		t.Errorf("PermanentIf of a listed kind = %v, permanent %v", err, IsPermanent(err))
	}
	if err := PermanentIf(errors.New("timeout"), bad); err == nil || IsPermanent(err) {
		t.Errorf("PermanentIf of another error = %v, permanent %v", err, IsPermanent(err))
	}
	if PermanentIf(nil, bad) != nil {
		t.Error("PermanentIf(nil) is not nil")
	}
	m := &Message{Log: slog.New(slog.DiscardHandler)}
	if !m.Superseded(fmt.Errorf("get: %w", ErrSuperseded)) || m.Superseded(bad) || m.Superseded(nil) {
		t.Error("Superseded does not tell ErrSuperseded from other errors")
	}
}
