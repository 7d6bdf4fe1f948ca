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
	"github.com/photodesk/photodesk/pipeline/contract"
)

// watchOptions are photodesk watch's own flags.
type watchOptions struct {
	gallery string
	expect  int           // stop after this many photos
	timeout time.Duration // with expect
	stages  string        // comma separated
}

func (o *watchOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&o.gallery, "gallery", "", "gallery id")
	fs.IntVar(&o.expect, "expect", 0, "stop once this many photos are done or failed (0: run until Ctrl-C)")
	fs.DurationVar(&o.timeout, "timeout", 2*time.Minute, "give up after this long (with --expect)")
	fs.StringVar(&o.stages, "stages", strings.Join(contract.StageNames(contract.PhotoStages()), ","), "the roles whose results make a photo done")
}

func runWatch(ctx context.Context, args []string) error {
	var o watchOptions
	c := newCLI("watch")
	o.register(c.fs)
	if err := c.parse(args); err != nil {
		return err
	}
	if err := contract.ValidGalleryID(o.gallery); err != nil {
		return err
	}
	w, err := newWatcher(os.Stdout, o.expect, strings.Split(o.stages, ","))
	if err != nil {
		return err
	}
	nc, js, err := pipeline.Connect(c.cfg, "photodesk-watch")
	if err != nil {
		return err
	}
	defer nc.Close()
	if o.expect > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.timeout)
		defer cancel()
	}
	return w.run(ctx, js, o.gallery)
}

// stageSubjects are the result subjects watch follows, by role: every
// photo stage's.
var stageSubjects = func() map[string]string {
	out := map[string]string{}
	for _, st := range contract.PhotoStages() {
		out[st.Name] = st.Result
	}
	return out
}()

// watcher prints one line per photo of a gallery once every stage has a
// result or a failure for it, reading from the start of the stream, so it
// sees what happened before it started too.
type watcher struct {
	out     io.Writer
	expect  int
	stages  []string
	photos  map[string]*photoState
	printed map[string]bool
	ok      int
	failed  int
}

type photoState struct {
	exif     *contract.PhotoExif
	derivs   map[string]*contract.PhotoDerivatives // role -> result
	failures map[string]string                     // stage -> reason
}

func newWatcher(out io.Writer, expect int, stages []string) (*watcher, error) {
	for _, st := range stages {
		if _, ok := stageSubjects[st]; !ok {
			return nil, fmt.Errorf("unknown stage %q (%s)", st, strings.Join(contract.StageNames(contract.PhotoStages()), ", "))
		}
	}
	return &watcher{out: out, expect: expect, stages: stages, photos: map[string]*photoState{}, printed: map[string]bool{}}, nil
}

func (w *watcher) run(ctx context.Context, js jetstream.JetStream, gallery string) error {
	filters := []string{contract.FailedSubject("*", gallery)}
	for _, st := range w.stages {
		filters = append(filters, contract.GallerySubject(stageSubjects[st], gallery))
	}
	cons, err := js.OrderedConsumer(ctx, contract.EventsStream, jetstream.OrderedConsumerConfig{FilterSubjects: filters})
	if err != nil {
		return err
	}
	it, err := cons.Messages()
	if err != nil {
		return err
	}
	defer it.Stop()
	go func() { <-ctx.Done(); it.Stop() }()

	fmt.Fprintf(w.out, "%-22s %-29s %-18s %-19s %-14s %s\n", "PHOTO", "CAPTURED", "DATE FROM", "ZONE FROM", "CAMERA", "DERIVATIVES")
	for w.expect == 0 || len(w.printed) < w.expect {
		msg, err := it.Next()
		if err != nil {
			if ctx.Err() == context.DeadlineExceeded {
				return fmt.Errorf("timed out with %d of %d photos reported", len(w.printed), w.expect)
			}
			return nil
		}
		w.add(msg.Subject(), msg.Data())
	}
	fmt.Fprintf(w.out, "%d photos: %d done, %d failed\n", len(w.printed), w.ok, w.failed)
	return nil
}

func (w *watcher) state(name string) *photoState {
	p := w.photos[name]
	if p == nil {
		p = &photoState{derivs: map[string]*contract.PhotoDerivatives{}, failures: map[string]string{}}
		w.photos[name] = p
	}
	return p
}

// add records one event and prints the photo once it is resolved.
func (w *watcher) add(subject string, data []byte) {
	var name string
	switch {
	case strings.HasPrefix(subject, contract.SubjectFailed+"."):
		var f contract.Failure
		if contract.Decode(subject, data, &f) != nil {
			return
		}
		name = f.Photo
		if name == "" {
			name = f.Key
		}
		w.state(name).failures[f.Stage] = f.Reason
		if f.Photo == "" {
			// Not a photo of the gallery's shape: no other stage will run.
			for _, st := range w.stages {
				w.state(name).failures[st] = f.Reason
			}
		}
	case strings.HasPrefix(subject, contract.SubjectPhotoExif+"."):
		var r contract.PhotoExif
		if contract.Decode(subject, data, &r) != nil {
			return
		}
		name = r.Photo
		w.state(name).exif = &r
	default:
		var r contract.PhotoDerivatives
		if contract.Decode(subject, data, &r) != nil {
			return
		}
		name = r.Photo
		w.state(name).derivs[r.Role] = &r
	}
	p := w.photos[name]
	if w.printed[name] {
		return
	}
	for _, st := range w.stages {
		_, failed := p.failures[st]
		if !failed && !(st == contract.StageExif && p.exif != nil) && p.derivs[st] == nil {
			return
		}
	}
	w.printed[name] = true
	w.print(name, p)
}

func (w *watcher) print(name string, p *photoState) {
	if len(p.failures) > 0 {
		w.failed++
		for _, st := range w.stages {
			if reason, ok := p.failures[st]; ok {
				fmt.Fprintf(w.out, "%-26s FAILED in %s: %s\n", name, st, reason)
				if p.exif == nil || st != contract.StageExif {
					break // one line per photo is enough when it fails everywhere
				}
			}
		}
		return
	}
	w.ok++
	captured, dateFrom, zoneFrom, camera := "-", "-", "-", "-"
	if p.exif != nil {
		x := p.exif.Exif
		captured = "(no capture date)"
		if x.CapturedAt != nil {
			captured = x.CapturedAt.Format("2006-01-02 15:04:05.999 -07:00")
		}
		dateFrom, zoneFrom = dash(x.DateSource), dash(x.ZoneSource)
		camera = cameraName(x.Make, x.Model)
		if !x.Present {
			camera = "(no EXIF)"
		}
	}
	var parts []string
	for _, st := range contract.PhotoStages() {
		role := st.Name
		if d := p.derivs[role]; d != nil {
			largest := d.Derivatives[0]
			for _, x := range d.Derivatives {
				if x.Width*x.Height > largest.Width*largest.Height {
					largest = x
				}
			}
			parts = append(parts, fmt.Sprintf("%d %s (up to %dx%d)", len(d.Derivatives), role, largest.Width, largest.Height))
		}
	}
	fmt.Fprintf(w.out, "%-22s %-29s %-18s %-19s %-14s %s\n", name, captured, dateFrom, zoneFrom, camera, dash(strings.Join(parts, ", ")))
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
