package textdraw

import (
	_ "embed"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/image/font"
	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"
)

// DefaultText is the newsroom's source line.
const DefaultText = "来源:工人日报"

// defaultFont is Droid Sans Fallback (Apache-2.0); see fonts/README.md.
//
//go:embed fonts/DroidSansFallbackFull.ttf
var defaultFont []byte

// refPPEM is the em size, in pixels, at which outlines and metrics are
// loaded once in New and later scaled to the requested size. 512 keeps
// 1/32768 em precision without overflowing sfnt's 26.6 arithmetic for any
// coordinate a font can hold (int16 units).
const refPPEM = 512

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
