package chaos

import (
	"context"
	"fmt"
	"syscall"
	"time"
)

// Kinds of fault.
const (
	faultKill  = "kill"
	faultNATS  = "nats"
	faultMinIO = "minio"
)

// chaos injects faults at random moments until the uploads are done, each
// kind has happened, and enough galleries have their outcome (or ChaosMax
// has passed).
func (r *run) chaos(ctx context.Context, began time.Time, upDone <-chan error) error {
	// The first faults are one of each kind, in a random order; then
	// kills are three times as likely as either restart.
	first := []string{faultKill, faultNATS, faultMinIO}
	r.faults.mu.Lock()
	r.faults.r.Shuffle(len(first), func(i, j int) { first[i], first[j] = first[j], first[i] })
	r.faults.mu.Unlock()
	uploaded := false
	for n := 0; ; n++ {
		sleepCtx(ctx, r.faults.between(r.o.GapMin, r.o.GapMax))
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !uploaded {
			select {
			case err := <-upDone:
				if err != nil {
					return err
				}
				uploaded = true
				r.logf("uploads done")
			default:
			}
		}
		if uploaded && n >= len(first) {
			done := r.outcomes(ctx)
			if float64(done) >= r.o.ChaosUntil*float64(len(r.galleries)) || time.Since(began) > r.o.ChaosMax {
				return nil
			}
		}
		kind := faultKill
		if n < len(first) {
			kind = first[n]
		} else if x := r.faults.float(); x < 0.2 {
			kind = faultNATS
		} else if x < 0.4 {
			kind = faultMinIO
		}
		if err := r.fault(ctx, kind); err != nil {
			return err
		}
	}
}

func (r *run) fault(ctx context.Context, kind string) error {
	sig, how := syscall.SIGTERM, "restart"
	if r.o.Hard {
		sig, how = syscall.SIGKILL, "kill and restart"
	}
	switch kind {
	case faultKill:
		// One process, or now and then every process of a role; half the
		// time one that is in the middle of a job, if any is.
		var busy []*worker
		for _, w := range r.workers {
			if w.inFlight() > 0 {
				busy = append(busy, w)
			}
		}
		// Always the same draws, whatever is busy, so a seed replays the
		// driver's other choices.
		w, preferBusy, which, all := r.workers[r.faults.intN(len(r.workers))], r.faults.intN(2) == 0, r.faults.float(), r.faults.intN(4) == 0
		if preferBusy && len(busy) > 0 {
			w = busy[int(which*float64(len(busy)))]
		}
		var killed []string
		for _, x := range r.workers {
			if (x == w || (all && x.role == w.role)) && x.kill() {
				killed = append(killed, x.name)
			}
		}
		r.report.Kills += len(killed)
		r.logf("SIGKILL %v (%d of %d processes busy)", killed, len(busy), len(r.workers))
	case faultNATS:
		down := r.faults.between(500*time.Millisecond, 4*time.Second)
		r.logf("NATS: %s (down for %s)", how, down.Round(time.Millisecond))
		r.nats.Stop(sig)
		sleepCtx(ctx, down)
		if err := r.nats.Start(ctx); err != nil {
			return fmt.Errorf("restart NATS: %w", err)
		}
		r.report.NATSRestarts++
		r.logf("NATS: up again")
	case faultMinIO:
		// Up to 8 s: longer than minio-go's own retries of a PUT.
		down := r.faults.between(500*time.Millisecond, 8*time.Second)
		r.logf("MinIO: %s (down for %s)", how, down.Round(time.Millisecond))
		if err := r.minio.stop(r.o.Hard); err != nil {
			r.logf("MinIO stop: %v", err)
		}
		sleepCtx(ctx, down)
		if err := r.minio.start(ctx); err != nil {
			return fmt.Errorf("restart MinIO: %w", err)
		}
		r.report.MinIORestarts++
		r.logf("MinIO: up again")
	}
	return nil
}
