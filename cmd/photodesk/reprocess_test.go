package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/photodesk/photodesk/internal/fixture"
	"github.com/photodesk/photodesk/pipeline"
	"github.com/photodesk/photodesk/pipeline/config"
	"github.com/photodesk/photodesk/pipeline/contract"
	"github.com/photodesk/photodesk/pipeline/devstack"
	"github.com/photodesk/photodesk/pipeline/gallery"
	"github.com/photodesk/photodesk/workers/assembler"
)

// jobs is this process's photodesk_jobs_total for role and outcome.
func jobs(t *testing.T, role, outcome string) float64 {
	t.Helper()
	mfs, err := pipeline.Metrics.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "photodesk_jobs_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["role"] == role && labels["outcome"] == outcome {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// objectETags are the ETags of the derivatives under prefix whose keys
// contain part.
// publishedCopy matches the assembler's stamped copies of derivatives
// (<preset>.<hash>.<ext>), which objectETags leaves out.
var publishedCopy = regexp.MustCompile(`\.[0-9a-f]{16}\.[a-z]+$`)

func objectETags(t *testing.T, store *pipeline.Store, bucket, prefix, part string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for o := range store.ListObjects(context.Background(), bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		if strings.Contains(o.Key, part) && !publishedCopy.MatchString(o.Key) {
			out[o.Key] = o.ETag
		}
	}
	return out
}

// galleryState is the assembler's state of gallery id.
func galleryState(t *testing.T, js jetstream.JetStream, id string) *gallery.State {
	t.Helper()
	kv, err := js.KeyValue(context.Background(), pipeline.GalleriesKV)
	if err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var st gallery.State
	if err := json.Unmarshal(e.Value(), &st); err != nil {
		t.Fatal(err)
	}
	return &st
}

// waitRun waits until the assembler has every answer to run for gallery id.
func waitRun(t *testing.T, js jetstream.JetStream, id, run string) *gallery.State {
	t.Helper()
	var st *gallery.State
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if st = galleryState(t, js, id); st.LastRerun >= run && st.Rerun == nil {
			return st
		}
	}
	t.Fatalf("%s: run %s not finished: %+v (waiting %v)", id, run, st.Rerun, st.Evaluate().Waiting)
	return nil
}

// countEvents counts the events on subject from the start of the stream.
func countEvents(t *testing.T, cfg config.Config, subject string, take func(jetstream.Msg) bool) int {
	t.Helper()
	n, quiet := 0, time.Time{}
	follow(t, cfg, []string{subject}, 10*time.Second, func(m jetstream.Msg) {
		if take == nil || take(m) {
			n++
		}
	}, func() bool {
		if quiet.IsZero() {
			quiet = time.Now().Add(time.Second)
		}
		return time.Now().After(quiet)
	})
	return n
}

