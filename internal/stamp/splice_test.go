package stamp_test

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/photodesk/photodesk/internal/fixture"
	"github.com/photodesk/photodesk/internal/stamp"
)

// correction is full() after a caption correction.
func correction() stamp.Metadata {
	m := full()
	m.Caption = "7月28日,工人在车间里检修机器。"
	return m
}

// TestJPEGPixelsUntouched: from the first segment that is not metadata
// (DQT) to the end, a stamped JPEG is the libvips file byte for byte, and
// a caption correction changes the metadata only.
func TestJPEGPixelsUntouched(t *testing.T) {
	plain := encode(t, "jpeg", 640, 427, 5)
	a := mustStamp(t, plain, "jpeg", full())
	b := mustStamp(t, a, "jpeg", correction())
	tail := func(f []byte) []byte {
		parts, _ := jpegParts(t, f)
		for _, p := range parts {
			if !strings.HasPrefix(p.name, "APP") {
				return f[p.start:]
			}
		}
		t.Fatal("no DQT")
		return nil
	}
	if !bytes.Equal(tail(plain), tail(a)) || !bytes.Equal(tail(a), tail(b)) {
		t.Error("stamping changed bytes after the metadata")
	}
	if bytes.Equal(a, b) {
		t.Error("a caption correction left the file as it was")
	}
	if pa, pb := pixels(t, a), pixels(t, b); !bytes.Equal(pa, pb) || !bytes.Equal(pixels(t, plain), pa) {
		t.Error("libvips decodes different pixels")
	}
}

// TestWebPPixelsUntouched: the image chunks of a stamped WebP are the
// libvips file's, byte for byte.
func TestWebPPixelsUntouched(t *testing.T) {
	for _, f := range formats[1:] {
		plain := encode(t, f.name, 640, 427, 6)
		a := mustStamp(t, plain, "webp", full())
		b := mustStamp(t, a, "webp", correction())
		image := func(f []byte) []byte {
			for _, c := range webpChunks(t, f) {
				if c.name == "VP8 " || c.name == "VP8L" {
					return c.payload
				}
			}
			t.Fatal("no image chunk")
			return nil
		}
		if !bytes.Equal(image(plain), image(a)) || !bytes.Equal(image(a), image(b)) {
			t.Errorf("%s: stamping changed the image chunk", f.name)
		}
		if bytes.Equal(a, b) {
			t.Errorf("%s: a caption correction left the file as it was", f.name)
		}
		if pa, pb := pixels(t, a), pixels(t, b); !bytes.Equal(pa, pb) || !bytes.Equal(pixels(t, plain), pa) {
			t.Errorf("%s: libvips decodes different pixels", f.name)
		}
	}
}

// TestRestampReplaces: stamping a stamped file (or one carrying other
// tools' EXIF, XMP, extended XMP and IPTC) leaves exactly one of each of
// ours, in order, after JFIF; the ICC profile, other APPn segments and
// bytes after EOI stay as they were.
func TestRestampReplaces(t *testing.T) {
	plain := encode(t, "jpeg", 320, 200, 7)
	camera, err := fixture.JPEG(fixture.Scene(64, 48, 1), 90, &fixture.EXIF{Make: "Canon", Model: "EOS", Artist: "x"})
	if err != nil {
		t.Fatal(err)
	}
	cameraParts, _ := jpegParts(t, camera)
	// libvips writes no JFIF APP0 when stripping; other encoders do, 300
	// dpi here, and other tools put theirs after it.
	jfif := segment(0, []byte("JFIF\x00\x01\x01\x01\x01\x2c\x01\x2c\x00\x00"))
	foreign := append(append(slices.Clone(plain[:2]), jfif...), bytes.Join([][]byte{
		segment(1, find(cameraParts, "APP1 Exif")),
		segment(1, append([]byte(fixture.XMPHeader), fixture.XMPPacket("old caption", "someone")...)),
		segment(1, []byte("http://ns.adobe.com/xmp/extension/\x00"+strings.Repeat("0", 32)+"\x00\x00\x00\x0c\x00\x00\x00\x00<x:xmpmeta/>")),
		segment(13, fixture.IPTC("old caption", "someone", true)),
		segment(2, append([]byte(fixture.ICCHeader), "not really a profile"...)),
		segment(13, fixture.IPTC("second IPTC", "", true)),
		segment(10, []byte("anything else")),
	}, nil)...)
	foreign = append(foreign, plain[2:]...)
	foreign = append(foreign, "trailing bytes"...)
	for _, in := range [][]byte{plain, mustStamp(t, plain, "jpeg", full()), foreign} {
		out := mustStamp(t, mustStamp(t, in, "jpeg", correction()), "jpeg", full())
		parts, _ := jpegParts(t, out)
		got := names(parts)
		want := []string{"APP1 Exif", "APP1 XMP", "APP13", "DQT"}
		if bytes.Equal(in, foreign) {
			want = []string{"APP0", "APP1 Exif", "APP1 XMP", "APP13"}
		}
		if !slices.Equal(got[:4], want) {
			t.Errorf("segments %v, want %v first", got, want)
		}
		for _, n := range []string{"APP1 Exif", "APP1 XMP", "APP13"} {
			if c := count(got, n); c != 1 {
				t.Errorf("%d %s segments: %v", c, n, got)
			}
		}
		if count(got, "APP1 ExtendedXMP") != 0 {
			t.Errorf("extended XMP kept: %v", got)
		}
		if bytes.Equal(in, foreign) {
			inParts, _ := jpegParts(t, in)
			for _, n := range []string{"APP2", "APPA"} {
				if !bytes.Equal(find(parts, n), find(inParts, n)) {
					t.Errorf("%s not kept", n)
				}
			}
			if !bytes.HasSuffix(out, []byte("trailing bytes")) {
				t.Error("bytes after EOI lost")
			}

		}
	}
	jfifOnly := append(append(slices.Clone(plain[:2]), jfif...), plain[2:]...)
	t.Run("JFIF density", func(t *testing.T) {
		if got := exiftool(t, mustStamp(t, jfifOnly, "jpeg", full()), "jpg"); got["IFD0:XResolution"] != 300.0 || got["IFD0:ResolutionUnit"] != "inches" {
			t.Errorf("EXIF resolution %v %v, want JFIF's 300 dpi", got["IFD0:XResolution"], got["IFD0:ResolutionUnit"])
		}
	})
	for _, in := range [][]byte{encode(t, "webp", 64, 48, 8), mustStamp(t, encode(t, "webp", 64, 48, 8), "webp", full())} {
		out := mustStamp(t, mustStamp(t, in, "webp", correction()), "webp", full())
		if got := names(webpChunks(t, out)); !slices.Equal(got, []string{"VP8X", "VP8 ", "EXIF", "XMP "}) {
			t.Errorf("WebP chunks %v", got)
		}
	}
}

// segment is an APPn marker segment.
func segment(n int, payload []byte) []byte {
	return append([]byte{0xFF, byte(0xE0 + n), byte((len(payload) + 2) >> 8), byte(len(payload) + 2)}, payload...)
}

func count(s []string, v string) int {
	n := 0
	for _, x := range s {
		if x == v {
			n++
		}
	}
	return n
}
