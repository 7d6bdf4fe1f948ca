package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/photodesk/photodesk/pipeline"
	"github.com/photodesk/photodesk/pipeline/contract"
	"github.com/photodesk/photodesk/pipeline/gallery"
)

// runStatus prints what the pipeline is doing: every role's consumer and
// the processes bound to it, the latest failures, and the galleries in
// progress with what each still lacks.
func runStatus(ctx context.Context, args []string) error {
	c := newCLI("status")
	fs := c.fs
	var o statusOptions
	fs.IntVar(&o.failures, "failures", 10, "show this many of the latest failures")
	fs.IntVar(&o.galleries, "galleries", 20, "show this many galleries in progress, the most recently active first")
	asJSON := fs.Bool("json", false, "print one JSON document, for scripts")
	counts := func() error {
		if fs.NArg() != 0 || o.failures < 0 || o.galleries < 0 {
			fs.Usage()
			return fmt.Errorf("%w: no arguments; --failures and --galleries are counts", errUsage)
		}
		return nil
	}
	if err := c.parse(args, counts); err != nil {
		return err
	}
	nc, js, err := pipeline.Connect(c.cfg, "photodesk-status")
	if err != nil {
		return err
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	rep, err := readStatus(ctx, js, o)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return printStatus(stdout, rep, time.Now())
}

type statusOptions struct {
	failures  int // latest failures to show
	galleries int // galleries in progress to show
}

// statusReport is what `photodesk status` prints, and its --json output.
type statusReport struct {
	Consumers []consumerStatus `json:"consumers"`
	// Processes are the live worker processes, one entry per role each
	// runs; PresenceError says why they are unknown.
	Processes     []pipeline.Process `json:"processes"`
	PresenceError string             `json:"presence_error,omitempty"`
	// Failures are the latest failure events, newest first.
	Failures []contract.Failure `json:"failures"`
	// Galleries are the galleries in progress, most recently active
	// first; GalleriesInProgress counts them all.
	Galleries           []galleryProgress `json:"galleries"`
	GalleriesInProgress int               `json:"galleries_in_progress"`
}

// consumerStatus is one role's durable consumer.
type consumerStatus struct {
	Role         string `json:"role"`
	Stream       string `json:"stream"`
	Pending      uint64 `json:"pending"`     // not yet delivered
	AckPending   int    `json:"ack_pending"` // delivered, not yet acked
	Redelivered  int    `json:"redelivered"` // delivered more than once, not yet acked
	WaitingPulls int    `json:"waiting_pulls"`
	// Processes bound: processes announcing the role (null: unknown).
	Processes *int   `json:"processes"`
	Error     string `json:"error,omitempty"`
}

// galleryProgress is a gallery not (or no longer) published as it stands.
type galleryProgress struct {
	Gallery string `json:"gallery"`
	// State: waiting (for pieces), held (photos it lists failed),
	// reprocessing (a reprocess run is under way), scheduled (complete,
	// waiting for its publish_at), withheld (gallery.json withdraws it
	// before it went out) or publishing (complete, the record is being
	// written).
	State            string    `json:"state"`
	PublishedVersion int       `json:"published_version,omitempty"`
	Photos           int       `json:"photos"`   // photos of the gallery seen so far
	Manifest         string    `json:"manifest"` // present, missing or invalid
	ManifestError    string    `json:"manifest_error,omitempty"`
	Missing          []missing `json:"missing,omitempty"`
	// Failed are the failures of the current originals, with reasons;
	// renditions and watermark failures of listed photos hold the gallery.
	Failed []contract.HeldPhoto `json:"failed,omitempty"`
	// Held are photos held for their Content Credentials (a gallery that
	// requires them).
	Held []contract.HeldPhoto `json:"held,omitempty"`
	// Waiting is the assembler's own list of what the record waits for.
	Waiting []string `json:"waiting,omitempty"`
	// PublishAt is gallery.json's publish_at (State scheduled: ready and
	// waiting for it), Embargo whether its files stay unreachable until
	// then.
	PublishAt *time.Time `json:"publish_at,omitempty"`
	Embargo   bool       `json:"embargo,omitempty"`
	// Provenance is each read original's Content Credentials, in a line.
	Provenance map[string]string `json:"provenance,omitempty"`
	Updated    time.Time         `json:"updated"`
}

// missing is a photo and the stages it has no result from yet ("upload"
// when the manifest lists it and it has not been uploaded).
type missing struct {
	Photo  string   `json:"photo"`
	Stages []string `json:"stages"`
}

func readStatus(ctx context.Context, js jetstream.JetStream, o statusOptions) (*statusReport, error) {
	rep := &statusReport{Processes: []pipeline.Process{}, Failures: []contract.Failure{}, Galleries: []galleryProgress{}}
	ps, err := pipeline.Processes(ctx, js)
	switch {
	case err == nil:
		rep.Processes = ps
		sort.Slice(ps, func(i, j int) bool {
			if ps[i].Role != ps[j].Role {
				return ps[i].Role < ps[j].Role
			}
			return ps[i].Key() < ps[j].Key()
		})
	case ctx.Err() != nil:
		return nil, err
	default:
		rep.PresenceError = err.Error()
	}
	for _, spec := range pipeline.Consumers {
		cs := consumerStatus{Role: spec.Role, Stream: spec.Stream}
		if rep.PresenceError == "" {
			n := 0
			for _, p := range rep.Processes {
				if p.Role == spec.Role {
					n++
				}
			}
			cs.Processes = &n
		}
		info, err := consumerInfo(ctx, js, spec)
		if err != nil {
			cs.Error = err.Error()
		} else {
			cs.Pending, cs.AckPending, cs.Redelivered, cs.WaitingPulls = info.NumPending, info.NumAckPending, info.NumRedelivered, info.NumWaiting
		}
		rep.Consumers = append(rep.Consumers, cs)
	}
	if rep.Failures, err = pipeline.LatestFailures(ctx, js, o.failures); err != nil {
		return nil, fmt.Errorf("latest failures: %w", err)
	}
	if rep.Galleries, rep.GalleriesInProgress, err = galleriesInProgress(ctx, js, o.galleries); err != nil {
		return nil, fmt.Errorf("galleries in progress: %w", err)
	}
	return rep, nil
}

func consumerInfo(ctx context.Context, js jetstream.JetStream, spec pipeline.ConsumerSpec) (*jetstream.ConsumerInfo, error) {
	c, err := js.Consumer(ctx, spec.Stream, spec.Role)
	if errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, errors.New("missing: run photodesk setup")
	}
	if err != nil {
		return nil, err
	}
	return c.Info(ctx)
}

