package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/photodesk/photodesk/internal/fixture"
	"github.com/photodesk/photodesk/pipeline"
	"github.com/photodesk/photodesk/pipeline/config"
	"github.com/photodesk/photodesk/pipeline/devstack"
	"github.com/photodesk/photodesk/pipeline/gallery"
	"github.com/photodesk/photodesk/workers/assembler"
)

// devProcess starts `photodesk dev` on data and waits until it is healthy.
func devProcess(t *testing.T, data string, cfg config.Config, httpAddr string) *exec.Cmd {
	t.Helper()
	cmd, out := child(t, nil, "dev", "--data", data, "--nats-addr", cfg.NATSURL[len("nats://"):], "--s3-addr", cfg.S3Endpoint, "--http", httpAddr, "--api", "127.0.0.1:0")
	go func() {
		for out.Scan() {
		}
	}()
	if code := run(append([]string{"health", "--wait", "60s"}, connFlags(cfg)[:4]...), os.Stderr); code != 0 {
		t.Fatalf("health exited %d", code)
	}
	return cmd
}

// stateIfAny reads the assembler's state of a gallery; nil before it has one.
func stateIfAny(t *testing.T, cfg config.Config, id string) *gallery.State {
	t.Helper()
	nc, js, err := pipeline.Connect(cfg, "test-state")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	kv, err := js.KeyValue(t.Context(), pipeline.GalleriesKV)
	if err != nil {
		return nil
	}
	if _, err := kv.Get(t.Context(), id); err != nil {
		return nil
	}
	return galleryState(t, js, id)
}

// TestScheduledGalleryPublishesOnceAtItsTime: a gallery ready well before
// its publish_at waits for it, across a clean restart of `photodesk dev`
// and the SIGKILL of a separate assembler process, and is published once,
// within 2 s of its time; its record carries the embargo's end.
func TestScheduledGalleryPublishesOnceAtItsTime(t *testing.T) {
	data := t.TempDir()
	cfg := config.Default()
	cfg.NATSURL, cfg.S3Endpoint = "nats://"+freeAddr(t), freeAddr(t)
	httpAddr := freeAddr(t)
	dev := devProcess(t, data, cfg, httpAddr)
	asm, _ := child(t, nil, append([]string{"worker", "--role", "assembler"}, connFlags(cfg)[:4]...)...)

	at := time.Now().Add(35 * time.Second).Truncate(time.Second)
	for i, name := range []string{"a.jpg", "b.jpg"} {
		img, err := fixture.JPEG(fixture.Scene(240, 160, int64(i+1)), 80, &fixture.EXIF{DateTimeOriginal: "2026:07:28 09:00:00"})
		if err != nil {
			t.Fatal(err)
		}
		putObject(t, cfg, "sched-1/"+name, img)
	}
	putObject(t, cfg, "sched-1/gallery.json", fmt.Appendf(nil, `{"headline":"定时发布","publish_at":%q,"embargo":true}`, at.Format(time.RFC3339)))

	// Ready and waiting for its time.
	var st *gallery.State
	for deadline := time.Now().Add(25 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if st = stateIfAny(t, cfg, "sched-1"); st != nil && st.Scheduled != nil {
			break
		}
	}
	if st == nil || st.Scheduled == nil || !st.Scheduled.Equal(at) || st.Published != nil {
		t.Fatalf("gallery state %+v, want scheduled for %s and not published", st, at)
	}
	if time.Until(at) < 10*time.Second {
		t.Fatalf("the gallery took until %s before its time to be ready: too little left to restart in between", time.Until(at))
	}

	// Between: the separate assembler is killed, dev restarted cleanly.
	if err := asm.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := dev.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := dev.Wait(); err != nil {
		t.Fatalf("dev exited with %v after SIGTERM", err)
	}
	devProcess(t, data, cfg, httpAddr)
	child(t, nil, append([]string{"worker", "--role", "assembler"}, connFlags(cfg)[:4]...)...)
	if st := stateIfAny(t, cfg, "sched-1"); st == nil || st.Published != nil {
		t.Fatalf("published before its time, at %s", time.Now())
	}

	evs := articleEvents(t, cfg, "sched-1", 1, time.Until(at)+30*time.Second)
	if len(evs) != 1 || evs[0].Version != 1 {
		t.Fatalf("%d article events, want exactly one: %+v", len(evs), evs)
	}
	if d := evs[0].VersionCreated.Sub(at); d < 0 || d > 2*time.Second {
		t.Errorf("published at %s, %s after its time; want within 2s", evs[0].VersionCreated, d)
	}
	var rec assembler.Ninjs
	if err := json.Unmarshal(evs[0].Record, &rec); err != nil || rec.Embargoed != at.UTC().Format(time.RFC3339) || rec.PubStatus != "usable" {
		t.Errorf("record embargoed %q pubstatus %q (%v), want the embargo's end %s", rec.Embargoed, rec.PubStatus, err, at.UTC().Format(time.RFC3339))
	}
}

