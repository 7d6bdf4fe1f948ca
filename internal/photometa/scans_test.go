package photometa

import (
	"bytes"
	"testing"

	"github.com/photodesk/photodesk/internal/fixture"
)

func TestJPEGScans(t *testing.T) {
	baseline, err := fixture.JPEG(fixture.Scene(640, 480, 3), 95, &fixture.EXIF{Make: "Canon"})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(baseline, []byte{0xFF, 0x00}) {
		t.Fatal("the baseline JPEG has no stuffed 0xFF byte to skip")
	}
	bomb := fixture.ScanBombJPEG(640, 480, 700, nil)
	half := bomb[:len(bomb)/2]
	for _, c := range []struct {
		name string
		data []byte
		want int
	}{
		// A busy scene at quality 95 has stuffed 0xFF00 bytes in its data.
		{"baseline JPEG with EXIF", baseline, 1},
		{"progressive, 2 scans", fixture.ScanBombJPEG(64, 48, 2, nil), 2},
		{"progressive, 700 scans", bomb, 700},
		{"700 scans cut in half", half, bytes.Count(half, []byte{0xFF, 0xDA})},
		{"SOI only", []byte{0xFF, 0xD8}, 0},
		{"SOI and garbage", []byte{0xFF, 0xD8, 0x12, 0x34, 0x56, 0x78}, 0},
		{"SOS with a zero length", []byte{0xFF, 0xD8, 0xFF, 0xDA, 0, 0, 0xFF, 0xDA, 0, 2, 0xFF, 0xD9}, 2},
	} {
		if got := JPEGScans(c.data); got != c.want {
			t.Errorf("%s: %d scans, want %d", c.name, got, c.want)
		}
	}
}

// FuzzJPEGScans: counting scans never panics, ends (one pass), and counts
// no scan that is not an SOS marker in the bytes.
func FuzzJPEGScans(f *testing.F) {
	baseline, err := fixture.JPEG(fixture.Scene(64, 48, 1), 90, &fixture.EXIF{Make: "Canon"})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(baseline)
	f.Add(fixture.ScanBombJPEG(40, 24, 5, nil))
	f.Add([]byte{0xFF, 0xD8, 0xFF, 0xDA, 0, 2, 0xFF, 0x00, 0xFF, 0xD0, 0xFF, 0xFF, 0xDA, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		if n, most := JPEGScans(b), bytes.Count(b, []byte{0xFF, 0xDA}); n < 0 || n > most {
			t.Fatalf("%d scans counted in bytes with %d SOS markers", n, most)
		}
	})
}