// TestReprocess: a published gallery reprocessed after the watermark text
// changed gets new watermarked derivatives and exactly one new record
// version pointing at them, while the renditions role skips the run; run
// again with nothing changed, every role answers and no version follows;
// --all with --rate announces every gallery.
func TestReprocess(t *testing.T) {
	s := devstack.ForTest(t)
	ctx := context.Background()
	startRoles(t, s, "ingest", "exif", "renditions", "assembler")
	stopWatermark := startRolesWith(t, s, defaultRoleConfig(), "watermark")
	nc, js, err := pipeline.Connect(s.Config, t.Name())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	store, err := pipeline.NewStore(s.Config)
	if err != nil {
		t.Fatal(err)
	}

	for i, name := range []string{"a.jpg", "b.jpg", "c.jpg"} {
		b, err := fixture.JPEG(fixture.Scene(800, 600, int64(i+1)), 85, &fixture.EXIF{DateTimeOriginal: "2026:07:28 10:00:00"})
		if err != nil {
			t.Fatal(err)
		}
		putObject(t, s.Config, "rp-1/"+name, b)
	}
	putObject(t, s.Config, "rp-1/gallery.json", []byte(`{"headline":"高清大图|重新处理","photos":[{"file":"a.jpg"},{"file":"b.jpg"},{"file":"c.jpg"}]}`))
	v1 := articleEvents(t, s.Config, "rp-1", 1, 60*time.Second)[0]
	marked := objectETags(t, store, s.Config.DerivativesBucket, "rp-1/", ".wm.")
	plain := objectETags(t, store, s.Config.DerivativesBucket, "rp-1/", "")
	for k := range marked {
		delete(plain, k)
	}
	if len(marked) != 6 || len(plain) != 36 {
		t.Fatalf("%d watermarked and %d plain derivatives, want 6 and 36 (3 presets and 3 crops in 2 formats)", len(marked), len(plain))
	}

	// New watermark text: the role restarts with it, reprocess re-runs it.
	stopWatermark()
	rc := defaultRoleConfig()
	rc.img.Watermark.Text = "来源:人民日报"
	startRolesWith(t, s, rc, "watermark")
	skipped := jobs(t, "renditions", "skipped")
	var out bytes.Buffer
	sum, err := pipeline.Reprocess(ctx, &out, js, store, s.Config.OriginalsBucket, pipeline.ReprocessOptions{Gallery: "rp-1", Roles: []string{"watermark"}})
	if err != nil || sum.Galleries != 1 || sum.Photos != 3 || sum.Events != 3 || !strings.Contains(out.String(), "1 galleries, 3 photos, 3 events published") {
		t.Fatalf("reprocess: %v %+v\n%s", err, sum, out.String())
	}
	evs := articleEvents(t, s.Config, "rp-1", 2, 60*time.Second)
	if len(evs) != 2 || evs[1].Version != 2 || evs[1].Photos != 3 || !evs[1].FirstCreated.Equal(v1.FirstCreated) {
		var vs []int
		for _, ev := range evs {
			vs = append(vs, ev.Version)
		}
		t.Fatalf("after reprocessing the watermark: versions %v, want one new version", vs)
	}
	waitRun(t, js, "rp-1", sum.Run)
	for k, etag := range objectETags(t, store, s.Config.DerivativesBucket, "rp-1/", ".wm.") {
		if etag == marked[k] {
			t.Errorf("%s: not made again (ETag %s)", k, etag)
		}
		marked[k] = etag
	}
	for k, etag := range objectETags(t, store, s.Config.DerivativesBucket, "rp-1/", "") {
		if p, ok := plain[k]; ok && p != etag {
			t.Errorf("%s: the renditions role made it again", k)
		}
	}
	if d := jobs(t, "renditions", "skipped") - skipped; d != 3 {
		t.Errorf("the renditions role skipped %v events of the run, want 3", d)
	}
	if n := countEvents(t, s.Config, contract.GallerySubject(contract.SubjectPhotoRenditions, "rp-1"), nil); n != 3 {
		t.Errorf("%d photo.renditions events, want the 3 of the upload only", n)
	}
	// Version 2's watermarked images are the new ones.
	var r2 assembler.Ninjs
	if err := json.Unmarshal(evs[1].Record, &r2); err != nil || r2.Version != "2" || len(r2.Associations) != 3 {
		t.Fatalf("version 2: %v %+v", err, r2)
	}
	for _, a := range r2.Associations {
		for _, rd := range a.Renditions {
			if !strings.Contains(rd.Name, "watermarked") {
				continue
			}
			// The link is the published copy, stamped from one of the new
			// watermarked objects.
			resp, err := http.Get(rd.Href)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			u, _ := url.Parse(rd.Href)
			key := strings.TrimPrefix(u.Path, "/"+s.Config.DerivativesBucket+"/")
			meta, _, _, ok, err := store.Meta(ctx, s.Config.DerivativesBucket, key)
			from := meta["photodesk-stamped-from"]
			found := false
			for k, etag := range marked {
				found = found || from == k+"@"+etag
			}
			if err != nil || !ok || resp.StatusCode != 200 || !found || int64(len(body)) != rd.SizeInBytes {
				t.Errorf("%s %s: GET %d, %d bytes, stamped from %q: not one of the new watermarked objects (%v)", a.URI, rd.Name, resp.StatusCode, len(body), from, err)
			}
		}
	}

	// Nothing changed: every role answers the run, and no version follows.
	out.Reset()
	sum, err = pipeline.Reprocess(ctx, &out, js, store, s.Config.OriginalsBucket, pipeline.ReprocessOptions{Gallery: "rp-1"})
	if err != nil || sum.Photos != 3 || sum.Events != 4 {
		t.Fatalf("reprocess of every role: %v %+v\n%s", err, sum, out.String())
	}
	st := waitRun(t, js, "rp-1", sum.Run)
	if n := countEvents(t, s.Config, contract.GallerySubject(contract.SubjectPhotoRenditions, "rp-1"), nil); n != 6 {
		t.Errorf("%d photo.renditions events, want 3 more: the run's answers", n)
	}
	if evs := articleEvents(t, s.Config, "rp-1", 2, 30*time.Second); len(evs) != 2 || st.Published.Version != 2 {
		t.Errorf("a run that changed nothing made a new version: %d events, published v%d", len(evs), st.Published.Version)
	}
	for k, etag := range objectETags(t, store, s.Config.DerivativesBucket, "rp-1/", ".wm.") {
		if etag != marked[k] {
			t.Errorf("%s: made again though nothing changed", k)
		}
	}

	// --all, bounded: every gallery is announced to the roles named.
	for i, name := range []string{"x.jpg", "y.jpg"} {
		putObject(t, s.Config, "rp-2/"+name, photo(t, int64(10+i), nil))
	}
	waitResults(t, s.Config, "rp-2", 2, 90*time.Second)
	out.Reset()
	saved := stdout
	stdout = &out
	code := run(append([]string{"reprocess", "--all", "--rate", "4", "--role", "exif"}, connFlags(s.Config)...), os.Stderr)
	stdout = saved
	if code != 0 || !strings.Contains(out.String(), "2 galleries, 5 photos, 5 events published") {
		t.Fatalf("reprocess --all exited %d:\n%s", code, out.String())
	}
	runID := strings.TrimSuffix(strings.Fields(strings.TrimPrefix(out.String(), "reprocess run "))[0], ":")
	for g, want := range map[string]int{"rp-1": 3, "rp-2": 2} {
		n := countEvents(t, s.Config, contract.GallerySubject(contract.SubjectPhotoUploaded, g), func(m jetstream.Msg) bool {
			var ev contract.PhotoUploaded
			mustDecode(t, m, &ev)
			return ev.Reprocess != nil && ev.Reprocess.Run == runID && ev.Reprocess.Photos == want &&
				m.Headers().Get(contract.RolesHeader) == "exif,assembler"
		})
		if n != want {
			t.Errorf("%s: %d photo.uploaded events of run %s for exif, want %d", g, n, runID, want)
		}
		waitRun(t, js, g, runID)
	}
	if evs := articleEvents(t, s.Config, "rp-1", 2, 5*time.Second); len(evs) != 2 {
		t.Errorf("an exif run that changed nothing made a new version: %d events", len(evs))
	}
	stdout = io.Discard
	defer func() { stdout = saved }()
	if code := run([]string{"reprocess", "--gallery", "rp-1", "--role", "ingest"}, io.Discard); code == 0 {
		t.Error("reprocess --role ingest was accepted")
	}
	if code := run(append([]string{"reprocess", "--gallery", "no-such-gallery"}, connFlags(s.Config)...), io.Discard); code == 0 {
		t.Error("reprocess of a gallery without originals succeeded")
	}
}
