package assembler

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/json"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/photodesk/photodesk/internal/schematest"
	"github.com/photodesk/photodesk/pipeline"
	"github.com/photodesk/photodesk/pipeline/contract"
	"github.com/photodesk/photodesk/pipeline/gallery"
)

// memKV is the galleries bucket in memory, with JetStream's revision
// checks: Create fails when the key exists, Update when the revision moved.
type memKV struct {
	vals map[string][]byte
	revs map[string]uint64
	// race, when set, changes the key behind the caller's back once,
	// just before its next write: another assembler got there first.
	race func()
}

type memEntry struct {
	key string
	val []byte
	rev uint64
}

func (e memEntry) Bucket() string                  { return pipeline.GalleriesKV }
func (e memEntry) Key() string                     { return e.key }
func (e memEntry) Value() []byte                   { return e.val }
func (e memEntry) Revision() uint64                { return e.rev }
func (e memEntry) Created() time.Time              { return time.Time{} }
func (e memEntry) Delta() uint64                   { return 0 }
func (e memEntry) Operation() jetstream.KeyValueOp { return jetstream.KeyValuePut }

func (kv *memKV) Get(_ context.Context, key string) (jetstream.KeyValueEntry, error) {
	v, ok := kv.vals[key]
	if !ok {
		return nil, jetstream.ErrKeyNotFound
	}
	return memEntry{key, v, kv.revs[key]}, nil
}

func (kv *memKV) write(key string, value []byte) uint64 {
	kv.vals[key] = value
	kv.revs[key]++
	return kv.revs[key]
}

func (kv *memKV) Create(_ context.Context, key string, value []byte, _ ...jetstream.KVCreateOpt) (uint64, error) {
	kv.raced()
	if _, ok := kv.vals[key]; ok {
		return 0, jetstream.ErrKeyExists
	}
	return kv.write(key, value), nil
}

func (kv *memKV) Update(_ context.Context, key string, value []byte, rev uint64) (uint64, error) {
	kv.raced()
	if kv.revs[key] != rev {
		return 0, jetstream.ErrKeyRevisionMismatch
	}
	return kv.write(key, value), nil
}

func (kv *memKV) raced() {
	if f := kv.race; f != nil {
		kv.race = nil
		f()
	}
}

// memStore is the object store in memory: the manifests to read, and
// what the assembler writes.
type memStore struct {
	mu      sync.Mutex // the assembler stamps files side by side
	objects map[string][]byte
	ranges  int // ReadRange calls
	// published are the objects marked as published.
	published map[string]bool
}

func (s *memStore) Get(_ context.Context, bucket, key, _ string, _ int64) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.objects[bucket+"/"+key]
	if !ok {
		return nil, pipeline.ErrSuperseded
	}
	return b, nil
}

func (s *memStore) ReadRange(ctx context.Context, bucket, key, etag string, off, n int64) ([]byte, error) {
	s.mu.Lock()
	s.ranges++
	s.mu.Unlock()
	b, err := s.Get(ctx, bucket, key, etag, 0)
	if err != nil {
		return nil, err
	}
	return b[min(off, int64(len(b))):min(off+n, int64(len(b)))], nil
}

func (s *memStore) Meta(_ context.Context, bucket, key string) (map[string]string, string, int64, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.objects[bucket+"/"+key]
	return nil, fmt.Sprintf("%x", md5.Sum(b)), int64(len(b)), ok, nil
}

func (s *memStore) Put(_ context.Context, bucket, key string, data []byte, _ string, _ map[string]string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.objects[bucket+"/"+key] = data
	return fmt.Sprintf("%x", md5.Sum(data)), nil
}

