package imaging

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/png"
	"math"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"github.com/davidbyttow/govips/v2/vips"

	"github.com/photodesk/photodesk/internal/fixture"
)

var ctx = context.Background()

func TestMain(m *testing.M) {
	Start(nil)
	os.Exit(m.Run())
}

func defaultPresets(t *testing.T) []Preset {
	t.Helper()
	ps, err := ParsePresets(DefaultPresets)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

func preset(t *testing.T, spec string) Preset {
	t.Helper()
	ps, err := ParsePresets(spec)
	if err != nil {
		t.Fatal(err)
	}
	return ps[0]
}

var noLimits = Limits{MaxPixels: 100_000_000, MaxBytes: 200 << 20}

func open(t *testing.T, b []byte) *Source {
	t.Helper()
	s, err := Open(b, noLimits)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustJPEG(t *testing.T, img image.Image, e *fixture.EXIF) []byte {
	t.Helper()
	b, err := fixture.JPEG(img, 92, e)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// decode loads an encoded derivative with libvips (which reads every
// output format) and returns it with its pixels as a Go image.
func decode(t *testing.T, b []byte) (*vips.ImageRef, image.Image) {
	t.Helper()
	ref, err := vips.NewImageFromBuffer(b)
	if err != nil {
		t.Fatalf("derivative does not decode: %v", err)
	}
	t.Cleanup(ref.Close)
	cp, err := ref.Copy()
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	pb, _, err := cp.ExportPng(&vips.PngExportParams{Compression: 1})
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(pb))
	if err != nil {
		t.Fatal(err)
	}
	return ref, img
}

func rgbAt(img image.Image, x, y int) (r, g, b float64) {
	cr, cg, cb, _ := img.At(x, y).RGBA()
	return float64(cr >> 8), float64(cg >> 8), float64(cb >> 8)
}

// mean is the average colour of a square of side 2d+1 around (x, y).
func mean(img image.Image, x, y, d int) [3]float64 {
	var s [3]float64
	n := 0.0
	for yy := y - d; yy <= y+d; yy++ {
		for xx := x - d; xx <= x+d; xx++ {
			r, g, b := rgbAt(img, xx, yy)
			s[0] += r
			s[1] += g
			s[2] += b
			n++
		}
	}
	return [3]float64{s[0] / n, s[1] / n, s[2] / n}
}

func near(a, b [3]float64, tol float64) bool {
	for i := range a {
		if math.Abs(a[i]-b[i]) > tol {
			return false
		}
	}
	return true
}

// Quadrant colours, inside a print (CMYK) gamut so a CMYK round trip can
// keep them.
var (
	red    = [3]float64{200, 60, 50}
	green  = [3]float64{60, 150, 70}
	blue   = [3]float64{50, 70, 150}
	yellow = [3]float64{230, 210, 60}
)

// quadrants shows which way is up and which side is left: red top-left,
// green top-right, blue bottom-left, yellow bottom-right. No turn or mirror
// of it looks the same.
func quadrants(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := red
			switch {
			case x >= w/2 && y < h/2:
				c = green
			case x < w/2 && y >= h/2:
				c = blue
			case x >= w/2 && y >= h/2:
				c = yellow
			}
			img.Set(x, y, color.RGBA{uint8(c[0]), uint8(c[1]), uint8(c[2]), 255})
		}
	}
	return img
}

