package main

import (
	"bytes"
	"encoding/json"
	"image"
	"image/jpeg"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rwcarlsen/goexif/exif"
)

const committed = "../../samples/gallery"

// beijing is Asia/Shanghai without needing tzdata: UTC+8, no DST since 1991.
var beijing = time.FixedZone("CST", 8*3600)

// TestTableIsConsistent checks gallery.go against the brief: twelve named
// files, captions that do not start with a date, three days, the variety of
// EXIF the pipeline must handle, and a "taken" column that follows from the
// EXIF written.
func TestTableIsConsistent(t *testing.T) {
	if len(photos) != 12 {
		t.Errorf("%d photos, want 12", len(photos))
	}
	name := regexp.MustCompile(`^(\d\d)-[a-z]+(-[a-z]+)*\.jpg$`)
	dateStart := regexp.MustCompile(`^\s*(\d|[一二三四五六七八九十]+月)`)
	days := map[string]bool{}
	count := map[string]int{}
	for i, p := range photos {
		m := name.FindStringSubmatch(p.file)
		if m == nil || m[1] != twoDigits(i+1) {
			t.Errorf("photo %d: file name %q", i+1, p.file)
		}
		if p.caption == "" || dateStart.MatchString(p.caption) {
			t.Errorf("%s: caption %q is empty or starts with a date", p.file, p.caption)
		}
		e := p.exif
		if e.Make == "" || e.Model == "" || e.Artist == "" || e.Copyright != "工人日报" {
			t.Errorf("%s: camera or credit missing: %+v", p.file, e)
		}

		value, zone := e.DateTimeOriginal, beijing
		if value == "" {
			value = e.DateTime
			count["DateTime only"]++
			if p.dateSource != "DateTime" || e.DateTimeDigitized != "" {
				t.Errorf("%s: no DateTimeOriginal but date source %q, DateTimeDigitized %q", p.file, p.dateSource, e.DateTimeDigitized)
			}
		} else if p.dateSource != "DateTimeOriginal" {
			t.Errorf("%s: date source %q", p.file, p.dateSource)
		}
		if e.OffsetTimeOriginal != "" {
			off, err := time.Parse("-07:00", e.OffsetTimeOriginal)
			if err != nil {
				t.Fatal(err)
			}
			zone = off.Location()
			count["offset "+e.OffsetTimeOriginal]++
			if !strings.HasPrefix(p.zone, e.OffsetTimeOriginal) {
				t.Errorf("%s: zone column %q", p.file, p.zone)
			}
		}
		tm, err := time.ParseInLocation("2006:01:02 15:04:05", value, zone)
		if err != nil {
			t.Fatalf("%s: %v", p.file, err)
		}
		if e.SubSecTimeOriginal != "" {
			count["subsec"]++
			frac, _ := time.ParseDuration("0." + e.SubSecTimeOriginal + "s")
			tm = tm.Add(frac)
		}
		want, err := time.Parse(time.RFC3339Nano, p.taken)
		if err != nil || !tm.Equal(want) || tm.Format("-07:00") != want.Format("-07:00") {
			t.Errorf("%s: EXIF says %v, table says %s (%v)", p.file, tm, p.taken, err)
		}
		days[tm.Format("2006-01-02")] = true

		if e.GPS != nil {
			count["gps"]++
			g := e.GPS
			gd, err := time.Parse("2006:01:02", g.DateStamp)
			if err != nil {
				t.Fatal(err)
			}
			utc := time.Date(gd.Year(), gd.Month(), gd.Day(), int(g.Time[0]), int(g.Time[1]), int(g.Time[2]), 0, time.UTC)
			if !utc.Equal(tm) {
				t.Errorf("%s: GPS time %v is not the capture time %v", p.file, utc, tm)
			}
		}
		if e.Orientation == 6 {
			count["orientation 6"]++
		}
		if p.portrait && p.stored() == p.shown() {
			count["portrait"]++
		}
	}
	if len(days) != 3 {
		t.Errorf("capture days %v, want three", days)
	}
	for _, k := range []string{"DateTime only", "offset +08:00", "offset +02:00", "subsec", "gps", "orientation 6", "portrait"} { // portrait: stored upright
		if count[k] != 1 {
			t.Errorf("%d photos with %s, want 1", count[k], k)
		}
	}
}

