package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/photodesk/photodesk/internal/fixture"
	"github.com/photodesk/photodesk/pipeline"
	"github.com/photodesk/photodesk/pipeline/contract"
	"github.com/photodesk/photodesk/pipeline/devstack"
	"github.com/photodesk/photodesk/pipeline/gallery"
)

// pollStatus reads the status until ok says it shows what the test wants,
// and fails the test with the last one otherwise.
func pollStatus(t *testing.T, js jetstream.JetStream, o statusOptions, d time.Duration, ok func(*statusReport) string) *statusReport {
	t.Helper()
	var rep *statusReport
	why := ""
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		var err error
		if rep, err = readStatus(context.Background(), js, o); err != nil {
			t.Fatal(err)
		}
		if why = ok(rep); why == "" {
			return rep
		}
	}
	var buf bytes.Buffer
	_ = printStatus(&buf, rep, time.Now())
	t.Fatalf("after %s: %s; status:\n%s", d, why, buf.String())
	return nil
}

func findGallery(rep *statusReport, id string) *galleryProgress {
	for i := range rep.Galleries {
		if rep.Galleries[i].Gallery == id {
			return &rep.Galleries[i]
		}
	}
	return nil
}

func boundTo(rep *statusReport, role string) int {
	for _, c := range rep.Consumers {
		if c.Role == role && c.Processes != nil {
			return *c.Processes
		}
	}
	return -1
}

// TestStatus runs every role (exif also in a second process) on a real
// stack: a gallery without its manifest shows as in progress with the
// manifest missing, a broken photo's failure is listed with its reason and
// holds its gallery, a published gallery is not listed, every role has its
// consumer row, and each running process is counted as bound until it
// stops.
func TestStatus(t *testing.T) {
	s := devstack.ForTest(t)
	startRoles(t, s, "ingest", "exif", "renditions", "watermark", "assembler")
	worker, _ := child(t, nil, append([]string{"worker", "--role", "exif"}, connFlags(s.Config)...)...)
	nc, js, err := pipeline.Connect(s.Config, t.Name())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()

	day := &fixture.EXIF{DateTimeOriginal: "2026:07:28 10:00:00"}
	putObject(t, s.Config, "st-wait/a.jpg", photo(t, 1, day))
	putObject(t, s.Config, "st-wait/b.jpg", photo(t, 2, day))
	putObject(t, s.Config, "st-held/good.jpg", photo(t, 3, day))
	putObject(t, s.Config, "st-held/broken.jpg", []byte("these are my notes, not a photo\n"))
	putObject(t, s.Config, "st-held/gallery.json", []byte(`{"headline":"h","photos":[{"file":"good.jpg"},{"file":"broken.jpg"}]}`))
	putObject(t, s.Config, "st-done/a.jpg", photo(t, 4, day))
	putObject(t, s.Config, "st-done/gallery.json", []byte(`{"headline":"done"}`))
	articleEvents(t, s.Config, "st-done", 1, 60*time.Second)

	o := statusOptions{failures: 10, galleries: 20}
	rep := pollStatus(t, js, o, 60*time.Second, func(rep *statusReport) string {
		w, h := findGallery(rep, "st-wait"), findGallery(rep, "st-held")
		switch {
		case w == nil || h == nil:
			return "st-wait or st-held not in progress"
		case w.Photos != 2 || len(w.Missing) != 0:
			return "st-wait's photos are not through every stage"
		case h.State != "held":
			return "st-held not held"
		case boundTo(rep, "exif") != 2:
			return "the exif worker process is not counted"
		}
		return ""
	})

	w := findGallery(rep, "st-wait")
	if w.State != "waiting" || w.Manifest != "missing" || w.PublishedVersion != 0 || !strings.Contains(strings.Join(w.pieces(), "; "), "manifest missing") {
		t.Errorf("st-wait: %+v", w)
	}
	h := findGallery(rep, "st-held")
	var heldReason string
	for _, f := range h.Failed {
		if f.Photo == "broken.jpg" && f.Stage == "renditions" {
			heldReason = f.Reason
		}
	}
	if !strings.Contains(heldReason, "not an image") || h.Manifest != "present" {
		t.Errorf("st-held: %+v, want broken.jpg's renditions failure with its reason", h)
	}
	if findGallery(rep, "st-done") != nil || rep.GalleriesInProgress != 2 {
		t.Errorf("%d galleries in progress (%+v), want st-wait and st-held only", rep.GalleriesInProgress, rep.Galleries)
	}
	stages := map[string]string{}
	for _, f := range rep.Failures {
		if f.Gallery == "st-held" && f.Photo == "broken.jpg" {
			stages[f.Stage] = f.Reason
		}
	}
	for _, st := range []string{"exif", "renditions", "watermark"} {
		if stages[st] == "" {
			t.Errorf("no %s failure of broken.jpg listed: %+v", st, rep.Failures)
		}
	}
	if len(rep.Consumers) != len(pipeline.Consumers) {
		t.Fatalf("%d consumer rows, want %d", len(rep.Consumers), len(pipeline.Consumers))
	}
	for i, spec := range pipeline.Consumers {
		c := rep.Consumers[i]
		if c.Role != spec.Role || c.Stream != spec.Stream || c.Error != "" || c.Processes == nil || *c.Processes < 1 {
			t.Errorf("consumer row %+v for %s", c, spec.Role)
		}
	}
	var childListed bool
	for _, p := range rep.Processes {
		childListed = childListed || (p.Role == "exif" && p.PID == worker.Process.Pid && p.Concurrency == 2 && p.Version != "")
	}
	if !childListed {
		t.Errorf("the worker process %d is not listed: %+v", worker.Process.Pid, rep.Processes)
	}

	// The text and the JSON say the same.
	var text bytes.Buffer
	if err := printStatus(&text, rep, time.Now()); err != nil {
		t.Fatal(err)
	}
	t.Logf("photodesk status:\n%s", text.String())
	for _, want := range []string{"ROLE", "PROCESSES", "LATEST FAILURES (3)", "GALLERIES IN PROGRESS (2)", "manifest missing", "broken.jpg failed in renditions: bad input: not an image"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("status text lacks %q:\n%s", want, text.String())
		}
	}
	var out bytes.Buffer
	saved := stdout
	stdout = &out
	code := run(append([]string{"status", "--json", "--failures", "1"}, connFlags(s.Config)...), os.Stderr)
	stdout = saved
	var js1 statusReport
	if err := json.Unmarshal(out.Bytes(), &js1); code != 0 || err != nil {
		t.Fatalf("status --json exited %d: %v\n%s", code, err, out.String())
	}
	if len(js1.Failures) != 1 || js1.Failures[0] != rep.Failures[0] || findGallery(&js1, "st-wait") == nil || len(js1.Consumers) != len(pipeline.Consumers) {
		t.Errorf("status --json --failures 1: %s", out.String())
	}

	// A clean stop takes the process out at once, not after the TTL.
	if err := worker.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_ = worker.Wait()
	rep, err = readStatus(context.Background(), js, o)
	if err != nil || boundTo(rep, "exif") != 1 {
		t.Errorf("after the worker stopped: exif has %d processes (%v)", boundTo(rep, "exif"), err)
	}
}

