package photometa

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// goexifDir is goexif's exif/ folder in the module cache, whose samples/ and
// corrupt/ files the tests read in place; the test is skipped without it.
func goexifDir(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/rwcarlsen/goexif").Output()
	dir := filepath.Join(strings.TrimSpace(string(out)), "exif")
	if err != nil || strings.TrimSpace(string(out)) == "" {
		t.Skipf("goexif module not found (go list: %v); its samples are not present", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "samples")); err != nil {
		t.Skipf("goexif samples not present: %v", err)
	}
	return dir
}

// goexif's samples are the heads of camera JPEGs (cut off after the EXIF)
// named after their DateTimeOriginal, "2006-08-03-16-29-38-sep-…": the name
// is the expected wall-clock capture time.
func TestGoexifSamples(t *testing.T) {
	dir := goexifDir(t)
	files, _ := filepath.Glob(filepath.Join(dir, "samples", "*.jpg"))
	if len(files) == 0 {
		t.Skip("goexif samples not present")
	}
	dated := 0
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			x := mustExtract(t, b)
			if !x.Present {
				t.Fatalf("no EXIF; notes %q", x.Notes)
			}
			stamp, _, ok := strings.Cut(name, "-sep-")
			if !ok {
				return
			}
			if stamp == "FailedHash-NoDate" {
				if x.CapturedAt != nil {
					t.Errorf("CapturedAt = %v, want none", x.CapturedAt)
				}
				return
			}
			want, err := time.ParseInLocation("2006-01-02-15-04-05", stamp, shanghai)
			if err != nil {
				t.Fatal(err)
			}
			dated++
			if x.CapturedAt == nil || !x.CapturedAt.Truncate(time.Second).Equal(want) || x.DateSource != "DateTimeOriginal" {
				t.Errorf("CapturedAt = %v from %q, want %v from DateTimeOriginal", x.CapturedAt, x.DateSource, want)
			}
		})
	}
	if dated < 40 {
		t.Errorf("only %d dated samples checked", dated)
	}
}

// goexif's values for two samples of its own tests (exif_test.go): the HTC
// phone that writes coordinates as a string, and f1..f8's orientations.
func TestGoexifSampleValues(t *testing.T) {
	dir := goexifDir(t)
	read := func(name string) *Exif {
		b, err := os.ReadFile(filepath.Join(dir, "samples", name))
		if err != nil {
			t.Fatal(err)
		}
		return mustExtract(t, b)
	}
	x := read("geodegrees_as_string.jpg")
	// "52,00000,50,00000,34,01180" with commas for decimal marks: 52°50'34.0118".
	if x.GPS == nil || !near(x.GPS.Lat, 52.842781055556, 1e-9) || !near(x.GPS.Lon, 11.182856555556, 1e-9) {
		t.Errorf("GPS = %+v", x.GPS)
	}
	for i := 1; i <= 8; i++ {
		x := read("f" + string(rune('0'+i)) + "-exif.jpg")
		if x.Orientation != i {
			t.Errorf("f%d-exif.jpg: Orientation = %d", i, x.Orientation)
		}
	}

	// raw.exif is a bare "Exif\0\0" block, not a photo: Extract refuses it,
	// but the block decodes (an iPhone 7 shot).
	raw, err := os.ReadFile(filepath.Join(dir, "samples", "raw.exif"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := extractBytes(t, raw); err == nil {
		t.Error("raw.exif accepted as a photo")
	}
	x = mustExtract(t, jpegFile(t, 8, 8, segment(0xE1, raw)))
	if x.Model != "iPhone 7" || x.CapturedAt == nil || x.CapturedAt.Format(time.DateTime) != "2018-04-03 07:54:33" {
		t.Errorf("raw.exif in a JPEG: %+v", x)
	}
}

func near(a, b, eps float64) bool { return a-b <= eps && b-a <= eps }

// Makernotes are never decoded: goexif's mknote package, whose parsers would
// do it once registered, is not even linked in.
func TestNoMakernoteParsers(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	deps := strings.Fields(string(out))
	if !slices.Contains(deps, "github.com/rwcarlsen/goexif/exif") {
		t.Fatalf("go list -deps does not list goexif/exif: %q", deps)
	}
	if slices.Contains(deps, "github.com/rwcarlsen/goexif/mknote") {
		t.Error("photometa depends on goexif/mknote")
	}
}
