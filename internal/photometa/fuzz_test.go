package photometa

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rwcarlsen/goexif/exif"
)

// Seeds are kept few and small: the fuzzer's mutations, not the seeds, find
// the bugs, and big seeds slow every execution.

// fixtureSeeds are built files of every format, EXIF with every kind of tag
// we read.
func fixtureSeeds(t testing.TB) [][]byte {
	spec := basicEXIF()
	spec.exif = append(spec.exif, ascii(tagOffsetTimeOrig, "+03:00"), ascii(tagSubSecTimeOrig, "016"))
	spec.gps = gpsFields()
	spec.ifd1 = []field{long(0x0201, 0), long(0x0202, 0)}
	tiff, _ := spec.build()
	plain, _ := basicEXIF().build()
	be := basicEXIF()
	be.order = binary.BigEndian
	beTIFF, _ := be.build()
	return [][]byte{
		jpegFile(t, 8, 8, xmpAPP1(), exifAPP1(tiff)),
		jpegFile(t, 8, 8, exifAPP1(beTIFF)),
		pngFile(t, 4, 4, pngChunk("eXIf", plain)),
		riff(vp8x(64, 48, true), vp8l(64, 48), riffChunk("EXIF", plain)),
		riff(vp8(30, 20)),
		gifFile(t, 4, 4),
		[]byte("\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"),
		tiff,
		tinyTIFF(1, tagMake, typeShort, 0x80000001, 0),
	}
}

// corpusSeeds are the smallest few real camera files, when present.
func corpusSeeds() [][]byte {
	var seeds [][]byte
	for _, name := range []string{"Fujifilm_FinePix_E500.jpg", "Olympus_C8080WZ.jpg", "HMD_Nokia_8.3_5G.jpg"} {
		b, err := os.ReadFile(filepath.Join(corpusDir, name))
		if err != nil {
			continue
		}
		if len(b) > 8<<10 {
			b = b[:8<<10] // the head: the Nokia's EXIF and frame header are in its first 1.2 KB
		}
		seeds = append(seeds, b)
	}
	return seeds
}

// within fails the test if f does not return in time: a loop in a decoder
// must show as a failure, not a hung fuzzer.
func within(t *testing.T, d time.Duration, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("did not return within %v", d)
	}
}

// FuzzExtract: on any bytes, Extract returns a result or an error, never
// panics or hangs; through a HeadReader of tiny chunks it returns the same;
// rights fields are clean and bounded.
func FuzzExtract(f *testing.F) {
	for _, b := range append(fixtureSeeds(f), corpusSeeds()...) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var (
			x, hx     *Exif
			err, herr error
		)
		within(t, 10*time.Second, func() {
			x, err = Extract(bytes.NewReader(b), int64(len(b)), shanghai)
			h := NewHeadReader(func(off, n int64) ([]byte, error) { return bytes.Clone(b[off : off+n]), nil }, int64(len(b)), 7)
			hx, herr = Extract(h, int64(len(b)), shanghai)
		})
		if (x == nil) == (err == nil) {
			t.Fatalf("Extract = %v, %v: want exactly one of them", x, err)
		}
		if err != nil {
			if !errors.Is(err, ErrBadInput) {
				t.Fatalf("error from a bytes.Reader is not ErrBadInput: %v", err)
			}
			if herr == nil || herr.Error() != err.Error() {
				t.Fatalf("through HeadReader: %v, want %v", herr, err)
			}
			return
		}
		j, jerr := json.Marshal(x)
		if jerr != nil {
			t.Fatalf("json: %v", jerr)
		}
		if hj, _ := json.Marshal(hx); herr != nil || !bytes.Equal(j, hj) {
			t.Fatalf("through HeadReader: %s, %v; want %s", hj, herr, j)
		}
		if (x.CapturedAt == nil) != (x.DateSource == "") || (x.DateSource == "") != (x.ZoneSource == "") {
			t.Fatalf("CapturedAt %v, DateSource %q, ZoneSource %q", x.CapturedAt, x.DateSource, x.ZoneSource)
		}
		if x.Orientation < 0 || x.Orientation > 8 || x.Width < 0 || x.Height < 0 {
			t.Fatalf("orientation %d, size %d×%d", x.Orientation, x.Width, x.Height)
		}
		checkRights(t, x.Rights)
	})
}

// FuzzGuard: a block the guard accepts, goexif decodes in full, without a
// panic, a hang or an error, and its tags read without a panic. goexif runs
// here without the recover that Extract puts around it, so a gap in the
// guard is a crash.
func FuzzGuard(f *testing.F) {
	spec := basicEXIF()
	spec.exif = append(spec.exif, ascii(tagOffsetTimeOrig, "+03:00"), long(tagInteropIFD, 0))
	spec.gps = gpsFields()
	spec.ifd1 = []field{long(0x0201, 0), long(0x0202, 0)}
	tiff, l := spec.build()
	loop := bytes.Clone(tiff)
	le.PutUint32(loop[nextAt(loop, l.ifd1):], uint32(l.ifd0))
	be := basicEXIF()
	be.order = binary.BigEndian
	beTIFF, _ := be.build()
	for _, b := range [][]byte{tiff, loop, beTIFF, tinyTIFF(1, tagMake, typeShort, 0x80000001, 0), tinyTIFF(0xFFFF, tagMake, typeASCII, 4, 0)} {
		f.Add(b, uint16(0))
	}
	f.Add(tiff, uint16(1000)) // as the head of a longer raw TIFF
	f.Fuzz(func(t *testing.T, b []byte, beyond uint16) {
		b = bytes.Clone(b)
		notes, err := guardTIFF(b, int64(len(b))+int64(beyond))
		if err != nil {
			if !errors.Is(err, ErrBadInput) && !errors.Is(err, errEXIFBeyondHead) {
				t.Fatalf("guard error is neither bad input nor beyond the head: %v", err)
			}
			return
		}
		var (
			x    *exif.Exif
			derr error
		)
		within(t, 10*time.Second, func() { x, derr = exif.Decode(bytes.NewReader(b)) })
		if derr != nil {
			t.Fatalf("guard passed (notes %q) a block goexif fails on: %v", notes, derr)
		}
		var got Exif
		if err := fill(x, shanghai, &got); err != nil {
			t.Fatalf("reading tags: %v", err)
		}
	})
}
