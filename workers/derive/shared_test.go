package derive_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/photodesk/photodesk/internal/fixture"
	"github.com/photodesk/photodesk/internal/imaging"
	"github.com/photodesk/photodesk/pipeline"
	"github.com/photodesk/photodesk/pipeline/contract"
	"github.com/photodesk/photodesk/pipeline/devstack"
	"github.com/photodesk/photodesk/workers/derive"
	"github.com/photodesk/photodesk/workers/renditions"
	"github.com/photodesk/photodesk/workers/watermark"
)

// TestSharedDecode: the two image roles of one process, handling a photo
// at the same time, decode it once, and write the very bytes they write
// each on its own; a broken photo fails in both with its reason; nothing
// waits in memory after.
func TestSharedDecode(t *testing.T) {
	s := devstack.ForTest(t)
	store, err := pipeline.NewStore(s.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cfg := imaging.DefaultConfig()
	cfg.Watermark.Full = true // a preset larger than the shared decode
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	roles := func(shared *imaging.Decodes) []*derive.Deriver {
		w, err := watermark.New(cfg, store, s.Config.DerivativesBucket, shared, log)
		if err != nil {
			t.Fatal(err)
		}
		return []*derive.Deriver{renditions.New(cfg, store, s.Config.DerivativesBucket, shared, log), w}
	}
	put := func(key string, body []byte) contract.PhotoUploaded {
		t.Helper()
		info, err := store.PutObject(ctx, s.Config.OriginalsBucket, key, bytes.NewReader(body), int64(len(body)), minio.PutObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		g, p, _ := strings.Cut(key, "/")
		return contract.PhotoUploaded{Ref: contract.Ref{Gallery: g, Photo: p, Bucket: s.Config.OriginalsBucket, Key: key, ETag: info.ETag}, Size: info.Size}
	}
	// handleBoth runs every role on ev at once; it returns each role's
	// derivatives (key → bytes) or error.
	handleBoth := func(ds []*derive.Deriver, ev contract.PhotoUploaded) ([]map[string][]byte, []error) {
		data, _ := json.Marshal(ev)
		outs := make([]map[string][]byte, len(ds))
		errs := make([]error, len(ds))
		var wg sync.WaitGroup
		for i, d := range ds {
			wg.Go(func() {
				o, err := d.Handle(ctx, &pipeline.Message{Subject: contract.GallerySubject(contract.SubjectPhotoUploaded, ev.Gallery), Data: data, Ref: ev.Ref, Attempt: 1, Log: log})
				if errs[i] = err; err != nil {
					return
				}
				var res contract.PhotoDerivatives
				if err := json.Unmarshal(o[0].Data, &res); err != nil {
					errs[i] = err
					return
				}
				outs[i] = map[string][]byte{}
				for _, dv := range res.Derivatives {
					obj, err := store.GetObject(ctx, dv.Bucket, dv.Key, minio.GetObjectOptions{})
					if err != nil {
						errs[i] = err
						return
					}
					outs[i][dv.Key], errs[i] = io.ReadAll(obj)
					obj.Close()
				}
			})
		}
		wg.Wait()
		return outs, errs
	}

	photo, err := fixture.JPEG(fixture.Scene(3000, 2000, 5), 90, &fixture.EXIF{Orientation: 6, Copyright: "© Jane"})
	if err != nil {
		t.Fatal(err)
	}
	ev := put("share/01.jpg", photo)
	shared := imaging.NewDecodes()
	got, errs := handleBoth(roles(shared), ev)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("role %d, shared: %v", i, err)
		}
	}
	if decoded, taken, waiting := shared.Stats(); decoded != 1 || taken != 1 || waiting != 0 {
		t.Errorf("shared decodes: %d made, %d taken, %d waiting; want 1, 1, 0", decoded, taken, waiting)
	}
	if n := len(got[0]) + len(got[1]); n != 12+3 {
		t.Fatalf("%d derivatives, want 12 renditions (6 of them crops) and 3 watermarked (large jpeg+webp, full)", n)
	}

	// Each role on its own (first deliveries again, so everything is made
	// anew): the same bytes.
	alone, errs := handleBoth(roles(nil), ev)
	for i := range got {
		if errs[i] != nil {
			t.Fatalf("role %d, alone: %v", i, errs[i])
		}
		for key, b := range got[i] {
			if !bytes.Equal(alone[i][key], b) {
				t.Errorf("%s: %d bytes with the shared decode, %d without; want the same bytes", key, len(b), len(alone[i][key]))
			}
		}
	}

	// A broken photo: both roles fail for good, with the decoder's reason.
	broken := append(append([]byte(nil), photo[:len(photo)/3]...), make([]byte, 64)...)
	_, errs = handleBoth(roles(shared), put("share/02.jpg", broken))
	for i, err := range errs {
		if err == nil || !pipeline.IsPermanent(err) || !strings.Contains(err.Error(), "jpeg") {
			t.Errorf("role %d on a broken photo: %v; want a permanent error naming the JPEG", i, err)
		}
	}
	if decoded, taken, waiting := shared.Stats(); decoded != 2 || taken != 2 || waiting != 0 {
		t.Errorf("after the broken photo: %d made, %d taken, %d waiting; want 2, 2, 0", decoded, taken, waiting)
	}
}
