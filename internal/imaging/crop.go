package imaging

import (
	"fmt"
	"math"

	"github.com/davidbyttow/govips/v2/vips"

	"github.com/photodesk/photodesk/pipeline/contract"
)

// decodeEdge is the long edge a preset decodes the upright w×h picture
// at: its size, or for a crop the long edge at which the picture covers
// the crop's box, one pixel over so that rounding the short edge never
// leaves it a pixel short. 0 is the original's size.
func (p Preset) decodeEdge(w, h int) int {
	if !p.Crop() || w <= 0 || h <= 0 {
		return p.Size
	}
	bw, bh := p.Aspect.Box(p.Size)
	scale := max(float64(bw)/float64(w), float64(bh)/float64(h))
	return int(math.Ceil(float64(max(w, h))*scale)) + 1
}

// crop cuts a crop preset's box out of the decode, which covers it (or,
// from an original too small for it, the largest box of its aspect that
// fits: never upscaled). The box is centred on the focus as nearly as the
// picture's edges allow; with no focus, libvips' attention-based smart
// crop places it, and the focus reported is the box's centre.
func crop(r *render) error {
	if !r.preset.Crop() {
		return nil
	}
	img := r.img
	w, h := img.Width(), img.Height()
	bw, bh := r.preset.Aspect.Box(r.preset.Size)
	if bw > w || bh > h {
		a := r.preset.Aspect
		bw, bh = w, int(math.Round(float64(w)*float64(a.H)/float64(a.W)))
		if bh > h {
			bw, bh = int(math.Round(float64(h)*float64(a.W)/float64(a.H))), h
		}
		bw, bh = max(1, min(bw, w)), max(1, min(bh, h))
	}
	f, note := r.src.focus(r.opts.Focus)
	r.note = note
	if r.fromBase && (f == nil || len(r.formats) > 1) {
		// A resize of the kept decode is lazy: without this, the smart
		// crop and then each format would each resize it again.
		if err := toMemory(r); err != nil {
			return err
		}
		img = r.img
	}
	if f == nil {
		return smartCrop(r, bw, bh)
	}
	left := clamp(int(math.Round(f.X*float64(w)-float64(bw)/2)), 0, w-bw)
	top := clamp(int(math.Round(f.Y*float64(h)-float64(bh)/2)), 0, h-bh)
	if err := img.ExtractArea(left, top, bw, bh); err != nil {
		return fmt.Errorf("crop %s: %s", r.preset.Name, vipsErr(err))
	}
	r.focus = f
	return nil
}

// smartCrop lets libvips choose the box by attention (edges, skin tones
// and saturated colour) and reports its centre. libvips' extract_area,
// which smartcrop ends in, leaves the box's position in the image's
// offsets, negated.
func smartCrop(r *render, bw, bh int) error {
	img := r.img
	w, h := img.Width(), img.Height()
	x0, y0 := img.OffsetX(), img.OffsetY()
	if err := img.SmartCrop(bw, bh, vips.InterestingAttention); err != nil {
		return fmt.Errorf("smart crop %s: %s", r.preset.Name, vipsErr(err))
	}
	left := clamp(x0-img.OffsetX(), 0, w-bw)
	top := clamp(y0-img.OffsetY(), 0, h-bh)
	r.focus = &contract.Focus{
		X:      round3((float64(left) + float64(bw)/2) / float64(w)),
		Y:      round3((float64(top) + float64(bh)/2) / float64(h)),
		Source: contract.FocusAttention,
	}
	return nil
}

// focus is the centre of interest of the photo's crops, first of: the
// gallery's focal point, the embedded image region, none (attention).
// note says why an embedded region was not used.
func (s *Source) focus(given *contract.Focus) (f *contract.Focus, note string) {
	if given != nil {
		g := *given
		g.Source = contract.FocusGallery
		return &g, ""
	}
	if s.Region != nil {
		x, y, err := s.Region.Centre(s.Width, s.Height)
		if err == nil {
			return &contract.Focus{X: round3(x), Y: round3(y), Source: contract.FocusRegion}, ""
		}
		note = fmt.Sprintf("embedded image region not used: %v", err)
	}
	if s.RegionNote != "" {
		note = s.RegionNote
	}
	return nil, note
}

func clamp(v, lo, hi int) int { return max(lo, min(v, hi)) }

// round3 keeps a focus to a thousandth of the picture: finer than a pixel
// of any crop, and what an editor reads.
func round3(v float64) float64 { return math.Round(v*1000) / 1000 }
