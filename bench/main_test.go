package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/photodesk/photodesk/internal/fixture"
)

// workDir holds what the benchmarks make once per process (the input
// JPEGs on disk, the overlays, the photodesk binary); TestMain removes it.
var workDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "photodesk-bench-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	workDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// Input size: a 24 MP camera frame.
const (
	photoW = 6000
	photoH = 4000
)

// cameraEXIF is what a newsroom camera JPEG carries, GPS and copyright
// included (the roles strip all of it but the copyright notice).
func cameraEXIF(seed int64) *fixture.EXIF {
	alt := 43.5
	return &fixture.EXIF{
		DateTimeOriginal:   fmt.Sprintf("2026:07:28 09:%02d:15", seed%60),
		OffsetTimeOriginal: "+08:00",
		Make:               "Canon",
		Model:              "Canon EOS R6",
		Artist:             "Zhang Wei",
		Copyright:          "© 2026 工人日报 Workers' Daily",
		GPS: &fixture.GPS{
			Lat: 39.9075, Lon: 116.3972, Alt: &alt,
			DateStamp: "2026:07:28", Time: [3]float64{1, float64(seed % 60), 15},
		},
	}
}

var photos struct {
	sync.Mutex
	bySeed map[int64][]byte
}

// photo is a 24 MP JPEG (quality 90, camera EXIF) of the scene for seed,
// made once per process: drawing the scene takes seconds.
func photo(tb testing.TB, seed int64) []byte {
	tb.Helper()
	photos.Lock()
	defer photos.Unlock()
	if b, ok := photos.bySeed[seed]; ok {
		return b
	}
	// make bench runs go test once per round: PHOTODESK_BENCH_PHOTOS keeps
	// the drawn photos for the next rounds (the drawing is deterministic).
	var cached string
	if dir := os.Getenv("PHOTODESK_BENCH_PHOTOS"); dir != "" {
		cached = filepath.Join(dir, fmt.Sprintf("scene-%dx%d-%d.jpg", photoW, photoH, seed))
	}
	b, err := os.ReadFile(cached)
	if cached == "" || err != nil {
		if b, err = fixture.JPEG(fixture.Scene(photoW, photoH, seed), 90, cameraEXIF(seed)); err != nil {
			tb.Fatal(err)
		}
		if cached != "" {
			if err := os.WriteFile(cached, b, 0o644); err != nil {
				tb.Fatal(err)
			}
		}
	}
	if photos.bySeed == nil {
		photos.bySeed = map[int64][]byte{}
	}
	photos.bySeed[seed] = b
	return b
}

// photoFile is photo(seed) written under workDir, for the command-line tools.
func photoFile(tb testing.TB, seed int64) string {
	tb.Helper()
	p := filepath.Join(workDir, fmt.Sprintf("in-%d.jpg", seed))
	if _, err := os.Stat(p); err == nil {
		return p
	}
	if err := os.WriteFile(p, photo(tb, seed), 0o644); err != nil {
		tb.Fatal(err)
	}
	return p
}
