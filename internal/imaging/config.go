// Package imaging is the image work of the image roles, on libvips: the
// checks before decoding, the render steps, the presets and their
// configuration, decodes shared between the roles of one process, and
// compositing the watermark (its text comes from internal/textdraw). What
// to make, reuse and announce is the roles' (workers/derive).
package imaging

import (
	"flag"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/photodesk/photodesk/pipeline/config"
)

// Format is an output format.
type Format string

// Output formats. JPEG is always made; WebP and AVIF where configured and
// where this libvips can write them.
const (
	JPEG Format = "jpeg"
	WebP Format = "webp"
	AVIF Format = "avif"
)

// Ext is the file extension of f's derivatives.
func (f Format) Ext() string {
	if f == JPEG {
		return "jpg"
	}
	return string(f)
}

// ContentType is f's MIME type.
func (f Format) ContentType() string { return "image/" + string(f) }

// Preset is one named rendition.
type Preset struct {
	Name string
	// Size is the long edge in pixels; 0 means the original's size. Never
	// upscaled.
	Size    int
	Formats []Format
	// Quality is the encoder quality, 1-100, for every format of the preset.
	Quality int
	// Watermark marks the preset for the watermark role.
	Watermark bool
	// Aspect, when set, makes the preset a crop of that aspect ratio, Size
	// pixels wide, around the photo's centre of interest.
	Aspect Aspect
}

// Aspect is a crop's aspect ratio, W:H; the zero value keeps the picture's.
type Aspect struct{ W, H int }

// Crop says the preset is a crop.
func (p Preset) Crop() bool { return p.Aspect.W > 0 }

// String is "16:9", as the record shows it.
func (a Aspect) String() string {
	if a.W == 0 {
		return ""
	}
	return fmt.Sprintf("%d:%d", a.W, a.H)
}

// Box is the crop's size for a preset Size wide.
func (a Aspect) Box(width int) (w, h int) {
	return width, max(1, int(math.Round(float64(width)*float64(a.H)/float64(a.W))))
}

// FullPreset is the name of the optional full-size watermarked copy.
const FullPreset = "full"

// DefaultCrops: the slots a gallery goes out to besides the article: a
// 16:9 teaser (home page, link previews), a 1:1 social card and a 4:5 app
// tile, each at the width those slots show on a high-density screen.
const DefaultCrops = "crop16x9:1280:jpeg+webp:q82:16x9,crop1x1:1080:jpeg+webp:q82:1x1,crop4x5:1080:jpeg+webp:q82:4x5"

// DefaultPresets: a thumbnail for lists, a body image, and a large display
// image that the watermark role also makes, marked. AVIF is opt-in: at
// 2048 px it costs ten times the JPEG (measured in the README).
const DefaultPresets = "thumb:320:jpeg+webp:q80,medium:1024:jpeg+webp:q82,large:2048:jpeg+webp:q85:wm"

// Config is the image roles' configuration.
type Config struct {
	// PresetSpec is the presets as written in configuration; see
	// ParsePresets. Validate fills Presets from it.
	PresetSpec string
	// CropSpec is the crop presets, in the same form, each with an aspect.
	CropSpec string
	Presets  []Preset
	// MaxPixels and MaxBytes bound an original, checked from its header and
	// size before any decoding.
	MaxPixels int64
	MaxBytes  int64
	// AVIFEffort is libheif's CPU effort for AVIF, 1 (fast) to 9.
	AVIFEffort int
	// WebPEffort is libwebp's method, 0 (fast) to 6. At 2 a 2048 px WebP
	// takes 2.8x less CPU than at libwebp's default 4 and comes out about
	// 5% larger (docs/performance.md).
	WebPEffort int
	Watermark  WatermarkConfig
}

// WatermarkConfig says what the watermark role draws and where.
type WatermarkConfig struct {
	Text string
	// Font is a TrueType/OpenType file; "" is the font shipped in the binary.
	Font string
	// Size is the text's em size as a fraction of the image width.
	Size float64
	// Position is top-left, top-right, bottom-left, bottom-right or center.
	Position string
	// Margin from the edges, as a fraction of the image width.
	Margin  float64
	Opacity float64
	// Full also makes a full-size watermarked JPEG (preset "full").
	Full        bool
	FullQuality int
}

// DefaultConfig is the configuration without flags or environment.
func DefaultConfig() Config {
	return Config{
		PresetSpec: DefaultPresets,
		CropSpec:   DefaultCrops,
		MaxPixels:  100_000_000,
		MaxBytes:   200 << 20,
		AVIFEffort: 2,
		WebPEffort: 2,
		Watermark: WatermarkConfig{
			Text:        "来源:工人日报",
			Size:        0.03,
			Position:    "bottom-right",
			Margin:      0.02,
			Opacity:     0.85,
			FullQuality: 90,
		},
	}
}

