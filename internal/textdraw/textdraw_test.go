package textdraw

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/image/font/sfnt"
)

// fontSHA256 is the checksum recorded in fonts/README.md.
const fontSHA256 = "acb6440a713d880a13a21b468ba7cd43f5a2b2934972e51be791c880730777b8"

func defaultFontBytes(t testing.TB) []byte {
	t.Helper()
	b, err := LoadFont("")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newMarker(t testing.TB, text string) *Marker {
	t.Helper()
	m, err := New(text, defaultFontBytes(t))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func render(t testing.TB, m *Marker, px, opacity float64) *image.NRGBA {
	t.Helper()
	img, err := m.Render(px, opacity)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// alpha is the alpha channel of img, row by row.
func alpha(img *image.NRGBA) []uint8 {
	b := img.Bounds()
	out := make([]uint8, 0, b.Dx()*b.Dy())
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			out = append(out, img.NRGBAAt(x, y).A)
		}
	}
	return out
}

func TestLoadFont(t *testing.T) {
	def := defaultFontBytes(t)
	sum := sha256.Sum256(def)
	if got := hex.EncodeToString(sum[:]); got != fontSHA256 {
		t.Errorf("embedded font sha256 = %s, README says %s", got, fontSHA256)
	}
	onDisk, err := LoadFont(filepath.Join("fonts", "DroidSansFallbackFull.ttf"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(def, onDisk) {
		t.Error("LoadFont(\"\") differs from fonts/DroidSansFallbackFull.ttf")
	}
	// The caller owns what LoadFont returns: scribbling on it must not
	// change the next default.
	def[0] ^= 0xff
	if again := defaultFontBytes(t); again[0] == def[0] {
		t.Error("LoadFont(\"\") returned shared memory")
	}

	if _, err := LoadFont(filepath.Join(t.TempDir(), "nope.ttf")); err == nil {
		t.Error("missing file: no error")
	}
	notFont := filepath.Join(t.TempDir(), "README.ttf")
	if err := os.WriteFile(notFont, []byte("not a font at all, just some text"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadFont(notFont); err == nil || !strings.Contains(err.Error(), notFont) {
		t.Errorf("non-font file: err = %v, want one naming the path", err)
	}
	if _, err := New(DefaultText, []byte("garbage")); err == nil {
		t.Error("New with garbage font: no error")
	}
}

func TestDefaultFontCoversDefaultText(t *testing.T) {
	m := newMarker(t, DefaultText)
	if m.Text() != DefaultText {
		t.Errorf("Text() = %q", m.Text())
	}
	if DefaultText != "来源:工人日报" || !strings.Contains(DefaultText, ":") {
		t.Fatalf("DefaultText = %q, want the ASCII colon", DefaultText)
	}
	f, err := sfnt.Parse(defaultFontBytes(t))
	if err != nil {
		t.Fatal(err)
	}
	var buf sfnt.Buffer
	gi := func(r rune) sfnt.GlyphIndex {
		x, err := f.GlyphIndex(&buf, r)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	if len(m.glyphs) != 7 {
		t.Fatalf("%d glyphs, want 7", len(m.glyphs))
	}
	for i, r := range []rune(DefaultText) {
		g := m.glyphs[i]
		if g.r != r || g.index == 0 || !g.ink {
			t.Errorf("glyph %d: %+v for %U", i, g, r)
		}
		if r == ':' {
			// Droid has no ASCII, so the colon is its fullwidth form,
			// re-spaced to well under the em of the fullwidth advance.
			if gi(':') != 0 {
				t.Log("font now has an ASCII colon; the fullwidth stand-in is unused")
			} else if g.index != gi('：') {
				t.Errorf("colon drawn with glyph %d, want fullwidth colon %d", g.index, gi('：'))
			}
			if em := refPPEM * 64; g.advance <= 0 || int(g.advance) > em/2 {
				t.Errorf("colon advance %v, want (0, em/2]", g.advance)
			}
			continue
		}
		if g.index != gi(r) {
			t.Errorf("%U: glyph %d, font maps it to %d", r, g.index, gi(r))
		}
	}
}

func TestMissingGlyphIsAnError(t *testing.T) {
	font := defaultFontBytes(t)
	f, err := sfnt.Parse(font)
	if err != nil {
		t.Fatal(err)
	}
	var buf sfnt.Buffer
	// Check the premise: Droid Sans Fallback really lacks these.
	for _, r := range []rune{'😀', '\U0002A6D6'} {
		if x, err := f.GlyphIndex(&buf, r); err != nil || x != 0 {
			t.Fatalf("%U: glyph %d, err %v; the test needs a rune the font lacks", r, x, err)
		}
	}
	_, err = New("来源😀工人\U0002A6D6日报😀", font)
	if err == nil {
		t.Fatal("no error for runes the font lacks")
	}
	msg := err.Error()
	for _, want := range []string{"U+1F600", "U+2A6D6"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not name %s", msg, want)
		}
	}
	if strings.Count(msg, "U+1F600") != 1 {
		t.Errorf("error %q repeats a rune", msg)
	}
	for _, ok := range []string{"来", "源", "工", "人", "日", "报"} {
		if strings.Contains(msg, ok) {
			t.Errorf("error %q names %s, which the font has", msg, ok)
		}
	}
}

func TestBadText(t *testing.T) {
	font := defaultFontBytes(t)
	for _, text := range []string{
		"",
		"\x00",
		"工人\x00日报",
		"工人\n日报",
		"工人\t日报",
		"\x7f",
		"\u0085", // C1 control (NEL)
		"工人\u2028日报",
		"\xff",
		"工人\xe6\x97",   // truncated UTF-8
		"\xed\xa0\x80", // a surrogate
		" ",
		"\u3000 \u00a0",
	} {
		if _, err := New(text, font); err == nil {
			t.Errorf("New(%q): no error", text)
		}
	}
	if _, err := New(DefaultText, nil); err == nil {
		t.Error("New with no font: no error")
	}
}

func TestWhitespaceIsFine(t *testing.T) {
	tight := render(t, newMarker(t, "工人日报"), 40, 1).Bounds().Dx()
	for _, text := range []string{
		"工人 日报",      // U+0020: the font has it
		"工人\u00a0日报", // NBSP: the font lacks it; a blank advance
		"工人\u3000日报", // ideographic space: one em
		" 工人日报 ",     // leading and trailing space are cropped away
	} {
		m := newMarker(t, text)
		w := render(t, m, 40, 1).Bounds().Dx()
		switch {
		case strings.HasPrefix(text, " "):
			if w < tight-1 || w > tight+1 { // ±1: the pen lands on another sub-pixel phase
				t.Errorf("%q: width %d, want %d (spaces at the ends are not ink)", text, w, tight)
			}
		case strings.Contains(text, "\u3000"):
			if w < tight+38 || w > tight+42 {
				t.Errorf("%q: width %d, want %d + one em (40)", text, w, tight)
			}
		default:
			if w <= tight+4 {
				t.Errorf("%q: width %d, want a gap wider than %d", text, w, tight)
			}
		}
	}
}

// coverage renders m's glyphs alone (no halo): its alpha is the text's.
func coverage(t *testing.T, m *Marker, px float64) []uint8 {
	t.Helper()
	img, err := m.render(px, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	// Crop to the ink so masks of different runes compare by shape.
	x0, y0, x1, y1 := b.Dx(), b.Dy(), -1, -1
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			if img.NRGBAAt(x, y).A > 0 {
				x0, y0, x1, y1 = min(x0, x), min(y0, y), max(x1, x), max(y1, y)
			}
		}
	}
	if x1 < 0 {
		return nil
	}
	sub := img.SubImage(image.Rect(x0, y0, x1+1, y1+1)).(*image.NRGBA)
	return append([]uint8(fmt.Sprintf("%dx%d:", x1-x0+1, y1-y0+1)), alpha(sub)...)
}

// isHollowRect reports whether the w×h mask looks like a missing-glyph box:
// the ink's bounding box has solid edges and nothing in its middle half.
func isHollowRect(mask []uint8, w, h int) bool {
	ink := func(x, y int) bool { return mask[y*w+x] >= 64 }
	x0, y0, x1, y1 := w, h, -1, -1
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			if ink(x, y) {
				x0, y0, x1, y1 = min(x0, x), min(y0, y), max(x1, x), max(y1, y)
			}
		}
	}
	if x1-x0 < 4 || y1-y0 < 4 {
		return false
	}
	solidRow := func(y int) bool {
		n := 0
		for x := x0; x <= x1; x++ {
			if ink(x, y) {
				n++
			}
		}
		return n*10 >= (x1-x0+1)*9
	}
	solidCol := func(x int) bool {
		n := 0
		for y := y0; y <= y1; y++ {
			if ink(x, y) {
				n++
			}
		}
		return n*10 >= (y1-y0+1)*9
	}
	if !(solidRow(y0) || solidRow(y0+1)) || !(solidRow(y1) || solidRow(y1-1)) ||
		!(solidCol(x0) || solidCol(x0+1)) || !(solidCol(x1) || solidCol(x1-1)) {
		return false
	}
	iw, ih := x1-x0+1, y1-y0+1
	inner, n := 0, 0
	for y := y0 + ih/4; y <= y1-ih/4; y++ {
		for x := x0 + iw/4; x <= x1-iw/4; x++ {
			n++
			if ink(x, y) {
				inner++
			}
		}
	}
	return inner*50 < n // under 2% of the middle is inked
}

func maskOf(img *image.NRGBA) ([]uint8, int, int) {
	return alpha(img), img.Bounds().Dx(), img.Bounds().Dy()
}

func TestRealGlyphsNotBoxes(t *testing.T) {
	const px = 64
	font := defaultFontBytes(t)
	f, err := sfnt.Parse(font)
	if err != nil {
		t.Fatal(err)
	}

	// What the rasteriser draws for glyph 0 (.notdef), laid out like a rune.
	var buf sfnt.Buffer
	g0, err := build(f, &buf, []item{{r: 0xfffd, index: 0}})
	if err != nil {
		t.Fatal(err)
	}
	notdef := &Marker{text: "\ufffd", glyphs: g0}
	notdefCov := coverage(t, notdef, px)
	if notdefCov == nil {
		t.Fatal(".notdef has no ink; the box comparison would prove nothing")
	}
	nimg, err := notdef.render(px, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !isHollowRect(maskOf(nimg)) {
		t.Fatal("isHollowRect does not recognise the font's .notdef box")
	}

	runes := []rune(DefaultText)
	covs := make([][]uint8, len(runes))
	for i, r := range runes {
		m := newMarker(t, string(r))
		covs[i] = coverage(t, m, px)
		img := render(t, m, px, 1)
		if covs[i] == nil {
			t.Errorf("%q: no ink", r)
			continue
		}
		inked := 0
		for _, a := range covs[i][bytes.IndexByte(covs[i], ':')+1:] {
			if a >= 128 {
				inked++
			}
		}
		if inked < 20 {
			t.Errorf("%q: only %d inked pixels at %d px", r, inked, px)
		}
		if bytes.Equal(covs[i], notdefCov) {
			t.Errorf("%q renders as the .notdef glyph", r)
		}
		cimg, _ := m.render(px, 1, 0)
		if isHollowRect(maskOf(cimg)) {
			t.Errorf("%q renders as a hollow rectangle", r)
		}
		if img.Bounds().Dx() < 8 || img.Bounds().Dy() < 8 {
			t.Errorf("%q: overlay only %v", r, img.Bounds())
		}
	}
	for i := range runes {
		for j := i + 1; j < len(runes); j++ {
			if bytes.Equal(covs[i], covs[j]) {
				t.Errorf("%q and %q render the same mask", runes[i], runes[j])
			}
		}
	}
}

// contrast composites img ("over", per channel; the overlay is grey) on a
// uniform grey background and returns the fractions of the overlay's pixels
// that end up at least 100 levels brighter and darker than the background.
func contrast(img *image.NRGBA, bg int) (brighter, darker float64) {
	var nb, nd int
	for i := 0; i < len(img.Pix); i += 4 {
		c, a := int(img.Pix[i]), int(img.Pix[i+3])
		out := (c*a + bg*(255-a) + 127) / 255
		switch {
		case out-bg >= 100:
			nb++
		case bg-out >= 100:
			nd++
		}
	}
	n := float64(len(img.Pix) / 4)
	return float64(nb) / n, float64(nd) / n
}

func TestLegibleOnWhiteAndBlack(t *testing.T) {
	m := newMarker(t, DefaultText)
	for _, px := range []float64{24, 48, 120} {
		img := render(t, m, px, 1)
		// The overlay is grey: R = G = B everywhere, near-white in the
		// glyph cores.
		var cores int
		for i := 0; i < len(img.Pix); i += 4 {
			p := img.Pix[i : i+4]
			if p[0] != p[1] || p[1] != p[2] {
				t.Fatalf("px %v: pixel %v is not grey", px, p)
			}
			if p[3] == 255 && p[0] >= 250 {
				cores++
			}
		}
		if cores == 0 {
			t.Errorf("px %v: no opaque white glyph pixels", px)
		}

		onBlackB, _ := contrast(img, 0)
		_, onWhiteD := contrast(img, 255)
		greyB, greyD := contrast(img, 128)
		t.Logf("px %v: on black %.3f brighter; on white %.3f darker; on grey %.3f/%.3f",
			px, onBlackB, onWhiteD, greyB, greyD)
		// White glyph cores on black.
		if onBlackB < 0.10 {
			t.Errorf("px %v: on black only %.3f of pixels are >=100 levels brighter, want >= 0.10", px, onBlackB)
		}
		// The dark halo on white: a missing, white or weak halo fails.
		if onWhiteD < 0.20 {
			t.Errorf("px %v: on white only %.3f of pixels are >=100 levels darker, want >= 0.20", px, onWhiteD)
		}
		// Mid-grey: the glyphs still stand out brighter.
		if greyB < 0.05 {
			t.Errorf("px %v: on grey only %.3f of pixels are >=100 levels brighter, want >= 0.05", px, greyB)
		}
	}

	// The thresholds are ones a broken halo fails: none, or a faint one.
	for _, rel := range []float64{0, 0.15, 0.3} {
		img, err := m.render(48, 1, rel)
		if err != nil {
			t.Fatal(err)
		}
		_, d := contrast(img, 255)
		t.Logf("halo at %.2f: on white %.3f darker", rel, d)
		if d >= 0.20 {
			t.Errorf("halo at %.1f of the text's opacity passes the white-background check (%.3f)", rel, d)
		}
	}
}

func TestOpacity(t *testing.T) {
	m := newMarker(t, DefaultText)
	full := render(t, m, 48, 1)
	half := render(t, m, 48, 0.5)
	if full.Bounds() != half.Bounds() {
		t.Errorf("bounds depend on opacity: %v vs %v", full.Bounds(), half.Bounds())
	}
	maxA := func(img *image.NRGBA) uint8 {
		var a uint8
		for i := 3; i < len(img.Pix); i += 4 {
			a = max(a, img.Pix[i])
		}
		return a
	}
	if got := maxA(full); got != 255 {
		t.Errorf("opacity 1: max alpha %d, want 255", got)
	}
	// Where the glyph is solid: white at 0.5 over the halo at 0.5×0.72.
	want := 255 * (0.5 + 0.5*haloStrength*(1-0.5))
	if got := float64(maxA(half)); math.Abs(got-want) > 2 {
		t.Errorf("opacity 0.5: max alpha %v, want %.1f", got, want)
	}
	// Halo-only pixels scale with opacity too.
	var haloFull, haloHalf uint8
	for i := 0; i < len(full.Pix); i += 4 {
		if full.Pix[i] == 0 {
			haloFull = max(haloFull, full.Pix[i+3])
			haloHalf = max(haloHalf, half.Pix[i+3])
		}
	}
	if haloFull < 180 || math.Abs(float64(haloHalf)-float64(haloFull)/2) > 2 {
		t.Errorf("halo alpha %d at opacity 1, %d at 0.5", haloFull, haloHalf)
	}
}

func TestBoundsTight(t *testing.T) {
	m := newMarker(t, DefaultText)
	for px := 4.0; px <= 300; px *= 1.37 {
		img := render(t, m, px, 1)
		b := img.Bounds()
		if b.Min != (image.Point{}) {
			t.Fatalf("px %v: bounds %v do not start at (0,0)", px, b)
		}
		if img.Stride != 4*b.Dx() {
			t.Errorf("px %v: stride %d for width %d", px, img.Stride, b.Dx())
		}
		row := func(y int) (n int) {
			for x := 0; x < b.Dx(); x++ {
				if img.NRGBAAt(x, y).A > 0 {
					n++
				}
			}
			return n
		}
		col := func(x int) (n int) {
			for y := 0; y < b.Dy(); y++ {
				if img.NRGBAAt(x, y).A > 0 {
					n++
				}
			}
			return n
		}
		// cropPad transparent lines on every side, then ink or halo.
		for i := 0; i < cropPad; i++ {
			if row(i)+row(b.Dy()-1-i)+col(i)+col(b.Dx()-1-i) != 0 {
				t.Errorf("px %v: padding line %d is not transparent (halo clipped?)", px, i)
			}
		}
		if row(cropPad) == 0 || row(b.Dy()-1-cropPad) == 0 || col(cropPad) == 0 || col(b.Dx()-1-cropPad) == 0 {
			t.Errorf("px %v: bounds %v are not tight", px, b)
		}
		// Transparent pixels are transparent black, nothing else.
		for i := 0; i < len(img.Pix); i += 4 {
			if img.Pix[i+3] == 0 && img.Pix[i] != 0 {
				t.Fatalf("px %v: alpha-0 pixel with colour %v", px, img.Pix[i:i+4])
			}
		}
	}
}

func TestSizeScales(t *testing.T) {
	m := newMarker(t, DefaultText)
	w20 := render(t, m, 20, 1).Bounds().Dx()
	w80 := render(t, m, 80, 1).Bounds().Dx()
	ratio := float64(w80) / float64(w20)
	t.Logf("width at 20 px %d, at 80 px %d, ratio %.2f", w20, w80, ratio)
	if ratio < 3.2 || ratio > 4.8 {
		t.Errorf("width ratio 80/20 = %.2f, want 4 ± 20%%", ratio)
	}
	// Seven glyphs, one of them a narrow colon: about 6.4 em wide.
	if w80 < 6*80 || w80 > 8*80 {
		t.Errorf("width at 80 px = %d, want about 6.4 em", w80)
	}
}

func TestRenderArgs(t *testing.T) {
	m := newMarker(t, DefaultText)
	for _, c := range []struct{ px, op float64 }{
		{3.9, 1}, {0, 1}, {-20, 1}, {math.NaN(), 1}, {math.Inf(1), 1}, {maxPx + 1, 1},
		{40, 0}, {40, -0.5}, {40, 1.01}, {40, math.NaN()},
	} {
		if _, err := m.Render(c.px, c.op); err == nil {
			t.Errorf("Render(%v, %v): no error", c.px, c.op)
		}
	}
	if _, err := m.Render(minPx, 1); err != nil {
		t.Errorf("Render(%v, 1): %v", float64(minPx), err)
	}
	var zero Marker
	if _, err := zero.Render(40, 1); err == nil {
		t.Error("zero Marker: no error")
	}
}

func TestDeterministic(t *testing.T) {
	a := render(t, newMarker(t, DefaultText), 57.3, 0.8)
	m := newMarker(t, DefaultText)
	for i := 0; i < 2; i++ {
		b := render(t, m, 57.3, 0.8)
		if a.Bounds() != b.Bounds() || !bytes.Equal(a.Pix, b.Pix) {
			t.Fatalf("render %d differs", i)
		}
	}
	// A pooled scratch left over from a bigger render must not leak in.
	render(t, m, 300, 1)
	if b := render(t, m, 57.3, 0.8); !bytes.Equal(a.Pix, b.Pix) {
		t.Fatal("render after a larger one differs")
	}
}

func TestConcurrentRender(t *testing.T) {
	m := newMarker(t, DefaultText)
	sizes := []float64{12, 30, 64, 150}
	want := make([]*image.NRGBA, len(sizes))
	for i, px := range sizes {
		want[i] = render(t, m, px, 0.9)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < 6; k++ {
				i := (g + k) % len(sizes)
				got, err := m.Render(sizes[i], 0.9)
				if err != nil {
					errs <- err
					return
				}
				if !bytes.Equal(got.Pix, want[i].Pix) {
					errs <- fmt.Errorf("goroutine %d: render at %v px differs", g, sizes[i])
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestOtherFontByPath uses a Latin font with real ASCII glyphs and kerning,
// where the machine has one (Debian's fonts-dejavu-core).
func TestOtherFontByPath(t *testing.T) {
	const path = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
	if _, err := os.Stat(path); err != nil {
		t.Skip("no DejaVu Sans here:", err)
	}
	font, err := LoadFont(path)
	if err != nil {
		t.Fatal(err)
	}
	m, err := New("Source: AV", font)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range m.glyphs {
		if g.dx != 0 {
			t.Errorf("%q uses a stand-in although the font has it", g.r)
		}
	}
	if k := m.glyphs[len(m.glyphs)-1].kern; k >= 0 {
		t.Errorf("kern A-V = %v, want negative", k)
	}
	render(t, m, 40, 1)
	if _, err := New(DefaultText, font); err == nil || !strings.Contains(err.Error(), "U+6765") {
		t.Errorf("DejaVu lacks CJK: err = %v", err)
	}
}

func BenchmarkRender(b *testing.B) {
	m := newMarker(b, DefaultText)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Render(60, 0.85); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRender300(b *testing.B) {
	m := newMarker(b, DefaultText)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Render(300, 0.85); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRenderParallel(b *testing.B) {
	m := newMarker(b, DefaultText)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := m.Render(60, 0.85); err != nil {
				b.Fatal(err)
			}
		}
	})
}
