// Command schemagen writes the JSON Schema of every event photodesk
// publishes into schemas/events/, from the Go types that encode them, so
// the documented schema cannot drift from the code (its test compares).
//
//	go run ./tools/schemagen -out schemas/events
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/invopop/jsonschema"

	"github.com/photodesk/photodesk/pipeline/contract"
)

// Events maps each schema file to the event type and its subjects.
var Events = []struct {
	File, Title, Subjects string
	Type                  any
}{
	{"photo.uploaded", "An original landed in the originals bucket (ingest)", "photodesk.photo.uploaded.<gallery>", &contract.PhotoUploaded{}},
	{"gallery.submitted", "A gallery's manifest gallery.json landed or was replaced (ingest)", "photodesk.gallery.submitted.<gallery>", &contract.GallerySubmitted{}},
	{"photo.exif", "A photo's capture date, camera and embedded caption (exif)", "photodesk.photo.exif.<gallery>", &contract.PhotoExif{}},
	{"photo.derivatives", "What an image role wrote to the derivatives bucket for one original (renditions, watermark)", "photodesk.photo.renditions.<gallery>, photodesk.photo.watermarked.<gallery>", &contract.PhotoDerivatives{}},
	{"failed", "A stage gave up on an event, with the reason (any role)", "photodesk.failed.<stage>.<gallery>", &contract.Failure{}},
	{"article", "A version of a gallery's publish-ready record, with the ninjs 2.2 item (assembler)", "photodesk.article.ready.<gallery>, photodesk.article.updated.<gallery>", &contract.ArticleEvent{}},
	{"gallery.due", "A scheduled gallery's schedule, and the same published again by JetStream at its publish_at (assembler)", "photodesk.gallery.schedule.<gallery>, photodesk.gallery.due.<gallery>", &contract.GalleryDue{}},
	{"gallery.held", "A gallery is not published because photos it lists failed (assembler)", "photodesk.gallery.held.<gallery>", &contract.GalleryHeld{}},
}

// Generate returns each file's content by name.
func Generate() (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, e := range Events {
		r := &jsonschema.Reflector{ExpandedStruct: true, DoNotReference: false}
		s := r.Reflect(e.Type)
		s.ID = jsonschema.ID("https://photodesk.example/schemas/events/" + e.File + ".schema.json")
		s.Title = e.Title
		s.Description = "Subjects: " + e.Subjects + ". Every event carries a Nats-Msg-Id; see docs/events.md."
		b, err := json.MarshalIndent(s, "", "  ")
		if err != nil {
			return nil, err
		}
		out[e.File+".schema.json"] = append(b, '\n')
	}
	return out, nil
}

func main() {
	dir := flag.String("out", "schemas/events", "output directory")
	flag.Parse()
	files, err := Generate()
	if err == nil {
		err = os.MkdirAll(*dir, 0o755)
	}
	for name, b := range files {
		if err != nil {
			break
		}
		err = os.WriteFile(filepath.Join(*dir, name), b, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "schemagen:", err)
		os.Exit(1)
	}
}
