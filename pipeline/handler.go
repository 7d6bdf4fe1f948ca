package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/photodesk/photodesk/pipeline/contract"
)

// Message is one delivery of an event, as a handler sees it.
type Message struct {
	Subject   string
	Data      []byte
	Header    nats.Header
	Attempt   int          // 1 on the first delivery
	StreamSeq uint64       // the event's sequence in its stream
	Ref       contract.Ref // what the event is about (Worker.Describe)
	Log       *slog.Logger

	msg     jetstream.Msg      // the delivery, for KeepAlive; nil outside the runtime
	settled []func(settlement) // told how the runtime settled the delivery
	// holdSlot, when set, keeps the job's slot taken after settlement
	// until it is closed (Deadline, past its limit of abandoned jobs).
	holdSlot <-chan struct{}
}

// onSettled has f told how the runtime settled m, once it has: metrics
// and the job's span cover publishing and acking, which happen after the
// chain returns.
func (m *Message) onSettled(f func(settlement)) { m.settled = append(m.settled, f) }

// settle tells the onSettled functions, the last registered first, as
// deferred calls would run.
func (m *Message) settle(s settlement) {
	for i := len(m.settled) - 1; i >= 0; i-- {
		m.settled[i](s)
	}
}

// Superseded reports whether err says the object m's event names was
// replaced or deleted since (ErrSuperseded), and logs it: the newer upload
// has an event of its own, so the job ends with nothing to do rather than
// a failure.
func (m *Message) Superseded(err error) bool {
	if !errors.Is(err, ErrSuperseded) {
		return false
	}
	m.Log.Info("object replaced or deleted since this event; skipped", "key", m.Ref.Key, "err", err)
	return true
}

// ForRole reports whether an event with header h is addressed to role.
func ForRole(h nats.Header, role string) bool {
	v := h.Get(contract.RolesHeader)
	if v == "" {
		return true
	}
	for r := range strings.SplitSeq(v, ",") {
		if strings.TrimSpace(r) == role {
			return true
		}
	}
	return false
}

// Handler is a role's work: one event in, the events it causes out. It
// returns Permanent(err) for input that can never succeed; any other error
// is retried with back-off up to the consumer's MaxDeliver.
type Handler func(ctx context.Context, m *Message) ([]contract.Output, error)

// Middleware wraps a Handler; the runtime wraps every role's handler in the
// same chain, so recovery and logging are never re-implemented per role.
type Middleware func(Handler) Handler

// Chain applies mw around h, the first outermost.
func Chain(h Handler, mw ...Middleware) Handler {
	for i := len(mw) - 1; i >= 0; i-- {
		h = mw[i](h)
	}
	return h
}

type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent marks err as not worth retrying: the input is bad.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// Permanentf is Permanent(fmt.Errorf(...)).
func Permanentf(format string, a ...any) error { return Permanent(fmt.Errorf(format, a...)) }

// PermanentIf marks err Permanent when it is one of kinds (the input's
// own fault: a broken photo, a file over a limit); any other error is
// returned as it is, to be retried.
func PermanentIf(err error, kinds ...error) error {
	for _, k := range kinds {
		if errors.Is(err, k) {
			return Permanent(err)
		}
	}
	return err
}

// IsPermanent reports whether err was marked Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

// describeJSON reads the Ref every photodesk event embeds.
func describeJSON(_ string, data []byte) contract.Ref {
	var r contract.Ref
	_ = json.Unmarshal(data, &r)
	return r
}