// tinyJPEG is a real JPEG, for the published copies to be stamped from.
func tinyJPEG(t *testing.T) []byte {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, image.NewGray(image.Rect(0, 0, 16, 8)), nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func (s *memStore) PutObject(_ context.Context, bucket, key string, r io.Reader, _ int64, _ minio.PutObjectOptions) (minio.UploadInfo, error) {
	b, err := io.ReadAll(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.objects[bucket+"/"+key] = b
	return minio.UploadInfo{Bucket: bucket, Key: key, Size: int64(len(b))}, err
}

func (s *memStore) PutPublished(ctx context.Context, bucket, key string, data []byte, ctype string, meta map[string]string) (string, error) {
	etag, err := s.Put(ctx, bucket, key, data, ctype, meta)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.published == nil {
		s.published = map[string]bool{}
	}
	s.published[bucket+"/"+key] = true
	return etag, err
}

func (s *memStore) MarkPublished(_ context.Context, bucket, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.objects[bucket+"/"+key]; !ok {
		return fmt.Errorf("no object %s/%s", bucket, key)
	}
	if s.published == nil {
		s.published = map[string]bool{}
	}
	s.published[bucket+"/"+key] = true
	return nil
}

func (s *memStore) PresignedGetObject(_ context.Context, bucket, key string, _ time.Duration, _ url.Values) (*url.URL, error) {
	return url.Parse("http://s3.test/" + bucket + "/" + key + "?signed")
}

// TestHandleWithoutServers runs the assembler's Handle over a gallery's
// events with the bucket and the store in memory: nothing is published
// before every photo has every stage's result, then version 1 (a valid
// ninjs 2.2 record, stored, announced on article.ready), a redelivery
// publishes the same event again, a new manifest makes version 2, and a
// write that loses a revision race is folded in again.
func TestHandleWithoutServers(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 7, 30, 12, 0, 0, 0, time.UTC)
	kv := &memKV{vals: map[string][]byte{}, revs: map[string]uint64{}}
	store := &memStore{objects: map[string][]byte{}}
	r := &Role{KV: kv, Store: store, ArticlesBucket: "articles", DerivativesBucket: "derivatives",
		Zone: time.UTC, Cfg: DefaultConfig(), Now: func() time.Time { return now }}
	seq := uint64(0)
	handle := func(subject string, ev any, ref contract.Ref, attempt int) []contract.Output {
		t.Helper()
		data, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		seq++
		outs, err := r.Handle(ctx, &pipeline.Message{Subject: contract.GallerySubject(subject, "g"), Data: data, Attempt: attempt,
			StreamSeq: seq, Ref: ref, Log: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatalf("%s: %v", subject, err)
		}
		return outs
	}
	manifest := func(etag, headline string) []contract.Output {
		store.objects["originals/g/gallery.json"] = fmt.Appendf(nil, `{"headline": %q, "byline": ["张晓明"], "photos": [{"file": "a.jpg", "caption": "开幕。"}, {"file": "b.jpg"}]}`, headline)
		ref := contract.Ref{Gallery: "g", Bucket: "originals", Key: "g/gallery.json", ETag: etag}
		return handle(contract.SubjectGallerySubmitted, contract.GallerySubmitted{Ref: ref, SubmittedAt: now}, ref, 1)
	}
	if outs := manifest("m1", "高清大图|开幕"); len(outs) != 0 {
		t.Fatalf("manifest alone published %v", outs)
	}
	var last []contract.Output
	for i, name := range []string{"a.jpg", "b.jpg"} {
		ref := contract.Ref{Gallery: "g", Photo: name, Bucket: "originals", Key: "g/" + name, ETag: "e" + name}
		taken := now.Add(time.Duration(i) * time.Hour)
		deriv := func(role, preset string) contract.PhotoDerivatives {
			store.objects["derivatives/g/"+name+"/"+preset+".jpg"] = tinyJPEG(t)
			return contract.PhotoDerivatives{Ref: ref, Role: role, Source: contract.ImageSource{Format: "jpeg", Width: 1600, Height: 1067},
				Derivatives: []contract.Derivative{{Preset: preset, Format: "jpeg", Bucket: "derivatives", Key: "g/" + name + "/" + preset + ".jpg",
					ContentType: "image/jpeg", Width: 1600, Height: 1067, Size: 1000, ETag: "d" + name + role, Watermarked: role == contract.StageWatermark}}}
		}
		for _, step := range []struct {
			subject string
			ev      any
		}{
			{contract.SubjectPhotoUploaded, contract.PhotoUploaded{Ref: ref, Size: 1000, UploadedAt: now}},
			{contract.SubjectPhotoExif, contract.PhotoExif{Ref: ref, Exif: contract.ExifData{Format: "jpeg", Present: true, CapturedAt: &taken, DateSource: "DateTimeOriginal"}}},
			{contract.SubjectPhotoRenditions, deriv(contract.StageRenditions, "large")},
			{contract.SubjectPhotoWatermarked, deriv(contract.StageWatermark, "large.wm")},
		} {
			if len(last) != 0 {
				t.Fatalf("published before the gallery was complete: %v", last)
			}
			last = handle(step.subject, step.ev, ref, 1)
		}
	}
	ready := contract.GallerySubject(contract.SubjectArticleReady, "g")
	if len(last) != 1 || last[0].Subject != ready || last[0].MsgID != "article:g:v1" {
		t.Fatalf("after every result: %+v, want one %s", last, ready)
	}
	var ev contract.ArticleEvent
	if err := json.Unmarshal(last[0].Data, &ev); err != nil || ev.Version != 1 || ev.Photos != 2 || ev.Key != "g/article.json" {
		t.Fatalf("article event %+v (%v)", ev, err)
	}
	if rec := store.objects["articles/g/article.json"]; !strings.Contains(string(rec), "7月30日,开幕。") || store.objects["articles/g/index.html"] == nil {
		t.Errorf("stored record %s", rec)
	}
	// Each rendition linked is a published copy beside its derivative,
	// carrying the caption as published.
	var rec Ninjs
	if err := json.Unmarshal(ev.Record, &rec); err != nil {
		t.Fatal(err)
	}
	for _, r := range rec.Associations[0].Renditions {
		key := strings.TrimPrefix(strings.TrimSuffix(r.Href, "?signed"), "http://s3.test/")
		b := store.objects[key]
		if !strings.HasPrefix(key, "derivatives/g/a.jpg/large.") || !regexp.MustCompile(`\.[0-9a-f]{16}\.jpg$`).MatchString(key) || int64(len(b)) != r.SizeInBytes ||
			!bytes.Contains(b, []byte("7月30日,开幕。")) || !bytes.Contains(b, []byte("Photoshop 3.0")) {
			t.Errorf("rendition %s: %d bytes at %s, want a stamped copy", r.Name, len(b), key)
		}
	}

	// A redelivery of the last event (its ack lost) publishes the same
	// version again, under the same Msg-Id.
	wm := contract.Ref{Gallery: "g", Photo: "b.jpg", Bucket: "originals", Key: "g/b.jpg", ETag: "eb.jpg"}
	again := handle(contract.SubjectPhotoUploaded, contract.PhotoUploaded{Ref: wm, Size: 1000, UploadedAt: now}, wm, 2)
	if len(again) != 1 || again[0].MsgID != "article:g:v1" {
		t.Errorf("redelivery: %+v, want article:g:v1 again", again)
	}

	// A new headline is version 2, even when another assembler wrote the
	// gallery between this one's read and its write.
	kv.race = func() {
		e, _ := kv.Get(ctx, "g")
		kv.write("g", e.Value())
	}
	outs := manifest("m2", "高清大图|闭幕")
	if len(outs) != 1 || outs[0].Subject != contract.GallerySubject(contract.SubjectArticleUpdated, "g") || outs[0].MsgID != "article:g:v2" {
		t.Fatalf("new manifest: %+v, want article.updated v2", outs)
	}
	var st gallery.State
	if err := json.Unmarshal(kv.vals["g"], &st); err != nil || st.Published == nil || st.Published.Version != 2 {
		t.Fatalf("saved state: %+v (%v)", st.Published, err)
	}

	// Last, as the schema is read from ../shared (the test skips there
	// where it is absent): IPTC's schema accepts version 1's record.
	if err := schematest.Validate(t, schematest.Ninjs22(t), ev.Record); err != nil {
		t.Errorf("version 1 is not valid ninjs 2.2: %v", err)
	}
}

// TestStaleCropsAskedAgain: crops made before the manifest gave the photo
// a focal point hold the gallery, and the assembler announces the photo
// again to the renditions role alone, once per original and focal point
// (the same Msg-Id from every event that finds them stale); the new crops
// release it.
func TestStaleCropsAskedAgain(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 7, 30, 12, 0, 0, 0, time.UTC)
	kv := &memKV{vals: map[string][]byte{}, revs: map[string]uint64{}}
	store := &memStore{objects: map[string][]byte{}}
	r := &Role{KV: kv, Store: store, ArticlesBucket: "articles", DerivativesBucket: "derivatives", OriginalsBucket: "originals",
		Zone: time.UTC, Cfg: DefaultConfig(), Now: func() time.Time { return now }}
	seq := uint64(0)
	handle := func(subject string, ev any, ref contract.Ref) []contract.Output {
		t.Helper()
		data, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		seq++
		outs, err := r.Handle(ctx, &pipeline.Message{Subject: contract.GallerySubject(subject, "g"), Data: data, Attempt: 1,
			StreamSeq: seq, Ref: ref, Log: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatalf("%s: %v", subject, err)
		}
		return outs
	}
	ref := contract.Ref{Gallery: "g", Photo: "a.jpg", Bucket: "originals", Key: "g/a.jpg", ETag: "ea"}
	deriv := func(role string, focus *contract.Focus) contract.PhotoDerivatives {
		ds := []contract.Derivative{{Preset: "large", Format: "jpeg", Bucket: "derivatives", Key: "g/a.jpg/large.jpg", ContentType: "image/jpeg", Width: 1600, Height: 1067, Size: 1000, ETag: "l" + role, Watermarked: role == contract.StageWatermark}}
		if focus != nil {
			ds = append(ds, contract.Derivative{Preset: "crop1x1", Format: "jpeg", Bucket: "derivatives", Key: "g/a.jpg/crop1x1.jpg", ContentType: "image/jpeg", Width: 1067, Height: 1067, Size: 900,
				ETag: "c" + contract.FocusKey(focus), Aspect: "1:1", Focus: focus})
		}
		for _, d := range ds {
			store.objects["derivatives/"+d.Key] = tinyJPEG(t)
		}
		return contract.PhotoDerivatives{Ref: ref, Role: role, Source: contract.ImageSource{Format: "jpeg", Width: 1600, Height: 1067, Size: 5000}, Derivatives: ds}
	}
	handle(contract.SubjectPhotoUploaded, contract.PhotoUploaded{Ref: ref, Size: 5000, UploadedAt: now}, ref)
	handle(contract.SubjectPhotoExif, contract.PhotoExif{Ref: ref, Exif: contract.ExifData{Format: "jpeg"}}, ref)
	handle(contract.SubjectPhotoRenditions, deriv(contract.StageRenditions, &contract.Focus{X: 0.5, Y: 0.5, Source: contract.FocusAttention}), ref)
	handle(contract.SubjectPhotoWatermarked, deriv(contract.StageWatermark, nil), ref)

	store.objects["originals/g/gallery.json"] = []byte(`{"headline": "h", "photos": [{"file": "a.jpg", "focus": {"x": 0.25, "y": 0.4}}]}`)
	mref := contract.Ref{Gallery: "g", Bucket: "originals", Key: "g/gallery.json", ETag: "m1"}
	wantID := "refocus:0.25,0.4:uploaded:originals/g/a.jpg@ea"
	for i, outs := range [][]contract.Output{
		handle(contract.SubjectGallerySubmitted, contract.GallerySubmitted{Ref: mref, SubmittedAt: now}, mref),
		handle(contract.SubjectPhotoExif, contract.PhotoExif{Ref: ref, Exif: contract.ExifData{Format: "jpeg"}}, ref), // a redelivery
	} {
		if len(outs) != 1 || outs[0].Subject != "photodesk.photo.uploaded.g" || outs[0].MsgID != wantID ||
			fmt.Sprint(outs[0].Header[contract.RolesHeader]) != "[renditions]" {
			t.Fatalf("event %d after the focal point came: %+v, want one announcement to renditions, Msg-Id %s", i, outs, wantID)
		}
		var ev contract.PhotoUploaded
		if err := json.Unmarshal(outs[0].Data, &ev); err != nil || ev.Ref != ref || ev.Refocus != "0.25,0.4" || ev.Size != 5000 || !ev.UploadedAt.Equal(now) {
			t.Fatalf("announcement %+v (%v)", ev, err)
		}
	}
	outs := handle(contract.SubjectPhotoRenditions, deriv(contract.StageRenditions, &contract.Focus{X: 0.25, Y: 0.4, Source: contract.FocusGallery}), ref)
	if len(outs) != 1 || outs[0].MsgID != "article:g:v1" {
		t.Fatalf("after the new crops: %+v, want article v1 alone", outs)
	}
	var ev contract.ArticleEvent
	if err := json.Unmarshal(outs[0].Data, &ev); err != nil || !strings.Contains(string(ev.Record), "1:1 crop centred on 0.25,0.4 (focal point in gallery.json)") {
		t.Errorf("record %s (%v), want the crop around the focal point", ev.Record, err)
	}
}
