package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
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
	// Middleware wraps Handler inside the runtime's own recovery.
	Middleware []Middleware
}

// Runtime runs workers against their durable consumers: it pulls only as
// many messages as it has free slots (so idle processes of the same role get
// the rest), keeps long jobs alive with InProgress, publishes outputs before
// acking, retries with back-off, and turns final failures into failure events.
type Runtime struct {
	JS  jetstream.JetStream
	Cfg Config
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

// Run consumes until ctx ends, then stops pulling, lets in-flight jobs finish
// within ShutdownGrace, releases the rest, and returns. Alongside, it turns
// the messages JetStream gave up on (see gaveUpLoop) into failure events.
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
	j := &job{
		rt:         rt,
		w:          w,
		log:        rt.Log.With("role", w.Role),
		handler:    Chain(w.Handler, append([]Middleware{Recover}, w.Middleware...)...),
		maxDeliver: info.Config.MaxDeliver,
		ackWait:    info.Config.AckWait,
	}
	if j.w.Describe == nil {
		j.w.Describe = describeJSON
	}
	n := max(w.Concurrency, 1)

	// Handlers get their own context: the job outlives ctx by the grace period.
	hctx, hcancel := context.WithCancel(context.WithoutCancel(ctx))
	defer hcancel()
	slots := make(chan struct{}, n)
	var wg sync.WaitGroup
	j.log.Info("worker started", "consumer", spec.Role, "stream", spec.Stream, "concurrency", n)
	gaveUpDone := make(chan struct{})
	go func() {
		defer close(gaveUpDone)
		j.gaveUpLoop(ctx, gaveUp, stream)
	}()

	for ctx.Err() == nil {
		// Take one slot (waiting for it), then every other free one.
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			continue
		}
		held := 1
	more:
		for held < n {
			select {
			case slots <- struct{}{}:
				held++
			default:
				break more
			}
		}
		held -= j.fetch(ctx, hctx, cons, held, slots, &wg)
		for ; held > 0; held-- {
			<-slots
		}
	}

	j.log.Info("worker stopping: finishing in-flight jobs", "grace", rt.ShutdownGrace)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(rt.ShutdownGrace):
		j.log.Warn("grace period over: releasing unfinished jobs")
		hcancel()
		<-done
	}
	<-gaveUpDone
	j.log.Info("worker stopped")
	return nil
}

type job struct {
	rt         *Runtime
	w          Worker
	log        *slog.Logger
	handler    Handler
	maxDeliver int
	ackWait    time.Duration
}

// fetch pulls up to n messages and starts a handler for each; it returns how
// many slots the started handlers took over.
func (j *job) fetch(ctx, hctx context.Context, cons jetstream.Consumer, n int, slots chan struct{}, wg *sync.WaitGroup) int {
	fctx, cancel := context.WithTimeout(ctx, j.rt.PollWait)
	defer cancel()
	batch, err := cons.Fetch(n, jetstream.FetchContext(fctx))
	if err != nil {
		if ctx.Err() == nil {
			j.log.Warn("pull failed; retrying", "err", err)
			sleep(ctx, time.Second)
		}
		return 0
	}
	started := 0
	for jm := range batch.Messages() {
		started++
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			j.handle(hctx, jm)
		}()
	}
	if err := batch.Error(); err != nil && !IsPollEnd(err) && ctx.Err() == nil {
		j.log.Warn("pull ended with error", "err", err)
		sleep(ctx, time.Second)
	}
	return started
}

// IsPollEnd reports whether err only says a pull ended (timed out, found
// nothing, or was cancelled), which is not worth a warning.
func IsPollEnd(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		errors.Is(err, nats.ErrTimeout) || errors.Is(err, jetstream.ErrNoMessages)
}

