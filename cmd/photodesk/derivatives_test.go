package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/photodesk/photodesk/internal/fixture"
	"github.com/photodesk/photodesk/internal/schematest"
	"github.com/photodesk/photodesk/pipeline"
	"github.com/photodesk/photodesk/pipeline/config"
	"github.com/photodesk/photodesk/pipeline/contract"
	"github.com/photodesk/photodesk/pipeline/devstack"
)

// stageEvents are a gallery's per-photo events of the image roles.
type stageEvents struct {
	derivs   map[string]map[string][]contract.PhotoDerivatives // role -> photo -> events
	failures map[string]map[string]contract.Failure            // stage -> photo -> failure
}

// waitStages reads the gallery's renditions, watermarked and failure
// events until every photo has a result from both image roles.
func waitStages(t *testing.T, cfg config.Config, gallery string, photos []string, d time.Duration) stageEvents {
	t.Helper()
	ev := stageEvents{
		derivs:   map[string]map[string][]contract.PhotoDerivatives{"renditions": {}, "watermark": {}},
		failures: map[string]map[string]contract.Failure{"renditions": {}, "watermark": {}},
	}
	dschema := schematest.Repo(t, "schemas/events/photo.derivatives.schema.json")
	fschema := schematest.Repo(t, "schemas/events/failed.schema.json")
	done := func() bool {
		for _, role := range []string{"renditions", "watermark"} {
			for _, p := range photos {
				if len(ev.derivs[role][p]) == 0 && ev.failures[role][p].Reason == "" {
					return false
				}
			}
		}
		return true
	}
	filters := []string{
		contract.GallerySubject(contract.SubjectPhotoRenditions, gallery),
		contract.GallerySubject(contract.SubjectPhotoWatermarked, gallery),
		contract.FailedSubject("*", gallery),
	}
	follow(t, cfg, filters, d, func(m jetstream.Msg) {
		schema := dschema
		if strings.HasPrefix(m.Subject(), contract.SubjectFailed) {
			schema = fschema
		}
		if err := schematest.Validate(t, schema, m.Data()); err != nil {
			t.Errorf("%s does not match its schema in schemas/events: %v", m.Subject(), err)
		}
		if strings.HasPrefix(m.Subject(), contract.SubjectFailed) {
			var f contract.Failure
			mustDecode(t, m, &f)
			if ev.failures[f.Stage] == nil {
				ev.failures[f.Stage] = map[string]contract.Failure{}
			}
			ev.failures[f.Stage][f.Photo] = f
			return
		}
		var x contract.PhotoDerivatives
		mustDecode(t, m, &x)
		ev.derivs[x.Role][x.Photo] = append(ev.derivs[x.Role][x.Photo], x)
	}, done)
	if !done() {
		t.Fatalf("after %s not every photo has a result from both image roles: %+v", d, ev)
	}
	return ev
}

// TestGalleryDerivatives: photos put into MinIO get their renditions and
// watermarked copies in the derivatives bucket, one event per photo per
// role, through MinIO's notification and the real roles; a broken photo
// fails alone in both roles with a reason.
func TestGalleryDerivatives(t *testing.T) {
	s := devstack.ForTest(t)
	startRoles(t, s, "ingest", "exif", "renditions", "watermark", "assembler")
	big := func(seed int64) []byte {
		b, err := fixture.JPEG(fixture.Scene(2400, 1600, seed), 85, &fixture.EXIF{Make: "Canon", GPS: &fixture.GPS{Lat: 39.9, Lon: 116.4}})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	good := []string{"01-a.jpg", "02-b.jpg", "03-c.jpg"}
	for i, name := range good {
		putObject(t, s.Config, "deriv-1/"+name, big(int64(i+1)))
	}
	broken := big(9)
	putObject(t, s.Config, "deriv-1/04-broken.jpg", broken[:len(broken)/2])
	putObject(t, s.Config, "deriv-1/gallery.json", []byte(`{"headline":"h","photos":[{"file":"01-a.jpg"},{"file":"04-broken.jpg"}]}`))

	ev := waitStages(t, s.Config, "deriv-1", append(good, "04-broken.jpg"), 60*time.Second)
	store, err := pipeline.NewStore(s.Config)
	if err != nil {
		t.Fatal(err)
	}
	wantKeys := map[string][]string{
		"renditions": {"thumb.jpg", "thumb.webp", "medium.jpg", "medium.webp", "large.jpg", "large.webp",
			"crop16x9.jpg", "crop16x9.webp", "crop1x1.jpg", "crop1x1.webp", "crop4x5.jpg", "crop4x5.webp"},
		"watermark": {"large.wm.jpg", "large.wm.webp"},
	}
	for role, keys := range wantKeys {
		for _, name := range good {
			got := ev.derivs[role][name]
			if len(got) != 1 {
				t.Errorf("%s %s: %d events, want 1", role, name, len(got))
				continue
			}
			if len(got[0].Derivatives) != len(keys) {
				t.Errorf("%s %s: %d derivatives, want %d", role, name, len(got[0].Derivatives), len(keys))
				continue
			}
			for i, d := range got[0].Derivatives {
				if d.Key != "deriv-1/"+name+"/"+keys[i] {
					t.Errorf("%s %s: key %s, want %s", role, name, d.Key, keys[i])
				}
				obj, err := store.GetObject(context.Background(), d.Bucket, d.Key, minio.GetObjectOptions{})
				if err != nil {
					t.Fatal(err)
				}
				info, err := obj.Stat()
				obj.Close()
				if err != nil || info.Size != d.Size || info.Size == 0 {
					t.Errorf("%s: stored %d bytes (%v), event says %d", d.Key, info.Size, err, d.Size)
				}
			}
		}
		f := ev.failures[role]["04-broken.jpg"]
		if !f.Permanent || !strings.Contains(f.Reason, "cannot decode the jpeg") {
			t.Errorf("%s: broken photo failure %+v", role, f)
		}
	}

	// The manifest lists the broken photo: the gallery is held, not
	// published without it, and the held event says which photo and why.
	held := waitHeld(t, s.Config, "deriv-1", 30*time.Second)
	if len(held.Failed) == 0 || held.Failed[0].Photo != "04-broken.jpg" || !strings.Contains(held.Failed[0].Reason, "cannot decode the jpeg") {
		t.Errorf("held event %+v", held)
	}
	var out bytes.Buffer
	if err := printArticle(context.Background(), &out, s.Config, "deriv-1", false); err == nil || !strings.Contains(err.Error(), "04-broken.jpg failed in renditions") {
		t.Errorf("article of a held gallery: %v", err)
	}
}

// waitHeld returns the gallery's latest gallery.held event that names
// every failure it expects (both image roles fail the broken photo).
func waitHeld(t *testing.T, cfg config.Config, gallery string, d time.Duration) contract.GalleryHeld {
	t.Helper()
	var held contract.GalleryHeld
	follow(t, cfg, []string{contract.GallerySubject(contract.SubjectGalleryHeld, gallery)}, d,
		func(m jetstream.Msg) { mustDecode(t, m, &held) },
		func() bool { return len(held.Failed) >= 2 })
	if len(held.Failed) == 0 {
		t.Fatalf("no gallery.held event for %s within %s", gallery, d)
	}
	return held
}