// TestScheduleChangesAreHonoured: a later publish_at moves the schedule
// (nothing at the old time), a canceled gallery is never published, and a
// publish_at already past publishes at once; status and the API list what
// is scheduled; an embargoed gallery's files cannot be read from outside
// before its time (the derivatives bucket public, a presign expired), and
// all can after.
func TestScheduleChangesAreHonoured(t *testing.T) {
	s := devstack.ForTest(t)
	startRoles(t, s, "ingest", "exif", "renditions", "watermark", "assembler")
	img, err := fixture.JPEG(fixture.Scene(240, 160, 1), 80, &fixture.EXIF{DateTimeOriginal: "2026:07:28 09:00:00"})
	if err != nil {
		t.Fatal(err)
	}
	manifest := func(id, extra string) {
		putObject(t, s.Config, id+"/gallery.json", fmt.Appendf(nil, `{"headline":"定时"%s}`, extra))
	}
	waitScheduled := func(id string) {
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if st := stateIfAny(t, s.Config, id); st != nil && st.Scheduled != nil {
				return
			}
		}
		t.Fatalf("%s never scheduled", id)
	}
	store, err := pipeline.NewStore(s.Config)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.EnsureBucketPolicies(t.Context(), true); err != nil { // setup --public-derivatives
		t.Fatal(err)
	}
	first := time.Now().Add(8 * time.Second).Truncate(time.Second)
	for _, id := range []string{"moved", "canceled"} {
		putObject(t, s.Config, id+"/a.jpg", img)
		manifest(id, fmt.Sprintf(`,"publish_at":%q,"embargo":true`, first.Format(time.RFC3339)))
	}
	putObject(t, s.Config, "late/a.jpg", img)
	manifest("late", `,"publish_at":"2020-01-01T00:00:00Z"`)
	waitScheduled("moved")
	waitScheduled("canceled")

	// photodesk status and the API list what is scheduled.
	nc, js, err := pipeline.Connect(s.Config, "test-status")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	rep, err := readStatus(t.Context(), js, statusOptions{failures: 1, galleries: 20})
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	if err := printStatus(&text, rep, time.Now()); err != nil {
		t.Fatal(err)
	}
	if g := findGallery(rep, "moved"); g == nil || g.State != "scheduled" || g.PublishAt == nil || !g.PublishAt.Equal(first) ||
		!regexp.MustCompile(`moved\s+scheduled\s.*publish at `+regexp.QuoteMeta(first.Format(time.RFC3339))).MatchString(text.String()) {
		t.Errorf("status does not list moved as scheduled for %s: %+v\n%s", first, g, text.String())
	}
	c := startAPI(t, s.Config, "desk:newsroom:"+deskToken+",alice:photographer:"+aliceToken, apiFlags{maxUpload: 1 << 20})
	var list struct {
		Scheduled []struct {
			ID        string    `json:"id"`
			PublishAt time.Time `json:"publish_at"`
			State     string    `json:"state"`
		} `json:"scheduled"`
	}
	if code, _, body := c.do("GET", "/v1/scheduled", deskToken, nil, 0, ""); code != 200 || json.Unmarshal(body, &list) != nil ||
		len(list.Scheduled) != 2 || list.Scheduled[0].ID != "canceled" && list.Scheduled[0].ID != "moved" || list.Scheduled[0].State != "scheduled" || !list.Scheduled[0].PublishAt.Equal(first) {
		t.Errorf("GET /v1/scheduled: %d %s", code, body)
	}
	if code, _, body := c.do("GET", "/v1/scheduled", aliceToken, nil, 0, ""); code != 200 || json.Unmarshal(body, &list) != nil || list.Scheduled == nil || len(list.Scheduled) != 0 {
		t.Errorf("a photographer sees galleries not theirs: %d %s", code, body)
	}

	// Embargoed: no derivative can be read from outside before its time,
	// neither anonymously (the derivatives bucket is public) nor with a
	// presigned link once it has expired.
	var keys []string
	for o := range store.ListObjects(t.Context(), s.Config.DerivativesBucket, minio.ListObjectsOptions{Prefix: "moved/", Recursive: true}) {
		keys = append(keys, o.Key)
	}
	if len(keys) < 8 {
		t.Fatalf("moved has %d derivatives before its time: %v", len(keys), keys)
	}
	base := "http://" + s.Config.S3Endpoint + "/" + s.Config.DerivativesBucket + "/"
	for _, k := range keys {
		if st := anonymous(t, http.MethodGet, base+k); st != http.StatusForbidden {
			t.Errorf("embargoed %s: anonymous GET %d before its time, want 403", k, st)
		}
	}
	u, err := store.PresignedGetObject(t.Context(), s.Config.DerivativesBucket, keys[0], time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	if resp, err := http.Get(u.String()); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("an expired presigned link to an embargoed file: %v %v, want 403", resp, err)
	} else {
		resp.Body.Close()
	}

	later := first.Add(5 * time.Second)
	manifest("moved", fmt.Sprintf(`,"publish_at":%q,"embargo":true`, later.Format(time.RFC3339)))
	manifest("canceled", fmt.Sprintf(`,"publish_at":%q,"pubstatus":"canceled"`, first.Format(time.RFC3339)))

	if evs := articleEvents(t, s.Config, "late", 1, 30*time.Second); len(evs) != 1 || evs[0].VersionCreated.After(first) {
		t.Errorf("a publish_at in the past: %+v, want one article at once", evs)
	}
	evs := articleEvents(t, s.Config, "moved", 1, time.Until(later)+20*time.Second)
	if len(evs) != 1 {
		t.Fatalf("moved: %d article events, want one", len(evs))
	}
	if d := evs[0].VersionCreated.Sub(later); d < 0 || d > 2*time.Second {
		t.Errorf("moved: published at %s, %s from its new time (the old was %s)", evs[0].VersionCreated, d, first)
	}
	// After it, every file the record links can be read: by its link, and
	// anonymously by its key.
	var rec assembler.Ninjs
	if err := json.Unmarshal(evs[0].Record, &rec); err != nil || len(rec.Associations) != 1 {
		t.Fatalf("moved's record: %v", err)
	}
	for _, r := range rec.Associations[0].Renditions {
		resp, err := http.Get(r.Href)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Errorf("%s after its time: %v %v", r.Name, resp, err)
			continue
		}
		resp.Body.Close()
		if st := anonymous(t, http.MethodGet, "http://"+s.Config.S3Endpoint+hrefPath(t, r.Href)); st != http.StatusOK {
			t.Errorf("%s after its time: anonymous GET %d, want 200", r.Name, st)
		}
	}
	if st := stateIfAny(t, s.Config, "canceled"); st == nil || st.Published != nil || st.Scheduled != nil {
		t.Errorf("canceled: state %+v, want never published nor scheduled", st)
	}
}