func TestParsePresets(t *testing.T) {
	ps := defaultPresets(t)
	if len(ps) != 3 || ps[0].Name != "thumb" || ps[0].Size != 320 || ps[2].Size != 2048 || !ps[2].Watermark || ps[0].Watermark {
		t.Fatalf("defaults: %+v", ps)
	}
	p := preset(t, "hero:1600:jpg+webp+avif:q70:wm")
	if p.Quality != 70 || len(p.Formats) != 3 || p.Formats[0] != JPEG || p.Formats[2] != AVIF || !p.Watermark {
		t.Fatalf("hero: %+v", p)
	}
	for spec, want := range map[string]string{
		"a:320:webp":            "must include jpeg",
		"a:320:jpeg,a:640:jpeg": "named twice",
		"a:0:jpeg":              "16..16384",
		"a:320:jpeg+gif":        "unknown format",
		"a:320:jpeg:q101":       "q1..q100",
		"a:320:jpeg:big":        "unknown option",
		"full:320:jpeg":         "slug other than",
		"Thumb:320:jpeg":        "slug",
		"a:320":                 "want name:size:formats",
		"":                      "no presets",
	} {
		if _, err := ParsePresets(spec); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParsePresets(%q) = %v, want error containing %q", spec, err, want)
		}
	}
	c := DefaultConfig()
	c.Watermark.Full = true
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if m := c.Marked(); len(m) != 2 || m[0].Name != "large" || m[1].Name != FullPreset || m[1].Size != 0 {
		t.Fatalf("marked: %+v", m)
	}
	c.Watermark.Position = "middle"
	if err := c.Validate(); err == nil {
		t.Fatal("bad position accepted")
	}
}

// TestOrientation: for each of the 8 EXIF orientations, the rendition is
// upright (judged by its pixels, not its tags) and carries no orientation.
func TestOrientation(t *testing.T) {
	shown := quadrants(400, 300)
	for o := 1; o <= 8; o++ {
		b := mustJPEG(t, fixture.StoreForOrientation(shown, o), &fixture.EXIF{Orientation: o, Make: "Canon"})
		src := open(t, b)
		if src.Width != 400 || src.Height != 300 {
			t.Fatalf("orientation %d: upright size %dx%d, want 400x300", o, src.Width, src.Height)
		}
		out, err := src.Render(ctx, preset(t, "t:320:jpeg+webp"), []Format{JPEG, WebP}, Options{})
		if err != nil {
			t.Fatalf("orientation %d: %v", o, err)
		}
		for _, r := range out {
			ref, img := decode(t, r.Data)
			if r.Width != 320 || r.Height != 240 || img.Bounds().Dx() != 320 || img.Bounds().Dy() != 240 {
				t.Fatalf("orientation %d %s: %dx%d, want 320x240", o, r.Format, img.Bounds().Dx(), img.Bounds().Dy())
			}
			for _, q := range []struct {
				x, y int
				want [3]float64
				name string
			}{{80, 60, red, "top-left red"}, {240, 60, green, "top-right green"}, {80, 180, blue, "bottom-left blue"}, {240, 180, yellow, "bottom-right yellow"}} {
				if got := mean(img, q.x, q.y, 10); !near(got, q.want, 30) {
					t.Errorf("orientation %d %s: %s is %v", o, r.Format, q.name, got)
				}
			}
			if ref.Orientation() > 1 {
				t.Errorf("orientation %d %s: output still tagged %d", o, r.Format, ref.Orientation())
			}
		}
	}
}

