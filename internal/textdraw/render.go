// Package textdraw draws text into an RGBA overlay: the newsroom's
// watermark, which internal/imaging composites onto photos with libvips.
//
// The overlay is white glyphs over a soft black halo, so it reads on bright
// skies and night shots alike. The default font (Droid Sans Fallback) is
// embedded in the binary so CJK text renders on a machine with no fonts
// installed. Glyph outlines come from golang.org/x/image/font/sfnt and are
// rasterised with golang.org/x/image/vector; the halo and the compositing
// are integer arithmetic. The same text, font and arguments always give the
// same bytes.
package textdraw

import (
	"errors"
	"fmt"
	"image"
	"image/draw"
	"math"

	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"
	"golang.org/x/image/vector"
)

const (
	// minPx and maxPx bound the em size accepted by Render. Below 4 px no
	// glyph is legible; at 1024 px DefaultText is already 7000 px wide, and
	// beyond it the scratch planes grow past a hundred MB.
	minPx = 4
	maxPx = 1024
	// maxPixels caps the working canvas (width*height) so a very long text
	// at a large size fails cleanly instead of exhausting memory.
	maxPixels = 64 << 20
	// cropPad is the transparent margin kept around the ink and halo.
	cropPad = 2
)

// Text returns the text.
func (m *Marker) Text() string { return m.text }

// Render draws the text with its em size = px pixels (px >= 4; clamp or error below),
// as white (or near-white) glyphs at the given opacity (0..1] with a soft dark halo
// (shadow and/or outline, e.g. dilated + blurred alpha in black at a lower opacity) so it reads on white
// and on black backgrounds. The returned image is image.NRGBA (non-premultiplied) with
// its bounds starting at (0,0), tightly enclosing the ink including the halo plus a
// small padding; transparent (alpha 0) everywhere else.
//
// px outside [4, 1024] and opacity outside (0, 1] are errors. The bounds
// depend on px only, not on opacity, so callers can place the overlay before
// choosing its strength. The halo is the glyph coverage dilated by 6% of the
// em, blurred by 3.5% and amplified 1.5×, drawn in black at 72% of the
// text's opacity underneath the white glyphs (so the glyph interiors are
// grey, not white, at opacity below 1). At large sizes the halo is computed
// at 1/2, 1/4... of the resolution and upsampled: it is soft, and that keeps
// px 300 to a few milliseconds.
func (m *Marker) Render(px float64, opacity float64) (*image.NRGBA, error) {
	return m.render(px, opacity, haloStrength)
}

// render is Render with the halo's relative opacity as a parameter, so tests
// can show what a missing or weak halo would look like.
func (m *Marker) render(px, opacity, haloRel float64) (*image.NRGBA, error) {
	if m == nil || len(m.glyphs) == 0 {
		return nil, errors.New("mark: Marker not made by New")
	}
	if !(px >= minPx && px <= maxPx) { // also rejects NaN
		return nil, fmt.Errorf("mark: size %v px outside [%d, %d]", px, minPx, maxPx)
	}
	if !(opacity > 0 && opacity <= 1) {
		return nil, fmt.Errorf("mark: opacity %v outside (0, 1]", opacity)
	}

	s, _ := m.pool.Get().(*scratch)
	if s == nil {
		s = &scratch{}
	}
	defer m.pool.Put(s)

	// Lay out: outline points in pixels, pen at y = 0 on the baseline.
	scale := px / refPPEM / 64
	s.path = s.path[:0]
	minX, minY := math.Inf(1), math.Inf(1)
	maxX, maxY := math.Inf(-1), math.Inf(-1)
	var pen fixed.Int26_6
	for i := range m.glyphs {
		g := &m.glyphs[i]
		pen += g.kern
		ox := pen + g.dx
		pen += g.advance
		for _, sg := range g.segs {
			n := 1
			switch sg.Op {
			case sfnt.SegmentOpQuadTo:
				n = 2
			case sfnt.SegmentOpCubeTo:
				n = 3
			}
			op := pathOp{op: sg.Op}
			for j := 0; j < n; j++ {
				x := float64(sg.Args[j].X+ox) * scale
				y := float64(sg.Args[j].Y) * scale
				op.pts[j] = [2]float64{x, y}
				// Control points bound the curve, so this box holds all ink.
				minX, maxX = math.Min(minX, x), math.Max(maxX, x)
				minY, maxY = math.Min(minY, y), math.Max(maxY, y)
			}
			s.path = append(s.path, op)
		}
	}
	if len(s.path) == 0 {
		return nil, errors.New("mark: text has no ink")
	}

	hp := newHaloParams(px)
	pad := hp.reach() + cropPad
	x0, y0 := math.Floor(minX), math.Floor(minY)
	w := int(math.Ceil(maxX)-x0) + 2*pad
	h := int(math.Ceil(maxY)-y0) + 2*pad
	// Whole low-resolution halo samples: round the canvas up to a multiple of k.
	w, h = (w+hp.k-1)/hp.k*hp.k, (h+hp.k-1)/hp.k*hp.k
	if w <= 0 || h <= 0 || w > maxPixels/h {
		return nil, fmt.Errorf("mark: %dx%d px canvas too large", w, h)
	}
	tx, ty := float64(pad)-x0, float64(pad)-y0

	// Glyph coverage, and the halo's source: the same outlines drawn again
	// at 1/k resolution.
	cov := s.draw(&s.cov, w, h, tx, ty, 1)
	var low []uint8
	if hp.k > 1 {
		low = s.draw(&s.low, w/hp.k, h/hp.k, tx, ty, 1/float64(hp.k))
	} else {
		low = append(grow(&s.low, 0), cov...)
	}
	halo := s.makeHalo(low, w, h, hp)
	return compose(cov, halo, w, h, opacity, opacity*haloRel), nil
}

