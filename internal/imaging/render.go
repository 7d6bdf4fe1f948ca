package imaging

import (
	"bytes"
	"context"
	"fmt"

	"github.com/davidbyttow/govips/v2/vips"

	"github.com/photodesk/photodesk/internal/stamp"
	"github.com/photodesk/photodesk/pipeline/contract"
)

// Result is one encoded derivative.
type Result struct {
	Preset string
	Format Format
	Width  int
	Height int
	Data   []byte
	// Focus is the centre of interest a crop was made around; Note says
	// why it is not the photo's embedded region, when that was unusable.
	Focus *contract.Focus
	Note  string
}

// Options are the encoder settings that are not part of a preset.
type Options struct {
	AVIFEffort int
	// WebPEffort is libwebp's method, 0 (fastest) to 6.
	WebPEffort int
	// Mark, when set, draws the watermark.
	Mark *Mark
	// KeepDecode keeps this preset's decoded, unmarked pixels in the
	// Source, so that smaller presets rendered after it resize them
	// instead of decoding the original again.
	KeepDecode bool
	// Focus is the photo's focal point from its gallery.json, which crops
	// are centred on; nil: the embedded region, else libvips' attention.
	Focus *contract.Focus
}

// render is one preset's pipeline. Like imgproxy's processing, it is a list
// of small named steps over the image so far; their order is the algorithm.
type render struct {
	src     *Source
	preset  Preset
	formats []Format
	opts    Options
	img     *vips.ImageRef
	// fromBase: img resizes the Source's kept decode (in memory), not
	// the original.
	fromBase bool
	// focus and note are a crop's (Result.Focus, Result.Note).
	focus *contract.Focus
	note  string
}

type step func(*render) error

// The crop comes after keepDecode, so a crop's decode serves the smaller
// presets whole, and before the watermark, which goes in the crop's corner.
var steps = []step{load, toSRGB, materialize, stripMetadata, keepDecode, crop, watermark}

// Render makes preset p in each of formats from the original. It decodes
// once per call, shrinking on load, and encodes every format from that;
// or, when an earlier call kept its decode (Options.KeepDecode) and that is
// at least this preset's size, it resizes that instead.
func (s *Source) Render(ctx context.Context, p Preset, formats []Format, opts Options) ([]Result, error) {
	return withReason(func() ([]Result, error) { return s.render(ctx, p, formats, opts) })
}

func (s *Source) render(ctx context.Context, p Preset, formats []Format, opts Options) ([]Result, error) {
	r := &render{src: s, preset: p, formats: formats, opts: opts}
	defer func() {
		if r.img != nil {
			r.img.Close()
		}
	}()
	for _, st := range steps {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := st(r); err != nil {
			return nil, err
		}
	}
	out := make([]Result, 0, len(formats))
	for _, f := range formats {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		b, err := export(r.img, f, p.Quality, opts, s.Copyright)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", p.Name, f, err)
		}
		if f == JPEG || f == WebP {
			// What a derivative keeps of the original's metadata: its
			// copyright notice (EXIF, XMP, IIM), stamped in rather than
			// left to libvips, which writes EXIF through libexif
			// (garbling non-ASCII) and into WebP even when stripping.
			m := stamp.Metadata{Rights: contract.Rights{CopyrightNotice: s.Copyright}}
			if b, err = stamp.File(b, string(f), m); err != nil {
				return nil, fmt.Errorf("%s %s: metadata: %w", p.Name, f, err)
			}
		}
		out = append(out, Result{Preset: p.Name, Format: f, Width: r.img.Width(), Height: r.img.Height(), Data: b, Focus: r.focus, Note: r.note})
	}
	return out, nil
}

// replace swaps in a new image, releasing the old one.
func (r *render) replace(img *vips.ImageRef) {
	if r.img != nil {
		r.img.Close()
	}
	r.img = img
}

