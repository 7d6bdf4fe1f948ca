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
	_ "embed"
	"errors"
	"fmt"
	"image"
	"image/draw"
	"math"
	"math/bits"
	"os"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/image/font"
	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"
	"golang.org/x/image/vector"
)

// DefaultText is the newsroom's source line.
const DefaultText = "来源:工人日报"

// defaultFont is Droid Sans Fallback (Apache-2.0); see fonts/README.md.
//
//go:embed fonts/DroidSansFallbackFull.ttf
var defaultFont []byte

const (
	// minPx and maxPx bound the em size accepted by Render. Below 4 px no
	// glyph is legible; at 1024 px DefaultText is already 7000 px wide, and
	// beyond it the scratch planes grow past a hundred MB.
	minPx = 4
	maxPx = 1024
	// maxPixels caps the working canvas (width*height) so a very long text
	// at a large size fails cleanly instead of exhausting memory.
	maxPixels = 64 << 20

	// refPPEM is the em size, in pixels, at which outlines and metrics are
	// loaded once in New and later scaled to the requested size. 512 keeps
	// 1/32768 em precision without overflowing sfnt's 26.6 arithmetic for
	// any coordinate a font can hold (int16 units).
	refPPEM = 512

	// haloStrength is the halo's opacity relative to the text's: strong
	// enough that the dark ring reads on white, light enough that it looks
	// like a shadow rather than a black box.
	haloStrength = 0.72
	// haloDilate and haloBlur, as fractions of the em size, set how far the
	// halo spreads (a dilation of the glyph coverage) and how softly it
	// fades out (three box-blur passes of this radius, close to a Gaussian
	// of the same sigma).
	haloDilate = 0.06
	haloBlur   = 0.035
	// haloGain (in 1/256) multiplies the blurred halo before clamping to
	// 255, so the band next to the strokes stays solid at small sizes,
	// where the blur is as wide as the dilation.
	haloGain = 384
	// cropPad is the transparent margin kept around the ink and halo.
	cropPad = 2
)

// LoadFont returns the font file at path, or the embedded default when path is "".
//
// The returned slice is the caller's own copy: New keeps a reference to it,
// so it must not be modified afterwards. The file is checked to parse as a
// TrueType/OpenType font (or collection) so a bad configuration fails here,
// with the path in the error.
func LoadFont(path string) ([]byte, error) {
	if path == "" {
		return append([]byte(nil), defaultFont...), nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("mark: load font: %w", err)
	}
	if _, err := parseFont(b); err != nil {
		return nil, fmt.Errorf("mark: load font %s: %w", path, err)
	}
	return b, nil
}

// parseFont parses a single font, or the first font of a collection (.ttc).
func parseFont(b []byte) (*sfnt.Font, error) {
	f, err := sfnt.Parse(b)
	if err == nil {
		return f, nil
	}
	c, cerr := sfnt.ParseCollection(b)
	if cerr != nil || c.NumFonts() < 1 {
		return nil, err
	}
	return c.Font(0)
}

// Marker is a parsed font plus the text to draw; safe for concurrent use.
//
// Everything Render needs from the font (outlines, advances, kerning) is
// extracted once by New, so Render never touches the font again: a Marker is
// immutable after New, and per-call scratch memory comes from a sync.Pool.
type Marker struct {
	text   string
	glyphs []glyph
	pool   sync.Pool // of *scratch
}

// glyph is one laid-out rune. Lengths are in 26.6 pixels at refPPEM.
type glyph struct {
	r       rune
	index   sfnt.GlyphIndex
	segs    []sfnt.Segment // outline, y down, origin at the pen position
	advance fixed.Int26_6
	kern    fixed.Int26_6 // adjustment before this glyph (pair with previous)
	dx      fixed.Int26_6 // horizontal shift of the outline from the pen
	ink     bool          // outline is non-empty
}

