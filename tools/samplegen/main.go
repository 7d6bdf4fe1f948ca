// Command samplegen writes the sample gallery that `make demo` uploads: twelve
// JPEGs drawn by internal/fixture with chosen EXIF, gallery.json (headline,
// byline, captions) and README.md (what the pipeline should report). The
// output is the same, byte for byte, on every run.
//
//	go run ./tools/samplegen -out samples/gallery
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"image"
	"io"
	"os"
	"path/filepath"

	"github.com/photodesk/photodesk/internal/fixture"
)

// Landscape size of every sample (3:2, as the cameras named in the EXIF
// shoot) and JPEG quality: together about 2 MB for the twelve.
const (
	longSide, shortSide = 1600, 1067
	quality             = 82
)

func main() {
	out := flag.String("out", "samples/gallery", "directory to write the gallery to")
	flag.Parse()
	total, err := generate(*out, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "samplegen:", err)
		os.Exit(1)
	}
	fmt.Printf("%d files, %d bytes of JPEG in %s\n", len(photos)+2, total, *out)
}

// generate writes the gallery into dir, logging each file to log, and returns
// the total size of the JPEGs. It writes only its own files.
func generate(dir string, log io.Writer) (int, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	total := 0
	for _, p := range photos {
		b, err := render(p)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", p.file, err)
		}
		if err := os.WriteFile(filepath.Join(dir, p.file), b, 0o644); err != nil {
			return 0, err
		}
		total += len(b)
		if log != nil {
			fmt.Fprintf(log, "%-20s %7d bytes\n", p.file, len(b))
		}
	}
	gj, err := galleryJSON()
	if err != nil {
		return 0, err
	}
	if err := os.WriteFile(filepath.Join(dir, "gallery.json"), gj, 0o644); err != nil {
		return 0, err
	}
	return total, os.WriteFile(filepath.Join(dir, "README.md"), readme(), 0o644)
}

// render draws a photo at its displayed size and stores it as the camera
// would for its Orientation tag.
func render(p photo) ([]byte, error) {
	s := p.shown()
	var img image.Image = fixture.Scene(s.X, s.Y, p.seed)
	if p.exif.Orientation > 1 {
		img = fixture.StoreForOrientation(img, p.exif.Orientation)
	}
	return fixture.JPEG(img, quality, &p.exif)
}

// gallery is the layout of gallery.json.
type gallery struct {
	Headline string         `json:"headline"`
	Byline   []string       `json:"byline"`
	Source   string         `json:"source"`
	Language string         `json:"language"`
	Dateline string         `json:"dateline"`
	Photos   []galleryPhoto `json:"photos"`
}

type galleryPhoto struct {
	File    string `json:"file"`
	Caption string `json:"caption"`
}

func galleryJSON() ([]byte, error) {
	g := gallery{Headline: headline, Byline: byline, Source: source, Language: language, Dateline: dateline}
	for _, p := range photos {
		g.Photos = append(g.Photos, galleryPhoto{File: p.file, Caption: p.caption})
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // keep the text readable as written
	if err := enc.Encode(g); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