// photoWithEverything is a 3000x2000 JPEG with camera EXIF (GPS included),
// a copyright notice, and an XMP packet.
func photoWithEverything(t *testing.T, w, h int) []byte {
	t.Helper()
	alt := 44.0
	b := mustJPEG(t, fixture.Scene(w, h, 3), &fixture.EXIF{
		DateTimeOriginal: "2026:07:28 09:30:00", Make: "Canon", Model: "EOS R6", Artist: "Jane Doe",
		Copyright: "© 2026 工人日报 Jane Doe",
		GPS:       &fixture.GPS{Lat: 39.9042, Lon: 116.4074, Alt: &alt},
	})
	b, err := fixture.WithAPP(b, 1, []byte(fixture.XMPHeader), fixture.XMPPacket("secret caption", "Jane Doe"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPresetsFormatsColourMetadata: every default preset in every format
// has the right size, decodes as its format, is 8-bit sRGB, and keeps the
// copyright but no other EXIF, no GPS, no XMP.
func TestPresetsFormatsColourMetadata(t *testing.T) {
	src := open(t, photoWithEverything(t, 3000, 2000))
	if src.Copyright != "© 2026 工人日报 Jane Doe" {
		t.Fatalf("copyright read as %q", src.Copyright)
	}
	want := map[string][2]int{"thumb": {320, 213}, "medium": {1024, 683}, "large": {2048, 1365}}
	presets := defaultPresets(t)
	presets = append(presets, preset(t, "av:640:jpeg+avif:q60"))
	want["av"] = [2]int{640, 427}
	for _, p := range presets {
		formats := p.Formats
		if p.Name == "av" && !CanWrite(AVIF) {
			t.Fatal("this libvips cannot write AVIF; the set-up installs libheif with an AV1 encoder")
		}
		out, err := src.Render(ctx, p, formats, Options{AVIFEffort: 2})
		if err != nil {
			t.Fatalf("%s: %v", p.Name, err)
		}
		if len(out) != len(formats) {
			t.Fatalf("%s: %d outputs for %d formats", p.Name, len(out), len(formats))
		}
		for _, r := range out {
			ref, _ := decode(t, r.Data)
			wantLoader := map[Format]string{JPEG: "jpegload", WebP: "webpload", AVIF: "heifload"}[r.Format]
			if got := ref.GetString("vips-loader"); !strings.HasPrefix(got, wantLoader) {
				t.Errorf("%s %s: loads with %q", p.Name, r.Format, got)
			}
			if sz := want[p.Name]; ref.Width() != sz[0] || ref.Height() != sz[1] || r.Width != sz[0] || r.Height != sz[1] {
				t.Errorf("%s %s: %dx%d (reported %dx%d), want %v", p.Name, r.Format, ref.Width(), ref.Height(), r.Width, r.Height, sz)
			}
			if ref.Interpretation() != vips.InterpretationSRGB || ref.Bands() != 3 || ref.BandFormat() != vips.BandFormatUchar {
				t.Errorf("%s %s: interpretation %v, %d bands, format %v; want 8-bit sRGB", p.Name, r.Format, ref.Interpretation(), ref.Bands(), ref.BandFormat())
			}
			want := "Jane Doe"
			if r.Format == AVIF {
				want = "" // a non-ASCII notice is left out of AVIF (TestCopyrightSplice)
			}
			checkMetadata(t, p.Name+" "+string(r.Format), ref, r.Data, want)
		}
	}
}

// checkMetadata: no EXIF tag but Copyright, no ICC, and XMP and IPTC
// only when there is a copyright notice to carry (TestCopyrightSplice
// checks they hold nothing else).
func checkMetadata(t *testing.T, what string, ref *vips.ImageRef, data []byte, copyright string) {
	t.Helper()
	sawCopyright := false
	for _, f := range ref.GetFields() {
		switch {
		case f == "exif-ifd0-Copyright":
			sawCopyright = strings.Contains(ref.GetAsString(f), copyright)
		case strings.HasPrefix(f, "exif-ifd3"), strings.HasPrefix(f, "exif-ifd2-DateTime"), f == "exif-ifd0-Make",
			f == "exif-ifd0-Artist", f == "exif-ifd0-Orientation", f == "icc-profile-data",
			copyright == "" && (f == "xmp-data" || f == "iptc-data"):
			t.Errorf("%s: kept %s", what, f)
		}
	}
	if copyright != "" && !sawCopyright {
		t.Errorf("%s: copyright %q lost", what, copyright)
	}
	for _, leak := range []string{"secret caption", "EOS R6", "Canon"} {
		if bytes.Contains(data, []byte(leak)) {
			t.Errorf("%s: bytes still contain %q", what, leak)
		}
	}
}

func TestNeverUpscales(t *testing.T) {
	src := open(t, mustJPEG(t, fixture.Scene(800, 600, 1), nil))
	out, err := src.Render(ctx, preset(t, "large:2048:jpeg"), []Format{JPEG}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if out[0].Width != 800 || out[0].Height != 600 {
		t.Fatalf("800x600 original made %dx%d", out[0].Width, out[0].Height)
	}
}

// TestCMYKAndICC: a CMYK JPEG and an Adobe RGB JPEG come out as sRGB with
// their colours kept (a red stays red), not as raw device values.
func TestCMYKAndICC(t *testing.T) {
	base := mustJPEG(t, quadrants(400, 300), nil)

	ref, err := vips.NewImageFromBuffer(base)
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	// CMYK as prepress makes it: through a CMYK profile, embedded.
	if err := ref.TransformICCProfile("/usr/share/color/icc/ghostscript/default_cmyk.icc"); err != nil {
		t.Fatalf("CMYK profile (Debian libgs-common, installed by make deps): %v", err)
	}
	cmyk, _, err := ref.ExportJpeg(&vips.JpegExportParams{Quality: 95})
	if err != nil {
		t.Fatal(err)
	}
	check, _ := decode(t, cmyk)
	if check.Interpretation() != vips.InterpretationCMYK || check.Bands() != 4 {
		t.Fatalf("fixture is not CMYK: %v, %d bands", check.Interpretation(), check.Bands())
	}

	// The same colours, as Adobe RGB numbers, tagged with the profile: a
	// viewer that ignores the profile would show them washed out.
	ar, err := vips.NewImageFromBuffer(base)
	if err != nil {
		t.Fatal(err)
	}
	defer ar.Close()
	if err := ar.TransformICCProfile("/usr/share/color/icc/ghostscript/a98.icc"); err != nil {
		t.Fatalf("Adobe RGB profile (Debian libgs-common, installed by make deps): %v", err)
	}
	adobe, _, err := ar.ExportJpeg(&vips.JpegExportParams{Quality: 95})
	if err != nil {
		t.Fatal(err)
	}
	if _, raw := decode(t, adobe); near(mean(raw, 100, 75, 5), red, 12) {
		t.Fatal("fixture: Adobe RGB numbers should differ from sRGB ones")
	}

	for name, b := range map[string][]byte{"cmyk": cmyk, "adobe-rgb": adobe} {
		out, err := open(t, b).Render(ctx, preset(t, "t:320:jpeg"), []Format{JPEG}, Options{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		ref, img := decode(t, out[0].Data)
		if ref.Interpretation() != vips.InterpretationSRGB || ref.Bands() != 3 {
			t.Errorf("%s: %v with %d bands", name, ref.Interpretation(), ref.Bands())
		}
		for _, q := range []struct {
			x, y int
			want [3]float64
		}{{80, 60, red}, {240, 60, green}, {80, 180, blue}, {240, 180, yellow}} {
			if got := mean(img, q.x, q.y, 8); !near(got, q.want, 40) {
				t.Errorf("%s: at %d,%d colour %v, want about %v", name, q.x, q.y, got, q.want)
			}
		}
	}
}

// TestInputFormats: PNG (16-bit too), WebP, TIFF, HEIC, grey JPEG and an
// animated GIF (first frame) all make an 8-bit sRGB JPEG; type is sniffed.
func TestInputFormats(t *testing.T) {
	q := quadrants(400, 300)
	var png16 bytes.Buffer
	n64 := image.NewNRGBA64(q.Bounds())
	for y := range 300 {
		for x := range 400 {
			n64.Set(x, y, q.At(x, y))
		}
	}
	if err := png.Encode(&png16, n64); err != nil {
		t.Fatal(err)
	}
	viaVips := func(export func(*vips.ImageRef) ([]byte, error)) []byte {
		ref, err := vips.NewImageFromBuffer(mustJPEG(t, q, nil))
		if err != nil {
			t.Fatal(err)
		}
		defer ref.Close()
		b, err := export(ref)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	webp := viaVips(func(r *vips.ImageRef) ([]byte, error) {
		b, _, err := r.ExportWebp(&vips.WebpExportParams{Quality: 90})
		return b, err
	})
	tiff := viaVips(func(r *vips.ImageRef) ([]byte, error) {
		b, _, err := r.ExportTiff(&vips.TiffExportParams{Compression: vips.TiffCompressionLzw, TileWidth: 256, TileHeight: 256})
		return b, err
	})
	heic := viaVips(func(r *vips.ImageRef) ([]byte, error) {
		b, _, err := r.ExportHeif(&vips.HeifExportParams{Quality: 90, Bitdepth: 8, Effort: 1})
		return b, err
	})
	grey := image.NewGray(image.Rect(0, 0, 400, 300))
	for i := range grey.Pix {
		grey.Pix[i] = uint8(i % 251)
	}
	var anim bytes.Buffer
	pal := color.Palette{color.RGBA{220, 30, 30, 255}, color.RGBA{30, 40, 220, 255}}
	f1, f2 := image.NewPaletted(image.Rect(0, 0, 400, 300), pal), image.NewPaletted(image.Rect(0, 0, 400, 300), pal)
	for i := range f2.Pix {
		f2.Pix[i] = 1
	}
	if err := gif.EncodeAll(&anim, &gif.GIF{Image: []*image.Paletted{f1, f2}, Delay: []int{10, 10}}); err != nil {
		t.Fatal(err)
	}

	for name, c := range map[string]struct {
		b      []byte
		format string
	}{
		"png16": {png16.Bytes(), "png"}, "webp": {webp, "webp"}, "tiff": {tiff, "tiff"},
		"heic": {heic, "heif"}, "grey": {mustJPEG(t, grey, nil), "jpeg"}, "gif": {anim.Bytes(), "gif"},
	} {
		src := open(t, c.b)
		if src.Format != c.format || src.Width != 400 || src.Height != 300 {
			t.Errorf("%s: opened as %s %dx%d", name, src.Format, src.Width, src.Height)
			continue
		}
		out, err := src.Render(ctx, preset(t, "t:200:jpeg"), []Format{JPEG}, Options{})
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		ref, img := decode(t, out[0].Data)
		if ref.Interpretation() != vips.InterpretationSRGB || ref.Bands() != 3 || ref.Width() != 200 {
			t.Errorf("%s: %v %d bands %dpx", name, ref.Interpretation(), ref.Bands(), ref.Width())
		}
		switch name {
		case "gif":
			if got := mean(img, 100, 75, 10); !near(got, red, 30) {
				t.Errorf("gif: first frame is red, got %v", got)
			}
		case "png16", "webp", "tiff", "heic":
			if got := mean(img, 150, 37, 8); !near(got, green, 35) {
				t.Errorf("%s: top-right should be green, got %v", name, got)
			}
		}
	}
}

// pngHeader is a PNG whose header claims w x h 8-bit RGB pixels, followed by
// a little real data: a decompression bomb's opening, a few hundred bytes.
func pngHeader(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		var l [4]byte
		l[0], l[1], l[2], l[3] = byte(len(data)>>24), byte(len(data)>>16), byte(len(data)>>8), byte(len(data))
		b.Write(l[:])
		b.WriteString(typ)
		b.Write(data)
		c := crc32.NewIEEE()
		c.Write([]byte(typ))
		c.Write(data)
		s := c.Sum32()
		b.Write([]byte{byte(s >> 24), byte(s >> 16), byte(s >> 8), byte(s)})
	}
	ihdr := []byte{byte(w >> 24), byte(w >> 16), byte(w >> 8), byte(w), byte(h >> 24), byte(h >> 16), byte(h >> 8), byte(h), 8, 2, 0, 0, 0}
	chunk("IHDR", ihdr)
	chunk("IDAT", []byte{0x78, 0x9c, 0x63, 0x60, 0x00, 0x00, 0x00, 0x02, 0x00, 0x01}) // zlib of a few zeros
	chunk("IEND", nil)
	return b.Bytes()
}

// TestBadInputs: each fails alone with a reason a photographer can read,
// and the PNG bomb is refused from its header without a large allocation.
func TestBadInputs(t *testing.T) {
	good := mustJPEG(t, fixture.Scene(1200, 800, 5), nil)
	for name, c := range map[string]struct {
		b    []byte
		lim  Limits
		want string
	}{
		"zero bytes":        {nil, noLimits, "empty"},
		"pdf named .jpg":    {[]byte("%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer\n%%EOF\n"), noLimits, "application/pdf"},
		"text":              {[]byte("hello, this is not a photo"), noLimits, "not an image photodesk reads"},
		"png bomb":          {pngHeader(30000, 30000), noLimits, "30000×30000 (900.0 MP), over the 100.0 MP limit"},
		"over max bytes":    {good, Limits{MaxPixels: 100e6, MaxBytes: 1000}, "over the 1000 bytes limit"},
		"over max pixels":   {good, Limits{MaxPixels: 500_000, MaxBytes: 200 << 20}, "over the 0.5 MP limit"},
		"header only jpeg":  {good[:200], noLimits, ""},
		"truncated jpeg":    {good[:len(good)/2], noLimits, "cannot decode the jpeg"},
		"truncated png":     {pngHeader(640, 480), noLimits, ""},
		"garbage after SOI": {append([]byte{0xFF, 0xD8, 0xFF}, bytes.Repeat([]byte{0x42}, 4000)...), noLimits, ""},
		// libvips would decode for minutes; refused from a count of markers.
		"scan bomb": {fixture.ScanBombJPEG(6000, 4000, 100_000, nil), noLimits, "the JPEG has 100000 scans, over the 500-scan limit"},
	} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		var vbefore vips.MemoryStats
		vips.ReadVipsMemStats(&vbefore)
		src, err := Open(c.b, c.lim)
		if err == nil {
			_, err = src.Render(ctx, preset(t, "t:320:jpeg+webp"), []Format{JPEG, WebP}, Options{})
		}
		runtime.ReadMemStats(&after)
		if err == nil || !errors.Is(err, ErrBadInput) {
			t.Errorf("%s: err %v, want a bad-input error", name, err)
			continue
		}
		if !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "Stack") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: reason %q, want one line containing %q", name, err, c.want)
		}
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 32<<20 {
			t.Errorf("%s: Go allocated %d MiB to refuse it", name, grew>>20)
		}
		var v vips.MemoryStats
		vips.ReadVipsMemStats(&v)
		if v.MemHigh > 64<<20 {
			t.Errorf("%s: libvips memory high-water %d MiB", name, v.MemHigh>>20)
		}
	}
	// The process goes on: a good photo still renders after all that.
	if _, err := open(t, good).Render(ctx, preset(t, "t:320:jpeg"), []Format{JPEG}, Options{}); err != nil {
		t.Fatalf("good photo after bad ones: %v", err)
	}
}

// TestScanLimit: a progressive JPEG of as many scans as the limit allows
// decodes (every scan counted, none dropped), one more is refused.
func TestScanLimit(t *testing.T) {
	src, err := Open(fixture.ScanBombJPEG(640, 480, MaxJPEGScans, nil), noLimits)
	if err != nil {
		t.Fatalf("%d scans: %v", MaxJPEGScans, err)
	}
	outs, err := src.Render(ctx, preset(t, "t:320:jpeg"), []Format{JPEG}, Options{})
	if err != nil || len(outs) != 1 {
		t.Fatalf("%d scans: %d renditions, %v", MaxJPEGScans, len(outs), err)
	}
	if outs[0].Width != 320 || outs[0].Height != 240 {
		t.Errorf("%d scans: rendered %dx%d, want 320x240", MaxJPEGScans, outs[0].Width, outs[0].Height)
	}
	_, err = Open(fixture.ScanBombJPEG(640, 480, MaxJPEGScans+1, nil), noLimits)
	if !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), "501 scans, over the 500-scan limit") {
		t.Fatalf("%d scans: %v, want refused", MaxJPEGScans+1, err)
	}
}

// TestCopyrightSplice: the copyright notice stamped into JPEG and WebP
// reads back, through libvips and exiftool alike, with nothing else but
// the tags EXIF, IIM and XMP need around it.
func TestCopyrightSplice(t *testing.T) {
	for _, notice := range []string{"ab", "© 2026 工人日报 Jane"} {
		b := mustJPEG(t, fixture.StoreForOrientation(quadrants(400, 300), 6), &fixture.EXIF{Copyright: notice, Orientation: 6, Make: "Canon"})
		out, err := open(t, b).Render(ctx, preset(t, "t:320:jpeg+webp+avif"), []Format{JPEG, WebP, AVIF}, Options{AVIFEffort: 2})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range out {
			if r.Format == AVIF {
				// Through libexif: an ASCII notice is kept (with libexif's
				// own housekeeping tags); any other is left out, not garbled.
				got := exiftool(t, r.Data)["IFD0:Copyright"]
				if ascii := notice == "ab"; ascii && got != notice || !ascii && got != nil {
					t.Errorf("avif: copyright %v for notice %q", got, notice)
				}
				continue
			}
			back, _ := decode(t, r.Data)
			if got := back.GetAsString("exif-ifd0-Copyright"); !strings.Contains(got, notice) {
				t.Errorf("%s: copyright %q read back by libvips as %q", r.Format, notice, got)
			}
			tags := exiftool(t, r.Data)
			if tags["IFD0:Copyright"] != notice {
				t.Errorf("%s: exiftool reads copyright %q, want %q", r.Format, tags["IFD0:Copyright"], notice)
			}
			if tags["XMP-dc:Rights"] != notice || r.Format == JPEG && tags["IPTC:CopyrightNotice"] != notice {
				t.Errorf("%s: exiftool reads XMP %v, IPTC %v, want %q", r.Format, tags["XMP-dc:Rights"], tags["IPTC:CopyrightNotice"], notice)
			}
			for k, v := range tags {
				group, _, _ := strings.Cut(k, ":")
				if !stamped[k] && (group == "IFD0" || group == "ExifIFD" || group == "GPS" || group == "IPTC" || strings.HasPrefix(group, "XMP")) {
					t.Errorf("%s: exiftool finds %s = %v", r.Format, k, v)
				}
			}
		}
	}
}

// stamped are the tags package stamp writes for a copyright notice.
var stamped = map[string]bool{
	"IFD0:Copyright": true, "IFD0:XResolution": true, "IFD0:YResolution": true,
	"IFD0:ResolutionUnit": true, "IFD0:YCbCrPositioning": true,
	"XMP-dc:Rights": true, "XMP-xmpRights:Marked": true,
	"IPTC:CopyrightNotice": true, "IPTC:CodedCharacterSet": true,
	"IPTC:EnvelopeRecordVersion": true, "IPTC:ApplicationRecordVersion": true,
}

// exiftool runs the independent reference reader on b.
func exiftool(t *testing.T, b []byte) map[string]any {
	t.Helper()
	cmd := exec.Command("exiftool", "-j", "-G1", "-a", "-")
	cmd.Stdin = bytes.NewReader(b)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("exiftool (installed by make deps): %v", err)
	}
	var res []map[string]any
	if err := json.Unmarshal(out, &res); err != nil || len(res) != 1 {
		t.Fatalf("exiftool output %s: %v", out, err)
	}
	return res[0]
}