// load decodes with shrink-on-load (JPEG DCT scaling, WebP and HEIF
// thumbnails' own scaling), straightens the EXIF orientation, and never
// upscales. Size 0 is the original's size.
func load(r *render) error {
	size := r.preset.decodeEdge(r.src.Width, r.src.Height)
	if long := max(r.src.Width, r.src.Height); size <= 0 || size > long {
		size = long
	}
	// A shared decode without the original's bytes (shared.go) is all
	// there is: a crop that wants more (a panorama's 4:5, say) comes out
	// as large as it allows, as from a small original.
	if b := r.src.base; b != nil && (max(b.Width(), b.Height()) >= size || r.src.data == nil) {
		return loadFromBase(r, size)
	}
	if r.src.cmyk {
		return loadCMYK(r, size)
	}
	if r.src.Format == "jpeg" && jpegShrink(max(r.src.Width, r.src.Height), size) > 1 {
		return loadJPEG(r, size)
	}
	p := vips.NewImportParams()
	p.FailOnError.Set(true)
	img, err := vips.LoadThumbnailFromBuffer(r.src.data, size, size, vips.InterestingNone, vips.SizeDown, p)
	if err != nil {
		return badInput("cannot decode the %s: %s", r.src.Format, vipsErr(err))
	}
	r.replace(img)
	return nil
}

// jpegShrink is the largest DCT scaling (1, 2, 4 or 8) that leaves the long
// edge at least size.
func jpegShrink(long, size int) int {
	shrink := 1
	for shrink < 8 && long/(shrink*2) >= size {
		shrink *= 2
	}
	return shrink
}

// loadJPEG shrinks on load by jpegShrink and resizes the rest of the way,
// as imgproxy does. libvips 8.14's thumbnail leaves a factor of at least 2
// to its resize, so a 2048 px rendition of a 6000 px JPEG decoded every
// pixel: 0.25 CPU-s against 0.16 this way, for a mean difference of 0.4
// levels in 255. The decode at half scale is held in memory (18 MB for 24
// MP) until materialize has the rendition.
func loadJPEG(r *render, size int) error {
	img, err := decodeShrunk(r, size, false)
	if err != nil {
		return err
	}
	if err := fit(r, size); err != nil {
		return err
	}
	// Upright after the resize: fewer pixels to turn.
	if err := img.AutoRotate(); err != nil {
		return badInput("cannot turn the %s upright: %s", r.src.Format, vipsErr(err))
	}
	return nil
}

// decodeShrunk decodes the original whole, a JPEG at jpegShrink's scale,
// into r.img.
func decodeShrunk(r *render, size int, autorotate bool) (*vips.ImageRef, error) {
	p := vips.NewImportParams()
	p.FailOnError.Set(true)
	if autorotate {
		p.AutoRotate.Set(true)
	}
	if r.src.Format == "jpeg" {
		p.JpegShrinkFactor.Set(jpegShrink(max(r.src.Width, r.src.Height), size))
	}
	img, err := vips.LoadImageFromBuffer(r.src.data, p)
	if err != nil {
		return nil, badInput("cannot decode the %s: %s", r.src.Format, vipsErr(err))
	}
	r.replace(img)
	return img, nil
}

// fit resizes r.img (Lanczos3) so that its long edge is size, never up.
func fit(r *render, size int) error {
	if l := max(r.img.Width(), r.img.Height()); l > size {
		if err := r.img.Resize(float64(size)/float64(l), vips.KernelLanczos3); err != nil {
			return badInput("cannot decode the %s: %s", r.src.Format, vipsErr(err))
		}
	}
	return nil
}

// loadFromBase resizes the kept decode: already upright, sRGB and
// stripped, and in memory, so it can be read as often as needed. A 2048 px
// decode resized to 1024 costs about 1.5 ms against about 60 ms for a
// shrink-on-load decode of a 24 MP JPEG (the entropy decoding is the same
// at every scale).
func loadFromBase(r *render, size int) error {
	img, err := r.src.base.Copy()
	if err != nil {
		return fmt.Errorf("copy decode: %s", vipsErr(err))
	}
	r.replace(img)
	r.fromBase = true
	if max(img.Width(), img.Height()) > size {
		if err := img.ThumbnailWithSize(size, size, vips.InterestingNone, vips.SizeDown); err != nil {
			return fmt.Errorf("resize decode: %s", vipsErr(err))
		}
	}
	return nil
}