// draw rasterises s.path, translated by (tx, ty) and then scaled by scale,
// into a w×h coverage plane backed by *buf.
func (s *scratch) draw(buf *[]uint8, w, h int, tx, ty, scale float64) []uint8 {
	if s.rast == nil {
		s.rast = vector.NewRasterizer(w, h)
	} else {
		s.rast.Reset(w, h)
	}
	s.rast.DrawOp = draw.Src
	started := false
	for _, p := range s.path {
		pt := func(j int) (float32, float32) {
			return float32((p.pts[j][0] + tx) * scale), float32((p.pts[j][1] + ty) * scale)
		}
		switch p.op {
		case sfnt.SegmentOpMoveTo:
			if started {
				s.rast.ClosePath()
			}
			started = true
			s.rast.MoveTo(pt(0))
		case sfnt.SegmentOpLineTo:
			s.rast.LineTo(pt(0))
		case sfnt.SegmentOpQuadTo:
			bx, by := pt(0)
			cx, cy := pt(1)
			s.rast.QuadTo(bx, by, cx, cy)
		case sfnt.SegmentOpCubeTo:
			bx, by := pt(0)
			cx, cy := pt(1)
			dx, dy := pt(2)
			s.rast.CubeTo(bx, by, cx, cy, dx, dy)
		}
	}
	s.rast.ClosePath()
	dst := &image.Alpha{Pix: grow(buf, w*h), Stride: w, Rect: image.Rect(0, 0, w, h)}
	s.rast.Draw(dst, dst.Rect, image.Opaque, image.Point{})
	return dst.Pix
}

// pathOp is one outline segment in pixel coordinates.
type pathOp struct {
	op  sfnt.SegmentOp
	pts [3][2]float64
}

// scratch is per-Render working memory, recycled through Marker.pool.
type scratch struct {
	path []pathOp
	rast *vector.Rasterizer
	cov  []uint8
	low  []uint8 // halo at 1/k resolution
	up   []int32 // low rows upsampled horizontally
	halo []uint8
	line []int32
}

// compose draws white text (coverage cov at opacity opText) over the black
// halo (at opacity opHalo) and crops to the non-transparent area plus
// cropPad. The crop is taken from the coverage and halo planes, before
// opacity, so it does not depend on opacity.
//
// Fixed point: alphas are in units of S = 255·2¹⁶, the "over" result in S².
func compose(cov, halo []uint8, w, h int, opText, opHalo float64) *image.NRGBA {
	const S = 255 << 16
	opT := uint64(math.Round(opText * (1 << 16)))
	opH := uint64(math.Round(opHalo * (1 << 16)))

	// over returns the non-premultiplied grey and the alpha of white text
	// of coverage cv over black halo of value hv.
	over := func(cv, hv uint8) (c, a8 uint8) {
		ta := uint64(cv) * opT // text alpha, S units
		ha := uint64(hv) * opH
		a := ta*S + ha*(S-ta) // over, S² units
		a8 = uint8((a*255 + S*S/2) / (S * S))
		if a8 == 0 {
			return 0, 0
		}
		return uint8((255*ta*S + a/2) / a), a8 // white premultiplied by ta, unpremultiplied
	}
	// Most pixels are outside the glyphs (cv = 0) or inside them (cv =
	// 255); tabulate those two by halo value.
	var outside, inside [256][2]uint8
	for v := range 256 {
		c, a := over(0, uint8(v))
		outside[v] = [2]uint8{c, a}
		c, a = over(255, uint8(v))
		inside[v] = [2]uint8{c, a}
	}

	// Bounding box of everything non-zero: each row is scanned in from both
	// ends, which stops at the halo's edge instead of reading every pixel.
	x0, y0, x1, y1 := w, h, -1, -1
	for y := 0; y < h; y++ {
		c, hl := cov[y*w:y*w+w], halo[y*w:y*w+w]
		l := 0
		for l < w && c[l]|hl[l] == 0 {
			l++
		}
		if l == w {
			continue
		}
		r := w - 1
		for c[r]|hl[r] == 0 {
			r--
		}
		x0, x1 = min(x0, l), max(x1, r)
		y0, y1 = min(y0, y), max(y1, y)
	}
	// The canvas is padded by more than cropPad beyond any ink or halo.
	x0, y0 = max(0, x0-cropPad), max(0, y0-cropPad)
	x1, y1 = min(w-1, x1+cropPad), min(h-1, y1+cropPad)
	out := image.NewNRGBA(image.Rect(0, 0, x1-x0+1, y1-y0+1))
	for y := y0; y <= y1; y++ {
		o := out.Pix[(y-y0)*out.Stride : (y-y0+1)*out.Stride]
		cr, hr := cov[y*w+x0:y*w+x1+1], halo[y*w+x0:y*w+x1+1]
		for x, cv := range cr {
			var c, a uint8
			switch cv {
			case 0:
				c, a = outside[hr[x]][0], outside[hr[x]][1]
			case 255:
				c, a = inside[hr[x]][0], inside[hr[x]][1]
			default:
				c, a = over(cv, hr[x])
			}
			px := o[4*x : 4*x+4 : 4*x+4]
			px[0], px[1], px[2], px[3] = c, c, c, a
		}
	}
	return out
}