// galleriesInProgress reads every gallery's state from the assembler's
// bucket and returns the ones not published as they stand (the limit most
// recently active), and how many there are in all.
func galleriesInProgress(ctx context.Context, js jetstream.JetStream, limit int) ([]galleryProgress, int, error) {
	out := []galleryProgress{}
	kv, err := js.KeyValue(ctx, pipeline.GalleriesKV)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return out, 0, nil // no assembler has run yet
	}
	if err != nil {
		return nil, 0, err
	}
	entries, err := pipeline.Entries(ctx, js, kv)
	if err != nil {
		return nil, 0, err
	}
	for _, e := range entries {
		var st gallery.State
		if err := json.Unmarshal(e.Value(), &st); err != nil {
			continue
		}
		if g, ok := progressOf(&st); ok {
			g.Updated = e.Created().UTC()
			out = append(out, g)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Updated.Equal(out[j].Updated) {
			return out[i].Updated.After(out[j].Updated)
		}
		return out[i].Gallery < out[j].Gallery
	})
	total := len(out)
	if len(out) > limit {
		out = out[:limit]
	}
	return out, total, nil
}

// progressOf says what a gallery lacks; ok is false when its record is
// published as it stands.
func progressOf(st *gallery.State) (g galleryProgress, ok bool) {
	rd := st.Evaluate()
	// The assembler's --require-provenance is its own; a gallery.json
	// that asks is seen here.
	rd.RequireProvenance(st.Manifest, false)
	if rd.Ready && st.Published != nil && st.Published.Fingerprint == st.Fingerprint(rd) {
		return g, false
	}
	g = galleryProgress{Gallery: st.Gallery, Photos: len(st.Photos), Manifest: "present", Waiting: rd.Waiting}
	if st.Published != nil {
		g.PublishedVersion = st.Published.Version
	}
	switch {
	case st.ManifestError != "":
		g.Manifest, g.ManifestError = "invalid", st.ManifestError
	case st.Manifest == nil:
		g.Manifest = "missing"
	}
	for _, f := range rd.Failed {
		if gallery.HeldByRule(f) {
			g.Held = append(g.Held, f)
		}
	}
	if m := st.Manifest; m != nil {
		g.PublishAt, g.Embargo = m.PublishAt, m.Embargo
	}
	switch {
	case len(rd.Failed) > 0:
		g.State = "held"
	case st.Rerun != nil:
		g.State = "reprocessing"
	case st.Scheduled != nil:
		g.State = "scheduled"
	case rd.Ready && st.Manifest.Withdrawn() && st.Published == nil:
		g.State = "withheld"
	case rd.Ready:
		g.State = "publishing"
	default:
		g.State = "waiting"
	}
	for _, pp := range st.Progress() {
		if !pp.Uploaded() {
			g.Missing = append(g.Missing, missing{Photo: pp.Name, Stages: []string{gallery.Upload}})
			continue
		}
		g.Failed = append(g.Failed, pp.Failures()...)
		if x := pp.Result; x != nil && x.Exif != nil && x.Exif.Provenance != nil {
			if g.Provenance == nil {
				g.Provenance = map[string]string{}
			}
			g.Provenance[pp.Name] = x.Exif.Provenance.Line()
		}
		if lack := pp.Pending(); len(lack) > 0 {
			g.Missing = append(g.Missing, missing{Photo: pp.Name, Stages: lack})
		}
	}
	return g, true
}

