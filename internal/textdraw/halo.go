package textdraw

import (
	"math"
	"math/bits"
)

const (
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
)

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
