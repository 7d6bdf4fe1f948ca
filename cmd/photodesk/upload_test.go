package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
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
)

// captureStdout sends what commands print to a buffer for the test.
func captureStdout(t *testing.T) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	saved := stdout
	stdout = &buf
	t.Cleanup(func() { stdout = saved })
	return &buf
}

func writeFiles(t *testing.T, files map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func bigPhoto(t *testing.T, seed int64) []byte {
	t.Helper()
	b, err := fixture.JPEG(fixture.Scene(1200, 800, seed), 85, &fixture.EXIF{DateTimeOriginal: "2026:07:28 10:00:00"})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestUploadWait: `upload --wait` draws its bars, follows the gallery and
// exits 0 with the record's location once the article is ready; a
// manifest that names its photos goes first, so a photo's crops are made
// around its focus once, never announced again for it; with a broken photo
// listed it exits 1 and prints the photo and the reason.
func TestUploadWait(t *testing.T) {
	s := devstack.ForTest(t)
	startRoles(t, s, "ingest", "exif", "renditions", "watermark", "assembler")
	out := captureStdout(t)

	good := writeFiles(t, map[string][]byte{
		"01-a.jpg": bigPhoto(t, 1), "02-b.jpg": bigPhoto(t, 2),
		"gallery.json": []byte(`{"headline":"高清大图|上传","photos":[{"file":"02-b.jpg","caption":"乙","focus":{"x":0.2,"y":0.7}},{"file":"01-a.jpg","caption":"甲"}]}`),
	})
	var stderr bytes.Buffer
	args := append([]string{"upload", "--gallery", "up-1", "--wait", "--progress", "bars"}, connFlags(s.Config)...)
	if code := run(append(args, good), &stderr); code != 0 {
		t.Fatalf("upload --wait exited %d: %s\n%s", code, stderr.String(), out.String())
	}
	for _, want := range []string{"all files", "01-a.jpg", "done", "article ready: gallery up-1 version 1, 2 photos", "s3://articles/up-1/article.json"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}

	refocused := countEvents(t, s.Config, "photodesk.photo.uploaded.up-1", func(m jetstream.Msg) bool {
		var ev contract.PhotoUploaded
		mustDecode(t, m, &ev)
		return ev.Refocus != ""
	})
	rec := articleEvents(t, s.Config, "up-1", 1, 10*time.Second)[0].Record
	if refocused != 0 || !strings.Contains(string(rec), "centred on 0.2,0.7 (focal point in gallery.json)") {
		t.Errorf("%d refocus announcements (want 0: the manifest went first); record:\n%s", refocused, rec)
	}

	out.Reset()
	stderr.Reset()
	broken := bigPhoto(t, 3)
	bad := writeFiles(t, map[string][]byte{
		"01-a.jpg": bigPhoto(t, 4), "02-broken.jpg": broken[:len(broken)/2],
		"gallery.json": []byte(`{"headline":"h","photos":[{"file":"01-a.jpg"},{"file":"02-broken.jpg"}]}`),
	})
	args = append([]string{"upload", "--gallery", "up-2", "--wait"}, connFlags(s.Config)...)
	if code := run(append(args, bad), &stderr); code != 1 {
		t.Fatalf("upload --wait of a gallery with a broken photo exited %d:\n%s", code, out.String())
	}
	// Held as soon as either image role has failed the photo.
	if !regexp.MustCompile(`failed   02-broken.jpg in (renditions|watermark): bad input: cannot decode the jpeg`).MatchString(out.String()) || !strings.Contains(stderr.String(), "held") {
		t.Errorf("output:\n%s\nstderr: %s", out.String(), stderr.String())
	}
}

// TestUploadRefusals: files the pipeline would refuse are refused before
// sending, each with its reason; an unreachable server and bad
// credentials each fail once, clearly.
func TestUploadRefusals(t *testing.T) {
	s := devstack.ForTest(t)
	out := captureStdout(t)
	dir := writeFiles(t, map[string][]byte{
		"a b.jpg":      bigPhoto(t, 1),
		"empty.jpg":    {},
		"ok.jpg":       bigPhoto(t, 2),
		"gallery.json": []byte(`{"byline":"张三"}`),
	})
	var stderr bytes.Buffer
	if code := run(append(append([]string{"upload", "--gallery", "ref-1"}, connFlags(s.Config)...), dir), &stderr); code != 1 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{
		`refused  a b.jpg: photo name "a b.jpg" is not safe`,
		"refused  empty.jpg: empty file",
		`refused  gallery.json: gallery.json: "headline" is missing or empty`,
		"uploaded ok.jpg",
		"gallery ref-1: 1 uploaded, 3 refused, 0 failed",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}

	one := writeFiles(t, map[string][]byte{"ok.jpg": bigPhoto(t, 3)})
	stderr.Reset()
	cfg := s.Config
	cfg.S3Endpoint = "127.0.0.1:1" // nothing listens there
	if code := run(append(append([]string{"upload", "--gallery", "ref-2"}, connFlags(cfg)...), one), &stderr); code != 1 || !strings.Contains(stderr.String(), "cannot reach S3 at 127.0.0.1:1") {
		t.Errorf("unreachable server: exit %d, %s", code, stderr.String())
	}
	stderr.Reset()
	args := append(append([]string{"upload", "--gallery", "ref-3", "--s3-secret-key", "wrong-secret"}, connFlags(s.Config)...), one)
	if code := run(args, &stderr); code != 1 || !strings.Contains(stderr.String(), "refused the credentials for access key \""+config.DevAccessKey+"\"") {
		t.Errorf("bad credentials: exit %d, %s", code, stderr.String())
	}
}

// TestUploadRights: a gallery.json with rights, for the gallery and a
// photo, is stored byte for byte as written (CRLF, indentation, \u
// escapes and a single creator kept, not re-encoded); one whose copyright
// notice names a field the template cannot fill is refused, with the
// reason, before anything is sent, and nothing of it is stored.
func TestUploadRights(t *testing.T) {
	s := devstack.ForTest(t)
	out := captureStdout(t)
	store, err := pipeline.NewStore(s.Config)
	if err != nil {
		t.Fatal(err)
	}
	// As an editor on Windows saves it: CRLF line ends, and escapes a
	// re-encoder would not keep.
	manifest := []byte(strings.ReplaceAll(`{
  "headline": "\u9ad8\u6e05\u5927\u56fe|版权",
  "rights": {"credit": "工人日报", "copyright_notice": "© {YYYY} {holder}", "copyright_holder": "工人日报社",
    "usage_terms": "未经授权不得转载。", "web_statement": "https://example.org/rights",
    "licensor": {"url": "https://example.org/licence", "name": "工人日报图片部"},
    "keywords": ["大国工匠"], "location": {"city": "北京", "country_code": "CN"}},
  "photos": [{"file": "01-a.jpg", "rights": {"creator": "王五", "alt_text": "展台前的观众"}}]
}
`, "\n", "\r\n"))
	if _, err := gallery.ParseManifest(manifest); err != nil {
		t.Fatalf("the test's gallery.json: %v", err)
	}
	dir := writeFiles(t, map[string][]byte{"01-a.jpg": bigPhoto(t, 1), "gallery.json": manifest})
	var stderr bytes.Buffer
	if code := run(append(append([]string{"upload", "--gallery", "rights-up-1"}, connFlags(s.Config)...), dir), &stderr); code != 0 {
		t.Fatalf("upload exited %d: %s\n%s", code, stderr.String(), out.String())
	}
	if got := getObject(t, store, s.Config.OriginalsBucket, "rights-up-1/gallery.json"); !bytes.Equal(got, manifest) {
		t.Errorf("stored gallery.json differs from the file:\n%q\nwant\n%q", got, manifest)
	}

	out.Reset()
	stderr.Reset()
	bad := []byte(`{"headline": "高清大图|版权", "rights": {"credit": "工人日报", "copyright_notice": "© {year} 工人日报"}}`)
	dir = writeFiles(t, map[string][]byte{"gallery.json": bad})
	if code := run(append(append([]string{"upload", "--gallery", "rights-up-2"}, connFlags(s.Config)...), dir), &stderr); code != 1 {
		t.Fatalf("upload of a bad gallery.json exited %d:\n%s", code, out.String())
	}
	const reason = `refused  gallery.json: gallery.json: rights of the gallery: copyright notice "© {year} 工人日报" names an unknown field {year} (known: {YYYY}, {creator}, {holder})`
	refusedAt, uploadingAt := strings.Index(out.String(), reason), strings.Index(out.String(), "uploading ")
	if refusedAt < 0 || uploadingAt >= 0 && uploadingAt < refusedAt || !strings.Contains(out.String(), "gallery rights-up-2: 0 uploaded, 1 refused, 0 failed") {
		t.Errorf("output:\n%s\nwant first %q", out.String(), reason)
	}
	for obj := range store.ListObjects(context.Background(), s.Config.OriginalsBucket, minio.ListObjectsOptions{Prefix: "rights-up-2/", Recursive: true}) {
		t.Errorf("stored after the refusal: %s %v", obj.Key, obj.Err)
	}
}

// TestUploadResumes: a big file interrupted after two parts is finished by
// the next run, which sends only the parts that are missing.
func TestUploadResumes(t *testing.T) {
	s := devstack.ForTest(t)
	out := captureStdout(t)
	big := make([]byte, 26<<20+12345)
	for i := range big {
		big[i] = byte(i*7 + i>>13)
	}
	copy(big, bigPhoto(t, 1)) // a JPEG's head, so it is typed as one
	dir := writeFiles(t, map[string][]byte{"big.jpg": big})
	args := append(append([]string{"upload", "--gallery", "res-1", "--part-size", "5"}, connFlags(s.Config)...), dir)

	var sent []int
	partUploaded = func(key string, part int) error {
		sent = append(sent, part)
		if len(sent) == 2 {
			return errors.New("connection lost (test)")
		}
		return nil
	}
	t.Cleanup(func() { partUploaded = nil })
	var stderr bytes.Buffer
	if code := run(args, &stderr); code != 1 || !strings.Contains(out.String(), "run the upload again to resume") {
		t.Fatalf("interrupted upload: exit %d\n%s", code, out.String())
	}
	sent = nil
	partUploaded = func(string, int) error { sent = append(sent, 0); return nil }
	out.Reset()
	if code := run(args, &stderr); code != 0 {
		t.Fatalf("resumed upload: exit %d, %s\n%s", code, stderr.String(), out.String())
	}
	if !strings.Contains(out.String(), "resumed  big.jpg: 2 of 6 parts were already uploaded") || len(sent) != 4 {
		t.Errorf("resume sent %d parts:\n%s", len(sent), out.String())
	}
	store, err := pipeline.NewStore(s.Config)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := store.GetObject(context.Background(), s.Config.OriginalsBucket, "res-1/big.jpg", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(obj)
	obj.Close()
	if err != nil || !bytes.Equal(got, big) {
		t.Fatalf("stored object differs from the file (%d vs %d bytes, %v)", len(got), len(big), err)
	}
}
