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
