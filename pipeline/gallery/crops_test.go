package gallery

import (
	"strings"
	"testing"
	"time"

	"github.com/photodesk/photodesk/pipeline/contract"
)

// TestStaleCropsHoldThePhoto: a photo whose crops were made around
// another focal point than the manifest now gives (or around one it no
// longer gives) waits, named in Waiting and Refocus with the stages to
// ask; crops made around the manifest's point, or by attention or region
// when it gives none, do not hold it.
func TestStaleCropsHoldThePhoto(t *testing.T) {
	now := time.Date(2026, 7, 28, 1, 0, 0, 0, time.UTC)
	at := func(x, y float64, src string) *contract.Focus { return &contract.Focus{X: x, Y: y, Source: src} }
	x, y := 0.3, 0.6
	withFocus := &Manifest{Headline: "h", Photos: []MPhoto{{File: "a.jpg", Focus: &Focus{X: &x, Y: &y}}}}
	without := &Manifest{Headline: "h", Photos: []MPhoto{{File: "a.jpg"}}}
	for _, c := range []struct {
		name       string
		m          *Manifest
		crop, wcrp *contract.Focus // the renditions' and the watermark's crop (nil: the watermark makes none)
		stale      string
	}{
		{"attention, no focal point", without, at(0.5, 0.4, contract.FocusAttention), nil, ""},
		{"region, no focal point", without, at(0.2, 0.2, contract.FocusRegion), nil, ""},
		{"attention, focal point came", withFocus, at(0.5, 0.4, contract.FocusAttention), nil, "renditions"},
		{"around the focal point", withFocus, at(0.3, 0.6, contract.FocusGallery), nil, ""},
		{"around an older focal point", withFocus, at(0.3, 0.5, contract.FocusGallery), nil, "renditions"},
		{"focal point gone", without, at(0.3, 0.6, contract.FocusGallery), nil, "renditions"},
		{"a marked crop stale too", withFocus, at(0.5, 0.5, contract.FocusAttention), at(0.5, 0.5, contract.FocusAttention), "renditions, watermark"},
		{"only the marked crop stale", withFocus, at(0.3, 0.6, contract.FocusGallery), at(0.5, 0.5, contract.FocusRegion), "watermark"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := New("g")
			s.ApplyManifest("m", now, c.m, "")
			ref := contract.Ref{Gallery: "g", Photo: "a.jpg", Bucket: "originals", Key: "g/a.jpg", ETag: "e1"}
			s.ApplyUploaded(contract.PhotoUploaded{Ref: ref, UploadedAt: now}, now)
			s.ApplyExif(contract.PhotoExif{Ref: ref}, now)
			derivs := func(role string, f *contract.Focus) contract.PhotoDerivatives {
				ds := []contract.Derivative{{Preset: "large", Format: "jpeg", Key: "g/a.jpg/large.jpg", ETag: "x"}}
				if f != nil {
					ds = append(ds, contract.Derivative{Preset: "crop1x1", Format: "jpeg", Key: "g/a.jpg/crop1x1.jpg", ETag: "y", Aspect: "1:1", Focus: f})
				}
				return contract.PhotoDerivatives{Ref: ref, Role: role, Source: contract.ImageSource{Size: 99}, Derivatives: ds}
			}
			s.ApplyDerivatives(derivs(contract.StageRenditions, c.crop), now)
			s.ApplyDerivatives(derivs(contract.StageWatermark, c.wcrp), now)
			rd := s.Evaluate()
			if c.stale == "" {
				if !rd.Ready || len(rd.Refocus) != 0 {
					t.Fatalf("not ready: waiting %v, refocus %+v", rd.Waiting, rd.Refocus)
				}
				return
			}
			if rd.Ready || len(rd.Refocus) != 1 || strings.Join(rd.Refocus[0].Stages, ", ") != c.stale || rd.Refocus[0].Photo.ETag != "e1" || rd.Refocus[0].Result.Source.Size != 99 {
				t.Fatalf("ready %v, refocus %+v; want a.jpg held for %s", rd.Ready, rd.Refocus, c.stale)
			}
			want := "a.jpg: crops for its no focal point (" + c.stale + ")"
			if c.m == withFocus {
				want = "a.jpg: crops for its focal point 0.3,0.6 (" + c.stale + ")"
				if !contract.SameFocus(rd.Refocus[0].Focus, at(0.3, 0.6, contract.FocusGallery)) {
					t.Errorf("refocus to %+v", rd.Refocus[0].Focus)
				}
			}
			if len(rd.Waiting) != 1 || rd.Waiting[0] != want {
				t.Errorf("waiting %q, want %q", rd.Waiting, want)
			}
		})
	}
}

