package gallery

import (
	"fmt"
	"strings"

	"github.com/photodesk/photodesk/pipeline/contract"
)

// Refocus is a photo whose crops were made around another focal point
// than the manifest now gives it (the manifest came, or changed, after
// they were made): the record waits while the image stages that made them
// make them again.
type Refocus struct {
	Name   string
	Photo  *Photo
	Result *Result
	// Focus is the manifest's focal point for the photo; nil: none.
	Focus *contract.Focus
	// Stages are the stages whose crops are stale.
	Stages []string
}

// StaleCrops names the image stages whose crops of this version were made
// around another focal point than focus (the manifest's for the photo;
// nil: it gives none, and crops made around an earlier one are stale).
func (r *Result) StaleCrops(focus *contract.Focus) []string {
	if r == nil {
		return nil
	}
	var out []string
	for _, st := range []string{contract.StageRenditions, contract.StageWatermark} {
		_, derivs := r.slot(st)
		for _, d := range *derivs {
			if d.Aspect != "" && cropStale(d.Focus, focus) {
				out = append(out, st)
				break
			}
		}
	}
	return out
}

// StageCrops names a photo held because its crops could not use the image
// region embedded in its original.
const StageCrops = "crops"

// regionRefused is why the photo's crops could not use the image region
// embedded in its original (outside the picture, unreadable); "" when they
// could or it has none. Such a photo holds the gallery rather than going
// out cropped around a guess: a focal point in gallery.json settles it
// (the crops are then stale and made again around it).
func (r *Result) regionRefused() string {
	if r == nil {
		return ""
	}
	for _, d := range append(append([]contract.Derivative(nil), r.Renditions...), r.Watermarked...) {
		if d.Aspect != "" && d.Note != "" {
			// The way out first: status lines are cut.
			return `its crops need a "focus" in gallery.json: ` + d.Note
		}
	}
	return ""
}

func cropStale(made, want *contract.Focus) bool {
	if want == nil {
		return made != nil && made.Source == contract.FocusGallery
	}
	return !contract.SameFocus(made, want)
}

// refocus holds pp back when its crops are stale, saying so in rd.
func (rd *Readiness) refocus(m *Manifest, pp PhotoProgress) bool {
	want := m.FocusOf(pp.Name)
	stale := pp.Result.StaleCrops(want)
	if len(stale) == 0 {
		return false
	}
	rd.Refocus = append(rd.Refocus, Refocus{Name: pp.Name, Photo: pp.Photo, Result: pp.Result, Focus: want, Stages: stale})
	what := "no focal point"
	if want != nil {
		what = "focal point " + contract.FocusKey(want)
	}
	rd.Waiting = append(rd.Waiting, fmt.Sprintf("%s: crops for its %s (%s)", pp.Name, what, strings.Join(stale, ", ")))
	return true
}
