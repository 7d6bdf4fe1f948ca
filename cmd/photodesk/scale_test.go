package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"image"
	_ "image/jpeg" // decodes the JPEG derivatives
	"io"
	"maps"
	"math"
	"net/http"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/nats-io/nats.go/jetstream"
	_ "golang.org/x/image/webp" // decodes the WebP derivatives

	"github.com/photodesk/photodesk/internal/fixture"
	"github.com/photodesk/photodesk/internal/imaging"
	"github.com/photodesk/photodesk/pipeline"
	"github.com/photodesk/photodesk/pipeline/config"
	"github.com/photodesk/photodesk/pipeline/contract"
	"github.com/photodesk/photodesk/pipeline/devstack"
)

// TestRenditionsScaleOut runs three real `photodesk worker --role
// renditions --concurrency 1` processes on the one renditions consumer,
// puts a burst of 6 MP photos into one gallery through MinIO, and SIGKILLs
// process #1 just after it has started a job (it has finished one before).
// The other two finish everything, including the photo #1 held, once
// JetStream redelivers it after the ack wait (3 s in the test stack).
//
// What "no photo is finished twice" can mean, from pipeline/runtime.go:
// a process runs the handler, publishes its event (with a Nats-Msg-Id),
// then DoubleAcks, an ack the server confirms, and only then logs "done".
// A message is redelivered only when its holder dies or misses the ack
// wait; a live holder sends InProgress every third of the ack wait. So:
//   - every photo has exactly one event on JetStream (always: a second
//     publish carries the same Msg-Id; counted anyway, though dedupe would
//     hide a double), all its derivatives, and at least one "done";
//   - every photo has exactly one "done" line across the processes, and
//     its handler finishes ("derivatives ready") once, except the photo #1
//     held when killed: #1 may have finished its handler without a
//     confirmed ack, and a survivor then does it again (reusing the stored
//     derivatives; its event is dropped as a duplicate).
//
// The exception JetStream cannot rule out: a live process stalled for
// longer than the ack wait (a paused VM, a starved machine) loses its
// message to another process while still working, and both finish and ack
// it (seen once while writing this test, when every process's first job
// took 14 s instead of about 1 s). Such a double
// is allowed only when the two runs overlap in time and this process, which
// runs the NATS server, saw a stall of at least a third of the ack wait.
func TestRenditionsScaleOut(t *testing.T) {
	const (
		n       = 24
		gallery = "scale-1"
		procs   = 3
	)
	began := time.Now()
	made := make(chan map[string]burstPhoto, 1)
	madeErr := make(chan error, 1)
	go func() { // while the stack starts
		ph, err := burstPhotos(n)
		made <- ph
		madeErr <- err
	}()
	s := devstack.ForTest(t)
	startRoles(t, s, "ingest")
	ps := make([]*renditionsProc, procs)
	for i := range ps {
		ps[i] = startRenditionsProc(t, s.Config, fmt.Sprintf("#%d", i+1))
	}
	for _, p := range ps {
		p.waitReady(t, 30*time.Second)
	}
	photos := <-made
	if err := <-madeErr; err != nil {
		t.Fatal(err)
	}
	t.Logf("stack, %d worker processes and %d photos ready after %s", procs, n, time.Since(began).Round(time.Millisecond))

	// The burst goes in from another goroutine while #1 is watched.
	stalls := watchStalls(t)
	burstStart := time.Now()
	uploaded := make(chan error, 1)
	go func() { uploaded <- putAll(s.Config, gallery, photos) }()

	// Kill #1 once its log says it has finished a photo and its metrics
	// say it is working on the next, which it started after the last done
	// line: the log is watched closely, the ops port asked only then.
	p1 := ps[0]
	var lastDone time.Time
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("process #1 never finished a job and started another within 60s:\n%s\n%s", p1.log.String(), pipelineState(s.Config))
		}
		runs := p1.doneRuns(t, gallery)
		if len(runs) == 0 {
			continue
		}
		m := p1.metrics(t)
		if m[`photodesk_jobs_in_flight{role="renditions"}`] == 1 && int(m[`photodesk_jobs_total{outcome="done",role="renditions"}`]) == len(runs) {
			if err := p1.cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			lastDone, p1.doneBeforeKill = runs[len(runs)-1].end, len(runs)
			break
		}
	}
	killedAt := time.Now()
	<-p1.exited // its log is complete
	if err := <-uploaded; err != nil {
		t.Fatal(err)
	}
	t.Logf("killed #1 %s into the burst, after %d done, its job started at most %s before",
		killedAt.Sub(burstStart).Round(time.Millisecond), p1.doneBeforeKill, killedAt.Sub(lastDone).Round(time.Millisecond))

	events := renditionsEvents(t, s.Config, gallery, n, 60*time.Second)
	burstTook := time.Since(burstStart)
	nc, js, err := pipeline.Connect(s.Config, t.Name())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	info := devstack.Settle(t, js, contract.EventsStream, "renditions", 30*time.Second)
	stall := stalls.stop()
	survivorRedeliveries := 0.0
	for _, p := range ps[1:] {
		survivorRedeliveries += p.metrics(t)[`photodesk_redeliveries_total{role="renditions"}`]
		p.stop(t)
	}

	// Every photo: one event, every derivative stored, decodable, the right size.
	subject := contract.GallerySubject(contract.SubjectPhotoRenditions, gallery)
	stream, err := js.Stream(context.Background(), contract.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	sinfo, err := stream.Info(context.Background(), jetstream.WithSubjectFilter(subject))
	if err != nil {
		t.Fatal(err)
	}
	if got := sinfo.State.Subjects[subject]; got != n {
		t.Errorf("%s holds %d events, want one per photo: %d", subject, got, n)
	}
	checkDerivatives(t, s.Config, gallery, photos, events)

	// Who did what, from the processes' own logs.
	doneBy := map[string][]jobRun{}  // photo -> acked runs
	readyBy := map[string][]string{} // photo -> processes whose handler finished it
	var took []time.Duration
	for _, p := range ps {
		lines := p.log.lines()
		if !slices.ContainsFunc(lines, func(l logLine) bool { return l["msg"] == "worker started" }) {
			t.Errorf("process %s: no \"worker started\" line in its log", p.name)
		}
		for _, l := range lines {
			if l["gallery"] != gallery || l["role"] != "renditions" {
				continue
			}
			switch l["msg"] {
			case "done":
				r, err := parseRun(p.name, l)
				if err != nil {
					t.Errorf("process %s: %v", p.name, err)
					continue
				}
				doneBy[l["photo"]] = append(doneBy[l["photo"]], r)
				p.done++
				took = append(took, r.end.Sub(r.start))
			case "derivatives ready":
				readyBy[l["photo"]] = append(readyBy[l["photo"]], p.name)
			}
		}
	}
	for _, p := range ps {
		if p.done == 0 {
			t.Errorf("process %s finished no photo", p.name)
		}
	}
	if ps[0].done != ps[0].doneBeforeKill {
		t.Errorf("#1 logged %d done lines, its metrics said %d just before the kill", ps[0].done, ps[0].doneBeforeKill)
	}
	var heldBy1, redoneAfterKill, leaseLost []string
	for _, name := range slices.Sorted(maps.Keys(photos)) {
		runs := doneBy[name]
		switch {
		case len(runs) == 0:
			t.Errorf("%s: no process finished it", name)
		case len(runs) > 1 && overlapping(runs) && stall >= s.Config.AckWait/3:
			leaseLost = append(leaseLost, name)
		case len(runs) > 1:
			t.Errorf("%s: done by %v, want exactly one process (longest stall of this process %s)", name, runs, stall.Round(time.Millisecond))
		}
		by1 := slices.ContainsFunc(runs, func(r jobRun) bool { return r.proc == "#1" })
		want := len(runs)
		if slices.Contains(readyBy[name], "#1") && !by1 {
			want++ // #1 was killed between its handler and its confirmed ack
			heldBy1 = append(heldBy1, name)
		}
		if len(readyBy[name]) != want {
			t.Errorf("%s: handler finished by %v, done by %v; want once per done, plus #1 if killed before its ack", name, readyBy[name], runs)
		}
		if !by1 && slices.ContainsFunc(runs, func(r jobRun) bool { return r.attempt > 1 }) {
			redoneAfterKill = append(redoneAfterKill, name)
		}
	}
	if len(heldBy1) > 1 {
		t.Errorf("%v all finished by #1 without an ack; with --concurrency 1 it held one", heldBy1)
	}
	if len(leaseLost) > 0 {
		t.Logf("%v finished by two live processes: the machine stalled for %s, longer than the ack wait allows", leaseLost, stall.Round(time.Millisecond))
	}

	// The photo #1 held was redelivered and done by a survivor.
	if len(redoneAfterKill) == 0 || survivorRedeliveries < 1 {
		t.Errorf("no redelivery of #1's photo: photos done by survivors on a later attempt %v, survivors' photodesk_redeliveries_total %v", redoneAfterKill, survivorRedeliveries)
	}
	if info.NumPending != 0 || info.NumAckPending != 0 || info.NumRedelivered != 0 || info.Delivered.Consumer < n+1 {
		t.Errorf("renditions consumer: pending %d, ack pending %d, redelivered %d, %d deliveries for %d photos (want a redelivery)",
			info.NumPending, info.NumAckPending, info.NumRedelivered, info.Delivered.Consumer, n)
	}

	if len(took) > 0 {
		slices.Sort(took)
		t.Logf("burst of %d done in %s: %s did %d, %s %d, %s %d; redone after the kill %v; %d deliveries; a job took %s..%s (median %s); longest stall %s; whole test %s",
			n, burstTook.Round(time.Millisecond), ps[0].name, ps[0].done, ps[1].name, ps[1].done, ps[2].name, ps[2].done,
			redoneAfterKill, info.Delivered.Consumer, took[0].Round(time.Millisecond), took[len(took)-1].Round(time.Millisecond),
			took[len(took)/2].Round(time.Millisecond), stall.Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
	}
}

// jobRun is one acked job as its process logged it.
type jobRun struct {
	proc       string
	attempt    int
	start, end time.Time
}

func (r jobRun) String() string {
	return fmt.Sprintf("%s(attempt %d, %s..%s)", r.proc, r.attempt, r.start.Format("15:04:05.000"), r.end.Format("15:04:05.000"))
}

// parseRun reads a "done" line: it is logged at the end, with how long
// the job took.
func parseRun(proc string, l logLine) (jobRun, error) {
	end, err := time.Parse(time.RFC3339Nano, l["time"])
	if err != nil {
		return jobRun{}, fmt.Errorf("done line time: %w", err)
	}
	took, err := time.ParseDuration(l["took"])
	if err != nil {
		return jobRun{}, fmt.Errorf("done line took: %w", err)
	}
	attempt, err := strconv.Atoi(l["attempt"])
	if err != nil {
		return jobRun{}, fmt.Errorf("done line attempt: %w", err)
	}
	return jobRun{proc: proc, attempt: attempt, start: end.Add(-took), end: end}, nil
}

// overlapping says whether every two runs were under way at the same time.
func overlapping(runs []jobRun) bool {
	for i := range runs {
		for _, o := range runs[i+1:] {
			if !runs[i].start.Before(o.end) || !o.start.Before(runs[i].end) {
				return false
			}
		}
	}
	return true
}

// stallWatch measures how late a ticker of this process fires: a machine
// that stops running it (a paused VM, a starved CPU) shows as a late tick.
type stallWatch struct {
	done  chan struct{}
	max   chan time.Duration
	once  sync.Once
	worst time.Duration
}

// watchStalls starts a watch that ends with the test at the latest.
func watchStalls(t *testing.T) *stallWatch {
	w := &stallWatch{done: make(chan struct{}), max: make(chan time.Duration)}
	t.Cleanup(func() { w.stop() })
	go func() {
		const every = 50 * time.Millisecond
		tick := time.NewTicker(every)
		defer tick.Stop()
		var worst time.Duration
		last := time.Now()
		for {
			select {
			case now := <-tick.C:
				worst = max(worst, now.Sub(last)-every)
				last = now
			case <-w.done:
				w.max <- max(worst, time.Since(last)-every)
				return
			}
		}
	}()
	return w
}

// stop ends the watch and returns the longest stall seen.
func (w *stallWatch) stop() time.Duration {
	w.once.Do(func() {
		close(w.done)
		w.worst = <-w.max
	})
	return w.worst
}

// burstPhoto is one photo of the burst and its size.
type burstPhoto struct {
	body          []byte
	width, height int
}

// burstPhotos makes n distinct 6 MP JPEGs: two scenes, each also turned
// to portrait, and each copy with its own XMP caption, so each has its
// own ETag.
func burstPhotos(n int) (map[string]burstPhoto, error) {
	var bases []burstPhoto
	for seed := range int64(2) {
		img := fixture.Scene(3000, 2000, seed+1)
		for _, pic := range []image.Image{img, fixture.StoreForOrientation(img, 6)} {
			b, err := fixture.JPEG(pic, 85, &fixture.EXIF{Make: "Canon", Model: "Canon EOS R6"})
			if err != nil {
				return nil, err
			}
			bases = append(bases, burstPhoto{body: b, width: pic.Bounds().Dx(), height: pic.Bounds().Dy()})
		}
	}
	out := map[string]burstPhoto{}
	for i := range n {
		base := bases[i%len(bases)]
		b, err := fixture.WithAPP(base.body, 1, []byte(fixture.XMPHeader), fixture.XMPPacket(fmt.Sprintf("第%d张", i+1), "摄影记者"))
		if err != nil {
			return nil, err
		}
		out[fmt.Sprintf("p%02d.jpg", i+1)] = burstPhoto{body: b, width: base.width, height: base.height}
	}
	return out, nil
}

// putAll PUTs the photos into the gallery, in name order.
func putAll(cfg config.Config, gallery string, photos map[string]burstPhoto) error {
	store, err := pipeline.NewStore(cfg)
	if err != nil {
		return err
	}
	for _, name := range slices.Sorted(maps.Keys(photos)) {
		b := photos[name].body
		if _, err := store.PutObject(context.Background(), cfg.OriginalsBucket, gallery+"/"+name, bytes.NewReader(b), int64(len(b)), minio.PutObjectOptions{ContentType: "image/jpeg"}); err != nil {
			return fmt.Errorf("put %s: %w", name, err)
		}
	}
	return nil
}

// renditionsEvents reads the gallery's renditions events until every one
// of want photos has one; duplicates are kept.
func renditionsEvents(t *testing.T, cfg config.Config, gallery string, want int, d time.Duration) map[string][]contract.PhotoDerivatives {
	t.Helper()
	evs := map[string][]contract.PhotoDerivatives{}
	follow(t, cfg, []string{contract.GallerySubject(contract.SubjectPhotoRenditions, gallery)}, d, func(m jetstream.Msg) {
		var x contract.PhotoDerivatives
		mustDecode(t, m, &x)
		evs[x.Photo] = append(evs[x.Photo], x)
	}, func() bool { return len(evs) >= want })
	if len(evs) < want {
		t.Fatalf("after %s: %d of %d photos have a renditions event", d, len(evs), want)
	}
	return evs
}

// checkDerivatives checks each photo's one event against the configured
// presets, and each derivative it names against the bucket: there, the
// stated size, and decoding as its format at the size the preset makes.
func checkDerivatives(t *testing.T, cfg config.Config, gallery string, photos map[string]burstPhoto, events map[string][]contract.PhotoDerivatives) {
	t.Helper()
	rc := defaultRoleConfig()
	if err := rc.Validate(); err != nil {
		t.Fatal(err)
	}
	store, err := pipeline.NewStore(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for name, ph := range photos {
		evs := events[name]
		if len(evs) != 1 {
			t.Errorf("%s: %d renditions events, want 1", name, len(evs))
			continue
		}
		ev := evs[0]
		if ev.Source.Width != ph.width || ev.Source.Height != ph.height || ev.Source.Size != int64(len(ph.body)) {
			t.Errorf("%s: source %+v, uploaded %dx%d, %d bytes", name, ev.Source, ph.width, ph.height, len(ph.body))
		}
		i := 0
		for _, p := range rc.img.Presets {
			for _, f := range p.Formats {
				if i >= len(ev.Derivatives) {
					t.Errorf("%s: %d derivatives, fewer than the presets make", name, len(ev.Derivatives))
					break
				}
				d := ev.Derivatives[i]
				i++
				key := gallery + "/" + name + "/" + p.Name + "." + f.Ext()
				ww, wh := fitWithin(ph.width, ph.height, p.Size)
				if p.Crop() {
					ww, wh = cropWithin(ph.width, ph.height, p)
				}
				if d.Key != key || d.Format != string(f) || abs(d.Width-ww) > 1 || abs(d.Height-wh) > 1 {
					t.Errorf("%s: derivative %+v, want %s %s about %dx%d", name, d, key, f, ww, wh)
					continue
				}
				body := getObject(t, store, d.Bucket, d.Key)
				img, format, err := image.Decode(bytes.NewReader(body))
				if err != nil {
					t.Errorf("%s does not decode: %v", d.Key, err)
					continue
				}
				if b := img.Bounds(); format != string(f) || b.Dx() != d.Width || b.Dy() != d.Height || int64(len(body)) != d.Size {
					t.Errorf("%s: a %s of %dx%d, %d bytes; the event says %s %dx%d, %d bytes", d.Key, format, b.Dx(), b.Dy(), len(body), f, d.Width, d.Height, d.Size)
				}
			}
		}
		if i != len(ev.Derivatives) {
			t.Errorf("%s: %d derivatives, want %d", name, len(ev.Derivatives), i)
		}
	}
}

// fitWithin is w×h scaled so its long edge is at most long (never up).
func fitWithin(w, h, long int) (int, int) {
	if long == 0 || max(w, h) <= long {
		return w, h
	}
	k := float64(long) / float64(max(w, h))
	return int(math.Round(float64(w) * k)), int(math.Round(float64(h) * k))
}

// cropWithin is a crop preset's size from a w×h original: its box, or
// the largest of its aspect the original holds (never upscaled).
func cropWithin(w, h int, p imaging.Preset) (int, int) {
	a := float64(p.Aspect.H) / float64(p.Aspect.W)
	bw, bh := p.Size, int(math.Round(float64(p.Size)*a))
	if bw <= w && bh <= h {
		return bw, bh
	}
	if bw, bh = w, int(math.Round(float64(w)*a)); bh > h {
		bw, bh = int(math.Round(float64(h)/a)), h
	}
	return bw, bh
}

func abs(x int) int { return max(x, -x) }

func getObject(t *testing.T, store *pipeline.Store, bucket, key string) []byte {
	t.Helper()
	obj, err := store.GetObject(context.Background(), bucket, key, minio.GetObjectOptions{})
	if err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	defer obj.Close()
	b, err := io.ReadAll(obj)
	if err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	return b
}

// renditionsProc is one `photodesk worker --role renditions` process.
type renditionsProc struct {
	name    string
	cmd     *exec.Cmd
	ops     string // its ops HTTP address
	log     *logBuffer
	exited  chan struct{} // closed once the process has exited and waitErr is set
	waitErr error

	doneBeforeKill, done int
}

// startRenditionsProc starts a renditions worker with one job at a time
// and its own ops port; its log is kept.
func startRenditionsProc(t *testing.T, cfg config.Config, name string) *renditionsProc {
	t.Helper()
	p := &renditionsProc{name: name, ops: freeAddr(t), log: &logBuffer{}, exited: make(chan struct{})}
	args := append([]string{"worker", "--role", "renditions", "--concurrency", "1", "--http", p.ops}, connFlags(cfg)...)
	var out *bufio.Scanner
	p.cmd, out = childLogTo(t, p.log, nil, args...)
	// Wait only after the output is read to its end, as os/exec asks.
	go func() {
		for out.Scan() {
		}
		p.waitErr = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() { _ = p.cmd.Process.Kill(); <-p.exited })
	return p
}

// doneRuns are the jobs of the gallery the process has logged as done.
func (p *renditionsProc) doneRuns(t *testing.T, gallery string) []jobRun {
	t.Helper()
	var runs []jobRun
	for _, l := range p.log.lines() {
		if l["msg"] != "done" || l["role"] != "renditions" || l["gallery"] != gallery {
			continue
		}
		r, err := parseRun(p.name, l)
		if err != nil {
			t.Fatalf("process %s: %v", p.name, err)
		}
		runs = append(runs, r)
	}
	return runs
}

// waitReady waits until the process serves metrics and its worker is
// pulling.
func (p *renditionsProc) waitReady(t *testing.T, d time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(d); ; time.Sleep(50 * time.Millisecond) {
		if strings.Contains(p.log.String(), "worker started") {
			if resp, err := http.Get("http://" + p.ops + "/metrics"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return
				}
			}
		}
		select {
		case <-p.exited:
			t.Fatalf("process %s exited: %v\n%s", p.name, p.waitErr, p.log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %s not ready after %s:\n%s", p.name, d, p.log.String())
		}
	}
}

// metrics scrapes the process's /metrics into series -> value; a series
// not yet created reads as 0.
func (p *renditionsProc) metrics(t *testing.T) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + p.ops + "/metrics")
	if err != nil {
		t.Fatalf("process %s: %v", p.name, err)
	}
	defer resp.Body.Close()
	m := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		i := strings.LastIndexByte(line, ' ')
		if strings.HasPrefix(line, "#") || i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			m[line[:i]] = v
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("process %s: /metrics: %v", p.name, err)
	}
	return m
}

