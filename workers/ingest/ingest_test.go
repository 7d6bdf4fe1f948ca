package ingest

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/photodesk/photodesk/pipeline"
	"github.com/photodesk/photodesk/pipeline/contract"
)

func readEvent(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// withKey rewrites the real PUT event for another escaped key and metadata.
func withKey(t testing.TB, escapedKey string, meta map[string]string) []byte {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal(readEvent(t, "minio-put.json"), &ev); err != nil {
		t.Fatal(err)
	}
	obj := ev["Records"].([]any)[0].(map[string]any)["s3"].(map[string]any)["object"].(map[string]any)
	obj["key"] = escapedKey
	if meta != nil {
		obj["userMetadata"] = meta
	}
	b, _ := json.Marshal(ev)
	return b
}

func TestParseRealPut(t *testing.T) {
	ups, err := ParseS3Event(readEvent(t, "minio-put.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ups) != 1 {
		t.Fatalf("%d uploads", len(ups))
	}
	u := ups[0]
	if u.Key != "g1/图片.jpg" || u.Bucket != "originals" || u.Size != 1 || u.ETag != "415290769594460e2e485922904f345d" ||
		u.EventName != "s3:ObjectCreated:Put" || u.EventTime.IsZero() || !u.IsCreation() {
		t.Errorf("upload = %+v", u)
	}
	if len(u.Metadata) != 0 {
		t.Errorf("content-type is not user metadata: %v", u.Metadata)
	}
}

func TestParseRealMultipart(t *testing.T) {
	ups, err := ParseS3Event(readEvent(t, "minio-multipart.json"))
	if err != nil {
		t.Fatal(err)
	}
	if ups[0].Key != "g1/big.jpg" || ups[0].Size != 6<<20 || !ups[0].IsCreation() {
		t.Errorf("upload = %+v", ups[0])
	}
}

func TestParseKeysAndMetadata(t *testing.T) {
	ups, err := ParseS3Event(withKey(t, "g1%2Fa+b%2Bc.jpg", map[string]string{
		"X-Amz-Meta-Caption":  "=?UTF-8?b?5byA5bmV5byP?=",
		"X-Amz-Meta-Byline":   "Li Hua",
		"content-type":        "image/jpeg",
		"x-amz-meta-":         "empty name dropped",
		"X-Minio-Internal-Xy": "dropped",
	}))
	if err != nil {
		t.Fatal(err)
	}
	u := ups[0]
	if u.Key != "g1/a b+c.jpg" {
		t.Errorf("key %q, want %q (query-unescaped)", u.Key, "g1/a b+c.jpg")
	}
	want := map[string]string{"caption": "开幕式", "byline": "Li Hua"}
	if len(u.Metadata) != len(want) || u.Metadata["caption"] != want["caption"] || u.Metadata["byline"] != want["byline"] {
		t.Errorf("metadata = %v, want %v", u.Metadata, want)
	}
}

func TestParseRejects(t *testing.T) {
	for name, data := range map[string][]byte{
		"not JSON":       []byte("hello"),
		"no records":     []byte(`{"EventName":"s3:ObjectCreated:Put","Records":[]}`),
		"no key":         []byte(`{"Records":[{"eventName":"s3:ObjectCreated:Put","s3":{"bucket":{"name":"originals"},"object":{"key":""}}}]}`),
		"bad escape":     withKey(t, "g1%2Fa%zz.jpg", nil),
		"invalid UTF-8":  withKey(t, "g1%2F%ff.jpg", nil),
		"negative size":  []byte(`{"Records":[{"eventName":"s3:ObjectCreated:Put","s3":{"bucket":{"name":"o"},"object":{"key":"g%2Fa.jpg","size":-1}}}]}`),
		"too many":       []byte(`{"Records":[` + strings.Repeat(`{},`, 100) + `{}]}`),
		"records object": []byte(`{"Records":{}}`),
	} {
		if _, err := ParseS3Event(data); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestIsCreation(t *testing.T) {
	for ev, want := range map[string]bool{
		"s3:ObjectCreated:Put": true, "s3:ObjectCreated:Post": true, "s3:ObjectCreated:Copy": true,
		"s3:ObjectCreated:CompleteMultipartUpload": true, "s3:ObjectCreated:PutRetention": false,
		"s3:ObjectCreated:PutLegalHold": false, "s3:ObjectCreated:PutTagging": false, "s3:ObjectRemoved:Delete": false,
	} {
		if got := (Upload{EventName: ev}).IsCreation(); got != want {
			t.Errorf("%s: IsCreation %v, want %v", ev, got, want)
		}
	}
}

func handle(t *testing.T, data []byte) ([]contract.Output, error) {
	t.Helper()
	r := &Role{Bucket: "originals"}
	m := &pipeline.Message{Subject: contract.S3EventsSubject, Data: data, Log: slog.New(slog.DiscardHandler)}
	m.Ref = Describe(m.Subject, data)
	return r.Handle(context.Background(), m)
}

func TestHandlePhotoAndManifest(t *testing.T) {
	outs, err := handle(t, withKey(t, "summer-expo%2F01-opening.jpg", map[string]string{"X-Amz-Meta-Caption": "hi"}))
	if err != nil || len(outs) != 1 {
		t.Fatalf("outs %v, err %v", outs, err)
	}
	o := outs[0]
	if o.Subject != "photodesk.photo.uploaded.summer-expo" || o.MsgID != "uploaded:originals/summer-expo/01-opening.jpg@415290769594460e2e485922904f345d" {
		t.Errorf("subject %s, msg id %s", o.Subject, o.MsgID)
	}
	var ev contract.PhotoUploaded
	if err := json.Unmarshal(o.Data, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Gallery != "summer-expo" || ev.Photo != "01-opening.jpg" || ev.Key != "summer-expo/01-opening.jpg" || ev.Metadata["caption"] != "hi" || ev.UploadedAt.IsZero() {
		t.Errorf("event = %+v", ev)
	}

	outs, err = handle(t, withKey(t, "summer-expo%2Fgallery.json", nil))
	if err != nil || len(outs) != 1 || outs[0].Subject != "photodesk.gallery.submitted.summer-expo" || !strings.HasPrefix(outs[0].MsgID, "submitted:") {
		t.Fatalf("manifest: outs %+v, err %v", outs, err)
	}
}

func TestHandleRefusesBadKeys(t *testing.T) {
	for key, reason := range map[string]string{
		"loose.jpg":                          "not of the form <gallery-id>/<file>",
		"g1%2Fsub%2Fa.jpg":                   "nested",
		"Not+A+Slug%2Fa.jpg":                 "is not a slug",
		"g1%2F..jpg":                         "is not safe",
		"g1%2F.hidden.jpg":                   "is not safe",
		"g1%2Fa+b.jpg":                       "is not safe",
		"g1%2F":                              "not of the form",
		"-g%2Fa.jpg":                         "is not a slug",
		strings.Repeat("a", 65) + "%2Fa.jpg": "is not a slug",
	} {
		outs, err := handle(t, withKey(t, key, nil))
		if err == nil || !pipeline.IsPermanent(err) || !strings.Contains(err.Error(), reason) || len(outs) != 0 {
			t.Errorf("%s: outs %v, err %v; want a permanent error containing %q", key, outs, err, reason)
		}
	}
	// The failure event still says which gallery, when the gallery is valid.
	if ref := Describe("", withKey(t, "g1%2Fsub%2Fa.jpg", nil)); ref.Gallery != "g1" || ref.Key != "g1/sub/a.jpg" {
		t.Errorf("describe = %+v", ref)
	}
}

// TestHandleIgnoresFolderMarkers: the zero-byte "<gallery>/" or
// "<gallery>/sub/" objects S3 tools make for folders are not uploads; a
// key ending in "/" with content still fails.
func TestHandleIgnoresFolderMarkers(t *testing.T) {
	for _, key := range []string{"summer-expo%2F", "summer-expo%2Fsub%2F", "Not_A_Slug%2F"} {
		data := strings.Replace(string(withKey(t, key, nil)), `"size":1,`, `"size":0,`, 1)
		if !strings.Contains(data, `"size":0,`) {
			t.Fatalf("no size in the event: %s", data)
		}
		outs, err := handle(t, []byte(data))
		if err != nil || len(outs) != 0 {
			t.Errorf("%s: outs %v, err %v; want it ignored", key, outs, err)
		}
	}
	if _, err := handle(t, withKey(t, "summer-expo%2Fsub%2F", nil)); err == nil || !strings.Contains(err.Error(), "nested") {
		t.Errorf("a 1-byte object named like a folder: err %v, want it refused as nested", err)
	}
}

func TestHandleIgnoresNonCreations(t *testing.T) {
	data := strings.Replace(string(readEvent(t, "minio-put.json")), `"eventName":"s3:ObjectCreated:Put"`, `"eventName":"s3:ObjectCreated:PutTagging"`, 1)
	outs, err := handle(t, []byte(data))
	if err != nil || len(outs) != 0 {
		t.Errorf("tagging change: outs %v, err %v; want nothing", outs, err)
	}
}

func FuzzParseS3Event(f *testing.F) {
	f.Add(readEvent(f, "minio-put.json"))
	f.Add(readEvent(f, "minio-multipart.json"))
	f.Add([]byte(`{"Records":[{"eventName":"s3:ObjectCreated:Put","s3":{"bucket":{"name":"o"},"object":{"key":"g%2F%E5%9B%BE.jpg","size":3,"eTag":"x","userMetadata":{"X-Amz-Meta-A":"=?utf-8?q?=E5=9B=BE?="}}}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ups, err := ParseS3Event(data)
		if err != nil {
			return
		}
		for _, u := range ups {
			if !utf8.ValidString(u.Key) || u.Key == "" || u.Size < 0 {
				t.Fatalf("accepted a bad upload: %+v", u)
			}
			// Whatever parses must also go through the handler without panicking.
			if _, err := event(u); err == nil {
				if _, _, err := contract.SplitKey(u.Key); err != nil {
					t.Fatalf("event accepted key %q that SplitKey refuses", u.Key)
				}
			}
		}
	})
}