// New parses the font and checks the text: empty text, control characters or
// invalid UTF-8 are errors, and so is any rune the font has no glyph for (the
// error names every missing rune with its U+XXXX code) — a missing glyph must be an
// error at start-up, never a silent box (.notdef). Whitespace runes are fine.
//
// Space separators (Unicode Zs) the font lacks are laid out as blank advances.
// A printable ASCII rune (U+0021..U+007E) the font lacks is drawn with the
// font's fullwidth form of it (U+FF01..U+FF5E, its compatibility equivalent),
// re-spaced to proportional width: CJK fonts such as the embedded Droid Sans
// Fallback carry no ASCII glyphs at all, so this is how the ASCII colon of
// DefaultText gets a real colon rather than an error. Line and paragraph
// separators are rejected like control characters: the mark is one line.
func New(text string, font []byte) (*Marker, error) {
	if text == "" {
		return nil, errors.New("mark: empty text")
	}
	if !utf8.ValidString(text) {
		return nil, errors.New("mark: text is not valid UTF-8")
	}
	visible := false
	for i, r := range text {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return nil, fmt.Errorf("mark: text has control character %U at byte %d", r, i)
		}
		if !unicode.IsSpace(r) {
			visible = true
		}
	}
	if !visible {
		return nil, errors.New("mark: text has only whitespace")
	}
	if len(font) == 0 {
		return nil, errors.New("mark: empty font")
	}
	f, err := parseFont(font)
	if err != nil {
		return nil, fmt.Errorf("mark: parse font: %w", err)
	}

	var buf sfnt.Buffer
	var items []item
	var missing []string
	seen := map[rune]bool{}
	for _, r := range text {
		it, ok, err := lookup(f, &buf, r)
		if err != nil {
			return nil, fmt.Errorf("mark: glyph for %U %q: %w", r, r, err)
		}
		if !ok {
			if !seen[r] {
				seen[r] = true
				missing = append(missing, fmt.Sprintf("%U %q", r, r))
			}
			continue
		}
		items = append(items, it)
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("mark: font has no glyph for %s", strings.Join(missing, ", "))
	}
	glyphs, err := build(f, &buf, items)
	if err != nil {
		return nil, err
	}
	return &Marker{text: text, glyphs: glyphs}, nil
}

// item is a rune resolved to a glyph, before its outline is loaded.
type item struct {
	r     rune
	index sfnt.GlyphIndex
	blank fixed.Int26_6 // >0: a space the font lacks, drawn as this advance (em = 64)
	fit   bool          // fullwidth stand-in for ASCII: respace to proportional width
}

// lookup resolves r; ok is false when the font cannot draw it.
func lookup(f *sfnt.Font, buf *sfnt.Buffer, r rune) (it item, ok bool, err error) {
	gi, err := f.GlyphIndex(buf, r)
	if err != nil {
		return item{}, false, err
	}
	if gi != 0 {
		return item{r: r, index: gi}, true, nil
	}
	if r >= 0x21 && r <= 0x7e {
		if gi, err = f.GlyphIndex(buf, r-0x21+0xff01); err != nil {
			return item{}, false, err
		}
		if gi != 0 {
			return item{r: r, index: gi, fit: true}, true, nil
		}
	}
	if unicode.Is(unicode.Zs, r) {
		if r == '\u3000' { // ideographic space is one em wide by definition
			return item{r: r, blank: 64}, true, nil
		}
		if sp, err := f.GlyphIndex(buf, ' '); err == nil && sp != 0 {
			return item{r: r, index: sp}, true, nil
		}
		return item{r: r, blank: 16}, true, nil // a quarter em
	}
	return item{}, false, nil
}

// build loads outlines and metrics at refPPEM. A glyph the rasteriser cannot
// use (a colour bitmap, a malformed outline) is an error here, not at Render.
func build(f *sfnt.Font, buf *sfnt.Buffer, items []item) ([]glyph, error) {
	const ppem = fixed.Int26_6(refPPEM << 6)
	glyphs := make([]glyph, 0, len(items))
	ink := false
	// The previous glyph, for kerning; none after a blank or a stand-in.
	prev, hasPrev := sfnt.GlyphIndex(0), false
	for _, it := range items {
		g := glyph{r: it.r, index: it.index}
		if it.blank > 0 {
			g.advance = it.blank * refPPEM
			glyphs = append(glyphs, g)
			hasPrev = false
			continue
		}
		segs, err := f.LoadGlyph(buf, it.index, ppem, nil)
		if err != nil {
			return nil, fmt.Errorf("mark: load glyph %d for %U %q: %w", it.index, it.r, it.r, err)
		}
		g.segs = append([]sfnt.Segment(nil), segs...)
		g.ink = len(segs) > 0
		adv, err := f.GlyphAdvance(buf, it.index, ppem, font.HintingNone)
		if err != nil {
			return nil, fmt.Errorf("mark: advance of glyph %d for %U %q: %w", it.index, it.r, it.r, err)
		}
		g.advance = adv
		if it.fit && g.ink {
			// A fullwidth form sits centred in a one-em box; ASCII is
			// proportional. Keep the outline, give it an eighth of an em of
			// side bearing on each side of its ink.
			bb := sfnt.Segments(g.segs).Bounds()
			side := ppem / 8
			g.dx = side - bb.Min.X
			g.advance = bb.Max.X - bb.Min.X + 2*side
		}
		if hasPrev && !it.fit {
			k, err := f.Kern(buf, prev, it.index, ppem, font.HintingNone)
			if err != nil && !errors.Is(err, sfnt.ErrNotFound) {
				return nil, fmt.Errorf("mark: kerning before %U %q: %w", it.r, it.r, err)
			}
			if err == nil {
				g.kern = k
			}
		}
		glyphs = append(glyphs, g)
		prev, hasPrev = it.index, !it.fit
		ink = ink || g.ink
	}
	if !ink {
		return nil, errors.New("mark: the font draws no ink for this text")
	}
	return glyphs, nil
}

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