// TestProgressOf: what a gallery lacks, from the assembler's state: a
// listed photo not uploaded, stages without a result, a reprocess run under
// way; a gallery published as it stands is not in progress.
func TestProgressOf(t *testing.T) {
	now := time.Now()
	st := &gallery.State{Gallery: "g", Photos: map[string]*gallery.Photo{}}
	st.ApplyManifest("m", now, &gallery.Manifest{Headline: "h", Photos: []gallery.MPhoto{{File: "a.jpg"}, {File: "b.jpg"}}}, "")
	a := contract.Ref{Gallery: "g", Photo: "a.jpg", ETag: "a1"}
	st.ApplyUploaded(contract.PhotoUploaded{Ref: a, UploadedAt: now}, now)
	st.ApplyExif(contract.PhotoExif{Ref: a}, now)
	g, ok := progressOf(st)
	if !ok || g.State != "waiting" || g.Manifest != "present" ||
		strings.Join(g.pieces(), "; ") != "a.jpg: renditions, watermark; b.jpg: upload" {
		t.Fatalf("%v %+v: %q", ok, g, g.pieces())
	}

	b := contract.Ref{Gallery: "g", Photo: "b.jpg", ETag: "b1"}
	st.ApplyUploaded(contract.PhotoUploaded{Ref: b, UploadedAt: now}, now)
	for _, ref := range []contract.Ref{a, b} {
		st.ApplyExif(contract.PhotoExif{Ref: ref}, now)
		for _, role := range []string{"renditions", "watermark"} {
			st.ApplyDerivatives(contract.PhotoDerivatives{Ref: ref, Role: role, Derivatives: []contract.Derivative{}}, now)
		}
	}
	if g, ok := progressOf(st); !ok || g.State != "publishing" {
		t.Fatalf("complete, unpublished: %v %+v", ok, g)
	}
	st.Published = &gallery.Publication{Version: 1, Fingerprint: st.Fingerprint(st.Evaluate())}
	if g, ok := progressOf(st); ok {
		t.Fatalf("published as it stands, yet in progress: %+v", g)
	}

	up := contract.PhotoUploaded{Ref: a, UploadedAt: now, Reprocess: &contract.Reprocess{Run: "r1", Photos: 2}}
	st.ApplyUploaded(up, now)
	st.ApplyRerun(up, []string{"watermark"}, 9)
	g, ok = progressOf(st)
	if !ok || g.State != "reprocessing" || g.PublishedVersion != 1 || !strings.Contains(strings.Join(g.pieces(), "; "), "reprocess r1: 1 of 2 photo events") {
		t.Fatalf("during a run: %v %+v %q", ok, g, g.pieces())
	}
}
