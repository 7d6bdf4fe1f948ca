package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/photodesk/photodesk/internal/fixture"
	"github.com/photodesk/photodesk/pipeline/devstack"
)

// TestStuckJobFailsAtItsDeadline: a `photodesk worker` process whose exif
// handler never returns for one photo (it ignores its context, as one
// stuck in C would), run with --deadline-exif 1s: each attempt is
// abandoned at the deadline, the last one (the stack's max-deliver 3)
// becomes the failure event with the reason, the other photo of the
// gallery is done meanwhile, and once the abandoned handlers outnumber
// the role's concurrency (2), /healthz says the process is stuck.
func TestStuckJobFailsAtItsDeadline(t *testing.T) {
	s := devstack.ForTest(t)
	startRoles(t, s, "ingest")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ops := ln.Addr().String()
	ln.Close()
	args := append([]string{"worker", "--role", "exif", "--concurrency", "2", "--deadline-exif", "1s", "--http", ops}, connFlags(s.Config)...)
	_, out := child(t, []string{"PHOTODESK_TEST_STALL=exif", "PHOTODESK_TEST_STALL_PHOTO=stuck.jpg"}, args...)
	stalls := make(chan string, 8)
	go func() {
		for out.Scan() {
			if p, ok := strings.CutPrefix(out.Text(), "STALLED "); ok {
				stalls <- p
			}
		}
	}()
	date := &fixture.EXIF{DateTimeOriginal: "2026:07:28 10:00:00"}
	putObject(t, s.Config, "stuck-1/stuck.jpg", photo(t, 1, date))
	putObject(t, s.Config, "stuck-1/fine.jpg", photo(t, 2, date))

	r := waitResults(t, s.Config, "stuck-1", 2, 90*time.Second)
	if _, ok := r.exif["fine.jpg"]; !ok {
		t.Errorf("fine.jpg not done beside the stuck photo: %+v", r)
	}
	f, ok := r.failures["stuck.jpg"]
	if !ok {
		t.Fatalf("no failure event for stuck.jpg: %+v", r)
	}
	want := "gave up after 3 attempts: job deadline passed: no result within the exif deadline of 1s; the job was abandoned"
	if f.Stage != "exif" || f.Permanent || f.Attempts != 3 || f.Reason != want {
		t.Errorf("failure = %+v, want stage exif, not permanent, 3 attempts, %q", f, want)
	}
	for i := range 3 {
		select {
		case p := <-stalls:
			if p != "stuck.jpg" {
				t.Errorf("stalled on %s", p)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("the handler was entered %d times, want 3 (one per attempt)", i)
		}
	}
	// Three abandoned handlers run on, one past the limit of 2 holding
	// its slot: a restart is due.
	resp, err := http.Get("http://" + ops + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	got := fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(string(body)))
	if got != "503 stuck: exif: 3 jobs abandoned at their deadline still running, 1 of them holding a slot" {
		t.Errorf("/healthz: %s", got)
	}
}
