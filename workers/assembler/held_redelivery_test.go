package assembler

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/photodesk/photodesk/pipeline"
	"github.com/photodesk/photodesk/pipeline/config"
	"github.com/photodesk/photodesk/pipeline/contract"
	"github.com/photodesk/photodesk/pipeline/devstack"
	"github.com/photodesk/photodesk/pipeline/gallery"
)

// TestHeldAgainOnRedelivery: the assembler saves that a gallery is held
// (its failure fingerprint) before the runtime publishes the held event.
// When that publish is lost (NATS restarting, the process killed in
// between), the redelivered event must ask for the held event again: the
// state already has the fingerprint, so without this the gallery stays
// held with no event saying why. The repeat carries the same Nats-Msg-Id,
// so JetStream drops it when the first did get through.
func TestHeldAgainOnRedelivery(t *testing.T) {
	cfg, js := devstack.NATSForTest(t, config.Default())
	_ = cfg
	ctx := context.Background()
	kv, err := js.KeyValue(ctx, pipeline.GalleriesKV)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 7, 28, 2, 0, 0, 0, time.UTC)
	st := gallery.New("g")
	st.ApplyManifest("m1", now, &gallery.Manifest{Headline: "h", Photos: []gallery.MPhoto{{File: "a.jpg"}, {File: "b.jpg"}}}, "")
	ref := contract.Ref{Gallery: "g", Photo: "a.jpg", Bucket: "originals", Key: "g/a.jpg", ETag: "a1"}
	st.ApplyUploaded(contract.PhotoUploaded{Ref: ref, UploadedAt: now}, now)
	b, _ := json.Marshal(st)
	if _, err := kv.Create(ctx, "g", b); err != nil {
		t.Fatal(err)
	}
	r := &Role{KV: kv, Zone: time.UTC, Cfg: DefaultConfig(), Now: func() time.Time { return now }}
	data, _ := json.Marshal(contract.Failure{Ref: ref, Stage: "renditions", Reason: "bad input: cannot decode the jpeg", Permanent: true, Attempts: 1})
	msg := func(attempt int) *pipeline.Message {
		return &pipeline.Message{
			Subject: contract.FailedSubject("renditions", "g"), Data: data, Attempt: attempt, StreamSeq: 7,
			Ref: ref, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		}
	}
	heldOut := func(outs []contract.Output) *contract.Output {
		for i, o := range outs {
			if o.Subject == contract.GallerySubject(contract.SubjectGalleryHeld, "g") {
				return &outs[i]
			}
		}
		return nil
	}

	first, err := r.Handle(ctx, msg(1))
	if err != nil {
		t.Fatal(err)
	}
	h1 := heldOut(first)
	if h1 == nil {
		t.Fatalf("first delivery: no held event in %+v", first)
	}
	// The outputs are lost; the event comes again.
	again, err := r.Handle(ctx, msg(2))
	if err != nil {
		t.Fatal(err)
	}
	h2 := heldOut(again)
	if h2 == nil {
		t.Fatalf("redelivery after a lost publish: no held event, so none says why gallery g is held")
	}
	if h2.MsgID != h1.MsgID {
		t.Errorf("the repeated held event has Msg-Id %q, the first %q: JetStream would not drop the repeat", h2.MsgID, h1.MsgID)
	}
	// A first delivery of an event that changes nothing asks for nothing.
	other, err := r.Handle(ctx, msg(1))
	if err != nil {
		t.Fatal(err)
	}
	if h := heldOut(other); h != nil {
		t.Errorf("an event that changed nothing, delivered once, published the held event again")
	}
}
