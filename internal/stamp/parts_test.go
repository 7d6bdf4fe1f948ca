package stamp_test

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/davidbyttow/govips/v2/vips"
)

// part is a JPEG marker segment (before the first scan) or a WebP chunk,
// as the tests see them: an independent reading of the file, not
// stamp's.
type part struct {
	name    string // "APP1 Exif", "APP1 XMP", "APP13", "DQT"..., or a fourcc
	start   int    // offset of the marker or chunk header
	payload []byte
}

// jpegParts lists a JPEG's segments up to SOS, and where SOS starts.
func jpegParts(t testing.TB, b []byte) ([]part, int) {
	t.Helper()
	var parts []part
	for pos := 2; pos+4 <= len(b); {
		if b[pos] != 0xFF {
			t.Fatalf("no marker at %d", pos)
		}
		for pos+4 < len(b) && b[pos+1] == 0xFF { // fill bytes
			pos++
		}
		code := b[pos+1]
		if code == 0xDA {
			return parts, pos
		}
		n := int(binary.BigEndian.Uint16(b[pos+2:]))
		p := part{name: segmentName(code, b[pos+4:pos+2+n]), start: pos, payload: b[pos+4 : pos+2+n]}
		parts = append(parts, p)
		pos += 2 + n
	}
	t.Fatal("no SOS")
	return nil, 0
}

func segmentName(code byte, p []byte) string {
	switch {
	case code == 0xE1 && bytes.HasPrefix(p, []byte("Exif\x00\x00")):
		return "APP1 Exif"
	case code == 0xE1 && bytes.HasPrefix(p, []byte("http://ns.adobe.com/xap/1.0/\x00")):
		return "APP1 XMP"
	case code == 0xE1 && bytes.HasPrefix(p, []byte("http://ns.adobe.com/xmp/extension/\x00")):
		return "APP1 ExtendedXMP"
	case code == 0xED:
		return "APP13"
	case code >= 0xE0 && code <= 0xEF:
		return "APP" + string("0123456789ABCDEF"[code-0xE0])
	case code == 0xDB:
		return "DQT"
	case code == 0xC4:
		return "DHT"
	case code >= 0xC0 && code <= 0xCF:
		return "SOF"
	}
	return "other"
}

// webpChunks lists a WebP's chunks (and ignores bytes after the RIFF).
func webpChunks(t testing.TB, b []byte) []part {
	t.Helper()
	if len(b) < 12 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WEBP" || int(binary.LittleEndian.Uint32(b[4:]))+8 > len(b) {
		t.Fatalf("RIFF header % x for %d bytes", b[:min(len(b), 12)], len(b))
	}
	b = b[:binary.LittleEndian.Uint32(b[4:])+8]
	var parts []part
	for pos := 12; pos < len(b); {
		if pos+8 > len(b) || pos+8+int(binary.LittleEndian.Uint32(b[pos+4:])) > len(b) {
			t.Fatalf("chunk at %d runs past the RIFF", pos)
		}
		n := int(binary.LittleEndian.Uint32(b[pos+4:]))
		parts = append(parts, part{name: string(b[pos : pos+4]), start: pos, payload: b[pos+8 : pos+8+n]})
		pos += 8 + n + n%2
	}
	return parts
}

func names(ps []part) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.name)
	}
	return out
}

func find(ps []part, name string) []byte {
	for _, p := range ps {
		if p.name == name {
			return p.payload
		}
	}
	return nil
}

// pixels decodes b with libvips and returns its pixel bytes.
func pixels(t testing.TB, b []byte) []byte {
	t.Helper()
	img, err := vips.NewImageFromBuffer(b)
	if err != nil {
		t.Fatalf("libvips cannot decode: %v", err)
	}
	defer img.Close()
	px, err := img.ToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return px
}