// loadCMYK is load for CMYK originals. libvips 8.14's thumbnail imports
// CMYK through its own path and comes out visibly darker than the embedded
// profile says (a (62,80,130) blue printed to CMYK comes back (35,61,114);
// vipsthumbnail does the same), so these shrink on load, convert through
// their embedded profile, then resize.
func loadCMYK(r *render, size int) error {
	img, err := decodeShrunk(r, size, true)
	if err != nil {
		return err
	}
	if err := img.TransformICCProfileWithFallback(vips.SRGBIEC6196621ICCProfilePath, "cmyk"); err != nil {
		return badInput("CMYK colour profile: %s", vipsErr(err))
	}
	return fit(r, size)
}

// toSRGB converts to 8-bit sRGB through the embedded ICC profile. libvips's
// thumbnail already imports CMYK (with a built-in profile when there is
// none); RGB in another space (Adobe RGB, Display P3) is transformed here,
// and grey or 16-bit images become plain sRGB.
func toSRGB(r *render) error {
	img := r.img
	if img.HasICCProfile() && !isSRGBProfile(img.GetICCProfile()) {
		if err := img.TransformICCProfile(vips.SRGBIEC6196621ICCProfilePath); err != nil {
			return badInput("colour profile: %s", vipsErr(err))
		}
	}
	if img.Interpretation() != vips.InterpretationSRGB || img.BandFormat() != vips.BandFormatUchar {
		if err := img.ToColorSpace(vips.InterpretationSRGB); err != nil {
			return badInput("colour conversion: %s", vipsErr(err))
		}
	}
	if img.BandFormat() != vips.BandFormatUchar {
		if err := img.Cast(vips.BandFormatUchar); err != nil {
			return fmt.Errorf("cast to 8 bit: %s", vipsErr(err))
		}
	}
	return nil
}

// isSRGBProfile spots the common sRGB profiles by their description, so the
// usual camera JPEG skips a transform that would change nothing.
func isSRGBProfile(icc []byte) bool {
	head := icc[:min(len(icc), 2048)]
	return len(icc) >= 20 && string(icc[16:20]) == "RGB " &&
		(bytes.Contains(head, []byte("sRGB")) || bytes.Contains(head, []byte("s\x00R\x00G\x00B")))
}

func watermark(r *render) error {
	if r.opts.Mark == nil {
		return nil
	}
	return r.opts.Mark.apply(r.img)
}

// materialize renders the pipeline once into memory when several formats
// are wanted, the decode is kept for smaller presets, or a crop will read
// it out of order (a resize of the kept decode is in memory already). A thumbnail pipeline reads the
// original sequentially, so a second export from it fails ("out of order
// read"); govips has no copy_memory, so an uncompressed TIFF in memory
// stands in for it (about a memcpy of the rendition, never of the
// original).
func materialize(r *render) error {
	if r.fromBase || (len(r.formats) < 2 && !r.keeps() && !r.preset.Crop()) {
		return nil
	}
	return toMemory(r)
}

// toMemory renders r.img into memory (see materialize).
func toMemory(r *render) error {
	b, _, err := r.img.ExportTiff(&vips.TiffExportParams{Compression: vips.TiffCompressionNone, Predictor: vips.TiffPredictorNone, TileWidth: 256, TileHeight: 256})
	if err != nil {
		return badInput("cannot decode the %s: %s", r.src.Format, vipsErr(err))
	}
	img, err := vips.LoadImageFromBuffer(b, nil)
	if err != nil {
		return fmt.Errorf("reload rendition: %s", vipsErr(err))
	}
	r.replace(img)
	return nil
}

// keepDecodeMaxEdge and keepDecodeMaxPixels bound a kept (or shared)
// decode: presets up to 2048x2048, never a full-size copy (72 MB of pixels
// at 24 MP).
const (
	keepDecodeMaxEdge   = 2048
	keepDecodeMaxPixels = keepDecodeMaxEdge * keepDecodeMaxEdge
)

