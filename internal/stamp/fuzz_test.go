package stamp_test

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/photodesk/photodesk/internal/fixture"
	"github.com/photodesk/photodesk/internal/stamp"
	"github.com/photodesk/photodesk/pipeline/contract"
)

// FuzzStamp: on any bytes, as JPEG and as WebP, and any text, stamp
// returns a file or an error (ErrMalformed, ErrTooLarge), never panics.
// A file it returns has exactly one of each of its blocks, well-formed
// XMP, stamps again to itself, and strips to what the input strips to.
func FuzzStamp(f *testing.F) {
	camera, err := fixture.JPEG(fixture.Scene(16, 16, 1), 80, &fixture.EXIF{Make: "Canon", Artist: "x"})
	if err != nil {
		f.Fatal(err)
	}
	for _, b := range [][]byte{
		camera,
		encode(f, "jpeg", 16, 16, 2),
		mustStamp(f, encode(f, "jpeg", 16, 16, 2), "jpeg", full()),
		encode(f, "webp", 16, 16, 3),
		encode(f, "webp-lossless", 16, 16, 3),
		mustStamp(f, encode(f, "webp", 16, 16, 3), "webp", full()),
		[]byte(riff(chunk("VP8L", "\x2f\x00\x00\x00\x00"))),
	} {
		f.Add(b, "7月28日,工人<检查>机器。")
	}
	at := time.Date(2026, 7, 28, 10, 41, 30, 0, shanghai)
	f.Fuzz(func(t *testing.T, b []byte, text string) {
		m := stamp.Metadata{Caption: text, Headline: text, Created: &at, Rights: contract.Rights{
			Creator: contract.Names{text, "李华"}, Keywords: []string{text}, CopyrightNotice: text,
			Location: &contract.Location{City: text}}}
		for _, format := range []string{"jpeg", "webp"} {
			out, err := stamp.File(b, format, m)
			if err != nil {
				if !errors.Is(err, stamp.ErrMalformed) && !errors.Is(err, stamp.ErrTooLarge) {
					t.Fatalf("%s: %v", format, err)
				}
				continue
			}
			if again := mustStamp(t, out, format, m); !bytes.Equal(again, out) {
				t.Fatalf("%s: stamping twice differs", format)
			}
			if !bytes.Equal(mustStamp(t, out, format, stamp.Metadata{}), mustStamp(t, b, format, stamp.Metadata{})) {
				t.Fatalf("%s: the stamped file strips to another file", format)
			}
			var ps []part
			want := []string{"APP1 Exif", "APP1 XMP", "APP13"}
			if format == "jpeg" {
				ps, _ = jpegParts(t, out)
			} else {
				ps, want = webpChunks(t, out), []string{"EXIF", "XMP ", "VP8X"}
			}
			for _, n := range want {
				if c := count(names(ps), n); c != 1 {
					t.Fatalf("%s: %d %q in %v", format, c, n, names(ps))
				}
			}
			xmp := find(ps, want[1])
			xmp = xmp[bytes.IndexByte(xmp, '<'):]
			for d := xml.NewDecoder(bytes.NewReader(xmp)); ; {
				if _, err := d.Token(); err == io.EOF {
					break
				} else if err != nil {
					t.Fatalf("%s: XMP: %v", format, err)
				}
			}
		}
	})
}
