package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/photodesk/photodesk/pipeline/config"
	"github.com/photodesk/photodesk/pipeline/contract"
)

// Worker is one role as the runtime runs it.
type Worker struct {
	Role    string
	Handler Handler
	// Concurrency bounds the jobs this process runs at once (default 1).
	Concurrency int
	// Describe names what an event is about, for logs and failure events;
	// by default the Ref embedded in the event's JSON.
	Describe func(subject string, data []byte) contract.Ref
	// Middleware wraps Handler inside the runtime's own middleware.
	Middleware []Middleware
}

// Runtime runs workers against their durable consumers: it pulls only as
// many messages as it has free slots (so idle processes of the same role get
// the rest), runs each through the role's handler wrapped in the runtime's
// middleware (see middleware.go), and settles it as they decided: outputs
// published before the ack, a nak with back-off, a failure event and a
// term, or a release at shutdown.
type Runtime struct {
	JS  jetstream.JetStream
	Cfg config.Config
	Log *slog.Logger
	// ShutdownGrace is how long in-flight jobs may finish after Run's
	// context ends; jobs still running then are cancelled and released.
	ShutdownGrace time.Duration
	// PollWait is how long one pull waits for messages.
	PollWait time.Duration

	once sync.Once
}

// defaults fills unset fields once: one Runtime runs every role of a
// process, each Run on its own goroutine.
func (rt *Runtime) defaults() {
	rt.once.Do(rt.fill)
}

func (rt *Runtime) fill() {
	if rt.Log == nil {
		rt.Log = slog.Default()
	}
	if rt.ShutdownGrace == 0 {
		rt.ShutdownGrace = 20 * time.Second
	}
	if rt.PollWait == 0 {
		rt.PollWait = 5 * time.Second
	}
}

// settleTimeout bounds publishing and acking one job's results, which
// must happen even while the job's context is being cancelled.
const settleTimeout = 30 * time.Second

// Run consumes until ctx ends, then stops pulling, lets in-flight jobs finish
// within ShutdownGrace, releases the rest, and returns. Alongside, it turns
// the messages JetStream gave up on (see gaveup.go) into failure events.
func (rt *Runtime) Run(ctx context.Context, w Worker) error {
	rt.defaults()
	spec, err := ConsumerFor(w.Role)
	if err != nil {
		return err
	}
	cons, err := rt.JS.Consumer(ctx, spec.Stream, spec.Role)
	if err != nil {
		return fmt.Errorf("bind consumer %s on %s: %w", spec.Role, spec.Stream, err)
	}
	gaveUp, err := rt.JS.Consumer(ctx, AdvisoriesStream, GaveUpConsumer(spec.Role))
	if err != nil {
		return fmt.Errorf("bind consumer %s on %s: %w", GaveUpConsumer(spec.Role), AdvisoriesStream, err)
	}
	stream, err := rt.JS.Stream(ctx, spec.Stream)
	if err != nil {
		return fmt.Errorf("stream %s: %w", spec.Stream, err)
	}
	info := cons.CachedInfo()
	if w.Describe == nil {
		w.Describe = describeJSON
	}
	n := max(w.Concurrency, 1)
	// As many abandoned handlers as jobs may run on without a slot.
	abandoned, forget := NewAbandoned(w.Role, n)
	defer forget()
	deadline := rt.Cfg.DeadlineFor(w.Role)
	j := &job{rt: rt, w: w, log: rt.Log.With("role", w.Role)}
	j.handler = Chain(w.Handler, append([]Middleware{
		RoleFilter(w.Role), Tracing(w.Role), InProgress(info.Config.AckWait), JobMetrics(w.Role),
		Retry(rt.Cfg.BackoffFor), Failures(w.Role, info.Config.MaxDeliver), Release,
		Deadline(w.Role, deadline, abandoned), Recover,
	}, w.Middleware...)...)
	j.log.Info("worker started", "consumer", spec.Role, "stream", spec.Stream, "concurrency", n, "deadline", deadline)

	gaveUpDone := make(chan struct{})
	go func() {
		defer close(gaveUpDone)
		o := PullOptions{Wait: rt.PollWait, Log: j.log.With("consumer", GaveUpConsumer(spec.Role))}
		Pull(ctx, gaveUp, o, func(am jetstream.Msg) { j.gaveUp(ctx, am, stream) })
	}()

	// Handlers get their own context: the job outlives ctx by the grace period.
	hctx, hcancel := context.WithCancel(context.WithoutCancel(ctx))
	defer hcancel()
	pulled, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		<-ctx.Done()
		j.log.Info("worker stopping: finishing in-flight jobs", "grace", rt.ShutdownGrace)
		select {
		case <-pulled:
		case <-time.After(rt.ShutdownGrace):
			j.log.Warn("grace period over: releasing unfinished jobs")
			hcancel()
		}
	}()
	Pull(ctx, cons, PullOptions{Slots: n, Wait: rt.PollWait, Log: j.log}, func(jm jetstream.Msg) { j.handle(hctx, jm) })
	close(pulled)
	<-stopped
	<-gaveUpDone
	j.log.Info("worker stopped")
	return nil
}