func (r *render) keeps() bool {
	return r.opts.KeepDecode && !r.fromBase && r.img.Width()*r.img.Height() <= keepDecodeMaxPixels
}

// keepDecode hands the materialized, unmarked pixels to the Source for
// the smaller presets still to come.
func keepDecode(r *render) error {
	if !r.keeps() {
		return nil
	}
	img, err := r.img.Copy()
	if err != nil {
		return fmt.Errorf("keep decode: %s", vipsErr(err))
	}
	r.src.keep(img)
	return nil
}

// stripMetadata drops everything a photo carries about itself (EXIF with
// GPS, XMP, IPTC, the ICC profile: the pixels are sRGB now, which is what
// an untagged image means) and writes back only the copyright notice.
func stripMetadata(r *render) error {
	img := r.img
	if err := img.RemoveMetadata(); err != nil {
		return fmt.Errorf("strip metadata: %s", vipsErr(err))
	}
	if err := img.RemoveICCProfile(); err != nil {
		return fmt.Errorf("strip ICC: %s", vipsErr(err))
	}
	if err := img.RemoveOrientation(); err != nil {
		return fmt.Errorf("strip orientation: %s", vipsErr(err))
	}
	return nil
}

// progressiveMaxPixels bounds the JPEGs written progressive: every preset
// up to 2048x2048, not a full-size copy.
const progressiveMaxPixels = 2048 * 2048

// export encodes img as f: JPEG and WebP with no metadata at all (Render
// splices the copyright in), AVIF with an ASCII copyright or nothing.
func export(img *vips.ImageRef, f Format, quality int, opts Options, copyright string) ([]byte, error) {
	var (
		b   []byte
		err error
	)
	switch f {
	case JPEG:
		src := img
		if img.HasAlpha() {
			// JPEG has no alpha: put transparent parts on white, not black.
			if src, err = img.Copy(); err != nil {
				return nil, fmt.Errorf("copy: %s", vipsErr(err))
			}
			defer src.Close()
			if err := src.Flatten(&vips.Color{R: 255, G: 255, B: 255}); err != nil {
				return nil, fmt.Errorf("flatten: %s", vipsErr(err))
			}
		}
		// Progressive with optimised tables suits web sizes; above that,
		// libjpeg buffers the whole coefficient image for it (188 MB for a
		// 24 MP photo, 4x the time), so big copies are baseline.
		web := src.Width()*src.Height() <= progressiveMaxPixels
		b, _, err = src.ExportJpeg(&vips.JpegExportParams{StripMetadata: true, Quality: quality, Interlace: web, OptimizeCoding: web, SubsampleMode: vips.VipsForeignSubsampleAuto})
	case WebP:
		b, _, err = img.ExportWebp(&vips.WebpExportParams{StripMetadata: true, Quality: quality, ReductionEffort: opts.WebPEffort})
	case AVIF:
		src := img
		keep := copyright != "" && isPrintableASCII(copyright)
		if keep {
			// libvips writes exif-ifd* fields into the EXIF it saves (in
			// the "value (...)" form it reads them in), through libexif,
			// which adds its own mandatory tags (Orientation 1 among them)
			// and turns non-ASCII into "?": a notice that is not plain
			// ASCII is left out of AVIF rather than garbled. JPEG and WebP
			// get it stamped in instead (package stamp).
			if src, err = img.Copy(); err != nil {
				return nil, fmt.Errorf("copy: %s", vipsErr(err))
			}
			defer src.Close()
			src.SetString("exif-ifd0-Copyright", fmt.Sprintf("%s (%s, ASCII, %d components, %d bytes)", copyright, copyright, len(copyright)+1, len(copyright)+1))
		}
		b, _, err = src.ExportAvif(&vips.AvifExportParams{StripMetadata: !keep, Quality: quality, Bitdepth: 8, Effort: max(opts.AVIFEffort, 1)})
	default:
		return nil, fmt.Errorf("unknown format %q", f)
	}
	if err != nil {
		return nil, badInput("cannot encode %s: %s", f, vipsErr(err))
	}
	return b, nil
}

func isPrintableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
