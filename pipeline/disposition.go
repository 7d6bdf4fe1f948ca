package pipeline

import (
	"errors"
	"time"
)

// The middleware tell the runtime how to settle a delivery through the
// error the chain returns: nil publishes the outputs and acks, and these
// errors say otherwise. Each keeps the handler's error as its cause.

// errSkipped: the event is addressed to other roles; ack it untouched.
var errSkipped = errors.New("event addressed to other roles")

// retryError: nak, for a redelivery after delay.
type retryError struct {
	delay time.Duration
	err   error
}

func (e *retryError) Error() string { return e.err.Error() }
func (e *retryError) Unwrap() error { return e.err }

// releasedError: the job was cut off at shutdown; nak at once so that
// another process takes it.
type releasedError struct{ err error }

func (e *releasedError) Error() string { return e.err.Error() }
func (e *releasedError) Unwrap() error { return e.err }

// failedError: the outputs end with the failure event; publish them and
// terminate the message. event is why the failure event could not be
// made, which the runtime treats as a failure to publish it.
type failedError struct {
	reason string
	perm   bool
	event  error
	err    error
}

func (e *failedError) Error() string { return e.err.Error() }
func (e *failedError) Unwrap() error { return e.err }

// disposed reports whether a middleware has decided err's settlement, so
// that the ones further out leave it alone.
func disposed(err error) bool {
	var (
		r *retryError
		x *releasedError
		f *failedError
	)
	return errors.Is(err, errSkipped) || errors.As(err, &r) || errors.As(err, &x) || errors.As(err, &f)
}

// settlement is how the runtime settled a delivery, as told to the
// middleware that asked (Message.onSettled).
type settlement struct {
	outcome string // done, retry, failed, released or skipped
	err     error  // unless done: the handler's error, or publishing's
	// failure is the failures_total reason (bad_input or gave_up) once a
	// failure event is published, else empty.
	failure string
}