// haloParams sizes the halo for one em size. The halo is built at 1/k of
// the output resolution: it is a soft shape, so nothing is lost, and at
// large sizes the dilation and blur then cost k² times less.
type haloParams struct {
	k      int // downsampling factor, a power of two
	dilate int // dilation radius, low-resolution pixels
	blur   int // box-blur radius, low-resolution pixels
}

func newHaloParams(px float64) haloParams {
	rd := max(1, int(math.Round(px*haloDilate)))
	rb := max(1, int(math.Round(px*haloBlur)))
	// The largest power of two (so resampling divides by shifting) that
	// leaves at least one low-resolution pixel of blur.
	k := 1
	for 2*k <= rb {
		k *= 2
	}
	return haloParams{
		k:      k,
		dilate: max(1, int(math.Round(float64(rd)/float64(k)))),
		blur:   max(1, int(math.Round(float64(rb)/float64(k)))),
	}
}

// reach is how far, in output pixels, the halo can extend beyond the ink:
// a partly inked low-resolution pixel, the dilation, three box blurs and
// the bilinear upsampling's one low-resolution pixel.
func (p haloParams) reach() int { return (p.dilate+3*p.blur+2)*p.k + 1 }

// makeHalo turns low, the coverage at 1/p.k of the w×h output (w and h
// multiples of p.k), into the halo plane: dilate, blur, upsample
// bilinearly. low is overwritten.
func (s *scratch) makeHalo(low []uint8, w, h int, p haloParams) []uint8 {
	k := p.k
	lw, lh := w/k, h/k
	n := max(lw, lh)
	s.line = growInt(&s.line, max(3*(n+2*p.dilate), 2*(n+6*p.blur)))
	dilate(low, lw, lh, p.dilate, s.line)
	blur(low, lw, lh, p.blur, s.line)
	// Gain: the band next to the glyphs stays solid after blurring, and only
	// the outer part fades.
	for i, v := range low {
		low[i] = uint8(min(255, (int(v)*haloGain+128)>>8))
	}
	if k == 1 {
		return low
	}

	// Bilinear upsampling, separable. Output pixel x has its centre at
	// low-resolution coordinate (2x+1-k)/(2k), measured between low
	// sample centres; weights are in units of 2k per axis.
	k2 := 2 * k
	at := func(v []uint8, i int) int32 {
		if i < 0 || i >= len(v) {
			return 0
		}
		return int32(v[i])
	}
	up := growInt(&s.up, lh*w)
	for ly := 0; ly < lh; ly++ {
		lrow, urow := low[ly*lw:ly*lw+lw], up[ly*w:ly*w+w]
		for x := 0; x < w; x++ {
			n := 2*x + 1 - k
			i := floorDiv(n, k2)
			f := int32(n - i*k2)
			urow[x] = at(lrow, i)*(int32(k2)-f) + at(lrow, i+1)*f
		}
	}
	halo := grow(&s.halo, w*h)
	shift := uint(bits.TrailingZeros(uint(k2 * k2))) // k2² is a power of two
	round := int32(1) << shift >> 1
	for y := 0; y < h; y++ {
		n := 2*y + 1 - k
		j := floorDiv(n, k2)
		g := int32(n - j*k2)
		hrow := halo[y*w : y*w+w]
		w0, w1 := int32(k2)-g, g
		switch {
		case j >= 0 && j+1 < lh:
			r0, r1 := up[j*w:j*w+w], up[(j+1)*w:(j+1)*w+w]
			for x := range hrow {
				hrow[x] = uint8((r0[x]*w0 + r1[x]*w1 + round) >> shift)
			}
		case j >= 0 && j < lh: // below the last low row, which is zero anyway
			r0 := up[j*w : j*w+w]
			for x := range hrow {
				hrow[x] = uint8((r0[x]*w0 + round) >> shift)
			}
		case j+1 >= 0 && j+1 < lh: // above the first low row
			r1 := up[(j+1)*w : (j+1)*w+w]
			for x := range hrow {
				hrow[x] = uint8((r1[x]*w1 + round) >> shift)
			}
		default:
			clear(hrow)
		}
	}
	return halo
}