// RegisterFlags binds c to flags on fs and PHOTODESK_* variables.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	config.StringVar(fs, &c.PresetSpec, "presets", "PHOTODESK_PRESETS",
		"renditions: name:long-edge:formats[:qN][:wm], comma separated; formats jpeg+webp+avif; wm = also watermarked")
	config.StringVar(fs, &c.CropSpec, "crops", "PHOTODESK_CROPS",
		"crops: name:width:formats[:qN][:wm]:WxH, comma separated, e.g. crop16x9:1280:jpeg+webp:q82:16x9; empty: none")
	config.Int64Var(fs, &c.MaxPixels, "max-pixels", "PHOTODESK_MAX_PIXELS", "refuse originals with more pixels")
	config.Int64Var(fs, &c.MaxBytes, "max-bytes", "PHOTODESK_MAX_BYTES", "refuse originals larger than this many bytes")
	config.IntVar(fs, &c.AVIFEffort, "avif-effort", "PHOTODESK_AVIF_EFFORT", "AVIF encoder effort, 1 (fast) to 9")
	config.IntVar(fs, &c.WebPEffort, "webp-effort", "PHOTODESK_WEBP_EFFORT", "WebP encoder effort, 0 (fast) to 6; 4 makes files about 5% smaller for 2.8x the CPU")
	w := &c.Watermark
	config.StringVar(fs, &w.Text, "watermark-text", "PHOTODESK_WATERMARK_TEXT", "watermark text")
	config.StringVar(fs, &w.Font, "watermark-font", "PHOTODESK_WATERMARK_FONT", "watermark font file (default: the font shipped in the binary)")
	config.Float64Var(fs, &w.Size, "watermark-size", "PHOTODESK_WATERMARK_SIZE", "watermark em size as a fraction of the image width")
	config.StringVar(fs, &w.Position, "watermark-position", "PHOTODESK_WATERMARK_POSITION", "top-left, top-right, bottom-left, bottom-right or center")
	config.Float64Var(fs, &w.Margin, "watermark-margin", "PHOTODESK_WATERMARK_MARGIN", "watermark margin as a fraction of the image width")
	config.Float64Var(fs, &w.Opacity, "watermark-opacity", "PHOTODESK_WATERMARK_OPACITY", "watermark opacity, 0 to 1")
	config.BoolVar(fs, &w.Full, "watermark-full", "PHOTODESK_WATERMARK_FULL", "also make a full-size watermarked JPEG")
}

// Validate parses the presets and checks every setting.
func (c *Config) Validate() error {
	ps, err := ParsePresets(c.PresetSpec)
	if err != nil {
		return err
	}
	crops, err := parseCrops(c.CropSpec)
	if err != nil {
		return err
	}
	for _, cp := range crops {
		if slices.ContainsFunc(ps, func(p Preset) bool { return p.Name == cp.Name }) {
			return fmt.Errorf("crop %q has the name of a preset", cp.Name)
		}
	}
	c.Presets = append(ps, crops...)
	w := c.Watermark
	switch {
	case c.MaxPixels < 1:
		return fmt.Errorf("max-pixels must be positive")
	case c.MaxBytes < 1:
		return fmt.Errorf("max-bytes must be positive")
	case c.WebPEffort < 0 || c.WebPEffort > 6:
		return fmt.Errorf("webp-effort must be 0 to 6, got %d", c.WebPEffort)
	case c.AVIFEffort < 1 || c.AVIFEffort > 9:
		return fmt.Errorf("avif-effort must be 1..9, got %d", c.AVIFEffort)
	case w.Size <= 0 || w.Size > 0.5:
		return fmt.Errorf("watermark-size must be in (0, 0.5], got %g", w.Size)
	case w.Margin < 0 || w.Margin > 0.25:
		return fmt.Errorf("watermark-margin must be in [0, 0.25], got %g", w.Margin)
	case w.Opacity <= 0 || w.Opacity > 1:
		return fmt.Errorf("watermark-opacity must be in (0, 1], got %g", w.Opacity)
	case w.FullQuality < 1 || w.FullQuality > 100:
		return fmt.Errorf("full-size watermark quality must be 1..100")
	}
	if _, ok := positions[w.Position]; !ok {
		return fmt.Errorf("watermark-position %q: want top-left, top-right, bottom-left, bottom-right or center", w.Position)
	}
	return nil
}

