package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/photodesk/photodesk/pipeline"
)

func runWatch(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("watch", flag.ContinueOnError)
	gallery := fs.String("gallery", "", "gallery id")
	expect := fs.Int("expect", 0, "stop once this many photos have a result or a failure (0: run until Ctrl-C)")
	timeout := fs.Duration("timeout", 2*time.Minute, "give up after this long (with --expect)")
	cfg := pipeline.DefaultConfig()
	cfg.RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := pipeline.ValidGalleryID(*gallery); err != nil {
		return err
	}
	nc, js, err := pipeline.Connect(cfg, "photodesk-watch")
	if err != nil {
		return err
	}
	defer nc.Close()
	if *expect > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *timeout)
		defer cancel()
	}
	w := &watcher{out: os.Stdout, expect: *expect, seen: map[string]bool{}}
	return w.run(ctx, js, *gallery)
}

// watcher prints one line per photo result or failure of a gallery, from
// the start of the stream, so it sees what happened before it started too.
type watcher struct {
	out    io.Writer
	expect int
	seen   map[string]bool
	ok     int
	failed int
}

func (w *watcher) run(ctx context.Context, js jetstream.JetStream, gallery string) error {
	cons, err := js.OrderedConsumer(ctx, pipeline.EventsStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{
			pipeline.GallerySubject(pipeline.SubjectPhotoExif, gallery),
			pipeline.FailedSubject("*", gallery),
		},
	})
	if err != nil {
		return err
	}
	it, err := cons.Messages()
	if err != nil {
		return err
	}
	defer it.Stop()
	go func() { <-ctx.Done(); it.Stop() }()

	fmt.Fprintf(w.out, "%-26s %-29s %-18s %-19s %s\n", "PHOTO", "CAPTURED", "DATE FROM", "ZONE FROM", "CAMERA")
	for w.expect == 0 || len(w.seen) < w.expect {
		msg, err := it.Next()
		if err != nil {
			if ctx.Err() == context.DeadlineExceeded {
				return fmt.Errorf("timed out with %d of %d photos reported", len(w.seen), w.expect)
			}
			return nil
		}
		w.print(msg.Subject(), msg.Data())
	}
	fmt.Fprintf(w.out, "%d photos: %d with EXIF results, %d failed\n", len(w.seen), w.ok, w.failed)
	return nil
}

func (w *watcher) print(subject string, data []byte) {
	if strings.HasPrefix(subject, pipeline.SubjectFailed+".") {
		var f pipeline.Failure
		if pipeline.Decode(subject, data, &f) != nil {
			return
		}
		name := f.Photo
		if name == "" {
			name = f.Key
		}
		if !w.seen[name] {
			w.failed++
		}
		w.seen[name] = true
		fmt.Fprintf(w.out, "%-26s FAILED in %s: %s\n", name, f.Stage, f.Reason)
		return
	}
	var r pipeline.PhotoExif
	if pipeline.Decode(subject, data, &r) != nil {
		return
	}
	if !w.seen[r.Photo] {
		w.ok++
	}
	w.seen[r.Photo] = true
	x := r.Exif
	captured := "(no capture date)"
	if x.CapturedAt != nil {
		captured = x.CapturedAt.Format("2006-01-02 15:04:05.999 -07:00")
	}
	camera := cameraName(x.Make, x.Model)
	if !x.Present {
		camera = "(no EXIF)"
	}
	fmt.Fprintf(w.out, "%-26s %-29s %-18s %-19s %s\n", r.Photo, captured, dash(x.DateSource), dash(x.ZoneSource), camera)
}

// cameraName joins make and model, once: "Canon" + "Canon EOS R6" is
// "Canon EOS R6", "NIKON CORPORATION" + "NIKON Z 6_2" is "NIKON Z 6_2".
func cameraName(make_, model string) string {
	brand, _, _ := strings.Cut(make_, " ")
	if brand != "" && len(model) >= len(brand) && strings.EqualFold(model[:len(brand)], brand) {
		return model
	}
	return strings.TrimSpace(make_ + " " + model)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
