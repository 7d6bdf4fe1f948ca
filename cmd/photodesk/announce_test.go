package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/photodesk/photodesk/internal/fixture"
	"github.com/photodesk/photodesk/pipeline"
	"github.com/photodesk/photodesk/pipeline/contract"
	"github.com/photodesk/photodesk/pipeline/devstack"
	"github.com/photodesk/photodesk/workers/ingest"
)

// TestUploadsAnnounced: an upload through the API or `photodesk upload`
// publishes its event itself, with no ingest running, and MinIO's
// notification of the same object, which ingest handles afterwards, adds
// no second event.
func TestUploadsAnnounced(t *testing.T) {
	s := devstack.ForTest(t)
	c := startAPI(t, s.Config, "alice:photographer:"+aliceToken, apiFlags{maxUpload: 2 << 20})
	ctx := context.Background()
	if st, _, b := c.do("POST", "/v1/galleries", aliceToken, strings.NewReader(`{"id":"announce-1"}`), -1, "application/json"); st != 201 {
		t.Fatalf("create: %d %s", st, b)
	}
	p := photo(t, 1, &fixture.EXIF{DateTimeOriginal: "2026:07:28 10:00:00"})
	st, _, b := c.do("PUT", "/v1/galleries/announce-1/photos/01-a.jpg", aliceToken, bytes.NewReader(p), int64(len(p)), "image/jpeg")
	var up struct{ ETag string }
	if st != 201 || json.Unmarshal(b, &up) != nil || up.ETag == "" {
		t.Fatalf("upload: %d %s", st, b)
	}
	man := []byte(`{"headline":"h","photos":[{"file":"01-a.jpg"}]}`)
	if st, _, b := c.do("PUT", "/v1/galleries/announce-1/manifest", aliceToken, bytes.NewReader(man), int64(len(man)), "application/json"); st != 202 {
		t.Fatalf("manifest: %d %s", st, b)
	}

	// The same gallery's files, with the command-line tool.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "01-a.jpg"), p, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, contract.ManifestName), man, 0o644); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	if code := run(append(append([]string{"upload", "--gallery", "announce-2", "--progress", "lines"}, connFlags(s.Config)...), dir), &stderr); code != 0 {
		t.Fatalf("photodesk upload: exit %d\n%s", code, stderr.String())
	}

	count := func(gallery string, want int, d time.Duration) (uploads []contract.PhotoUploaded, submitted int) {
		t.Helper()
		follow(t, s.Config, []string{
			contract.GallerySubject(contract.SubjectPhotoUploaded, gallery),
			contract.GallerySubject(contract.SubjectGallerySubmitted, gallery),
		}, d, func(m jetstream.Msg) {
			if strings.HasPrefix(m.Subject(), contract.SubjectGallerySubmitted) {
				submitted++
				return
			}
			var u contract.PhotoUploaded
			mustDecode(t, m, &u)
			uploads = append(uploads, u)
		}, func() bool { return len(uploads)+submitted >= want })
		return uploads, submitted
	}
	// No ingest is running: these events can only be the uploaders'.
	for _, g := range []string{"announce-1", "announce-2"} {
		uploads, submitted := count(g, 2, 10*time.Second)
		if len(uploads) != 1 || submitted != 1 {
			t.Fatalf("%s, before ingest: %d photo.uploaded, %d gallery.submitted; want 1 each", g, len(uploads), submitted)
		}
		if u := uploads[0]; u.Key != g+"/01-a.jpg" || u.Photo != "01-a.jpg" || u.ETag != strings.Trim(up.ETag, `"`) ||
			u.Size != int64(len(p)) || u.ContentType != "image/jpeg" || time.Since(u.UploadedAt) > time.Minute || u.UploadedAt.Nanosecond()%int(time.Second) == 0 {
			t.Errorf("%s: photo.uploaded %+v: want the object's key, ETag, size, type and MinIO's time in ms", g, u)
		}
	}

	// Now ingest handles MinIO's notifications of both objects.
	startRoles(t, s, "ingest")
	nc, js, err := pipeline.Connect(s.Config, t.Name())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	// MinIO's notifications of the four objects, then ingest past them.
	keys := map[string]bool{}
	var last uint64
	cons, err := js.OrderedConsumer(ctx, contract.S3EventsStream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); len(keys) < 4; {
		if time.Now().After(deadline) {
			t.Fatalf("MinIO's notifications: only %v within 30s\n%s", keys, pipelineState(s.Config))
		}
		b, err := cons.Fetch(10, jetstream.FetchMaxWait(300*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		for m := range b.Messages() {
			ups, _ := ingest.ParseS3Event(m.Data())
			for _, u := range ups {
				if strings.HasPrefix(u.Key, "announce-") && u.IsCreation() {
					keys[u.Key] = true
				}
			}
			md, _ := m.Metadata()
			last = md.Sequence.Stream
		}
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		ci, err := js.Consumer(ctx, contract.S3EventsStream, "ingest")
		if err != nil {
			t.Fatal(err)
		}
		if ci.CachedInfo().AckFloor.Stream >= last {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ingest did not handle MinIO's notifications within 30s\n%s", pipelineState(s.Config))
		}
	}
	for _, g := range []string{"announce-1", "announce-2"} {
		if uploads, submitted := count(g, 3, 2*time.Second); len(uploads) != 1 || submitted != 1 {
			t.Errorf("%s, after ingest: %d photo.uploaded, %d gallery.submitted; want still 1 each", g, len(uploads), submitted)
		}
	}
}
