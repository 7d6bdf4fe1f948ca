package gallery

import (
	"strings"
	"testing"
	"time"

	"github.com/photodesk/photodesk/pipeline/contract"
)

// TestStateGaveUpHoldsUntilALateResult: a stage JetStream gave up on (a
// process died or stalled on the last delivery) holds the gallery with the
// reason; if the stalled process finishes the photo after all (or a
// reprocess run does), the gallery is ready. A permanent failure keeps
// holding it.
func TestStateGaveUpHoldsUntilALateResult(t *testing.T) {
	now := time.Now()
	ref := contract.Ref{Gallery: "g", Photo: "a.jpg", Bucket: "originals", Key: "g/a.jpg", ETag: "e1"}
	gaveUp := contract.Failure{Ref: ref, Stage: "watermark", Attempts: 3, EventSeq: 7,
		Reason: "gave up after 3 deliveries: no process finished it within the ack wait (a process died, stalled or stopped holding it)"}
	bad := gaveUp
	bad.Permanent, bad.Reason = true, "bad input: cannot decode the jpeg"
	derivs := func(role string) contract.PhotoDerivatives {
		return contract.PhotoDerivatives{Ref: ref, Role: role, Derivatives: []contract.Derivative{{Preset: "large", Format: "jpeg", Key: "g/a.jpg/large." + role, ETag: role}}}
	}
	state := func() *State {
		s := New("g")
		s.ApplyManifest("m", now, &Manifest{Headline: "h", Photos: []MPhoto{{File: "a.jpg"}}}, "")
		s.ApplyUploaded(contract.PhotoUploaded{Ref: ref, UploadedAt: now}, now)
		s.ApplyExif(contract.PhotoExif{Ref: ref}, now)
		s.ApplyDerivatives(derivs("renditions"), now)
		return s
	}

	s := state()
	s.ApplyFailure(gaveUp, now)
	rd := s.Evaluate()
	if rd.Ready || len(rd.Failed) != 1 || rd.Failed[0].Stage != "watermark" || !strings.HasPrefix(rd.Failed[0].Reason, "gave up after 3 deliveries") {
		t.Fatalf("after the gave-up failure: ready %v, failed %+v", rd.Ready, rd.Failed)
	}
	s.ApplyDerivatives(derivs("watermark"), now) // the stalled process finished after all
	if rd := s.Evaluate(); !rd.Ready {
		t.Errorf("late result after the failure: ready %v, failed %+v, waiting %v", rd.Ready, rd.Failed, rd.Waiting)
	}

	s = state()
	s.ApplyFailure(bad, now)
	s.ApplyDerivatives(derivs("watermark"), now)
	if rd := s.Evaluate(); rd.Ready || len(rd.Failed) != 1 {
		t.Errorf("a permanent failure must keep holding: ready %v, failed %+v", rd.Ready, rd.Failed)
	}
}
