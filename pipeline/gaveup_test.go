package pipeline_test

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
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

// process is a runtime on its own NATS connection, as a separate process
// of the role has; closing the connection is that process dying.
func (e *env) process(t *testing.T, name string) (*nats.Conn, *pipeline.Runtime) {
	t.Helper()
	nc, js, err := pipeline.Connect(e.cfg, name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	rt := e.runtime(t)
	rt.JS = js
	return nc, rt
}

// stored counts the events on subject in the PHOTODESK stream.
func (e *env) stored(t *testing.T, subject string) uint64 {
	t.Helper()
	st, err := e.js.Stream(context.Background(), contract.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(context.Background(), jetstream.WithSubjectFilter(subject))
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Subjects[subject]
}

// settleGaveUp waits until role's advisories are all handled.
func (e *env) settleGaveUp(t *testing.T, role string) *jetstream.ConsumerInfo {
	t.Helper()
	return devstack.Settle(t, e.js, pipeline.AdvisoriesStream, pipeline.GaveUpConsumer(role), 10*time.Second)
}

func gaveUpCount(t *testing.T, role string) float64 {
	return metric(t, "photodesk_failures_total", map[string]string{"stage": role, "reason": "gave_up"})
}

// TestGaveUpWhenAProcessDiesOnTheLastDelivery: a process takes a photo's
// event for the last allowed time and dies holding it. JetStream stops
// delivering it and publishes only an advisory; the role's other processes
// (two of them) turn that into one failure event with the reason, and no
// consumer is left with anything pending.
func TestGaveUpWhenAProcessDiesOnTheLastDelivery(t *testing.T) {
	e, restartNATS := restartableEnv(t) // MaxDeliver 3, AckWait 2s
	before := gaveUpCount(t, "exif")

	// Process A: storage fails twice, then the job hangs on the last
	// delivery; A is killed while it holds the message.
	hanging := make(chan uint64, 1)
	ncA, rtA := e.process(t, "A")
	stopA := start(t, rtA, pipeline.Worker{Role: "exif", Handler: func(ctx context.Context, m *pipeline.Message) ([]contract.Output, error) {
		if m.Attempt < e.cfg.MaxDeliver {
			return nil, errors.New("storage unreachable")
		}
		hanging <- m.StreamSeq
		<-ctx.Done()
		return nil, ctx.Err()
	}})
	defer stopA()
	e.upload(t, "g-dead", "p1.jpg")
	var seq uint64
	select {
	case seq = <-hanging:
	case <-time.After(20 * time.Second):
		t.Fatal("the last delivery never reached process A")
	}
	ncA.Close() // killed: no more acks, no more "in progress"

	// Processes B and C of the same role. Their pulls are what make the
	// server look at the expired message: with no pull waiting it stays
	// ack pending, and no advisory is published, until a process pulls.
	var handled sync.Map // photo -> times
	worker := pipeline.Worker{Role: "exif", Handler: func(_ context.Context, m *pipeline.Message) ([]contract.Output, error) {
		n, _ := handled.LoadOrStore(m.Ref.Photo, new(atomic.Int32))
		n.(*atomic.Int32).Add(1)
		return nil, nil
	}}
	for _, name := range []string{"B", "C"} {
		_, rt := e.process(t, name)
		defer start(t, rt, worker)()
	}

	subject := contract.FailedSubject("exif", "g-dead")
	msgs := e.collect(t, subject, 1, 20*time.Second)
	if len(msgs) != 1 {
		t.Fatalf("no failure event on %s", subject)
	}
	var f contract.Failure
	if err := json.Unmarshal(msgs[0].Data(), &f); err != nil {
		t.Fatal(err)
	}
	if f.Stage != "exif" || f.Gallery != "g-dead" || f.Photo != "p1.jpg" || f.ETag != "e1" || f.Permanent ||
		f.Attempts != 3 || f.EventSeq != seq || !strings.HasPrefix(f.EventSubject, contract.SubjectPhotoUploaded+".") ||
		!strings.HasPrefix(f.Reason, "gave up after 3 deliveries: no process finished it within the ack wait") {
		t.Errorf("failure event %+v", f)
	}
	if id := msgs[0].Headers().Get(jetstream.MsgIDHeader); id != "failed:exif:"+f.EventSubject+":"+strconv.FormatUint(seq, 10) {
		t.Errorf("Nats-Msg-Id %q", id)
	}

	// Nothing pending anywhere: the server dropped the message from the
	// role's consumer when it gave up (its ack floor stays behind until the
	// next ack), and the advisory was acked.
	e.settle(t, "exif")
	e.settleGaveUp(t, "exif")
	if n := e.stored(t, subject); n != 1 {
		t.Errorf("%d failure events, want 1", n)
	}
	if d := gaveUpCount(t, "exif") - before; d != 1 {
		t.Errorf("photodesk_failures_total{reason=gave_up} grew by %v, want 1", d)
	}

	// Nor after a NATS restart: the next event is handled, the given-up
	// one (which would be redelivered first) never reaches a handler.
	restartNATS()
	e.upload(t, "g-dead", "p2.jpg")
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, ok := handled.Load("p2.jpg"); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the event after the restart was never handled")
		}
	}
	e.settle(t, "exif")
	if _, ok := handled.Load("p1.jpg"); ok {
		t.Error("the given-up event reached a handler again")
	}
	if n := e.stored(t, subject); n != 1 {
		t.Errorf("after the restart: %d failure events, want 1", n)
	}
}