// handle runs one delivery to its end: ack, retry later, or fail for good.
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
	}
	m.Ref = j.w.Describe(m.Subject, m.Data)
	m.Log = j.log.With("gallery", m.Ref.Gallery, "photo", m.Ref.Photo, "seq", m.StreamSeq, "attempt", m.Attempt)
	if !ForRole(m.Header, j.w.Role) {
		// A reprocess run addressed to other roles: nothing to do here.
		jobsTotal.WithLabelValues(j.w.Role, "skipped").Inc()
		_ = jm.Ack()
		return
	}

	// The job's span continues the event's trace; publish passes it on.
	ctx, span := startJobSpan(ctx, j.w.Role, m)
	stop := KeepAlive(jm, j.ackWait)
	start := time.Now()
	role := j.w.Role
	if m.Attempt > 1 {
		redeliveries.WithLabelValues(role).Inc()
	}
	jobsInFlight.WithLabelValues(role).Inc()
	outs, herr := j.handler(ctx, m)
	jobsInFlight.WithLabelValues(role).Dec()
	stop()
	outcome := "done"
	defer func() {
		jobsTotal.WithLabelValues(role, outcome).Inc()
		jobSeconds.WithLabelValues(role, outcome).Observe(time.Since(start).Seconds())
		endJobSpan(span, outcome, herr)
	}()

	// Acks and publishes must happen even while ctx is being cancelled.
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	switch {
	case herr == nil:
		if err := j.publish(actx, outs); err != nil {
			m.Log.Warn("publishing results failed; will retry", "err", err)
			outcome, herr = "retry", err
			_ = jm.NakWithDelay(j.rt.Cfg.BackoffFor(m.Attempt))
			return
		}
		if err := ackDone(actx, jm); err != nil {
			m.Log.Warn("ack failed; the event will be redelivered and deduplicated", "err", err)
			return
		}
		m.Log.Info("done", "subject", m.Subject, "outputs", len(outs), "took", time.Since(start).Round(time.Millisecond))
	case ctx.Err() != nil:
		outcome = "released"
		m.Log.Info("released at shutdown", "err", herr)
		_ = jm.Nak()
	case IsPermanent(herr) || (j.maxDeliver > 0 && m.Attempt >= j.maxDeliver):
		outcome = "failed"
		j.fail(actx, jm, m, outs, herr)
	default:
		outcome = "retry"
		delay := j.rt.Cfg.BackoffFor(m.Attempt)
		m.Log.Warn("failed; will retry", "err", herr, "retry_in", delay)
		_ = jm.NakWithDelay(delay)
	}
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

// fail publishes what the handler did produce and a failure event, then
// terminates the message.
func (j *job) fail(ctx context.Context, jm jetstream.Msg, m *Message, outs []contract.Output, herr error) {
	perm := IsPermanent(herr)
	reason := herr.Error()
	if !perm {
		reason = fmt.Sprintf("gave up after %d attempts: %s", m.Attempt, reason)
	}
	reason = contract.Clip(reason, 1000)
	out, err := j.failure(m, reason, perm)
	if err == nil {
		err = j.publish(ctx, append(outs, out))
	}
	if err != nil {
		m.Log.Warn("publishing failure event failed; will retry", "err", err, "reason", reason)
		_ = jm.NakWithDelay(j.rt.Cfg.BackoffFor(1))
		return
	}
	kind := "gave_up"
	if perm {
		kind = "bad_input"
	}
	failures.WithLabelValues(j.w.Role, kind).Inc()
	m.Log.Warn("failed", "reason", reason, "permanent", perm)
	_ = jm.TermWithReason(contract.Clip(reason, 200))
}

// failure is the failure event of m. Its Msg-Id names the role and the
// event, so that the two ways a role gives up on an event (the last
// attempt failing, and JetStream's max-deliveries advisory) publish it once.
func (j *job) failure(m *Message, reason string, perm bool) (contract.Output, error) {
	f := contract.Failure{
		Ref:          m.Ref,
		Stage:        j.w.Role,
		Reason:       reason,
		Permanent:    perm,
		Attempts:     m.Attempt,
		EventSubject: m.Subject,
		EventSeq:     m.StreamSeq,
		FailedAt:     time.Now().UTC(),
	}
	return contract.JSONOutput(contract.FailedSubject(j.w.Role, m.Ref.Gallery), contract.FailureMsgID(j.w.Role, m.Subject, m.StreamSeq), f)
}

// maxDeliveriesAdvisory is the part of JetStream's
// io.nats.jetstream.advisory.v1.max_deliver event that names the message.
type maxDeliveriesAdvisory struct {
	Stream     string `json:"stream"`
	Consumer   string `json:"consumer"`
	StreamSeq  uint64 `json:"stream_seq"`
	Deliveries int    `json:"deliveries"`
}