// printStatus prints rep as aligned plain text.
func printStatus(out io.Writer, rep *statusReport, now time.Time) error {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ROLE\tSTREAM\tPENDING\tACK PENDING\tREDELIVERED\tWAITING PULLS\tPROCESSES")
	for _, c := range rep.Consumers {
		procs := "?"
		if c.Processes != nil {
			procs = fmt.Sprint(*c.Processes)
		}
		if c.Error != "" {
			fmt.Fprintf(tw, "%s\t%s\t%s\t\t\t\t%s\n", c.Role, c.Stream, c.Error, procs)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%s\n", c.Role, c.Stream, c.Pending, c.AckPending, c.Redelivered, c.WaitingPulls, procs)
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintf(out, "\nPROCESSES (%d)\n", len(rep.Processes))
	if rep.PresenceError != "" {
		fmt.Fprintf(out, "unknown: %s\n", rep.PresenceError)
	} else if len(rep.Processes) > 0 {
		fmt.Fprintln(tw, "ROLE\tHOST\tPID\tCONCURRENCY\tVERSION\tUP\tSEEN")
		for _, p := range rep.Processes {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\t%s ago\n", p.Role, p.Host, p.PID, p.Concurrency, p.Version,
				since(now, p.Started), since(now, p.Seen))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}

	fmt.Fprintf(out, "\nLATEST FAILURES (%d)\n", len(rep.Failures))
	if len(rep.Failures) > 0 {
		fmt.Fprintln(tw, "TIME\tSTAGE\tGALLERY\tPHOTO\tREASON")
		for _, f := range rep.Failures {
			photo := f.Photo
			if photo == "" {
				photo = f.Key
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", f.FailedAt.UTC().Format(time.RFC3339), f.Stage, dash(f.Gallery), dash(photo), oneLine(f.Reason, 160))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}

	shown := ""
	if len(rep.Galleries) < rep.GalleriesInProgress {
		shown = fmt.Sprintf(", the %d most recently active", len(rep.Galleries))
	}
	fmt.Fprintf(out, "\nGALLERIES IN PROGRESS (%d%s)\n", rep.GalleriesInProgress, shown)
	if len(rep.Galleries) > 0 {
		fmt.Fprintln(tw, "GALLERY\tSTATE\tPHOTOS\tPUBLISHED\tUPDATED\tMISSING OR FAILED")
		for _, g := range rep.Galleries {
			pub := "-"
			if g.PublishedVersion > 0 {
				pub = fmt.Sprintf("v%d", g.PublishedVersion)
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s ago\t%s\n", g.Gallery, g.State, g.Photos, pub, since(now, g.Updated), strings.Join(g.pieces(), "; "))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

// pieces says what the gallery lacks, briefly, for the text output.
func (g galleryProgress) pieces() []string {
	var out []string
	switch g.Manifest {
	case "missing":
		out = append(out, "manifest missing")
	case "invalid":
		out = append(out, "manifest invalid: "+oneLine(g.ManifestError, 120))
	}
	if g.PublishAt != nil {
		p := "publish at " + g.PublishAt.Format(time.RFC3339)
		if g.Embargo {
			p += ", embargoed until then"
		}
		out = append(out, p)
	}
	for _, m := range g.Missing {
		out = append(out, m.Photo+": "+strings.Join(m.Stages, ", "))
	}
	for _, f := range g.Failed {
		out = append(out, fmt.Sprintf("%s failed in %s: %s", f.Photo, f.Stage, oneLine(f.Reason, 120)))
	}
	for _, f := range g.Held {
		out = append(out, fmt.Sprintf("%s held: %s", f.Photo, oneLine(f.Reason, 160)))
	}
	for _, name := range slices.Sorted(maps.Keys(g.Provenance)) {
		out = append(out, name+": "+oneLine(g.Provenance[name], 160))
	}
	for _, w := range g.Waiting {
		if strings.HasPrefix(w, "reprocess ") {
			out = append(out, w)
		}
	}
	if len(out) == 0 && g.State == "publishing" {
		out = append(out, "nothing: the record is being written")
	}
	return out
}

// since is a short age: 5s, 3m, 2h, 4d.
func since(now, t time.Time) string {
	if t.IsZero() {
		return "?"
	}
	d := max(now.Sub(t), 0)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// oneLine puts s on one line of at most n runes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