// stop sends SIGTERM and waits for a clean exit.
func (p *renditionsProc) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.exited:
		if p.waitErr != nil {
			t.Errorf("process %s exited with %v after SIGTERM, want a clean exit", p.name, p.waitErr)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("process %s did not stop within 30s of SIGTERM", p.name)
	}
}

// logBuffer keeps a process's log as it is written.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// logLine is one slog text line as key -> value.
type logLine map[string]string

// lines parses the log's complete slog text lines.
func (l *logBuffer) lines() []logLine {
	var out []logLine
	text := l.String()
	for _, s := range strings.SplitAfter(text[:strings.LastIndexByte(text, '\n')+1], "\n") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, parseLogLine(s))
		}
	}
	return out
}

// parseLogLine reads key=value pairs, values bare or Go-quoted, as
// slog.TextHandler writes them.
func parseLogLine(s string) logLine {
	kv := logLine{}
	for s = strings.TrimLeft(s, " "); s != ""; s = strings.TrimLeft(s, " ") {
		k, rest, ok := strings.Cut(s, "=")
		if !ok {
			break
		}
		v := ""
		if strings.HasPrefix(rest, `"`) {
			q, err := strconv.QuotedPrefix(rest)
			if err != nil {
				break
			}
			v, _ = strconv.Unquote(q)
			rest = rest[len(q):]
		} else {
			v, rest, _ = strings.Cut(rest, " ")
		}
		kv[k] = v
		s = rest
	}
	return kv
}