// TestNoHEIFLoader: where libvips has no HEIF loader, a HEIC fails with a
// reason that says so (this build has one, so the capability is switched
// off for the test).
func TestNoHEIFLoader(t *testing.T) {
	ref, err := vips.NewImageFromBuffer(mustJPEG(t, quadrants(64, 48), nil))
	if err != nil {
		t.Fatal(err)
	}
	heic, _, err := ref.ExportHeif(&vips.HeifExportParams{Quality: 80, Bitdepth: 8, Effort: 1})
	ref.Close()
	if err != nil {
		t.Fatal(err)
	}
	saved := support.heifLoad
	support.heifLoad = false
	defer func() { support.heifLoad = saved }()
	_, err = Open(heic, noLimits)
	if !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), "heif images are not supported by this server's libvips") {
		t.Fatalf("HEIC without a loader: %v", err)
	}
}

// TestRenderSetSharesDecode: the smaller presets are resized from the
// larger one's kept decode, and still come out upright, at their size, in
// their colours, and close to what a decode of their own gives.
func TestRenderSetSharesDecode(t *testing.T) {
	shown := quadrants(1200, 900)
	for _, o := range []int{1, 6, 8} {
		b := mustJPEG(t, fixture.StoreForOrientation(shown, o), &fixture.EXIF{Orientation: o, Make: "Canon"})
		jobs := []Job{
			{Preset: preset(t, "small:200:jpeg"), Formats: []Format{JPEG}},
			{Preset: preset(t, "big:800:jpeg+webp"), Formats: []Format{JPEG, WebP}},
			{Preset: preset(t, "mid:400:jpeg+webp"), Formats: []Format{WebP}},
		}
		src := open(t, b)
		var order []string
		got := map[string][]Result{}
		err := RenderSet(ctx, src, jobs, Options{}, func(j Job, r []Result) error {
			order = append(order, j.Preset.Name)
			got[j.Preset.Name] = r
			return nil
		})
		if err != nil {
			t.Fatalf("orientation %d: %v", o, err)
		}
		if strings.Join(order, ",") != "big,mid,small" {
			t.Fatalf("orientation %d: rendered %v, want largest first", o, order)
		}
		if src.base != nil {
			t.Errorf("orientation %d: the kept decode outlived RenderSet", o)
		}
		for _, j := range jobs {
			want := j.Preset.Size
			if len(got[j.Preset.Name]) != len(j.Formats) {
				t.Fatalf("orientation %d %s: %d results", o, j.Preset.Name, len(got[j.Preset.Name]))
			}
			// The same preset decoded on its own, the way it was made before.
			alone, err := open(t, b).Render(ctx, j.Preset, j.Formats, Options{})
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range got[j.Preset.Name] {
				_, img := decode(t, r.Data)
				if img.Bounds().Dx() != want || img.Bounds().Dy() != want*3/4 {
					t.Fatalf("orientation %d %s %s: %v, want %dx%d", o, j.Preset.Name, r.Format, img.Bounds(), want, want*3/4)
				}
				w, h := img.Bounds().Dx(), img.Bounds().Dy()
				for _, q := range []struct {
					x, y int
					want [3]float64
				}{{w / 4, h / 4, red}, {3 * w / 4, h / 4, green}, {w / 4, 3 * h / 4, blue}, {3 * w / 4, 3 * h / 4, yellow}} {
					if c := mean(img, q.x, q.y, 5); !near(c, q.want, 30) {
						t.Errorf("orientation %d %s %s: (%d,%d) is %v, want %v", o, j.Preset.Name, r.Format, q.x, q.y, c, q.want)
					}
				}
				_, ref := decode(t, alone[i].Data)
				if d := meanAbsDiff(img, ref); d > 3 {
					t.Errorf("orientation %d %s %s: differs from its own decode by %.2f levels on average", o, j.Preset.Name, r.Format, d)
				}
			}
		}
	}
}

