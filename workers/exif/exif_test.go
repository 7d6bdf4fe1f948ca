package exif_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/photodesk/photodesk/internal/fixture"
	"github.com/photodesk/photodesk/pipeline"
	"github.com/photodesk/photodesk/pipeline/contract"
	"github.com/photodesk/photodesk/pipeline/devstack"
	"github.com/photodesk/photodesk/workers/exif"
)

// TestHandleAgainstRealMinIO runs the handler on events naming objects in
// a real MinIO: the current version is read from its head; an event about a
// version since replaced is skipped, not failed; bad bytes fail for good.
func TestHandleAgainstRealMinIO(t *testing.T) {
	s := devstack.ForTest(t)
	store, err := pipeline.NewStore(s.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	put := func(key string, body []byte) contract.PhotoUploaded {
		t.Helper()
		info, err := store.PutObject(ctx, s.Config.OriginalsBucket, key, bytes.NewReader(body), int64(len(body)), minio.PutObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return contract.PhotoUploaded{Ref: contract.Ref{Gallery: "g", Photo: key[2:], Bucket: s.Config.OriginalsBucket, Key: key, ETag: info.ETag}, Size: info.Size}
	}
	big, err := fixture.JPEG(fixture.Scene(2400, 1600, 7), 95, &fixture.EXIF{DateTimeOriginal: "2026:07:28 09:30:00", Make: "Canon", ImageDescription: "EXIF description", Artist: "EXIF Artist"})
	if err != nil {
		t.Fatal(err)
	}
	// The photo's own caption and byline, in XMP (which wins) and IPTC.
	const caption, byline = "7月28日,北京工人体育馆,全国职工职业技能大赛决赛开幕。\n参赛选手入场。", "王建国、李华"
	if big, err = fixture.WithAPP(big, 13, fixture.IPTC("IPTC caption", "IPTC byline", true)); err != nil {
		t.Fatal(err)
	}
	if big, err = fixture.WithAPP(big, 1, []byte(fixture.XMPHeader),
		fixture.XMPCaption([]fixture.XMPLang{{Lang: "x-default", Text: caption}}, "王建国", "李华")); err != nil {
		t.Fatal(err)
	}
	zone, _ := time.LoadLocation("Asia/Shanghai")
	role := &exif.Role{Store: store, Zone: zone}
	handle := func(ev contract.PhotoUploaded) ([]contract.Output, error) {
		data, _ := json.Marshal(ev)
		return role.Handle(ctx, &pipeline.Message{Subject: "photodesk.photo.uploaded.g", Data: data, Ref: ev.Ref, Log: slog.New(slog.DiscardHandler)})
	}

	ev := put("g/a.jpg", big)
	outs, err := handle(ev)
	if err != nil || len(outs) != 1 {
		t.Fatalf("outs %v, err %v", outs, err)
	}
	var res contract.PhotoExif
	if err := json.Unmarshal(outs[0].Data, &res); err != nil {
		t.Fatal(err)
	}
	if res.Exif.CapturedAt == nil || !res.Exif.CapturedAt.Equal(time.Date(2026, 7, 28, 9, 30, 0, 0, zone)) || res.Exif.Width != 2400 {
		t.Errorf("result %+v", res.Exif)
	}
	if res.Exif.Caption != caption || res.Exif.CaptionSource != "xmp" || res.Exif.Byline != byline || res.Exif.BylineSource != "xmp" {
		t.Errorf("caption %q from %q, byline %q from %q", res.Exif.Caption, res.Exif.CaptionSource, res.Exif.Byline, res.Exif.BylineSource)
	}
	var wire struct {
		Exif map[string]any `json:"exif"`
	}
	if err := json.Unmarshal(outs[0].Data, &wire); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"caption": caption, "caption_source": "xmp", "byline": byline, "byline_source": "xmp", "artist": "EXIF Artist"} {
		if wire.Exif[k] != want {
			t.Errorf("event exif.%s = %v, want %q", k, wire.Exif[k], want)
		}
	}
	if res.BytesRead > 64<<10 || int64(len(big)) < 4*res.BytesRead {
		t.Errorf("read %d of %d bytes; want only the head", res.BytesRead, len(big))
	}
	if !strings.HasPrefix(outs[0].MsgID, "exif:originals/g/a.jpg@"+ev.ETag+"#") || outs[0].Subject != "photodesk.photo.exif.g" {
		t.Errorf("output %s %s", outs[0].Subject, outs[0].MsgID)
	}
	// A redelivery reads the same facts: the same Msg-Id, so JetStream drops
	// it. A reprocess run's result names the run, and gets through.
	again, err := handle(ev)
	if err != nil || len(again) != 1 || again[0].MsgID != outs[0].MsgID {
		t.Errorf("redelivery: %v, Msg-Id %v, want %s", err, again, outs[0].MsgID)
	}
	rev := ev
	rev.Reprocess = &contract.Reprocess{Run: "r1", Photos: 1}
	rerun, err := handle(rev)
	var rres contract.PhotoExif
	if err != nil || len(rerun) != 1 || json.Unmarshal(rerun[0].Data, &rres) != nil || rres.Run != "r1" || rerun[0].MsgID == outs[0].MsgID {
		t.Errorf("reprocess run: %v, %+v; want run r1 and a Msg-Id other than %s", err, rerun, outs[0].MsgID)
	}

	put("g/a.jpg", []byte("replaced by a text file")) // the old event is now stale
	if outs, err := handle(ev); err != nil || len(outs) != 0 {
		t.Errorf("stale event: outs %v, err %v; want skipped", outs, err)
	}
	if outs, err := handle(put("g/a.jpg", []byte("replaced by a text file"))); !pipeline.IsPermanent(err) || len(outs) != 0 {
		t.Errorf("text file: outs %v, err %v; want a permanent failure", outs, err)
	}
}
