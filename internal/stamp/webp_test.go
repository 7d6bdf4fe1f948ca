package stamp_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"testing"

	"github.com/davidbyttow/govips/v2/vips"

	"github.com/photodesk/photodesk/internal/stamp"
)

// simpleWebP rewraps the image chunk of a libvips WebP as a simple file
// (no VP8X): what libwebp writes when there is no metadata.
func simpleWebP(t *testing.T, b []byte) []byte {
	t.Helper()
	for _, c := range webpChunks(t, b) {
		if c.name == "VP8 " || c.name == "VP8L" {
			n := 8 + len(c.payload) + len(c.payload)%2
			out := binary.LittleEndian.AppendUint32([]byte("RIFF"), uint32(4+n))
			return append(append(out, "WEBP"...), b[c.start:c.start+n]...)
		}
	}
	t.Fatal("no image chunk")
	return nil
}

// alphaWebP is a lossless WebP with transparency, from libvips.
func alphaWebP(t *testing.T) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, 33, 17))
	for i := range img.Pix {
		img.Pix[i] = byte(i * 7)
	}
	img.Set(0, 0, color.NRGBA{1, 2, 3, 0})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	ref, err := vips.NewImageFromBuffer(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	b, _, err := ref.ExportWebp(&vips.WebpExportParams{StripMetadata: true, Lossless: true})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSimpleWebP: a simple file gains a VP8X whose canvas is read from
// its bitstream (VP8 and VP8L; alpha as VP8L says), which exiftool and
// libvips read; without metadata it stays, or becomes again, simple.
func TestSimpleWebP(t *testing.T) {
	for _, c := range []struct {
		name          string
		file          []byte
		width, height int
		alpha         bool
	}{
		{"vp8", simpleWebP(t, encode(t, "webp", 321, 203, 9)), 321, 203, false},
		{"vp8 512", simpleWebP(t, encode(t, "webp", 512, 200, 9)), 512, 200, false}, // width-1 0x1FF
		{"vp8l", simpleWebP(t, encode(t, "webp-lossless", 99, 1, 9)), 99, 1, false},
		{"vp8l alpha", simpleWebP(t, alphaWebP(t)), 33, 17, true},
	} {
		if out := mustStamp(t, c.file, "webp", stamp.Metadata{}); !bytes.Equal(out, c.file) {
			t.Errorf("%s: stripping a simple file without metadata changed it", c.name)
		}
		out := mustStamp(t, c.file, "webp", full())
		chunks := webpChunks(t, out)
		vp8x := find(chunks, "VP8X")
		if len(vp8x) != 10 {
			t.Fatalf("%s: chunks %v", c.name, names(chunks))
		}
		w := 1 + (int(vp8x[4]) | int(vp8x[5])<<8 | int(vp8x[6])<<16)
		h := 1 + (int(vp8x[7]) | int(vp8x[8])<<8 | int(vp8x[9])<<16)
		flags := byte(0x08 | 0x04)
		if c.alpha {
			flags |= 0x10
		}
		if w != c.width || h != c.height || vp8x[0] != flags {
			t.Errorf("%s: VP8X %dx%d flags %#x, want %dx%d %#x", c.name, w, h, vp8x[0], c.width, c.height, flags)
		}
		t.Run(c.name+" exiftool", func(t *testing.T) {
			got := exiftool(t, out, "webp")
			if got["ExifTool:Validate"] != "OK" || got["XMP-photoshop:Headline"] != full().Headline {
				t.Errorf("Validate %v, warning %v", got["ExifTool:Validate"], got["ExifTool:Warning"])
			}
		})
		if back := mustStamp(t, out, "webp", stamp.Metadata{}); !bytes.Equal(back, c.file) {
			t.Errorf("%s: stripping the stamped file does not give the simple file back: %v", c.name, names(webpChunks(t, back)))
		}
		if !bytes.Equal(pixels(t, out), pixels(t, c.file)) {
			t.Errorf("%s: libvips decodes different pixels", c.name)
		}
		ref, err := vips.NewImageFromBuffer(out)
		if err != nil {
			t.Fatal(err)
		}
		if ref.Width() != c.width || ref.Height() != c.height || ref.HasAlpha() != c.alpha {
			t.Errorf("%s: libvips reads %dx%d alpha %v", c.name, ref.Width(), ref.Height(), ref.HasAlpha())
		}
		ref.Close()
	}
}

// TestStripLibvipsWebP: libvips writes an EXIF chunk of its own even when
// told to strip; stamping with nothing takes it out, and the file is
// simple again (what libwebp writes without metadata).
func TestStripLibvipsWebP(t *testing.T) {
	for _, f := range formats[1:] {
		plain := encode(t, f.name, 64, 48, 13)
		if got := names(webpChunks(t, plain)); !bytes.Contains([]byte(fmt.Sprint(got)), []byte("EXIF")) {
			t.Logf("%s: libvips no longer writes EXIF when stripping: %v", f.name, got)
		}
		out := mustStamp(t, plain, "webp", stamp.Metadata{})
		if got := names(webpChunks(t, out)); len(got) != 1 || (got[0] != "VP8 " && got[0] != "VP8L") {
			t.Errorf("%s: stripped to %v", f.name, got)
		}
	}
}