// restartableEnv is newEnv on a NATS server that restart stops and starts
// again on the same port and store, as an operator would.
func restartableEnv(t *testing.T) (*env, func()) {
	t.Helper()
	dir := t.TempDir()
	ns, err := devstack.StartNATS(devstack.NATSOptions{Addr: "127.0.0.1:0", StoreDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Shutdown() })
	cfg := config.Default()
	cfg.AckWait = 2 * time.Second
	cfg.MaxDeliver = 3
	cfg.Backoff = []time.Duration{50 * time.Millisecond}
	cfg.NATSURL = ns.ClientURL()
	nc, js, err := pipeline.Connect(cfg, t.Name())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	if err := pipeline.EnsureStreams(context.Background(), js, cfg); err != nil {
		t.Fatal(err)
	}
	addr := ns.Addr().String()
	restart := func() {
		ns.Shutdown()
		ns.WaitForShutdown()
		if ns, err = devstack.StartNATS(devstack.NATSOptions{Addr: addr, StoreDir: dir}); err != nil {
			t.Fatal(err)
		}
	}
	return &env{js: js, cfg: cfg}, restart
}

// TestGaveUpAfterALastAttemptFailedPublishesOnce: when the process that
// failed a message on its last attempt loses its Term, JetStream gives up
// on the message too. Both paths publish the failure under one Msg-Id, so
// it is published once, with the handler's reason.
func TestGaveUpAfterALastAttemptFailedPublishesOnce(t *testing.T) {
	e := newEnv(t)
	before := gaveUpCount(t, "exif")
	defer start(t, e.runtime(t), pipeline.Worker{Role: "exif", Handler: func(context.Context, *pipeline.Message) ([]contract.Output, error) {
		return nil, pipeline.Permanentf("not an image: text")
	}})()
	e.upload(t, "g-twice", "bad.jpg")
	subject := contract.FailedSubject("exif", "g-twice")
	msgs := e.collect(t, subject, 1, 10*time.Second)
	if len(msgs) != 1 {
		t.Fatalf("no failure event on %s", subject)
	}
	var f contract.Failure
	if err := json.Unmarshal(msgs[0].Data(), &f); err != nil {
		t.Fatal(err)
	}
	// The advisory JetStream would publish for the same event.
	adv, _ := json.Marshal(map[string]any{
		"type": "io.nats.jetstream.advisory.v1.max_deliver", "stream": contract.EventsStream, "consumer": "exif",
		"stream_seq": f.EventSeq, "deliveries": 3,
	})
	if _, err := e.js.Publish(context.Background(), pipeline.MaxDeliveriesSubject(contract.EventsStream, "exif"), adv); err != nil {
		t.Fatal(err)
	}
	// JetStream counts a message just stored into a consumer's pending a
	// moment later: settled with nothing delivered yet is too early.
	info := e.settleGaveUp(t, "exif")
	for deadline := time.Now().Add(10 * time.Second); info.Delivered.Stream == 0 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		info = e.settleGaveUp(t, "exif")
	}
	if info.Delivered.Stream == 0 {
		t.Fatal("the advisory was never delivered")
	}
	if n := e.stored(t, subject); n != 1 {
		t.Errorf("%d failure events, want 1", n)
	}
	if d := gaveUpCount(t, "exif") - before; d != 0 {
		t.Errorf("a deduplicated failure counted as gave_up (%v)", d)
	}
}

// TestGaveUpOnAnEventTheStreamNoLongerHas: the failure still says which
// stage and which event, under the "_" gallery.
func TestGaveUpOnAnEventTheStreamNoLongerHas(t *testing.T) {
	e := newEnv(t)
	defer start(t, e.runtime(t), pipeline.Worker{Role: "renditions", Handler: func(context.Context, *pipeline.Message) ([]contract.Output, error) {
		return nil, nil
	}})()
	adv := []byte(`{"stream":"PHOTODESK","consumer":"renditions","stream_seq":424242,"deliveries":5}`)
	if _, err := e.js.Publish(context.Background(), pipeline.MaxDeliveriesSubject(contract.EventsStream, "renditions"), adv); err != nil {
		t.Fatal(err)
	}
	msgs := e.collect(t, contract.FailedSubject("renditions", ""), 1, 10*time.Second)
	if len(msgs) != 1 {
		t.Fatal("no failure event")
	}
	var f contract.Failure
	if err := json.Unmarshal(msgs[0].Data(), &f); err != nil {
		t.Fatal(err)
	}
	if f.Stage != "renditions" || f.EventSeq != 424242 || f.Attempts != 5 || !strings.HasPrefix(f.Reason, "gave up after 5 deliveries") {
		t.Errorf("failure event %+v", f)
	}
	e.settleGaveUp(t, "renditions")
}
