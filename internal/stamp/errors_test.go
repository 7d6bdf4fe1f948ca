package stamp_test

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/photodesk/photodesk/internal/stamp"
	"github.com/photodesk/photodesk/pipeline/contract"
)

// TestMalformed: files stamp cannot follow are errors (ErrMalformed),
// whatever their damage: every cut short header, and hand-broken ones.
func TestMalformed(t *testing.T) {
	jpg := encode(t, "jpeg", 64, 48, 10)
	_, scan := jpegParts(t, jpg)
	webp := encode(t, "webp", 64, 48, 10)
	bad := map[string][2]string{
		"empty":                   {"", ""},
		"text":                    {"hello, world", "hello, world"},
		"SOI EOI":                 {"\xFF\xD8\xFF\xD9", ""},
		"segment length 1":        {"\xFF\xD8\xFF\xE0\x00\x01\x00\x00", ""},
		"RST before scan":         {"\xFF\xD8\xFF\xD0\xFF\xDA\x00\x02", ""},
		"no frame header":         {"\xFF\xD8\xFF\xDB\x00\x02\xFF\xDA\x00\x02", ""},
		"garbage after a segment": {"\xFF\xD8\xFF\xE0\x00\x02xyz", ""},
		"RIFF size odd short":     {"", "RIFF\x02\x00\x00\x00WEBP"},
		"no chunks":               {"", "RIFF\x04\x00\x00\x00WEBP"},
		"unknown first chunk":     {"", riff(chunk("ABCD", "xy"))},
		"VP8X short":              {"", riff(chunk("VP8X", "\x00\x00\x00\x00"))},
		"VP8X without image":      {"", riff(chunk("VP8X", strings.Repeat("\x00", 10)) + chunk("ICCP", "xx"))},
		"VP8X second":             {"", riff(chunk("VP8L", "\x2f\x00\x00\x00\x00") + chunk("VP8X", strings.Repeat("\x00", 10)))},
		"VP8 interframe":          {"", riff(chunk("VP8 ", "\x01\x00\x00\x9d\x01\x2a\x01\x00\x01\x00"))},
		"VP8 zero width":          {"", riff(chunk("VP8 ", "\x00\x00\x00\x9d\x01\x2a\x00\x00\x01\x00"))},
		"VP8L version 1":          {"", riff(chunk("VP8L", "\x2f\x00\x00\x00\x20"))},
		"chunk past the end":      {"", riff("VP8L\xff\x00\x00\x00\x2f")},
	}
	for n := range scan + 3 {
		bad["JPEG cut at "+strconv.Itoa(n)] = [2]string{string(jpg[:n]), ""}
	}
	for n := range len(webp) {
		bad["WebP cut at "+strconv.Itoa(n)] = [2]string{"", string(webp[:n])}
	}
	for name, files := range bad {
		for i, format := range []string{"jpeg", "webp"} {
			if files[i] == "" && name != "empty" {
				continue
			}
			for _, m := range []stamp.Metadata{{}, full()} {
				if out, err := stamp.File([]byte(files[i]), format, m); !errors.Is(err, stamp.ErrMalformed) {
					t.Errorf("%s as %s: %d bytes, error %v", name, format, len(out), err)
				}
			}
		}
	}
	if _, err := stamp.File(jpg, "avif", full()); !errors.Is(err, stamp.ErrUnsupported) {
		t.Errorf("avif: %v", err)
	}
}

func riff(chunks string) string {
	n := len(chunks) + 4
	return "RIFF" + string([]byte{byte(n), byte(n >> 8), byte(n >> 16), byte(n >> 24)}) + "WEBP" + chunks
}

func chunk(fourcc, payload string) string {
	n := len(payload)
	c := fourcc + string([]byte{byte(n), byte(n >> 8), byte(n >> 16), byte(n >> 24)}) + payload
	if n%2 == 1 {
		c += "\x00"
	}
	return c
}

// TestTooLarge: metadata that does not fit one JPEG segment is an error
// that says so, not a corrupt file or extended XMP. XMP holds everything
// IIM and EXIF do and more, so it is always the one that overflows.
func TestTooLarge(t *testing.T) {
	jpg, webp := encode(t, "jpeg", 64, 48, 11), encode(t, "webp", 64, 48, 11)
	long := stamp.Metadata{Caption: strings.Repeat("长", 22000)}
	for _, c := range []struct {
		format string
		file   []byte
	}{{"jpeg", jpg}, {"webp", webp}} {
		if _, err := stamp.File(c.file, c.format, long); !errors.Is(err, stamp.ErrTooLarge) || !strings.Contains(err.Error(), "XMP") {
			t.Errorf("%s: 66 kB caption: %v", c.format, err)
		}
	}
}

// TestBadGPS: a position no GPS IFD can say is an error.
func TestBadGPS(t *testing.T) {
	jpg := encode(t, "jpeg", 64, 48, 12)
	huge := 1e12
	for _, g := range []contract.GPS{{Lat: math.NaN()}, {Lat: 91}, {Lon: -180.5}, {Alt: &huge}} {
		if _, err := stamp.JPEG(jpg, stamp.Metadata{GPS: &g}); err == nil || !strings.Contains(err.Error(), "GPS") {
			t.Errorf("GPS %+v: %v", g, err)
		}
	}
}
