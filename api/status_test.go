package api

import (
	"maps"
	"testing"
	"time"

	"github.com/photodesk/photodesk/pipeline/contract"
	"github.com/photodesk/photodesk/pipeline/gallery"
)

// TestPhotoStatusFollowsTheStageTable: a photo's stages in GET
// /v1/galleries/{id} are exactly the photo stages of contract.Stages, and
// each one's failure shows as failed with its reason.
func TestPhotoStatusFollowsTheStageTable(t *testing.T) {
	pending := map[string]string{} // every stage that answers a photo
	for _, st := range contract.Stages {
		if st.Result != "" {
			pending[st.Name] = "pending"
		}
	}
	at := time.Now()
	ref := contract.Ref{Gallery: "g", Photo: "a.jpg", ETag: "e1"}
	for failed := range pending {
		s := gallery.New("g")
		s.ApplyUploaded(contract.PhotoUploaded{Ref: ref, UploadedAt: at}, at)
		if ps := photoStatus(s.PhotoProgress(gallery.MPhoto{File: "a.jpg"})); !maps.Equal(ps.Stages, pending) || ps.Failures != nil {
			t.Fatalf("before any result: stages %v, failures %v; want %v", ps.Stages, ps.Failures, pending)
		}
		s.ApplyFailure(contract.Failure{Ref: ref, Stage: failed, Reason: "bad input"}, at)
		want := maps.Clone(pending)
		want[failed] = "failed"
		ps := photoStatus(s.PhotoProgress(gallery.MPhoto{File: "a.jpg"}))
		if !maps.Equal(ps.Stages, want) || !maps.Equal(ps.Failures, map[string]string{failed: "bad input"}) {
			t.Errorf("%s failed: stages %v, failures %v", failed, ps.Stages, ps.Failures)
		}
	}
}

// A photo's Content Credentials, as the exif role read them, show in its
// status.
func TestPhotoStatusShowsProvenance(t *testing.T) {
	at := time.Now()
	ref := contract.Ref{Gallery: "g", Photo: "a.jpg", ETag: "e1"}
	s := gallery.New("g")
	s.ApplyUploaded(contract.PhotoUploaded{Ref: ref, UploadedAt: at}, at)
	if ps := photoStatus(s.PhotoProgress(gallery.MPhoto{File: "a.jpg"})); ps.Provenance != nil {
		t.Fatalf("provenance before the exif result: %+v", ps.Provenance)
	}
	p := &contract.Provenance{State: contract.ProvenanceInvalid, Codes: []string{"assertion.dataHash.mismatch"}}
	s.ApplyExif(contract.PhotoExif{Ref: ref, Exif: contract.ExifData{Format: "jpeg", Provenance: p}}, at)
	if ps := photoStatus(s.PhotoProgress(gallery.MPhoto{File: "a.jpg"})); ps.Provenance == nil || ps.Provenance.State != "invalid" {
		t.Errorf("provenance %+v, want the exif result's", ps.Provenance)
	}
}
