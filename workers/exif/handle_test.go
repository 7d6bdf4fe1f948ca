package exif_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/photodesk/photodesk/internal/fixture"
	"github.com/photodesk/photodesk/internal/schematest"
	"github.com/photodesk/photodesk/pipeline"
	"github.com/photodesk/photodesk/pipeline/contract"
	"github.com/photodesk/photodesk/workers/exif"
)

// memStore is originals in memory, one version each; a read of a version
// no longer there fails with pipeline.ErrSuperseded, as *pipeline.Store's
// does. It counts the bytes it hands out.
type memStore struct {
	objects map[string]memObject // by bucket/key
	served  int64
	fail    error // when set, every read fails with it
}

type memObject struct {
	etag string
	data []byte
}

func (m *memStore) ReadRange(_ context.Context, bucket, key, etag string, off, length int64) ([]byte, error) {
	if m.fail != nil {
		return nil, m.fail
	}
	o, ok := m.objects[bucket+"/"+key]
	if !ok || (etag != "" && o.etag != etag) {
		return nil, pipeline.ErrSuperseded
	}
	end := min(off+length, int64(len(o.data)))
	if off >= end {
		return nil, nil
	}
	m.served += end - off
	return o.data[off:end], nil
}

// TestHandleWithoutServers runs the role's Handle over an in-memory store:
// the facts come from the head of the original alone, the result names
// them, a replaced original's event is skipped, bytes that are no photo
// fail for good, and a store's failure is passed on to be retried.
func TestHandleWithoutServers(t *testing.T) {
	ctx := context.Background()
	photo, err := fixture.JPEG(fixture.Scene(2400, 1600, 7), 95, &fixture.EXIF{DateTimeOriginal: "2026:07:28 09:30:00", Make: "Canon", Artist: "EXIF Artist"})
	if err != nil {
		t.Fatal(err)
	}
	store := &memStore{objects: map[string]memObject{
		"originals/g/a.jpg": {etag: "e1", data: photo},
		"originals/g/b.jpg": {etag: "e2", data: []byte("a text file, not a photo")},
	}}
	zone, _ := time.LoadLocation("Asia/Shanghai")
	role := &exif.Role{Store: store, Zone: zone}
	handle := func(key, etag string, size int) ([]contract.Output, error) {
		ev := contract.PhotoUploaded{Ref: contract.Ref{Gallery: "g", Photo: key, Bucket: "originals", Key: "g/" + key, ETag: etag}, Size: int64(size)}
		data, _ := json.Marshal(ev)
		return role.Handle(ctx, &pipeline.Message{Subject: "photodesk.photo.uploaded.g", Data: data, Ref: ev.Ref, Log: slog.New(slog.DiscardHandler)})
	}

	outs, err := handle("a.jpg", "e1", len(photo))
	if err != nil || len(outs) != 1 {
		t.Fatalf("outs %v, err %v", outs, err)
	}
	var res contract.PhotoExif
	if err := json.Unmarshal(outs[0].Data, &res); err != nil {
		t.Fatal(err)
	}
	if res.Exif.CapturedAt == nil || !res.Exif.CapturedAt.Equal(time.Date(2026, 7, 28, 9, 30, 0, 0, zone)) ||
		res.Exif.Make != "Canon" || res.Exif.Artist != "EXIF Artist" || res.Exif.Width != 2400 || res.Exif.Height != 1600 {
		t.Errorf("result %+v", res.Exif)
	}
	if res.BytesRead != store.served || res.BytesRead > 64<<10 || int64(len(photo)) < 4*res.BytesRead {
		t.Errorf("read %d bytes (the store served %d) of %d; want only the head", res.BytesRead, store.served, len(photo))
	}
	if outs[0].Subject != "photodesk.photo.exif.g" || outs[0].MsgID == "" {
		t.Errorf("output %s %q", outs[0].Subject, outs[0].MsgID)
	}

	if outs, err := handle("a.jpg", "e0", len(photo)); err != nil || len(outs) != 0 {
		t.Errorf("event about a replaced version: outs %v, err %v; want skipped", outs, err)
	}
	if outs, err := handle("b.jpg", "e2", 24); !pipeline.IsPermanent(err) || len(outs) != 0 {
		t.Errorf("text file: outs %v, err %v; want a permanent failure", outs, err)
	}
	store.fail = errors.New("connection refused")
	if outs, err := handle("a.jpg", "e1", len(photo)); err == nil || pipeline.IsPermanent(err) || len(outs) != 0 {
		t.Errorf("store down: outs %v, err %v; want a failure to retry", outs, err)
	}
}

