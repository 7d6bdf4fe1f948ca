package pipeline

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/photodesk/photodesk/pipeline/contract"
)

// The runtime's own middleware, each one concern. Run wraps every role's
// handler in them, outermost first:
//
//	RoleFilter, Tracing, InProgress, JobMetrics, Retry, Failures, Release, Deadline, Recover
//
// then the Worker's own Middleware. The outer ones see what the inner ones
// made of the handler's result: Failures turns a permanent error into a
// failure event before Retry could retry it, and Release keeps a job cut
// off at shutdown from being failed at all. Deadline (deadline.go) runs
// the rest on a goroutine of its own, which it may leave behind; what is
// inside it must not register onSettled.

// Recover turns a panic in a handler into a permanent failure: a panic on an
// input happens again on every redelivery, and the process must go on.
func Recover(next Handler) Handler {
	return func(ctx context.Context, m *Message) (outs []contract.Output, err error) {
		defer func() {
			if r := recover(); r != nil {
				m.Log.Error("handler panicked", "panic", r, "stack", string(debug.Stack()))
				outs, err = nil, Permanentf("internal error: handler panicked: %v", r)
			}
		}()
		return next(ctx, m)
	}
}

// RoleFilter skips the events addressed to other roles (a reprocess run,
// see ForRole): they are acked untouched. It counts them itself, as
// skipped, since they are no job and the job metrics never see them.
func RoleFilter(role string) Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, m *Message) ([]contract.Output, error) {
			if !ForRole(m.Header, role) {
				jobsTotal.WithLabelValues(role, "skipped").Inc()
				return nil, errSkipped
			}
			return next(ctx, m)
		}
	}
}

// Tracing runs the job in a span continuing the event's trace, and gives
// the outputs that carry no trace context of their own (ingest continues
// the uploader's) the span's, so the trace goes on downstream. The span
// ends once the delivery is settled, with its outcome.
func Tracing(role string) Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, m *Message) ([]contract.Output, error) {
			ctx, span := startJobSpan(ctx, role, m)
			m.onSettled(func(s settlement) { endJobSpan(span, s.outcome, s.err) })
			outs, err := next(ctx, m)
			if len(outs) > 0 {
				outs = append([]contract.Output(nil), outs...)
				for i := range outs {
					if !HasTraceParent(outs[i].Header) {
						outs[i].Header = InjectHeader(ctx, outs[i].Header)
					}
				}
			}
			return outs, err
		}
	}
}

// InProgress keeps the job alive while its handler runs (see KeepAlive).
// It is not named KeepAlive, which roles with their own loop use directly.
func InProgress(ackWait time.Duration) Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, m *Message) ([]contract.Output, error) {
			if m.msg == nil {
				return next(ctx, m)
			}
			stop := KeepAlive(m.msg, ackWait)
			defer stop()
			return next(ctx, m)
		}
	}
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

// JobMetrics (Metrics is the registry) counts and times jobs by outcome,
// the redeliveries among them, the ones running, and the failure events
// they end in. Jobs are timed to their settlement, publishing and acking
// included.
func JobMetrics(role string) Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, m *Message) ([]contract.Output, error) {
			start := time.Now()
			m.onSettled(func(s settlement) {
				if s.failure != "" {
					failures.WithLabelValues(role, s.failure).Inc()
				}
				jobsTotal.WithLabelValues(role, s.outcome).Inc()
				jobSeconds.WithLabelValues(role, s.outcome).Observe(time.Since(start).Seconds())
			})
			if m.Attempt > 1 {
				redeliveries.WithLabelValues(role).Inc()
			}
			jobsInFlight.WithLabelValues(role).Inc()
			defer jobsInFlight.WithLabelValues(role).Dec()
			return next(ctx, m)
		}
	}
}

// Retry has a failed job redelivered after backoff(attempt). It must be
// outside Failures, which keeps the errors that are not to be retried.
func Retry(backoff func(attempt int) time.Duration) Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, m *Message) ([]contract.Output, error) {
			outs, err := next(ctx, m)
			if err == nil || disposed(err) {
				return outs, err
			}
			return outs, &retryError{delay: backoff(m.Attempt), err: err}
		}
	}
}

// Failures gives up on a job whose error is permanent, or whose attempt
// is the last the consumer allows (maxDeliver, 0 for no limit): the
// failure event is added to the handler's outputs, and the runtime
// publishes them all and terminates the message.
func Failures(role string, maxDeliver int) Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, m *Message) ([]contract.Output, error) {
			outs, err := next(ctx, m)
			perm := IsPermanent(err)
			if err == nil || disposed(err) || !perm && (maxDeliver <= 0 || m.Attempt < maxDeliver) {
				return outs, err
			}
			reason := err.Error()
			if !perm {
				reason = fmt.Sprintf("gave up after %d attempts: %s", m.Attempt, reason)
			}
			reason = contract.Clip(reason, 1000)
			f := &failedError{reason: reason, perm: perm, err: err}
			out, ferr := failureEvent(role, m, reason, perm)
			if ferr != nil {
				f.event = ferr
				return outs, f
			}
			return append(outs, out), f
		}
	}
}

// Release lets go of a job that failed because the runtime cut it off at
// shutdown: it is neither retried later nor failed, but handed back at
// once for another process to do.
func Release(next Handler) Handler {
	return func(ctx context.Context, m *Message) ([]contract.Output, error) {
		outs, err := next(ctx, m)
		if err == nil || ctx.Err() == nil || disposed(err) {
			return outs, err
		}
		return nil, &releasedError{err: err}
	}
}

// failureEvent is role's failure event for m. Its Msg-Id names the role
// and the event, so that the two ways a role gives up on an event (the
// last attempt failing, and JetStream's max-deliveries advisory) publish
// it once.
func failureEvent(role string, m *Message, reason string, perm bool) (contract.Output, error) {
	f := contract.Failure{
		Ref:          m.Ref,
		Stage:        role,
		Reason:       reason,
		Permanent:    perm,
		Attempts:     m.Attempt,
		EventSubject: m.Subject,
		EventSeq:     m.StreamSeq,
		FailedAt:     time.Now().UTC(),
	}
	return contract.JSONOutput(contract.FailedSubject(role, m.Ref.Gallery), contract.FailureMsgID(role, m.Subject, m.StreamSeq), f)
}