// TestUnusableRegionHoldsThePhoto: crops that could not use the region
// embedded in the original (outside the picture) hold the gallery with the
// reason and the way out; a focal point in gallery.json makes them stale,
// and crops made around it release the gallery.
func TestUnusableRegionHoldsThePhoto(t *testing.T) {
	now := time.Date(2026, 7, 28, 1, 0, 0, 0, time.UTC)
	const note = "embedded image region not used: region 1 (subject area): its rectangle reaches outside the 1600×1200 picture"
	x, y := 0.3, 0.6
	s := New("g")
	s.ApplyManifest("m1", now, &Manifest{Headline: "h", Photos: []MPhoto{{File: "a.jpg"}, {File: "b.jpg"}}}, "")
	render := func(photo string, f *contract.Focus, note string) {
		ref := contract.Ref{Gallery: "g", Photo: photo, Bucket: "originals", Key: "g/" + photo, ETag: "e-" + photo}
		s.ApplyUploaded(contract.PhotoUploaded{Ref: ref, UploadedAt: now}, now)
		s.ApplyExif(contract.PhotoExif{Ref: ref}, now)
		for _, role := range []string{contract.StageRenditions, contract.StageWatermark} {
			ds := []contract.Derivative{{Preset: "large", Format: "jpeg", Key: "g/" + photo + "/" + role + ".jpg", ETag: "x"}}
			if role == contract.StageWatermark {
				// Only the marked crop is told: either holds the photo.
				ds = append(ds, contract.Derivative{Preset: "crop1x1", Format: "jpeg", Watermarked: true, Key: "g/" + photo + "/crop.jpg", ETag: "y", Aspect: "1:1", Focus: f, Note: note})
			}
			s.ApplyDerivatives(contract.PhotoDerivatives{Ref: ref, Role: role, Derivatives: ds}, now)
		}
	}
	render("a.jpg", &contract.Focus{X: 0.5, Y: 0.5, Source: contract.FocusAttention}, note)
	render("b.jpg", &contract.Focus{X: 0.5, Y: 0.5, Source: contract.FocusAttention}, "")
	rd := s.Evaluate()
	if rd.Ready || len(rd.Failed) != 1 || rd.Failed[0].Photo != "a.jpg" || rd.Failed[0].Stage != StageCrops ||
		rd.Failed[0].Reason != `its crops need a "focus" in gallery.json: `+note {
		t.Fatalf("ready %v, failed %+v; want a.jpg held for its region", rd.Ready, rd.Failed)
	}
	if !HeldByRule(rd.Failed[0]) {
		t.Errorf("a crops hold is not reported as a rule's")
	}
	if len(rd.Entries) != 1 || rd.Entries[0].Name != "b.jpg" {
		t.Errorf("entries %+v, want b.jpg alone", rd.Entries)
	}

	s.ApplyManifest("m2", now, &Manifest{Headline: "h", Photos: []MPhoto{{File: "a.jpg", Focus: &Focus{X: &x, Y: &y}}, {File: "b.jpg"}}}, "")
	rd = s.Evaluate()
	if rd.Ready || len(rd.Failed) != 0 || len(rd.Refocus) != 1 || rd.Refocus[0].Name != "a.jpg" {
		t.Fatalf("with a focus: ready %v, failed %+v, refocus %+v; want a.jpg's crops asked again", rd.Ready, rd.Failed, rd.Refocus)
	}
	render("a.jpg", &contract.Focus{X: x, Y: y, Source: contract.FocusGallery}, "")
	if rd = s.Evaluate(); !rd.Ready {
		t.Fatalf("crops around the focus: not ready: waiting %v, failed %+v", rd.Waiting, rd.Failed)
	}
}
