package main

import (
	"bytes"
	"fmt"
	"time"
)

// readme is samples/gallery/README.md, generated from the same table as the
// files so the two cannot drift apart.
func readme() []byte {
	var b bytes.Buffer
	b.WriteString(`# Sample gallery

Twelve photos and the story they belong to, for ` + "`make demo`" + ` and for trying
the pipeline by hand. ` + "`gallery.json`" + ` holds the headline, byline and one
caption per photo, in order; the pipeline prefixes each caption with the day
the photo was taken, from its EXIF (e.g. "7月28日,").

## Where they come from

Everything here is made by this project: the pictures are procedural
landscapes drawn by ` + "`internal/fixture`" + ` (` + "`fixture.Scene`" + `), the EXIF is written by
` + "`fixture.JPEG`" + `, and the headline, names and captions are fiction written for
the project (the pictures do not show what the captions describe). Nothing
is copied from elsewhere.

They are generated, deterministically (same bytes on every run), by

    go run ./tools/samplegen -out samples/gallery

which writes all the files in this folder, this README included; edit
` + "`tools/samplegen/gallery.go`" + ` rather than the files. ` + "`go test ./tools/samplegen/`" + `
checks that the committed files match the generator.

## License

Project-made; under the same license as the rest of this repository.

## What the pipeline should report

Cameras: ` + photographerZhang + ` shoots a Canon EOS R6 (EXIF in Intel byte order,
"II"), ` + photographerLi + ` a Nikon Z 6_2 (Motorola, "MM"). Every photo has Make, Model,
Artist and Copyright "` + copyright + `". Times with no offset tag are local
newsroom time: the zone column says "Asia/Shanghai (newsroom)" (UTC+8).
"Taken" is the instant the pipeline should derive, with the offset it
should keep; "Caption day" is the prefix of that photo's caption.

| File | Stored → shown | EXIF capture time | Date source | Zone | Taken | Caption day | Notes |
| --- | --- | --- | --- | --- | --- | --- | --- |
`)
	for _, p := range photos {
		size := fmt.Sprintf("%dx%d", p.stored().X, p.stored().Y)
		if p.stored() != p.shown() {
			size += fmt.Sprintf(" → %dx%d", p.shown().X, p.shown().Y)
		}
		value := p.exif.DateTimeOriginal
		if p.dateSource == "DateTime" {
			value = p.exif.DateTime
		}
		fmt.Fprintf(&b, "| `%s` | %s | `%s` | %s | %s | %s | %s | %s |\n",
			p.file, size, value, p.dateSource, p.zone, p.taken, captionDay(p.taken), p.note)
	}
	return b.Bytes()
}

// captionDay is the day as the caption prefix writes it: local date where
// the photo was taken.
func captionDay(rfc3339 string) string {
	t, err := time.Parse(time.RFC3339Nano, rfc3339)
	if err != nil {
		panic(err) // the table in gallery.go is wrong; the tests catch it
	}
	return fmt.Sprintf("%d月%d日", t.Month(), t.Day())
}
