package imaging

import (
	"bytes"
	"fmt"
	"image/png"
	"math"
	"sync"

	"github.com/davidbyttow/govips/v2/vips"

	"github.com/photodesk/photodesk/internal/textdraw"
)

var positions = map[string][2]float64{
	"top-left": {0, 0}, "top-right": {1, 0},
	"bottom-left": {0, 1}, "bottom-right": {1, 1},
	"center": {0.5, 0.5},
}

// Mark draws the configured text watermark. The text is rendered in Go from
// the font file (so a missing glyph is caught at start-up), once per size,
// and composited by libvips.
type Mark struct {
	cfg    WatermarkConfig
	marker *textdraw.Marker

	mu       sync.Mutex
	overlays map[int][]byte // PNG of the text by em size in pixels
}

// NewMark loads the font and checks that it has every glyph of the text.
func NewMark(cfg WatermarkConfig) (*Mark, error) {
	font, err := textdraw.LoadFont(cfg.Font)
	if err != nil {
		return nil, fmt.Errorf("watermark font: %w", err)
	}
	m, err := textdraw.New(cfg.Text, font)
	if err != nil {
		return nil, fmt.Errorf("watermark: %w", err)
	}
	if _, ok := positions[cfg.Position]; !ok {
		return nil, fmt.Errorf("watermark position %q unknown", cfg.Position)
	}
	return &Mark{cfg: cfg, marker: m, overlays: map[int][]byte{}}, nil
}

// Fingerprint names the mark's settings, for the spec of what it marks:
// a change of text, font or placement makes marked derivatives again.
func (k *Mark) Fingerprint() string {
	c := k.cfg
	return fmt.Sprintf("wm|%s|%s|%g|%s|%g|%g", c.Text, c.Font, c.Size, c.Position, c.Margin, c.Opacity)
}

// overlay returns the text rendered at em size px, as PNG.
func (k *Mark) overlay(px int) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if b, ok := k.overlays[px]; ok {
		return b, nil
	}
	img, err := k.marker.Render(float64(px), k.cfg.Opacity)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&buf, img); err != nil {
		return nil, err
	}
	// Sizes come from a handful of presets and original widths; a bound
	// keeps a stream of odd widths from growing the map forever.
	if len(k.overlays) > 64 {
		clear(k.overlays)
	}
	k.overlays[px] = buf.Bytes()
	return buf.Bytes(), nil
}

// apply composites the text onto img at the configured corner.
func (k *Mark) apply(img *vips.ImageRef) error {
	w, h := img.Width(), img.Height()
	px := int(math.Round(k.cfg.Size * float64(w)))
	margin := int(math.Round(k.cfg.Margin * float64(w)))
	if px < 6 {
		return nil // too small to read; a thumbnail-sized image stays clean
	}
	b, err := k.overlay(px)
	if err != nil {
		return fmt.Errorf("render watermark: %w", err)
	}
	ov, err := vips.LoadImageFromBuffer(b, nil)
	if err != nil {
		return fmt.Errorf("load watermark: %s", vipsErr(err))
	}
	defer ov.Close()
	if ov.Width()+2*margin > w || ov.Height()+2*margin > h {
		// Narrow or tiny images: shrink the text to fit rather than crop it.
		scale := math.Min(float64(w-2*margin)/float64(ov.Width()), float64(h-2*margin)/float64(ov.Height()))
		if scale <= 0.05 {
			return nil
		}
		if err := ov.Resize(scale, vips.KernelLanczos3); err != nil {
			return fmt.Errorf("scale watermark: %s", vipsErr(err))
		}
	}
	pos := positions[k.cfg.Position]
	x := margin + int(pos[0]*float64(w-2*margin-ov.Width()))
	y := margin + int(pos[1]*float64(h-2*margin-ov.Height()))
	hadAlpha := img.HasAlpha()
	if err := img.Composite(ov, vips.BlendModeOver, x, y); err != nil {
		return fmt.Errorf("composite watermark: %s", vipsErr(err))
	}
	if !hadAlpha && img.HasAlpha() {
		// composite adds an alpha band; an opaque photo stays opaque.
		if err := img.ExtractBand(0, 3); err != nil {
			return fmt.Errorf("drop alpha: %s", vipsErr(err))
		}
	}
	return nil
}
