package imaging_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/photodesk/photodesk/internal/fixture"
	"github.com/photodesk/photodesk/internal/imaging"
	"github.com/photodesk/photodesk/pipeline"
	"github.com/photodesk/photodesk/pipeline/contract"
	"github.com/photodesk/photodesk/pipeline/devstack"
	"github.com/photodesk/photodesk/workers/derive"
)

// TestSharedDecodeWithoutTheOtherRole: when the other role never comes for
// a photo (its event went to another process), at most MaxShared decodes
// wait for it, later photos are decoded alone, and every photo is still
// made; the waiting decodes go at their TTL.
func TestSharedDecodeWithoutTheOtherRole(t *testing.T) {
	s := devstack.ForTest(t)
	store, err := pipeline.NewStore(s.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	shared := imaging.NewDecodes()
	// Long enough that no decode expires while the photos are made on a
	// loaded machine (go test runs packages side by side).
	shared.SetTTL(5 * time.Second)
	log := slog.New(slog.DiscardHandler)
	presets, err := imaging.ParsePresets(imaging.DefaultPresets)
	if err != nil {
		t.Fatal(err)
	}
	d := derive.NewDeriver(derive.Deriver{Role: "renditions", Subject: contract.SubjectPhotoRenditions, Store: store, Bucket: s.Config.DerivativesBucket,
		Presets: presets, Limits: imaging.NoLimits, Options: imaging.Options{WebPEffort: 2}, Shared: shared}, log)
	// The other role joins, as in a process running both, but never handles.
	derive.NewDeriver(derive.Deriver{Role: "watermark", Subject: contract.SubjectPhotoWatermarked, Store: store, Bucket: s.Config.DerivativesBucket,
		Presets: presets[2:], Limits: imaging.NoLimits, Suffix: ".wm", Shared: shared}, log)

	photo, err := fixture.JPEG(fixture.Scene(1200, 800, 3), 85, nil)
	if err != nil {
		t.Fatal(err)
	}
	n := imaging.MaxShared + 2
	for i := range n {
		key := fmt.Sprintf("alone/%02d.jpg", i)
		info, err := store.PutObject(ctx, s.Config.OriginalsBucket, key, bytes.NewReader(photo), int64(len(photo)), minio.PutObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ev := contract.PhotoUploaded{Ref: contract.Ref{Gallery: "alone", Photo: key[len("alone/"):], Bucket: s.Config.OriginalsBucket, Key: key, ETag: info.ETag}, Size: info.Size}
		data, _ := json.Marshal(ev)
		outs, err := d.Handle(ctx, &pipeline.Message{Subject: contract.GallerySubject(contract.SubjectPhotoUploaded, "alone"), Data: data, Ref: ev.Ref, Attempt: 1, Log: log})
		if err != nil || len(outs) != 1 {
			t.Fatalf("%s: %v %v", key, outs, err)
		}
		var res contract.PhotoDerivatives
		if err := json.Unmarshal(outs[0].Data, &res); err != nil || len(res.Derivatives) != 6 || !strings.HasPrefix(res.Derivatives[0].Key, key+"/") {
			t.Fatalf("%s: %+v %v", key, res, err)
		}
	}
	if decoded, taken, waiting := shared.Stats(); decoded != imaging.MaxShared || taken != 0 || waiting != imaging.MaxShared {
		t.Errorf("after %d photos: %d decodes made to share, %d taken, %d waiting; want %d, 0, %d", n, decoded, taken, waiting, imaging.MaxShared, imaging.MaxShared)
	}
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if _, _, waiting := shared.Stats(); waiting == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("decodes still waiting 15 s after their 5 s TTL")
		}
	}
}