// job is one worker's jobs as Run runs them.
type job struct {
	rt      *Runtime
	w       Worker
	log     *slog.Logger
	handler Handler // w.Handler in the runtime's middleware
}

// describe fills in what m is about and its logger.
func (j *job) describe(m *Message) {
	m.Ref = j.w.Describe(m.Subject, m.Data)
	m.Log = j.log.With("gallery", m.Ref.Gallery, "photo", m.Ref.Photo, "seq", m.StreamSeq, "attempt", m.Attempt)
}

// handle runs one delivery through the handler and settles it.
func (j *job) handle(ctx context.Context, jm jetstream.Msg) {
	md, err := jm.Metadata()
	if err != nil {
		j.log.Error("message without JetStream metadata; terminating it", "subject", jm.Subject(), "err", err)
		_ = jm.Term()
		return
	}
	m := &Message{
		Subject:   jm.Subject(),
		Data:      jm.Data(),
		Header:    jm.Headers(),
		Attempt:   int(md.NumDelivered),
		StreamSeq: md.Sequence.Stream,
		msg:       jm,
	}
	j.describe(m)
	start := time.Now()
	outs, herr := j.handler(ctx, m)
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	m.settle(j.settle(actx, m, outs, herr, start))
	if m.holdSlot != nil {
		select {
		case <-m.holdSlot:
		case <-ctx.Done(): // shutting down: nothing more will be pulled
		}
	}
}

// settle does what the middleware decided (see disposition.go): it acks,
// naks (with a delay) or terminates m, publishing outs first where there
// is anything to publish.
func (j *job) settle(ctx context.Context, m *Message, outs []contract.Output, herr error, start time.Time) settlement {
	var (
		retry *retryError
		rel   *releasedError
		fail  *failedError
	)
	switch {
	case errors.Is(herr, errSkipped):
		_ = m.msg.Ack()
		return settlement{outcome: "skipped"}
	case errors.As(herr, &rel):
		m.Log.Info("released at shutdown", "err", rel.err)
		_ = m.msg.Nak()
		return settlement{outcome: "released", err: rel.err}
	case errors.As(herr, &fail):
		return j.fail(ctx, m, outs, fail)
	case errors.As(herr, &retry):
		m.Log.Warn("failed; will retry", "err", retry.err, "retry_in", retry.delay)
		_ = m.msg.NakWithDelay(retry.delay)
		return settlement{outcome: "retry", err: retry.err}
	case herr != nil:
		// No middleware decided (a chain without Retry): try again.
		m.Log.Warn("failed; will retry", "err", herr)
		_ = m.msg.Nak()
		return settlement{outcome: "retry", err: herr}
	}
	if err := j.publish(ctx, outs); err != nil {
		m.Log.Warn("publishing results failed; will retry", "err", err)
		_ = m.msg.NakWithDelay(j.rt.Cfg.BackoffFor(m.Attempt))
		return settlement{outcome: "retry", err: err}
	}
	if err := ackDone(ctx, m.msg); err != nil {
		m.Log.Warn("ack failed; the event will be redelivered and deduplicated", "err", err)
		return settlement{outcome: "done"}
	}
	m.Log.Info("done", "subject", m.Subject, "outputs", len(outs), "took", time.Since(start).Round(time.Millisecond))
	return settlement{outcome: "done"}
}

// fail publishes the outputs of a job given up on, the failure event
// last, then terminates its message.
func (j *job) fail(ctx context.Context, m *Message, outs []contract.Output, f *failedError) settlement {
	s := settlement{outcome: "failed", err: f.err}
	err := f.event
	if err == nil {
		err = j.publish(ctx, outs)
	}
	if err != nil {
		m.Log.Warn("publishing failure event failed; will retry", "err", err, "reason", f.reason)
		_ = m.msg.NakWithDelay(j.rt.Cfg.BackoffFor(1))
		return s
	}
	s.failure = "gave_up"
	if f.perm {
		s.failure = "bad_input"
	}
	m.Log.Warn("failed", "reason", f.reason, "permanent", f.perm)
	_ = m.msg.TermWithReason(contract.Clip(f.reason, 200))
	return s
}

// ackDone acks a finished job, retrying while NATS is away for a moment
// (a restart): an ack lost on the last delivery would make JetStream give
// up on a job that is done, and publish a failure for it.
func ackDone(ctx context.Context, jm jetstream.Msg) error {
	for {
		err := jm.DoubleAck(ctx)
		if err == nil || ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgAlreadyAckd) ||
			errors.Is(err, nats.ErrConnectionClosed) || errors.Is(err, jetstream.ErrMsgNotBound) {
			return err
		}
		sleep(ctx, 250*time.Millisecond)
	}
}

// publish sends outs in order (Tracing has given them the job's trace
// context).
func (j *job) publish(ctx context.Context, outs []contract.Output) error {
	for _, o := range outs {
		msg := &nats.Msg{Subject: o.Subject, Data: o.Data, Header: o.Header}
		var opts []jetstream.PublishOpt
		if o.MsgID != "" {
			opts = append(opts, jetstream.WithMsgID(o.MsgID))
		}
		if _, err := j.rt.JS.PublishMsg(ctx, msg, opts...); err != nil {
			return fmt.Errorf("publish %s: %w", o.Subject, err)
		}
	}
	return nil
}