// Marked returns the presets the watermark role makes: those marked wm,
// plus the full-size copy when configured.
func (c *Config) Marked() []Preset {
	var out []Preset
	for _, p := range c.Presets {
		if p.Watermark {
			out = append(out, p)
		}
	}
	if c.Watermark.Full {
		out = append(out, Preset{Name: FullPreset, Formats: []Format{JPEG}, Quality: c.Watermark.FullQuality, Watermark: true})
	}
	return out
}

var presetName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)

// parseCrops reads the crops' spec: presets that each have an aspect.
func parseCrops(spec string) ([]Preset, error) {
	if strings.TrimSpace(spec) == "" {
		return nil, nil
	}
	ps, err := ParsePresets(spec)
	if err != nil {
		return nil, fmt.Errorf("crops: %w", err)
	}
	for _, p := range ps {
		if !p.Crop() {
			return nil, fmt.Errorf("crops: %s has no aspect (add one such as :16x9)", p.Name)
		}
	}
	return ps, nil
}

// aspectOpt is a preset option that makes it a crop: W and H, e.g. 16x9.
var aspectOpt = regexp.MustCompile(`^([0-9]+)x([0-9]+)$`)

// parseAspect reads "16x9"; each side 1..100, and no longer than 10:1
// either way (a sliver of a picture is no slot's crop).
func parseAspect(name, opt string) (Aspect, error) {
	m := aspectOpt.FindStringSubmatch(opt)
	w, errw := strconv.Atoi(m[1])
	h, errh := strconv.Atoi(m[2])
	if errw != nil || errh != nil || w < 1 || h < 1 || w > 100 || h > 100 {
		return Aspect{}, fmt.Errorf("preset %s: aspect %q: want WxH with W and H 1..100, e.g. 16x9", name, opt)
	}
	if w > 10*h || h > 10*w {
		return Aspect{}, fmt.Errorf("preset %s: aspect %q is narrower than 1:10", name, opt)
	}
	return Aspect{W: w, H: h}, nil
}

// ParsePresets reads "name:size:formats[:qN][:wm][:WxH],...", e.g.
// "thumb:320:jpeg+webp:q80,large:2048:jpeg+webp+avif:q85:wm"; size is the
// long edge, or with an aspect WxH (a crop) the width.
func ParsePresets(spec string) ([]Preset, error) {
	var out []Preset
	seen := map[string]bool{}
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		f := strings.Split(item, ":")
		if len(f) < 3 {
			return nil, fmt.Errorf("preset %q: want name:size:formats[:qN][:wm][:WxH]", item)
		}
		p := Preset{Name: f[0], Quality: 82}
		if !presetName.MatchString(p.Name) || p.Name == FullPreset {
			return nil, fmt.Errorf("preset %q: name must be a short lower-case slug other than %q", item, FullPreset)
		}
		if seen[p.Name] {
			return nil, fmt.Errorf("preset %q is named twice", p.Name)
		}
		seen[p.Name] = true
		size, err := strconv.Atoi(f[1])
		if err != nil || size < 16 || size > 16384 {
			return nil, fmt.Errorf("preset %s: long edge %q must be 16..16384 pixels", p.Name, f[1])
		}
		p.Size = size
		fmts := map[Format]bool{}
		for _, s := range strings.Split(f[2], "+") {
			ff := Format(strings.ToLower(strings.TrimSpace(s)))
			if ff == "jpg" {
				ff = JPEG
			}
			switch ff {
			case JPEG, WebP, AVIF:
			default:
				return nil, fmt.Errorf("preset %s: unknown format %q (jpeg, webp, avif)", p.Name, s)
			}
			if !fmts[ff] {
				fmts[ff] = true
				p.Formats = append(p.Formats, ff)
			}
		}
		if !fmts[JPEG] {
			return nil, fmt.Errorf("preset %s: formats must include jpeg, the one every reader takes", p.Name)
		}
		for _, opt := range f[3:] {
			switch {
			case opt == "wm":
				p.Watermark = true
			case aspectOpt.MatchString(opt):
				if p.Aspect, err = parseAspect(p.Name, opt); err != nil {
					return nil, err
				}
			case strings.HasPrefix(opt, "q"):
				q, err := strconv.Atoi(opt[1:])
				if err != nil || q < 1 || q > 100 {
					return nil, fmt.Errorf("preset %s: quality %q must be q1..q100", p.Name, opt)
				}
				p.Quality = q
			default:
				return nil, fmt.Errorf("preset %s: unknown option %q (qN, wm, or an aspect such as 16x9)", p.Name, opt)
			}
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no presets configured")
	}
	return out, nil
}
