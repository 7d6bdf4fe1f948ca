package photometa

import (
	"bytes"
	"errors"
	"slices"
	"testing"
)

func TestPNG(t *testing.T) {
	tiff, _ := basicEXIF().build()
	for name, chunk := range map[string][]byte{
		"eXIf":                 pngChunk("eXIf", tiff),
		"eXIf with Exif\\0\\0": pngChunk("eXIf", append([]byte("Exif\x00\x00"), tiff...)),
	} {
		t.Run(name, func(t *testing.T) {
			x := mustExtract(t, pngFile(t, 40, 30, pngChunk("tEXt", []byte("Title\x00x")), chunk))
			if x.Format != "png" || x.Width != 40 || x.Height != 30 {
				t.Errorf("Format, size = %q, %d×%d", x.Format, x.Width, x.Height)
			}
			wantTime(t, x, "2026-07-28T09:30:00+08:00", "DateTimeOriginal", "newsroom-zone")
		})
	}
	t.Run("no eXIf", func(t *testing.T) {
		x := mustExtract(t, pngFile(t, 40, 30))
		if x.Present || !slices.Contains(x.Notes, "no EXIF") || x.Width != 40 {
			t.Errorf("got %+v", x)
		}
	})
	t.Run("eXIf after IDAT is not read", func(t *testing.T) {
		b := pngFile(t, 4, 4)
		iend := len(b) - 12
		b = slices.Concat(b[:iend], pngChunk("eXIf", tiff), b[iend:])
		if x := mustExtract(t, b); x.Present {
			t.Errorf("read eXIf after IDAT")
		}
	})
	t.Run("truncated eXIf", func(t *testing.T) {
		b := pngFile(t, 4, 4, pngChunk("eXIf", tiff))
		wantBadInput(t, b[:8+25+20], "truncated EXIF: PNG eXIf chunk")
	})
	t.Run("hostile eXIf", func(t *testing.T) {
		wantBadInput(t, pngFile(t, 4, 4, pngChunk("eXIf", tinyTIFF(1, tagMake, typeShort, 0x80000001, 0))), "past the end")
	})
}

func TestWebP(t *testing.T) {
	tiff, _ := basicEXIF().build()
	t.Run("extended with EXIF", func(t *testing.T) {
		b := riff(vp8x(640, 480, true), vp8l(640, 480), riffChunk("EXIF", tiff))
		x := mustExtract(t, b)
		if x.Format != "webp" || x.Width != 640 || x.Height != 480 {
			t.Errorf("Format, size = %q, %d×%d", x.Format, x.Width, x.Height)
		}
		wantTime(t, x, "2026-07-28T09:30:00+08:00", "DateTimeOriginal", "newsroom-zone")
	})
	t.Run("EXIF chunk with Exif\\0\\0", func(t *testing.T) {
		b := riff(vp8x(64, 48, true), vp8(64, 48), riffChunk("EXIF", append([]byte("Exif\x00\x00"), tiff...)))
		wantTime(t, mustExtract(t, b), "2026-07-28T09:30:00+08:00", "DateTimeOriginal", "newsroom-zone")
	})
	t.Run("extended without the EXIF flag", func(t *testing.T) {
		x := mustExtract(t, riff(vp8x(64, 48, false), vp8l(64, 48)))
		if x.Present || x.Width != 64 || x.Height != 48 || !slices.Contains(x.Notes, "no EXIF") {
			t.Errorf("got %+v", x)
		}
	})
	for name, b := range map[string][]byte{"lossy": riff(vp8(300, 200)), "lossless": riff(vp8l(300, 200))} {
		t.Run("simple "+name, func(t *testing.T) {
			x := mustExtract(t, b)
			if x.Present || x.Width != 300 || x.Height != 200 {
				t.Errorf("got %+v", x)
			}
		})
	}
}

func TestGIF(t *testing.T) {
	x := mustExtract(t, gifFile(t, 20, 10))
	if x.Format != "gif" || x.Present || x.Width != 20 || x.Height != 10 || !slices.Contains(x.Notes, "no EXIF") {
		t.Errorf("got %+v", x)
	}
}

func TestHEIF(t *testing.T) {
	for _, ftyp := range []string{
		"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic",
		"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf",
		"\x00\x00\x00\x18ftypmsf1\x00\x00\x00\x00msf1hevc",
		"\x00\x00\x00\x18ftypXXXX\x00\x00\x00\x00isomheix",
	} {
		b := append([]byte(ftyp), make([]byte, 100)...)
		x := mustExtract(t, b)
		if x.Format != "heif" || x.Present || !slices.Equal(x.Notes, []string{"HEIF: EXIF not read"}) {
			t.Errorf("%q: got %+v", ftyp[8:12], x)
		}
	}
	wantBadInput(t, []byte("\x00\x00\x00\x18ftypisom\x00\x00\x00\x00isommp41"), "not an image")
}

