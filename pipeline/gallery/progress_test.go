package gallery

import (
	"slices"
	"testing"
	"time"

	"github.com/photodesk/photodesk/pipeline/contract"
)

// answer folds stage's result for ref into s, as its result event would.
func answer(s *State, stage string, ref contract.Ref, now time.Time) {
	if stage == contract.StageExif {
		s.ApplyExif(contract.PhotoExif{Ref: ref}, now)
		return
	}
	s.ApplyDerivatives(contract.PhotoDerivatives{Ref: ref, Role: stage, Derivatives: []contract.Derivative{{Key: ref.Key + "/" + stage, ETag: stage}}}, now)
}

// TestProgressFollowsTheStageTable: a photo's progress names exactly the
// photo stages of contract.Stages, in order; each result marks its own
// stage done (Result.Has); a failure of a stage that holds the gallery
// holds it, and any other (exif) does not.
func TestProgressFollowsTheStageTable(t *testing.T) {
	now := time.Now()
	ref := contract.Ref{Gallery: "g", Photo: "a.jpg", Bucket: "originals", Key: "g/a.jpg", ETag: "e1"}
	fresh := func() *State {
		s := New("g")
		s.ApplyManifest("m", now, &Manifest{Headline: "h", Photos: []MPhoto{{File: "a.jpg"}, {File: "b.jpg"}}}, "")
		s.ApplyUploaded(contract.PhotoUploaded{Ref: ref, UploadedAt: now}, now)
		return s
	}
	var photo []string
	for _, st := range contract.Stages {
		if st.Result != "" {
			photo = append(photo, st.Name)
		}
	}
	s := fresh()
	pp := s.Progress()
	if len(pp) != 2 || pp[0].Name != "a.jpg" || pp[1].Uploaded() {
		t.Fatalf("progress %+v", pp)
	}
	if !slices.Equal(pp[0].Pending(), photo) {
		t.Fatalf("pending %v, want the photo stages %v", pp[0].Pending(), photo)
	}
	if rd := s.Evaluate(); !slices.Contains(rd.Waiting, "b.jpg: "+Upload) {
		t.Errorf("waiting %v, want b.jpg's upload", rd.Waiting)
	}
	for i, name := range photo {
		answer(s, name, ref, now)
		a := s.Progress()[0]
		if !a.Result.Has(name) || a.Stages[i].State != Done || !slices.Equal(a.Pending(), photo[i+1:]) {
			t.Fatalf("after %s: stages %+v", name, a.Stages)
		}
	}

	for _, st := range contract.Stages {
		if st.Result == "" {
			continue
		}
		s := fresh()
		for _, other := range photo {
			if other != st.Name {
				answer(s, other, ref, now)
			}
		}
		s.ApplyFailure(contract.Failure{Ref: ref, Stage: st.Name, Reason: "bad input", Permanent: true}, now)
		a := s.Progress()[0]
		if got := a.Failures(); len(got) != 1 || got[0].Stage != st.Name || got[0].Reason != "bad input" || len(a.Pending()) != 0 {
			t.Errorf("%s failed: failures %+v, pending %v", st.Name, got, a.Pending())
		}
		held := false
		for _, f := range s.Evaluate().Failed {
			held = held || (f.Photo == "a.jpg" && f.Stage == st.Name)
		}
		if held != st.HoldsGallery || len(a.Held()) > 0 != st.HoldsGallery {
			t.Errorf("%s failed: holds the gallery %v, the table says %v", st.Name, held, st.HoldsGallery)
		}
	}
	if exif, _ := contract.StageNamed(contract.StageExif); exif.HoldsGallery {
		t.Error("an exif failure must not hold the gallery")
	}
	if r, _ := contract.StageNamed(contract.StageRenditions); !r.HoldsGallery {
		t.Error("a renditions failure must hold the gallery")
	}
}

// TestANewPhotoStageIsWaitedFor: a photo stage added to the stage table,
// with no field of its own in Result, is waited for and recorded by
// ApplyResult: adding a stage needs no change here.
func TestANewPhotoStageIsWaitedFor(t *testing.T) {
	saved := contract.Stages
	defer func() { contract.Stages = saved }()
	faces := contract.Stage{Name: "faces", Stream: contract.EventsStream, Inputs: []string{contract.SubjectPhotoUploaded + ".>"},
		Result: "photodesk.photo.faces", HoldsGallery: true, Concurrency: 1}
	contract.Stages = append(append([]contract.Stage(nil), saved[:len(saved)-1]...), faces, saved[len(saved)-1])

	now := time.Now()
	ref := contract.Ref{Gallery: "g", Photo: "a.jpg", Bucket: "originals", Key: "g/a.jpg", ETag: "e1"}
	s := New("g")
	s.ApplyManifest("m", now, &Manifest{Headline: "h", Photos: []MPhoto{{File: "a.jpg"}}}, "")
	s.ApplyUploaded(contract.PhotoUploaded{Ref: ref, UploadedAt: now}, now)
	for _, st := range []string{contract.StageExif, contract.StageRenditions, contract.StageWatermark} {
		answer(s, st, ref, now)
	}
	if rd := s.Evaluate(); rd.Ready || !slices.Contains(rd.Waiting, "a.jpg: faces") {
		t.Fatalf("ready %v, waiting %v: want a.jpg waiting for faces", rd.Ready, rd.Waiting)
	}
	s.ApplyFailure(contract.Failure{Ref: ref, Stage: "faces", Reason: "no"}, now)
	if rd := s.Evaluate(); len(rd.Failed) != 1 || rd.Failed[0].Stage != "faces" {
		t.Fatalf("failed %+v: a holding stage's failure holds the gallery", rd.Failed)
	}
	s.ApplyResult("faces", contract.PhotoResult{Ref: ref}, now)
	if rd := s.Evaluate(); !rd.Ready {
		t.Fatalf("not ready after faces answered: waiting %v, failed %+v", rd.Waiting, rd.Failed)
	}
}