func floorDiv(a, b int) int {
	q := a / b
	if (a%b != 0) && (a < 0) {
		q--
	}
	return q
}

func grow(b *[]uint8, n int) []uint8 {
	if cap(*b) < n {
		*b = make([]uint8, n)
	}
	*b = (*b)[:n]
	return *b
}

func growInt(b *[]int32, n int) []int32 {
	if cap(*b) < n {
		*b = make([]int32, n)
	}
	*b = (*b)[:n]
	return *b
}

// dilate replaces each sample of the w×h plane p with the maximum over the
// (2r+1)² square around it (zero outside), as a horizontal then a vertical
// van Herk/Gil-Werman pass: three comparisons per sample whatever r is.
func dilate(p []uint8, w, h, r int, work []int32) {
	if r <= 0 {
		return
	}
	for y := 0; y < h; y++ {
		maxLine(p, y*w, 1, w, r, work)
	}
	for x := 0; x < w; x++ {
		maxLine(p, x, w, h, r, work)
	}
}

// maxLine is a running maximum of window 2r+1, in place, over the n
// samples p[off], p[off+stride], ... work must hold 3(n+2r) values.
func maxLine(p []uint8, off, stride, n, r int, work []int32) {
	win := 2*r + 1
	m := n + 2*r // the line padded with r zeros on each side
	x, g, hh := work[:m], work[m:2*m], work[2*m:3*m]
	clear(x[:r])
	clear(x[r+n:])
	for i := 0; i < n; i++ {
		x[r+i] = int32(p[off+i*stride])
	}
	// Per block of win samples: g = running max from the block's start,
	// hh = running max to its end. A window spans at most two blocks.
	for bs := 0; bs < m; bs += win {
		be := min(bs+win, m)
		g[bs] = x[bs]
		for j := bs + 1; j < be; j++ {
			g[j] = max(g[j-1], x[j])
		}
		hh[be-1] = x[be-1]
		for j := be - 2; j >= bs; j-- {
			hh[j] = max(hh[j+1], x[j])
		}
	}
	// The window of sample i is padded [i, i+2r].
	for i := 0; i < n; i++ {
		p[off+i*stride] = uint8(max(hh[i], g[i+2*r]))
	}
}

// blur applies three passes of a (2r+1)-wide box filter horizontally and
// then vertically, zero outside the plane: close to a Gaussian with sigma r.
func blur(p []uint8, w, h, r int, work []int32) {
	for y := 0; y < h; y++ {
		blurLine(p, y*w, 1, w, r, work)
	}
	for x := 0; x < w; x++ {
		blurLine(p, x, w, h, r, work)
	}
}

// blurLine is three (2r+1)-wide box filters over the n samples p[off],
// p[off+stride], ..., in place, summed exactly and rounded once. work must
// hold 2(n+6r) values.
func blurLine(p []uint8, off, stride, n, r int, work []int32) {
	e := 3 * r // reach of the three passes
	m := n + 2*e
	a, b := work[:m], work[m:2*m]
	clear(a[:e])
	clear(a[e+n:])
	for i := 0; i < n; i++ {
		a[e+i] = int32(p[off+i*stride])
	}
	// Windows are clipped at the ends of the padded line; that only
	// disturbs samples within e of its ends, which the output never reads.
	boxPass(b, a, r)
	boxPass(a, b, r)
	boxPass(b, a, r)
	d := uint64(2*r + 1)
	d = d * d * d
	recip := (uint64(1)<<40 + d - 1) / d // exact for sums < 2^24
	for i := 0; i < n; i++ {
		p[off+i*stride] = uint8((uint64(b[e+i])*2 + d) * recip >> 41)
	}
}

// boxPass sets dst[i] to the sum of src over [i-r, i+r] clipped to src.
func boxPass(dst, src []int32, r int) {
	m := len(src)
	var sum int32
	for j := 0; j <= r && j < m; j++ {
		sum += src[j]
	}
	for i := 0; i < m; i++ {
		dst[i] = sum
		if j := i + r + 1; j < m {
			sum += src[j]
		}
		if j := i - r; j >= 0 {
			sum -= src[j]
		}
	}
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
