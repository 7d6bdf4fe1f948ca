package api

import (
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/photodesk/photodesk/pipeline/contract"
	"github.com/photodesk/photodesk/pipeline/gallery"
)

// TestPhotoStatusFollowsTheStageTable: a photo's stages in GET
// /v1/galleries/{id} are exactly the photo stages of contract.Stages, and
// each one's failure shows as failed with its reason.
func TestPhotoStatusFollowsTheStageTable(t *testing.T) {
	now := time.Now()
	var photo []string
	for _, st := range contract.Stages {
		if st.Result != "" {
			photo = append(photo, st.Name)
		}
	}
	ref := contract.Ref{Gallery: "g", Photo: "a.jpg", ETag: "e1"}
	for _, failed := range photo {
		s := gallery.New("g")
		s.ApplyUploaded(contract.PhotoUploaded{Ref: ref, UploadedAt: now}, now)
		ps := photoStatus(s.PhotoProgress(gallery.MPhoto{File: "a.jpg"}))
		if got := slices.Sorted(maps.Keys(ps.Stages)); !slices.Equal(got, slices.Sorted(slices.Values(photo))) {
			t.Fatalf("stages %v, want the photo stages %v", got, photo)
		}
		for _, st := range photo {
			if ps.Stages[st] != "pending" {
				t.Errorf("%s: %q before any result", st, ps.Stages[st])
			}
		}
		s.ApplyFailure(contract.Failure{Ref: ref, Stage: failed, Reason: "bad input"}, now)
		ps = photoStatus(s.PhotoProgress(gallery.MPhoto{File: "a.jpg"}))
		if len(ps.Stages) != len(photo) || ps.Stages[failed] != "failed" || ps.Failures[failed] != "bad input" || len(ps.Failures) != 1 {
			t.Errorf("%s failed: stages %v, failures %v", failed, ps.Stages, ps.Failures)
		}
	}
}