func meanAbsDiff(a, b image.Image) float64 {
	var sum, n float64
	r := a.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			r1, g1, b1 := rgbAt(a, x, y)
			r2, g2, b2 := rgbAt(b, x, y)
			sum += math.Abs(r1-r2) + math.Abs(g1-g2) + math.Abs(b1-b2)
			n += 3
		}
	}
	return sum / n
}

// TestMallocTuning: the process start applies both malloc settings, and an
// operator's own MALLOC_ARENA_MAX leaves the arena count to them.
func TestMallocTuning(t *testing.T) {
	if os.Getenv("PHOTODESK_MALLOC_CHILD") != "" {
		// The child reports what its start applied; the parent checks.
		fmt.Printf("tunings=%d\n", mallocTunings())
		return
	}
	for _, tc := range []struct {
		env  []string
		want string
	}{
		{nil, "tunings=2"},
		{[]string{"MALLOC_ARENA_MAX=4"}, "tunings=1"},
		{[]string{"GLIBC_TUNABLES=glibc.malloc.arena_max=4"}, "tunings=0"},
	} {
		cmd := exec.Command(os.Args[0], "-test.run", "^TestMallocTuning$", "-test.count", "1")
		var env []string
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "MALLOC_") && !strings.HasPrefix(kv, "GLIBC_TUNABLES=") {
				env = append(env, kv)
			}
		}
		cmd.Env = append(append(env, "PHOTODESK_MALLOC_CHILD=1"), tc.env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("env %v: %v\n%s", tc.env, err, out)
		}
		if !strings.Contains(string(out), tc.want+"\n") {
			t.Errorf("env %v: want %s, got\n%s", tc.env, tc.want, out)
		}
	}
}

// TestVipsErrWithoutAMessage: govips's error for a failure whose message
// another job took (one error buffer per process) still reads as a
// reason, and the marker Source.Render retries on.
func TestVipsErrWithoutAMessage(t *testing.T) {
	if got := vipsErr(errors.New("VipsJpeg: Premature end of input file\n\nStack:\ngoroutine 1")); got != "VipsJpeg: Premature end of input file" {
		t.Errorf("vipsErr = %q", got)
	}
	if got := vipsErr(errors.New("\nStack:\ngoroutine 1 [running]")); got != noReason {
		t.Errorf("vipsErr of an empty message = %q, want %q", got, noReason)
	}
}
