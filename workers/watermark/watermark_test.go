package watermark_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/photodesk/photodesk/internal/fixture"
	"github.com/photodesk/photodesk/internal/imaging"
	"github.com/photodesk/photodesk/pipeline"
	"github.com/photodesk/photodesk/pipeline/contract"
	"github.com/photodesk/photodesk/pipeline/devstack"
	"github.com/photodesk/photodesk/workers/watermark"
)

// TestHandleAgainstRealMinIO: the marked preset and the full-size copy land
// next to the renditions under their own keys, marked as watermarked.
func TestHandleAgainstRealMinIO(t *testing.T) {
	s := devstack.ForTest(t)
	store, err := pipeline.NewStore(s.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cfg := imaging.DefaultConfig()
	cfg.Watermark.Full = true
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	role, err := watermark.New(cfg, store, s.Config.DerivativesBucket, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	photo, err := fixture.JPEG(fixture.Scene(2400, 1600, 4), 90, nil)
	if err != nil {
		t.Fatal(err)
	}
	info, err := store.PutObject(ctx, s.Config.OriginalsBucket, "expo/a.jpg", bytes.NewReader(photo), int64(len(photo)), minio.PutObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ev := contract.PhotoUploaded{Ref: contract.Ref{Gallery: "expo", Photo: "a.jpg", Bucket: s.Config.OriginalsBucket, Key: "expo/a.jpg", ETag: info.ETag}, Size: info.Size}
	data, _ := json.Marshal(ev)
	outs, err := role.Handle(ctx, &pipeline.Message{Subject: "photodesk.photo.uploaded.expo", Data: data, Ref: ev.Ref, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if len(outs) != 1 || outs[0].Subject != "photodesk.photo.watermarked.expo" {
		t.Fatalf("outputs %+v", outs)
	}
	var res contract.PhotoDerivatives
	if err := json.Unmarshal(outs[0].Data, &res); err != nil {
		t.Fatal(err)
	}
	want := []struct {
		key  string
		w, h int
	}{{"expo/a.jpg/large.wm.jpg", 2048, 1365}, {"expo/a.jpg/large.wm.webp", 2048, 1365}, {"expo/a.jpg/full.wm.jpg", 2400, 1600}}
	if res.Role != "watermark" || len(res.Derivatives) != len(want) {
		t.Fatalf("event %+v", res)
	}
	for i, d := range res.Derivatives {
		if d.Key != want[i].key || d.Width != want[i].w || d.Height != want[i].h || !d.Watermarked {
			t.Errorf("derivative %d: %+v, want %+v", i, d, want[i])
		}
		if _, err := store.StatObject(ctx, d.Bucket, d.Key, minio.StatObjectOptions{}); err != nil {
			t.Errorf("%s not stored: %v", d.Key, err)
		}
	}
}

// TestStartupErrors: a text the font cannot draw, or nothing to draw it
// on, stops the role before it takes any work.
func TestStartupErrors(t *testing.T) {
	cfg := imaging.DefaultConfig()
	cfg.Watermark.Text = "来源:工人日报 😀"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if _, err := watermark.New(cfg, nil, "derivatives", nil, nil); err == nil || !strings.Contains(err.Error(), "U+1F600") {
		t.Errorf("missing glyph: %v", err)
	}
	cfg = imaging.DefaultConfig()
	cfg.PresetSpec = "thumb:320:jpeg"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if _, err := watermark.New(cfg, nil, "derivatives", nil, nil); err == nil || !strings.Contains(err.Error(), "nothing to make") {
		t.Errorf("no marked preset: %v", err)
	}
}
