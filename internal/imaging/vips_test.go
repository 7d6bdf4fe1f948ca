package imaging

import (
	"fmt"
	"testing"
	"time"
)

// TestReasonRerunSkipsAStuckJob: a job that failed as bad input runs again
// alone for its reason, but does not wait long on another job stuck in
// libvips (abandoned at its deadline, holding the read lock): it keeps its
// first reason, and other jobs go on meanwhile.
func TestReasonRerunSkipsAStuckJob(t *testing.T) {
	bad := func(runs *int) func() (int, error) {
		return func() (int, error) { *runs++; return 0, fmt.Errorf("%w: run %d", ErrBadInput, *runs) }
	}
	runs := 0
	if _, err := withReason(bad(&runs)); runs != 2 || err == nil || err.Error() != "bad input: run 2" {
		t.Fatalf("alone: %d runs, %v; want the second run's reason", runs, err)
	}

	saved := rerunWait
	rerunWait = 200 * time.Millisecond
	defer func() { rerunWait = saved }()
	release, entered := make(chan struct{}), make(chan struct{})
	go withReason(func() (int, error) { close(entered); <-release; return 0, nil })
	defer close(release)
	<-entered
	done := make(chan error, 1)
	runs = 0
	go func() { _, err := withReason(bad(&runs)); done <- err }()
	time.Sleep(rerunWait / 4)
	other := make(chan struct{})
	go func() { _, _ = withReason(func() (int, error) { return 0, nil }); close(other) }()
	select {
	case <-other:
	case <-time.After(10 * time.Second):
		t.Fatal("a job waited behind a failed job's rerun")
	}
	select {
	case err := <-done:
		if runs != 1 || err == nil || err.Error() != "bad input: run 1" {
			t.Errorf("beside a stuck job: %d runs, %v; want the first run's reason", runs, err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a failed job waited on one stuck in libvips")
	}
}