func TestRawTIFF(t *testing.T) {
	spec := basicEXIF()
	spec.ifd0 = append(spec.ifd0, long(tagImageWidth, 7000), short(tagImageLength, 5000))
	b, _ := spec.build()
	x := mustExtract(t, b)
	if x.Format != "tiff" || !x.Present || x.Make != "Canon" {
		t.Errorf("got %+v", x)
	}
	// A TIFF's IFD0 describes the image itself.
	if x.Width != 7000 || x.Height != 5000 {
		t.Errorf("size = %d×%d, want 7000×5000", x.Width, x.Height)
	}
	wantTime(t, x, "2026-07-28T09:30:00+08:00", "DateTimeOriginal", "newsroom-zone")

	x = mustExtract(t, []byte("II+\x00\x08\x00\x00\x00\x10\x00\x00\x00\x00\x00\x00\x00"))
	if x.Format != "tiff" || !slices.Equal(x.Notes, []string{"BigTIFF: EXIF not read"}) {
		t.Errorf("BigTIFF: got %+v", x)
	}
}

// Of a raw TIFF only the head is read; what lies beyond it but within the
// file is skipped, and only what lies beyond the file is corrupt.
func TestRawTIFFBeyondHead(t *testing.T) {
	spec := basicEXIF()
	spec.ifd1 = []field{long(0x0201, 0), long(0x0202, 0)}
	small, l := spec.build()
	big := func() []byte {
		b := make([]byte, tiffHead+100_000)
		copy(b, small)
		return b
	}
	t.Run("values, sub-IFD and IFD1", func(t *testing.T) {
		b := big()
		le.PutUint32(b[entryAt(t, b, l.ifd0, tagModel)+8:], tiffHead+10)
		le.PutUint32(b[nextAt(b, l.ifd0):], tiffHead+20)
		x := mustExtract(t, b)
		if !x.Present || x.Make != "Canon" || x.Model != "" || x.CapturedAt == nil {
			t.Errorf("got %+v", x)
		}
		for _, n := range []string{"IFD1 and after lie beyond the first 256 KiB", "skipped 1 entries whose values lie beyond"} {
			if !containsNote(x.Notes, n) {
				t.Errorf("notes %q lack %q", x.Notes, n)
			}
		}
		le.PutUint32(b[entryAt(t, b, l.ifd0, tagExifIFD)+8:], tiffHead+30)
		x = mustExtract(t, b)
		if x.DateSource != "DateTime" || !containsNote(x.Notes, "Exif IFD lies beyond") {
			t.Errorf("Exif IFD beyond the head: %+v", x)
		}
	})
	t.Run("IFD0", func(t *testing.T) {
		b := big()
		le.PutUint32(b[4:], tiffHead+8)
		x := mustExtract(t, b)
		if x.Present || !slices.Equal(x.Notes, []string{"TIFF: IFD0 lies beyond the first 256 KiB; EXIF not read"}) {
			t.Errorf("got %+v", x)
		}
	})
	t.Run("beyond the file", func(t *testing.T) {
		b := big()
		le.PutUint32(b[entryAt(t, b, l.ifd0, tagModel)+8:], uint32(len(b)))
		_, err := extractBytes(t, b)
		if !errors.Is(err, ErrBadInput) {
			t.Errorf("err = %v", err)
		}
	})
}

func TestSniff(t *testing.T) {
	for in, want := range map[string]string{
		"\xFF\xD8\xFF\xE0":            "jpeg",
		"\x89PNG\r\n\x1a\n":           "png",
		"RIFF\x00\x00\x00\x00WEBPVP8": "webp",
		"II*\x00":                     "tiff",
		"MM\x00*":                     "tiff",
		"GIF87a":                      "gif",
		"GIF89a":                      "gif",
		"\xFF\xD8":                    "",
		"<html>":                      "",
		"BM":                          "",
		"":                            "",
	} {
		if got := sniff([]byte(in)); got != want {
			t.Errorf("sniff(%q) = %q, want %q", in, got, want)
		}
	}
}

// JPEG damage outside the EXIF segment is a note, and the EXIF read stands.
func TestJPEGDamageAfterEXIF(t *testing.T) {
	tiff, _ := basicEXIF().build()
	head := append([]byte{0xFF, 0xD8}, exifAPP1(tiff)...)
	for name, tail := range map[string][]byte{
		"garbage":      []byte("garbage"),
		"short length": {0xFF, 0xE2, 0x00, 0x01},
		"cut segment":  {0xFF, 0xE2, 0x10, 0x00, 1, 2, 3},
		"stray SOI":    {0xFF, 0xD8},
	} {
		t.Run(name, func(t *testing.T) {
			x := mustExtract(t, append(bytes.Clone(head), tail...))
			if !x.Present || x.CapturedAt == nil || len(x.Notes) == 0 {
				t.Errorf("got %+v", x)
			}
		})
	}
	// Fill bytes before a marker are allowed.
	b := slices.Concat([]byte{0xFF, 0xD8, 0xFF, 0xFF}, exifAPP1(tiff))
	if x := mustExtract(t, b); !x.Present {
		t.Errorf("fill bytes: %+v", x)
	}
}
