package pipeline

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// PullOptions tune Pull.
type PullOptions struct {
	// Slots bounds the messages handled at once (default 1). A pull asks
	// for no more than the free slots, so idle processes pulling from the
	// same consumer get the rest.
	Slots int
	// Wait is how long one pull waits for messages (default 5s).
	Wait time.Duration
	Log  *slog.Logger
}

// Pull fetches messages from cons until ctx ends and runs handle for each,
// on its own goroutine, up to Slots at a time; it returns once every
// handle has returned. A failing pull is logged and retried after a
// second; one that only ends (IsPollEnd) is not worth a word.
func Pull(ctx context.Context, cons jetstream.Consumer, o PullOptions, handle func(jetstream.Msg)) {
	n := max(o.Slots, 1)
	if o.Wait == 0 {
		o.Wait = 5 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	slots := make(chan struct{}, n)
	var wg sync.WaitGroup
	defer wg.Wait()
	start := func(m jetstream.Msg) {
		wg.Go(func() {
			defer func() { <-slots }()
			handle(m)
		})
	}
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
		held -= fetch(ctx, cons, o, held, start)
		for ; held > 0; held-- {
			<-slots
		}
	}
}

// fetch pulls up to n messages and starts each; it returns how many it
// started, each of which gives its slot back when done.
func fetch(ctx context.Context, cons jetstream.Consumer, o PullOptions, n int, start func(jetstream.Msg)) int {
	fctx, cancel := context.WithTimeout(ctx, o.Wait)
	defer cancel()
	batch, err := cons.Fetch(n, jetstream.FetchContext(fctx))
	if err != nil {
		if ctx.Err() == nil {
			o.Log.Warn("pull failed; retrying", "err", err)
			sleep(ctx, time.Second)
		}
		return 0
	}
	started := 0
	for m := range batch.Messages() {
		started++
		start(m)
	}
	if err := batch.Error(); err != nil && !IsPollEnd(err) && ctx.Err() == nil {
		o.Log.Warn("pull ended with error", "err", err)
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

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