func twoDigits(n int) string { return string([]byte{byte('0' + n/10), byte('0' + n%10)}) }

// TestCommittedGallery reads the committed files as the pipeline would: each
// JPEG decodes at its size, goexif finds the capture date, gallery.json lists
// the photos in order, and the whole stays small.
func TestCommittedGallery(t *testing.T) {
	total := 0
	for _, p := range photos {
		b, err := os.ReadFile(filepath.Join(committed, p.file))
		if err != nil {
			t.Fatalf("%v (regenerate: go run ./tools/samplegen -out samples/gallery)", err)
		}
		total += len(b)
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", p.file, err)
		}
		if got, want := image.Pt(cfg.Width, cfg.Height), p.stored(); got != want {
			t.Errorf("%s: stored %v, want %v", p.file, got, want)
		}
		x, err := exif.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: goexif: %v", p.file, err)
		}
		tm, err := x.DateTime() // DateTimeOriginal, else DateTime
		if err != nil {
			t.Fatalf("%s: %v", p.file, err)
		}
		taken, _ := time.Parse(time.RFC3339Nano, p.taken)
		if got, want := tm.Format("2006:01:02 15:04:05"), taken.Format("2006:01:02 15:04:05"); got != want {
			t.Errorf("%s: goexif date %s, want %s", p.file, got, want)
		}
	}
	if total > 3_000_000 {
		t.Errorf("samples total %d bytes, want under 3 MB", total)
	}
	t.Logf("12 samples, %d bytes", total)

	var g gallery
	raw, err := os.ReadFile(filepath.Join(committed, "gallery.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	if len(g.Photos) != len(photos) || g.Source != "工人日报" || g.Language != "zh-CN" || !strings.HasPrefix(g.Headline, "高清大图|") {
		t.Errorf("gallery.json: %+v", g)
	}
	for i, gp := range g.Photos {
		if i < len(photos) && gp.File != photos[i].file {
			t.Errorf("gallery.json photo %d is %s, want %s", i, gp.File, photos[i].file)
		}
	}
}

// TestGeneratorMatchesCommitted regenerates the gallery and compares it with
// the committed files, which proves both that the output is deterministic and
// that nobody edited the generated files by hand.
func TestGeneratorMatchesCommitted(t *testing.T) {
	if testing.Short() {
		t.Skip("renders twelve 1600x1067 pictures")
	}
	dir := t.TempDir()
	if _, err := generate(dir, nil); err != nil {
		t.Fatal(err)
	}
	names := []string{"gallery.json", "README.md"}
	for _, p := range photos {
		names = append(names, p.file)
	}
	for _, n := range names {
		got, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(filepath.Join(committed, n))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(got, want) {
			continue
		}
		if strings.HasSuffix(n, ".jpg") && samePixels(got, want) {
			// Floating-point contraction (FMA) on some architectures may move
			// a pixel by a level; that is not a stale sample.
			t.Logf("%s: bytes differ from the committed file but the pixels match", n)
			continue
		}
		t.Errorf("%s differs from the committed file; regenerate: go run ./tools/samplegen -out samples/gallery", n)
	}
}

// samePixels reports whether two JPEGs decode to pictures that differ by at
// most one level on average.
func samePixels(a, b []byte) bool {
	ia, err1 := jpeg.Decode(bytes.NewReader(a))
	ib, err2 := jpeg.Decode(bytes.NewReader(b))
	if err1 != nil || err2 != nil || ia.Bounds() != ib.Bounds() {
		return false
	}
	var diff, n float64
	r := ia.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y += 3 {
		for x := r.Min.X; x < r.Max.X; x += 3 {
			r1, g1, b1, _ := ia.At(x, y).RGBA()
			r2, g2, b2, _ := ib.At(x, y).RGBA()
			diff += absDiff(r1, r2) + absDiff(g1, g2) + absDiff(b1, b2)
			n += 3
		}
	}
	return diff/n/257 <= 1
}

func absDiff(a, b uint32) float64 {
	if a > b {
		return float64(a - b)
	}
	return float64(b - a)
}