// TestHandleReportsEmbeddedRights: the rights fields an original embeds
// reach the event, XMP over IPTC over EXIF, as the photo.exif schema says;
// a photo that embeds none has no "rights".
func TestHandleReportsEmbeddedRights(t *testing.T) {
	photo, err := fixture.JPEG(fixture.Scene(320, 240, 5), 85, &fixture.EXIF{DateTimeOriginal: "2026:07:28 09:30:00", Artist: "EXIF Artist", Copyright: "© 2026 工人日报"})
	if err != nil {
		t.Fatal(err)
	}
	iptc := fixture.IPTCSegment([]fixture.IPTCRecord{{Record: 2, Dataset: 110, Value: []byte("工人日报")},
		{Record: 2, Dataset: 25, Value: []byte("大国工匠")}, {Record: 2, Dataset: 25, Value: []byte("展会")}, {Record: 2, Dataset: 90, Value: []byte("北京")}}, true)
	if photo, err = fixture.WithAPP(photo, 13, iptc); err != nil {
		t.Fatal(err)
	}
	if photo, err = fixture.WithAPP(photo, 1, []byte(fixture.XMPHeader), fixture.XMPCaption(nil, "王建国", "李华")); err != nil {
		t.Fatal(err)
	}
	plain, err := fixture.JPEG(fixture.Scene(320, 240, 6), 85, &fixture.EXIF{DateTimeOriginal: "2026:07:28 09:30:00"})
	if err != nil {
		t.Fatal(err)
	}
	store := &memStore{objects: map[string]memObject{"originals/g/a.jpg": {etag: "e1", data: photo}, "originals/g/b.jpg": {etag: "e2", data: plain}}}
	role := &exif.Role{Store: store, Zone: time.UTC}
	schema := schematest.Repo(t, "schemas/events/photo.exif.schema.json")
	for key, want := range map[string]string{
		"a.jpg": `{"creator":["王建国","李华"],"credit":"工人日报","copyright_notice":"© 2026 工人日报","keywords":["大国工匠","展会"],"location":{"city":"北京"}}`,
		"b.jpg": ``,
	} {
		o := store.objects["originals/g/"+key]
		ev := contract.PhotoUploaded{Ref: contract.Ref{Gallery: "g", Photo: key, Bucket: "originals", Key: "g/" + key, ETag: o.etag}, Size: int64(len(o.data))}
		data, _ := json.Marshal(ev)
		outs, err := role.Handle(context.Background(), &pipeline.Message{Subject: "photodesk.photo.uploaded.g", Data: data, Ref: ev.Ref, Log: slog.New(slog.DiscardHandler)})
		if err != nil || len(outs) != 1 {
			t.Fatalf("%s: outs %v, err %v", key, outs, err)
		}
		if err := schematest.Validate(t, schema, outs[0].Data); err != nil {
			t.Errorf("%s: %v", key, err)
		}
		var wire struct {
			Exif struct {
				Rights json.RawMessage `json:"rights"`
			} `json:"exif"`
		}
		if err := json.Unmarshal(outs[0].Data, &wire); err != nil || string(wire.Exif.Rights) != want {
			t.Errorf("%s: exif.rights %s (%v), want %s", key, wire.Exif.Rights, err, want)
		}
	}
}
