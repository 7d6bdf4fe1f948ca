package renditions_test

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
	"github.com/photodesk/photodesk/workers/renditions"
)

// TestHandleAgainstRealMinIO: an original in a real MinIO gets every preset
// in every format in the derivatives bucket, with the source ETag and size
// in each object's metadata; a redelivery makes nothing again; a replaced
// original's old event is skipped; a broken photo fails for good alone.
func TestHandleAgainstRealMinIO(t *testing.T) {
	s := devstack.ForTest(t)
	store, err := pipeline.NewStore(s.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cfg := imaging.DefaultConfig()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	role := renditions.New(cfg, store, s.Config.DerivativesBucket, nil, slog.New(slog.DiscardHandler))

	put := func(key string, body []byte) contract.PhotoUploaded {
		t.Helper()
		info, err := store.PutObject(ctx, s.Config.OriginalsBucket, key, bytes.NewReader(body), int64(len(body)), minio.PutObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		g, p, _ := strings.Cut(key, "/")
		return contract.PhotoUploaded{Ref: contract.Ref{Gallery: g, Photo: p, Bucket: s.Config.OriginalsBucket, Key: key, ETag: info.ETag}, Size: info.Size}
	}
	var lastID string            // the last result's Nats-Msg-Id
	attempts := map[string]int{} // deliveries so far, by ETag
	handle := func(ev contract.PhotoUploaded) (contract.PhotoDerivatives, error) {
		t.Helper()
		data, _ := json.Marshal(ev)
		attempts[ev.ETag]++
		outs, err := role.Handle(ctx, &pipeline.Message{Subject: contract.GallerySubject(contract.SubjectPhotoUploaded, ev.Gallery), Data: data, Ref: ev.Ref, Attempt: attempts[ev.ETag], Log: slog.New(slog.DiscardHandler)})
		var res contract.PhotoDerivatives
		if err != nil {
			return res, err
		}
		if len(outs) != 1 || outs[0].Subject != "photodesk.photo.renditions."+ev.Gallery || !strings.HasPrefix(outs[0].MsgID, contract.MsgID("renditions", ev.Ref)+"#") {
			t.Fatalf("outputs %+v", outs)
		}
		lastID = outs[0].MsgID
		if err := json.Unmarshal(outs[0].Data, &res); err != nil {
			t.Fatal(err)
		}
		return res, nil
	}

	photo, err := fixture.JPEG(fixture.Scene(3000, 2000, 11), 90, &fixture.EXIF{Make: "Canon", Copyright: "© Jane"})
	if err != nil {
		t.Fatal(err)
	}
	ev := put("expo/01 opening.jpg", photo)
	res, err := handle(ev)
	if err != nil {
		t.Fatal(err)
	}
	if res.Source.Format != "jpeg" || res.Source.Width != 3000 || res.Source.Height != 2000 || res.Source.Size != int64(len(photo)) {
		t.Errorf("source %+v", res.Source)
	}
	if len(res.Derivatives) != 12 {
		t.Fatalf("%d derivatives, want 3 presets and 3 crops x 2 formats: %+v", len(res.Derivatives), res.Derivatives)
	}
	wantKeys := []string{"thumb.jpg", "thumb.webp", "medium.jpg", "medium.webp", "large.jpg", "large.webp",
		"crop16x9.jpg", "crop16x9.webp", "crop1x1.jpg", "crop1x1.webp", "crop4x5.jpg", "crop4x5.webp"}
	etags := map[string]string{}
	for i, d := range res.Derivatives {
		if d.Key != "expo/01 opening.jpg/"+wantKeys[i] || d.Bucket != s.Config.DerivativesBucket || d.Reused || d.Watermarked {
			t.Errorf("derivative %d: %+v", i, d)
		}
		info, err := store.StatObject(ctx, d.Bucket, d.Key, minio.StatObjectOptions{})
		if err != nil {
			t.Fatalf("%s not stored: %v", d.Key, err)
		}
		if info.Size != d.Size || info.ContentType != d.ContentType || info.UserMetadata["Photodesk-Source-Etag"] != strings.Trim(ev.ETag, `"`) ||
			info.UserMetadata["Photodesk-Width"] == "" || info.UserMetadata["Photodesk-Height"] == "" {
			t.Errorf("%s: size %d content type %q metadata %v; event says %+v", d.Key, info.Size, info.ContentType, info.UserMetadata, d)
		}
		etags[d.Key] = info.ETag
	}
	if d := res.Derivatives[4]; d.Width != 2048 || d.Height != 1365 {
		t.Errorf("large is %dx%d", d.Width, d.Height)
	}
	// No gallery.json yet, no embedded region: the crops are libvips'.
	for i, want := range []struct {
		aspect string
		w, h   int
	}{{"16:9", 1280, 720}, {"1:1", 1080, 1080}, {"4:5", 1080, 1350}} {
		d := res.Derivatives[6+2*i]
		if d.Aspect != want.aspect || d.Width != want.w || d.Height != want.h || d.Focus == nil || d.Focus.Source != contract.FocusAttention {
			t.Errorf("crop %s: %+v focus %+v, want %s %dx%d from attention", d.Key, d, d.Focus, want.aspect, want.w, want.h)
		}
	}
	if d := res.Derivatives[0]; d.Aspect != "" || d.Focus != nil {
		t.Errorf("thumb has aspect %q focus %+v", d.Aspect, d.Focus)
	}

	// Redelivery: everything is reused, nothing is written again, and the
	// result has the first one's Msg-Id, so JetStream drops it.
	firstID := lastID
	again, err := handle(ev)
	if err != nil {
		t.Fatal(err)
	}
	if lastID != firstID {
		t.Errorf("redelivery's Msg-Id %s, first %s", lastID, firstID)
	}
	for i, d := range again.Derivatives {
		info, _ := store.StatObject(ctx, d.Bucket, d.Key, minio.StatObjectOptions{})
		if !d.Reused || info.ETag != etags[d.Key] || d.Width != res.Derivatives[i].Width {
			t.Errorf("redelivery made %s again (reused %v, etag %s then %s)", d.Key, d.Reused, etags[d.Key], info.ETag)
		}
	}
	if again.Source != res.Source {
		t.Errorf("redelivery source %+v, first %+v", again.Source, res.Source)
	}
	if f := again.Derivatives[6].Focus; !contract.SameFocus(f, res.Derivatives[6].Focus) {
		t.Errorf("reused crop's focus %+v, made with %+v", f, res.Derivatives[6].Focus)
	}

	// The gallery's manifest gives a photo a focal point: the photo's
	// announcement again makes its crops around it and reuses the rest.
	ev4 := put("expo/04-focus.jpg", photo)
	if _, err := handle(ev4); err != nil {
		t.Fatal(err)
	}
	before := lastID
	manifest := []byte(`{"headline":"h","photos":[{"file":"04-focus.jpg","focus":{"x":0.25,"y":0.4}}]}`)
	if _, err := store.PutObject(ctx, s.Config.OriginalsBucket, "expo/gallery.json", bytes.NewReader(manifest), int64(len(manifest)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	// As the assembler announces it: a first delivery that still looks.
	delete(attempts, ev4.ETag)
	refocus := ev4
	refocus.Refocus = "0.25,0.4"
	focused, err := handle(refocus)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range focused.Derivatives {
		crop := d.Aspect != ""
		if d.Reused == crop {
			t.Errorf("after the focus came: %s reused=%v", d.Key, d.Reused)
		}
		if crop && !contract.SameFocus(d.Focus, &contract.Focus{X: 0.25, Y: 0.4, Source: contract.FocusGallery}) {
			t.Errorf("%s: focus %+v, want the gallery's 0.25,0.4", d.Key, d.Focus)
		}
	}
	if lastID == before {
		t.Error("new crops announced under the old result's Msg-Id")
	}
	if again, err := handle(ev4); err != nil || !again.Derivatives[8].Reused || !contract.SameFocus(again.Derivatives[8].Focus, focused.Derivatives[8].Focus) {
		t.Errorf("redelivery after the focus: %v, %+v", err, again.Derivatives[8])
	}

	// A first delivery does not look for earlier work (ingest drops
	// repeated events of one ETag): it makes everything, the same bytes.
	delete(attempts, ev.ETag)
	fresh, err := handle(ev)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range fresh.Derivatives {
		info, _ := store.StatObject(ctx, d.Bucket, d.Key, minio.StatObjectOptions{})
		if d.Reused || info.ETag != etags[d.Key] {
			t.Errorf("first delivery again: %s reused %v, etag %s then %s", d.Key, d.Reused, etags[d.Key], info.ETag)
		}
	}

	// One derivative lost: only it is made again.
	if err := store.RemoveObject(ctx, s.Config.DerivativesBucket, "expo/01 opening.jpg/medium.webp", minio.RemoveObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	third, err := handle(ev)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range third.Derivatives {
		if d.Reused == strings.HasSuffix(d.Key, "medium.webp") {
			t.Errorf("after losing medium.webp: %s reused=%v", d.Key, d.Reused)
		}
	}

	// The original is replaced: its old event is skipped, not failed.
	put("expo/01 opening.jpg", mustSmall(t))
	if outs, err := role.Handle(ctx, msg(t, ev)); err != nil || len(outs) != 0 {
		t.Errorf("stale event: outs %v err %v", outs, err)
	}

	// A broken photo fails for good, with its reason.
	bad := put("expo/02 broken.jpg", photo[:len(photo)/3])
	_, err = handle(bad)
	if err == nil || !pipeline.IsPermanent(err) || !strings.Contains(err.Error(), "cannot decode the jpeg") {
		t.Errorf("truncated photo: %v", err)
	}
	pdf := put("expo/03 doc.jpg", []byte("%PDF-1.4\n%%EOF\n"))
	if _, err = handle(pdf); err == nil || !pipeline.IsPermanent(err) || !strings.Contains(err.Error(), "application/pdf") {
		t.Errorf("pdf: %v", err)
	}
}

func mustSmall(t *testing.T) []byte {
	b, err := fixture.JPEG(fixture.Scene(300, 200, 2), 80, nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func msg(t *testing.T, ev contract.PhotoUploaded) *pipeline.Message {
	data, _ := json.Marshal(ev)
	return &pipeline.Message{Subject: contract.GallerySubject(contract.SubjectPhotoUploaded, ev.Gallery), Data: data, Ref: ev.Ref, Log: slog.New(slog.DiscardHandler)}
}
