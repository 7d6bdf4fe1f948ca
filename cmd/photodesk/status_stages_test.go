package main

import (
	"slices"
	"testing"
	"time"

	"github.com/photodesk/photodesk/pipeline/contract"
	"github.com/photodesk/photodesk/pipeline/gallery"
)

// TestStatusColumnsFollowTheStageTable: `photodesk status` says a photo
// lacks exactly the photo stages of contract.Stages, names each one's
// failure, and calls the gallery held only for a stage that holds it
// (HoldsGallery: renditions, watermark; not exif).
func TestStatusColumnsFollowTheStageTable(t *testing.T) {
	now := time.Now()
	var photo []string
	for _, st := range contract.Stages {
		if st.Result != "" {
			photo = append(photo, st.Name)
		}
	}
	ref := contract.Ref{Gallery: "g", Photo: "a.jpg", ETag: "a1"}
	fresh := func() *gallery.State {
		st := gallery.New("g")
		st.ApplyManifest("m", now, &gallery.Manifest{Headline: "h", Photos: []gallery.MPhoto{{File: "a.jpg"}}}, "")
		st.ApplyUploaded(contract.PhotoUploaded{Ref: ref, UploadedAt: now}, now)
		return st
	}
	g, ok := progressOf(fresh())
	if !ok || len(g.Missing) != 1 || !slices.Equal(g.Missing[0].Stages, photo) || len(g.Failed) != 0 {
		t.Fatalf("nothing done: missing %+v, failed %+v; want the photo stages %v", g.Missing, g.Failed, photo)
	}
	for _, stage := range contract.Stages {
		if stage.Result == "" {
			continue
		}
		st := fresh()
		st.ApplyFailure(contract.Failure{Ref: ref, Stage: stage.Name, Reason: "bad input"}, now)
		g, _ := progressOf(st)
		var lack []string
		for _, name := range photo {
			if name != stage.Name {
				lack = append(lack, name)
			}
		}
		if len(g.Failed) != 1 || g.Failed[0].Stage != stage.Name || len(g.Missing) != 1 || !slices.Equal(g.Missing[0].Stages, lack) {
			t.Errorf("%s failed: missing %+v, failed %+v", stage.Name, g.Missing, g.Failed)
		}
		if held := g.State == "held"; held != stage.HoldsGallery {
			t.Errorf("%s failed: state %s, the table says it holds the gallery: %v", stage.Name, g.State, stage.HoldsGallery)
		}
	}
}
