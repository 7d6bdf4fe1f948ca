package pipeline

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/photodesk/photodesk/pipeline/contract"
)

// ErrDeadline is the error of a job abandoned at its deadline (see
// Deadline); its failure event's reason says which deadline.
var ErrDeadline = errors.New("job deadline passed")

// Deadline abandons a job whose handler has not returned within d (0: no
// deadline): the handler's context is cancelled and the chain goes on at
// once with ErrDeadline, which Retry and Failures take like any transient
// error (redelivered after the back-off; on the last attempt, the failure
// event), so the attempt counts and the job's slot is freed. A handler
// that heeds its context returns at once; one stuck where no context
// reaches (in libvips, in C) runs on, on its own goroutine, and whatever
// it returns is dropped. At shutdown, once the runtime cancels jobs, a
// stuck handler is left the same way and the job released.
//
// Abandoned handlers still cost memory and a thread each, and cannot be
// stopped from Go; only ending the process frees them. So a bounds them:
// up to its limit run on without a slot (nil: no limit). Past it an
// abandoned job is still settled on time, but keeps its slot until its
// handler returns, so the role's goroutines and memory stay within twice
// its concurrency, a process whose role is full of stuck handlers takes
// no more of its jobs, and Stuck tells /healthz, for a restart.
//
// It must be inside Release (which tells a shutdown from a deadline by
// the outer context) and outside Recover (which must run on the
// handler's goroutine).
func Deadline(role string, d time.Duration, a *Abandoned) Middleware {
	return func(next Handler) Handler {
		if d <= 0 {
			return next
		}
		return func(ctx context.Context, m *Message) ([]contract.Output, error) {
			hctx, cancel := context.WithTimeout(ctx, d)
			type result struct {
				outs []contract.Output
				err  error
			}
			res := make(chan result, 1)
			ended := make(chan struct{})
			go func() {
				defer close(ended)
				outs, err := next(hctx, m)
				res <- result{outs, err}
			}()
			select {
			case r := <-res:
				cancel()
				return r.outs, r.err
			case <-hctx.Done():
			}
			cancel()
			err := fmt.Errorf("%w: no result within the %s deadline of %s; the job was abandoned", ErrDeadline, role, d)
			if ctx.Err() != nil {
				err = fmt.Errorf("cut off at shutdown: %w", ctx.Err()) // Release hands it back
			} else {
				deadlinesTotal.WithLabelValues(role).Inc()
				m.Log.Warn("job deadline passed; abandoning it", "deadline", d)
			}
			if !a.leave(ended) {
				m.Log.Warn("too many abandoned jobs still running in this process; this one keeps its slot until it returns (/healthz fails)", "limit", a.limit)
				m.holdSlot = ended
			}
			return nil, err
		}
	}
}

// Abandoned counts one role's abandoned handlers that are still running
// (see Deadline): up to limit without a slot, the rest holding theirs.
type Abandoned struct {
	role  string
	limit int
	mu    sync.Mutex
	n     int // abandoned handlers running
	held  int // of them, the ones holding a slot
}

// NewAbandoned lets up to limit abandoned handlers of role run on without
// a slot. Stuck reads it until forget is called.
func NewAbandoned(role string, limit int) (a *Abandoned, forget func()) {
	a = &Abandoned{role: role, limit: limit}
	abandonedMu.Lock()
	abandonedRoles = append(abandonedRoles, a)
	abandonedMu.Unlock()
	return a, func() {
		abandonedMu.Lock()
		defer abandonedMu.Unlock()
		if i := slices.Index(abandonedRoles, a); i >= 0 {
			abandonedRoles = slices.Delete(abandonedRoles, i, i+1)
		}
	}
}

// leave counts a handler, abandoned, until ended is closed. It reports
// whether the limit lets it go without its slot.
func (a *Abandoned) leave(ended <-chan struct{}) bool {
	if a == nil {
		return true
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	free := a.n-a.held < a.limit
	a.n++
	if !free {
		a.held++
	}
	abandonedNow.WithLabelValues(a.role).Inc()
	go func() {
		<-ended
		a.mu.Lock()
		a.n--
		if !free {
			a.held--
		}
		a.mu.Unlock()
		abandonedNow.WithLabelValues(a.role).Dec()
	}()
	return free
}

// counts is how many abandoned handlers run on, and how many of them hold
// a slot.
func (a *Abandoned) counts() (n, held int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.n, a.held
}

var (
	abandonedMu    sync.Mutex
	abandonedRoles []*Abandoned
)

// Stuck reports the roles of this process that have lost a slot to an
// abandoned handler (past the limit): only a restart gets it back, as a
// handler stuck in C cannot be stopped. /healthz fails with it.
func Stuck() error {
	abandonedMu.Lock()
	roles := append([]*Abandoned(nil), abandonedRoles...)
	abandonedMu.Unlock()
	var stuck []string
	for _, a := range roles {
		if n, held := a.counts(); held > 0 {
			stuck = append(stuck, fmt.Sprintf("%s: %d jobs abandoned at their deadline still running, %d of them holding a slot", a.role, n, held))
		}
	}
	if len(stuck) == 0 {
		return nil
	}
	slices.Sort(stuck)
	return errors.New(strings.Join(stuck, "; "))
}

var (
	deadlinesTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "photodesk_job_deadlines_total",
		Help: "Jobs abandoned at their deadline (--deadline-<stage>), by role.",
	}, []string{"role"})
	abandonedNow = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "photodesk_jobs_abandoned",
		Help: "Handlers abandoned at their deadline that are still running (stuck), by role.",
	}, []string{"role"})
)

func init() { Metrics.MustRegister(deadlinesTotal, abandonedNow) }