// gaveUpLoop consumes the role's max-deliveries advisories until ctx ends.
// When the process holding a message on its last allowed delivery dies or
// stalls, no handler ever fails it: JetStream stops delivering it (and
// drops it from the consumer's pending set) and says so only in an
// advisory. Without this the photo would vanish with no failure event,
// and its gallery would wait for it forever.
func (j *job) gaveUpLoop(ctx context.Context, cons jetstream.Consumer, stream jetstream.Stream) {
	for ctx.Err() == nil {
		fctx, cancel := context.WithTimeout(ctx, j.rt.PollWait)
		batch, err := cons.Fetch(1, jetstream.FetchContext(fctx))
		if err != nil {
			cancel()
			if ctx.Err() == nil {
				j.log.Warn("pull of max-deliveries advisories failed; retrying", "err", err)
				sleep(ctx, time.Second)
			}
			continue
		}
		for am := range batch.Messages() {
			j.gaveUp(ctx, am, stream)
		}
		if err := batch.Error(); err != nil && !IsPollEnd(err) && ctx.Err() == nil {
			j.log.Warn("pull of max-deliveries advisories ended with error", "err", err)
			sleep(ctx, time.Second)
		}
		cancel()
	}
}

// gaveUp publishes, for one advisory, the failure event the runtime
// publishes when a last attempt fails, with the original event fetched
// from its stream and described as a handler would have seen it.
func (j *job) gaveUp(ctx context.Context, am jetstream.Msg, stream jetstream.Stream) {
	var adv maxDeliveriesAdvisory
	if err := json.Unmarshal(am.Data(), &adv); err != nil || adv.StreamSeq == 0 {
		j.log.Error("unreadable max-deliveries advisory; dropping it", "subject", am.Subject(), "err", err)
		_ = am.Term()
		return
	}
	// Like acks, this must finish even while ctx is being cancelled.
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	m := &Message{Attempt: adv.Deliveries, StreamSeq: adv.StreamSeq}
	raw, err := stream.GetMsg(actx, adv.StreamSeq)
	switch {
	case err == nil:
		m.Subject, m.Data, m.Header = raw.Subject, raw.Data, raw.Header
	case errors.Is(err, jetstream.ErrMsgNotFound):
		// Gone from the stream already (its limits): fail what is known.
	default:
		j.log.Warn("reading the event JetStream gave up on failed; will retry", "seq", adv.StreamSeq, "err", err)
		_ = am.NakWithDelay(j.rt.Cfg.BackoffFor(1))
		return
	}
	m.Ref = j.w.Describe(m.Subject, m.Data)
	m.Log = j.log.With("gallery", m.Ref.Gallery, "photo", m.Ref.Photo, "seq", m.StreamSeq, "attempt", m.Attempt)
	if !ForRole(m.Header, j.w.Role) {
		_ = am.Ack() // not this role's event: it was never going to fail here
		return
	}
	reason := fmt.Sprintf("gave up after %d deliveries: no process finished it within the ack wait (a process died, stalled or stopped holding it)", adv.Deliveries)
	out, err := j.failure(m, reason, false)
	if err != nil {
		m.Log.Error("cannot encode the failure event; dropping the advisory", "err", err)
		_ = am.Term()
		return
	}
	// The failure continues the event's trace.
	pctx := ExtractHeader(actx, m.Header)
	ack, err := j.rt.JS.PublishMsg(pctx, &nats.Msg{Subject: out.Subject, Data: out.Data, Header: InjectHeader(pctx, nil)}, jetstream.WithMsgID(out.MsgID))
	if err != nil {
		m.Log.Warn("publishing failure event failed; will retry", "err", err, "reason", reason)
		_ = am.NakWithDelay(j.rt.Cfg.BackoffFor(1))
		return
	}
	if ack.Duplicate {
		// A process got to fail it itself, or this advisory was handled
		// before and its ack lost.
		m.Log.Info("failure event published already", "subject", m.Subject)
	} else {
		failures.WithLabelValues(j.w.Role, "gave_up").Inc()
		m.Log.Warn("failed", "reason", reason, "permanent", false)
	}
	if err := am.DoubleAck(actx); err != nil {
		m.Log.Warn("ack of the advisory failed; it will be redelivered and deduplicated", "err", err)
	}
}

// publish sends outs in order, each carrying ctx's trace context unless
// its handler gave it one (ingest continues the uploader's trace).
func (j *job) publish(ctx context.Context, outs []contract.Output) error {
	for _, o := range outs {
		h := o.Header
		if !HasTraceParent(h) {
			h = InjectHeader(ctx, h)
		}
		msg := &nats.Msg{Subject: o.Subject, Data: o.Data, Header: h}
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

// KeepAlive tells JetStream the job is alive every third of AckWait, so
// long jobs are not redelivered while they run; a dead process stops
// telling. stop may be called more than once.
func KeepAlive(jm jetstream.Msg, ackWait time.Duration) (stop func()) {
	if ackWait <= 0 {
		return func() {}
	}
	t := time.NewTicker(ackWait / 3)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-t.C:
				_ = jm.InProgress()
			case <-done:
				return
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { t.Stop(); close(done) }) }
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
