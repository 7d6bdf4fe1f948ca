package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/photodesk/photodesk/internal/imaging"
	"github.com/photodesk/photodesk/pipeline"
	"github.com/photodesk/photodesk/pipeline/config"
	"github.com/photodesk/photodesk/pipeline/contract"
	"github.com/photodesk/photodesk/pipeline/gallery"
	"github.com/photodesk/photodesk/workers/assembler"
)

// BenchmarkEndToEnd is the end-to-end figure: a gallery of 24 MP
// JPEGs uploaded to one real `photodesk dev` process (embedded NATS, its
// MinIO child, every role), timed from the first PUT to the gallery's
// article.ready event. Each op is a new gallery: the photos, 4 PUTs at a
// time as `photodesk upload` does, then gallery.json (last, as upload does),
// either through dev's API (upload=api), which publishes each file's event
// as soon as it is stored, as `photodesk upload` does when it reaches NATS,
// or as plain S3 PUTs (upload=s3), which wait for MinIO's notification.
// The photos cycle through a few distinct scenes: drawing a 24 MP scene
// takes seconds (about 7 here), and the roles key their work by object
// key, never by content, so a repeated scene is still new work.
//
// ns/op (and e2e-s) is first PUT → article.ready received, nothing else:
// the per-op set-up and the checks run with the timer stopped. cpu-s/photo
// is the user+system CPU of the dev process and its MinIO child during the
// op, per photo; floor-s is that CPU time over the machine's cores, the
// shortest the op could take on this machine for the work it did; peak-MiB
// is the dev process's VmHWM after all ops.
func BenchmarkEndToEnd(b *testing.B) {
	n, seeds := 30, 6
	if testing.Short() {
		// make bench-short: a quick pass, on the two scenes
		// BenchmarkWorkerPeakRSS draws anyway.
		n, seeds = 4, 2
	}
	// upload=api: through dev's HTTP API, as the web page and the
	// newsroom's tools upload; each stored file's event is published at
	// once. upload=s3: plain S3 PUTs from any S3 client, which start the
	// pipeline through MinIO's notification.
	for _, via := range []string{"api", "s3"} {
		b.Run(fmt.Sprintf("photos=%d/upload=%s", n, via), func(b *testing.B) {
			runBins(b, func(b *testing.B, bn bin) { benchEndToEnd(b, bn, n, seeds, via) })
		})
	}
	// shape=procs: the production shape, through the API as upload=api,
	// but each role its own `photodesk worker` process (--concurrency 2),
	// the API its own `photodesk api`, NATS and MinIO as the test stack
	// runs them (NATS in this process): the image roles no longer share a
	// decode.
	b.Run(fmt.Sprintf("photos=%d/shape=procs", n), func(b *testing.B) {
		runBins(b, func(b *testing.B, bn bin) { benchEndToEnd(b, bn, n, seeds, "procs") })
	})
}

func benchEndToEnd(b *testing.B, bn bin, n, seeds int, via string) {
	// The photos first, before the dev process starts: drawing them takes
	// seconds each (photo caches them for the process).
	start := time.Now()
	var originals [][]byte
	for i := range n {
		originals = append(originals, photo(b, int64(i%seeds+1)))
	}
	size := 0
	for _, o := range originals {
		size += len(o)
	}
	want, err := e2eRenditions(makesCrops(b, bn))
	if err != nil {
		b.Fatal(err)
	}

	drawn := time.Since(start)
	var dev e2eTarget
	if via == "procs" {
		dev = e2eStartProcs(b, bn)
	} else {
		dev = e2eStartDev(b, bn)
	}
	cfg := dev.config()
	nc, js, err := pipeline.Connect(cfg, "bench-e2e")
	if err != nil {
		dev.fail("connect to the dev NATS: %v", err)
	}
	b.Cleanup(nc.Close)
	// Every role pulling before the first op, so no op times a start-up.
	every := map[string]int{}
	for _, c := range pipeline.Consumers {
		every[c.Role] = 1
	}
	if err := waitPulling(js, every, dev.exitedCh(), 60*time.Second); err != nil {
		dev.fail("%v", err)
	}
	store, err := pipeline.NewStore(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("set-up: photos ready after %s, %s running and every role pulling after %s more",
		drawn.Round(time.Millisecond), map[bool]string{true: "the stack and a process per role", false: "photodesk dev"}[via == "procs"],
		(time.Since(start) - drawn).Round(time.Millisecond))

	var (
		op              int
		e2e, cpu        time.Duration // sums over the ops
		ctx             = context.Background()
		names, manifest = e2eGalleryFiles(n, seeds)
	)
	if _, err := gallery.ParseManifest(manifest); err != nil {
		b.Fatalf("the benchmark's own gallery.json: %v", err)
	}
	for b.Loop() {
		b.StopTimer()
		op++
		gallery := fmt.Sprintf("e2e-%d-%d", n, op)

		// Follow the gallery before the first PUT, from new messages only:
		// its article.ready, and anything that says it went wrong.
		events, stop, err := e2eFollow(ctx, js, gallery)
		if err != nil {
			b.Fatal(err)
		}
		cpu0, err := dev.cpu()
		if err != nil {
			dev.fail("%v", err)
		}

		upload := func() error { return e2eUpload(ctx, store, cfg.OriginalsBucket, gallery, names, originals, manifest) }
		if via != "s3" {
			api := dev.apiClient()
			if err := api.createGallery(gallery); err != nil {
				dev.fail("gallery %s: %v", gallery, err)
			}
			upload = func() error { return api.upload(ctx, gallery, names, originals, manifest) }
		}
		b.StartTimer()
		t0 := time.Now()
		if err := upload(); err != nil {
			dev.fail("gallery %s: upload: %v", gallery, err)
		}
		uploaded := time.Since(t0)
		ready, err := e2eWaitReady(events, dev.exitedCh(), 10*time.Minute)
		b.StopTimer()
		stop()
		if err != nil {
			dev.fail("gallery %s: %v", gallery, err)
		}
		cpu1, err := dev.cpu()
		if err != nil {
			dev.fail("%v", err)
		}

		took := ready.at.Sub(t0)
		md, err := ready.msg.Metadata()
		if err != nil {
			b.Fatal(err)
		}
		e2e += took
		var opCPU time.Duration
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(cpu1)) {
			d := cpu1[k] - cpu0[k]
			opCPU += d
			parts = append(parts, fmt.Sprintf("%s %s", k, d.Round(10*time.Millisecond)))
		}
		cpu += opCPU
		if err := e2eCheckArticle(ctx, store, ready.msg.Data(), gallery, names, want); err != nil {
			dev.fail("gallery %s: %v", gallery, err)
		}
		timeline, err := e2eTimeline(ctx, js, gallery, t0, md.Sequence.Stream)
		if err != nil {
			dev.fail("gallery %s: %v", gallery, err)
		}
		b.Logf("op %d: %d photos (%.0f MiB), first PUT → article.ready %s (by the event's stream timestamp %s); "+
			"uploads done after %s; CPU %s (%s); by the stream's timestamps, from the first PUT:\n%s\n  the roles' jobs (dev log):\n%s",
			op, n, float64(size)/(1<<20), took.Round(time.Millisecond), md.Timestamp.Sub(t0).Round(time.Millisecond),
			uploaded.Round(time.Millisecond), opCPU.Round(10*time.Millisecond),
			strings.Join(parts, ", "), timeline, dev.jobs(gallery))
		b.StartTimer()
	}
	b.StopTimer()

	hwm, err := dev.peak()
	if err != nil {
		dev.fail("%v", err)
	}
	dev.stop()

	ops := float64(op)
	b.ReportMetric(e2e.Seconds()/ops, "e2e-s")
	b.ReportMetric(cpu.Seconds()/ops/float64(n), "cpu-s/photo")
	b.ReportMetric(cpu.Seconds()/ops/float64(runtime.NumCPU()), "floor-s")
	b.ReportMetric(float64(hwm)/(1<<20), "peak-MiB")
}

// e2eGalleryFiles names the n photos and makes the gallery's manifest: the
// photos in order, a caption each (the assembler prefixes the day taken).
func e2eGalleryFiles(n, seeds int) ([]string, []byte) {
	m := gallery.Manifest{
		Headline: fmt.Sprintf("基准测试|端到端 %d 张照片的图集", n),
		Byline:   gallery.Bylines{"Zhang Wei"},
		Source:   "工人日报",
		Language: "zh-CN",
		Dateline: "北京",
	}
	var names []string
	for i := range n {
		name := fmt.Sprintf("%02d-scene%d.jpg", i+1, i%seeds+1)
		names = append(names, name)
		m.Photos = append(m.Photos, gallery.MPhoto{File: name, Caption: e2eCaption(i)})
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		panic(err) // plain strings: cannot happen
	}
	return names, b
}

func e2eCaption(i int) string { return fmt.Sprintf("基准测试第%d张照片。", i+1) }

// e2eUpload puts the photos into originals/<gallery>/, 4 PUTs at a
// time, then gallery.json, as `photodesk upload` does (--parallel 4).
func e2eUpload(ctx context.Context, store *pipeline.Store, bucket, gallery string, names []string, photos [][]byte, manifest []byte) error {
	objs := make([]object, len(names))
	for i, name := range names {
		objs[i] = object{gallery + "/" + name, "image/jpeg", photos[i]}
	}
	if err := putAll(ctx, store, bucket, objs, 4); err != nil {
		return err
	}
	return putAll(ctx, store, bucket, []object{{gallery + "/" + contract.ManifestName, "application/json", manifest}}, 1)
}

// e2eAPI is dev's HTTP API, as a photographer.
type e2eAPI struct {
	base, token string
}

func (a e2eAPI) do(ctx context.Context, method, path string, body []byte, want int) error {
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: %s %s", method, path, resp.Status, msg)
	}
	return nil
}

func (a e2eAPI) createGallery(gallery string) error {
	return a.do(context.Background(), "POST", "/v1/galleries", []byte(`{"id":"`+gallery+`"}`), http.StatusCreated)
}

// upload PUTs the photos through the API, 4 at a time, then gallery.json.
func (a e2eAPI) upload(ctx context.Context, gallery string, names []string, photos [][]byte, manifest []byte) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg   sync.WaitGroup
		once sync.Once
		ferr error
		sem  = make(chan struct{}, 4)
	)
	for i, name := range names {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := a.do(ctx, "PUT", "/v1/galleries/"+gallery+"/photos/"+name, photos[i], http.StatusCreated); err != nil {
				once.Do(func() { ferr = err; cancel() })
			}
		})
	}
	wg.Wait()
	if ferr != nil {
		return ferr
	}
	return a.do(ctx, "PUT", "/v1/galleries/"+gallery+"/manifest", manifest, http.StatusAccepted)
}

// e2eEvent is an event and when this process got it.
type e2eEvent struct {
	msg jetstream.Msg
	at  time.Time
}

// e2eFollow starts an ordered consumer of the gallery's article.ready,
// gallery.held and failure subjects from new messages; the server-side
// consumer exists when it returns, so nothing published after is missed.
func e2eFollow(ctx context.Context, js jetstream.JetStream, gallery string) (<-chan e2eEvent, func(), error) {
	cons, err := js.OrderedConsumer(ctx, contract.EventsStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{
			contract.GallerySubject(contract.SubjectArticleReady, gallery),
			contract.GallerySubject(contract.SubjectGalleryHeld, gallery),
			contract.FailedSubject("*", gallery),
		},
		DeliverPolicy:    jetstream.DeliverNewPolicy,
		MaxResetAttempts: 3,
	})
	if err != nil {
		return nil, nil, err
	}
	it, err := cons.Messages()
	if err != nil {
		return nil, nil, err
	}
	out := make(chan e2eEvent, 16)
	done := make(chan struct{})
	go func() {
		defer close(out)
		for {
			m, err := it.Next()
			if err != nil {
				return // stopped, or the connection is gone: e2eWaitReady says so
			}
			select {
			case out <- e2eEvent{m, time.Now()}:
			case <-done:
				return
			}
		}
	}()
	return out, func() { close(done); it.Stop() }, nil
}

// e2eWaitReady returns the gallery's article.ready event, the first event
// e2eFollow should see; a failure or a held gallery is an error.
func e2eWaitReady(events <-chan e2eEvent, exited <-chan struct{}, d time.Duration) (e2eEvent, error) {
	select {
	case ev, ok := <-events:
		switch {
		case !ok:
			return e2eEvent{}, errors.New("the event subscription ended before article.ready")
		case !strings.HasPrefix(ev.msg.Subject(), contract.SubjectArticleReady+"."):
			return e2eEvent{}, fmt.Errorf("event %s before article.ready: %s", ev.msg.Subject(), ev.msg.Data())
		}
		return ev, nil
	case <-exited:
		return e2eEvent{}, errors.New("photodesk dev exited")
	case <-time.After(d):
		return e2eEvent{}, fmt.Errorf("no article.ready after %s", d)
	}
}

// makesCrops reports whether bn makes the crops (issue 18): a binary that
// predates them, or a head told to make none (benchBins), does not.
func makesCrops(b *testing.B, bn bin) bool {
	return hasFlag(b, bn.path, "crops") && !slices.Contains(bn.args, "--crops=")
}

// e2eRenditions is every rendition a photo's record lists with dev's
// default presets, and crops unless !crops (watermark role without
// --watermark-full), by name, with its long edge: a 24 MP original is
// larger than every preset.
func e2eRenditions(crops bool) (map[string]int, error) {
	c := imaging.DefaultConfig()
	if !crops {
		c.CropSpec = ""
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	want := map[string]int{}
	for _, p := range c.Presets {
		edge := p.Size
		if p.Crop() {
			w, h := p.Aspect.Box(p.Size)
			edge = max(w, h)
		}
		for _, f := range p.Formats {
			want[p.Name+"-"+string(f)] = edge
			if p.Watermark {
				want[p.Name+"-watermarked-"+string(f)] = edge
			}
		}
	}
	return want, nil
}

// e2eCheckArticle asserts the work was done: the article.ready event is
// version 1 of this gallery with every photo in manifest order, each with
// its caption and every rendition, and the record is in the articles bucket.
func e2eCheckArticle(ctx context.Context, store *pipeline.Store, data []byte, gallery string, names []string, want map[string]int) error {
	var ev contract.ArticleEvent
	if err := json.Unmarshal(data, &ev); err != nil {
		return fmt.Errorf("article.ready payload: %w", err)
	}
	if ev.Gallery != gallery || ev.Version != 1 || ev.Photos != len(names) {
		return fmt.Errorf("article.ready for gallery %q version %d with %d photos, want %q version 1 with %d",
			ev.Gallery, ev.Version, ev.Photos, gallery, len(names))
	}
	var rec assembler.Ninjs
	if err := json.Unmarshal(ev.Record, &rec); err != nil {
		return fmt.Errorf("article.ready record: %w", err)
	}
	if len(rec.Associations) != len(names) {
		return fmt.Errorf("the record has %d pictures, want %d", len(rec.Associations), len(names))
	}
	for i, a := range rec.Associations {
		if uri := "urn:photodesk:photo:" + gallery + "/" + names[i] + "@"; !strings.HasPrefix(a.URI, uri) {
			return fmt.Errorf("picture %d is %s, want %s… (manifest order)", i+1, a.URI, uri)
		}
		if len(a.Descriptions) == 0 || !strings.HasSuffix(a.Descriptions[0].Value, e2eCaption(i)) {
			return fmt.Errorf("picture %d (%s): caption %+v, want one ending in %q", i+1, names[i], a.Descriptions, e2eCaption(i))
		}
		got := map[string]bool{}
		for _, r := range a.Renditions {
			edge, ok := want[r.Name]
			if !ok || got[r.Name] {
				return fmt.Errorf("picture %d (%s): unexpected or repeated rendition %q", i+1, names[i], r.Name)
			}
			got[r.Name] = true
			if max(r.Width, r.Height) != edge || r.SizeInBytes <= 0 || r.Href == "" {
				return fmt.Errorf("picture %d (%s): rendition %s is %dx%d, %d bytes, href %q; want a long edge of %d",
					i+1, names[i], r.Name, r.Width, r.Height, r.SizeInBytes, r.Href, edge)
			}
		}
		if len(got) != len(want) {
			return fmt.Errorf("picture %d (%s) has renditions %v, want all of %v", i+1, names[i], slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)))
		}
	}
	if _, err := store.StatObject(ctx, ev.Bucket, ev.Key, minio.StatObjectOptions{}); err != nil {
		return fmt.Errorf("the record %s/%s: %w", ev.Bucket, ev.Key, err)
	}
	return nil
}

// e2eTimeline reads every event of the gallery up to article.ready
// (stream sequence last) and says when each kind happened, relative to the
// first PUT at t0, by the stream's timestamps: where the time went. Any
// failure or held event is an error.
func e2eTimeline(ctx context.Context, js jetstream.JetStream, gallery string, t0 time.Time, last uint64) (string, error) {
	cons, err := js.OrderedConsumer(ctx, contract.EventsStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{"photodesk.*.*." + gallery},
	})
	if err != nil {
		return "", err
	}
	type span struct {
		n           int
		first, last time.Duration
	}
	kinds := map[string]*span{}
	var order []string
	for seq := uint64(0); seq < last; {
		batch, err := cons.Fetch(500, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return "", err
		}
		got := 0
		for m := range batch.Messages() {
			got++
			md, err := m.Metadata()
			if err != nil {
				return "", err
			}
			seq = md.Sequence.Stream
			if seq > last {
				continue
			}
			kind := strings.TrimSuffix(strings.TrimPrefix(m.Subject(), "photodesk."), "."+gallery)
			if strings.HasPrefix(kind, "failed.") || kind == "gallery.held" {
				return "", fmt.Errorf("%s: %s", m.Subject(), m.Data())
			}
			at := md.Timestamp.Sub(t0)
			s := kinds[kind]
			if s == nil {
				s = &span{first: at}
				kinds[kind] = s
				order = append(order, kind)
			}
			s.n++
			s.last = at
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) && !errors.Is(err, context.DeadlineExceeded) {
			return "", err
		}
		if got == 0 {
			return "", fmt.Errorf("the gallery's events stop before stream sequence %d (at %d)", last, seq)
		}
	}
	var sb strings.Builder
	for _, k := range order {
		s := kinds[k]
		fmt.Fprintf(&sb, "    %-22s %3d  %6.2fs .. %6.2fs\n", k, s.n, s.first.Seconds(), s.last.Seconds())
	}
	return strings.TrimSuffix(sb.String(), "\n"), nil
}

// e2eTarget is what BenchmarkEndToEnd uploads to: one `photodesk dev`
// (e2eDev), or the production shape, a process per role (e2eProcs).
type e2eTarget interface {
	config() config.Config // reaches its NATS and MinIO
	apiClient() e2eAPI
	exitedCh() <-chan struct{} // closed when a process of it exits
	// cpu is the user+system CPU time so far of each of its processes
	// (by a name for the log); the op's CPU is the sum of the changes.
	cpu() (map[string]time.Duration, error)
	peak() (int64, error) // the VmHWM of its largest process
	jobs(gallery string) string
	fail(format string, args ...any)
	stop()
}

// e2eDev is a running `photodesk dev` and its MinIO child.
type e2eDev struct {
	b        *testing.B
	cmd      *exec.Cmd
	exited   chan struct{}
	logPath  string
	minioPID int
	cfg      config.Config // reaches it
	api      e2eAPI
}

// e2eStartDev starts `photodesk dev` from the built binary on a temporary data
// dir with a free loopback port for every listener (NATS, MinIO, ops HTTP,
// API), so it collides with nothing on the default ports. Settings: dev's
// defaults (--concurrency 2 jobs at once per role, default presets and
// watermark, ack wait and max deliver), with no PHOTODESK_* variable of
// this environment but PHOTODESK_MINIO_BIN. It returns once the banner is
// printed and MinIO's process is found.
func e2eStartDev(b *testing.B, bn bin) *e2eDev {
	b.Helper()
	natsAddr, s3Addr, httpAddr, apiAddr := e2eFreeAddr(b), e2eFreeAddr(b), e2eFreeAddr(b), e2eFreeAddr(b)
	tmp := b.TempDir()
	d := &e2eDev{b: b, exited: make(chan struct{}), logPath: filepath.Join(tmp, "dev.log")}
	d.cfg = config.Default()
	d.cfg.NATSURL, d.cfg.S3Endpoint = "nats://"+natsAddr, s3Addr

	logFile, err := os.Create(d.logPath)
	if err != nil {
		b.Fatal(err)
	}
	banner := &e2eBanner{ready: make(chan struct{})}
	d.api = e2eAPI{base: "http://" + apiAddr, token: "bench-photographer-0123456789abcdef"}
	d.cmd = exec.Command(bn.path, append([]string{"dev", "--data", filepath.Join(tmp, "data"),
		"--nats-addr", natsAddr, "--s3-addr", s3Addr, "--http", httpAddr, "--api", apiAddr,
		"--api-tokens", "bench:photographer:" + d.api.token}, bn.args...)...)
	d.cmd.Stdout, d.cmd.Stderr = banner, logFile
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PHOTODESK_") || strings.HasPrefix(kv, "PHOTODESK_MINIO_BIN=") {
			d.cmd.Env = append(d.cmd.Env, kv)
		}
	}
	if err := d.cmd.Start(); err != nil {
		b.Fatal(err)
	}
	go func() { _ = d.cmd.Wait(); close(d.exited) }()
	b.Cleanup(func() {
		_ = d.cmd.Process.Kill() // after a failure; MinIO follows (its parent-death signal)
		<-d.exited
		logFile.Close()
	})

	// MinIO's start and the trigger's canary proof take a few seconds, far
	// more on a loaded machine.
	select {
	case <-banner.ready:
	case <-d.exited:
		d.fail("photodesk dev exited before it was running (%v); its stdout:\n%s", d.cmd.ProcessState, banner.String())
	case <-time.After(3 * time.Minute):
		d.fail("no \"photodesk dev is running\" banner after 3 minutes; its stdout:\n%s", banner.String())
	}
	if s := banner.String(); !strings.Contains(s, natsAddr) || !strings.Contains(s, s3Addr) {
		d.fail("the banner does not show NATS on %s and MinIO on %s:\n%s", natsAddr, s3Addr, s)
	}
	if d.minioPID, err = childPID(d.cmd.Process.Pid, "minio"); err != nil {
		d.fail("%v", err)
	}
	return d
}

// fail ends the benchmark with the dev log's tail.
func (d *e2eDev) fail(format string, args ...any) {
	d.b.Helper()
	log, _ := os.ReadFile(d.logPath)
	d.b.Fatalf("%s\nphotodesk dev's stderr (last 4 KiB):\n%s", fmt.Sprintf(format, args...), log[max(0, len(log)-4096):])
}

// cpu is the user+system CPU time so far of the dev process (NATS and
// every role run in it) and of its MinIO child.
func (d *e2eDev) cpu() (map[string]time.Duration, error) {
	dev, err := procCPU(d.cmd.Process.Pid)
	if err != nil {
		return nil, err
	}
	minio, err := procCPU(d.minioPID)
	return map[string]time.Duration{"dev": dev, "minio": minio}, err
}

func (d *e2eDev) config() config.Config     { return d.cfg }
func (d *e2eDev) apiClient() e2eAPI         { return d.api }
func (d *e2eDev) exitedCh() <-chan struct{} { return d.exited }
func (d *e2eDev) peak() (int64, error)      { return vmHWM(d.cmd.Process.Pid) }

var e2eJobLine = regexp.MustCompile(`msg=done role=(\S+) gallery=(\S+) .*attempt=(\d+) .*took=(\S+)`)

// jobs sums the roles' "done" lines of the dev log for the gallery: how
// long each role's jobs took, queueing for a core included.
func (d *e2eDev) jobs(gallery string) string {
	log, err := os.ReadFile(d.logPath)
	if err != nil {
		return err.Error()
	}
	return e2eJobs(string(log), gallery)
}

// e2eJobs sums the "done" lines of the roles' log for the gallery.
func e2eJobs(log, gallery string) string {
	type sum struct {
		n, retried int
		all, most  time.Duration
	}
	roles := map[string]*sum{}
	var order []string
	for _, m := range e2eJobLine.FindAllStringSubmatch(log, -1) {
		took, err := time.ParseDuration(m[4])
		if m[2] != gallery || err != nil {
			continue
		}
		s := roles[m[1]]
		if s == nil {
			s = &sum{}
			roles[m[1]] = s
			order = append(order, m[1])
		}
		s.n++
		s.all += took
		s.most = max(s.most, took)
		if m[3] != "1" {
			s.retried++
		}
	}
	var sb strings.Builder
	for _, r := range order {
		s := roles[r]
		fmt.Fprintf(&sb, "    %-12s %3d jobs  %7.2fs in all, mean %5.2fs, longest %5.2fs, %d redelivered\n",
			r, s.n, s.all.Seconds(), s.all.Seconds()/float64(s.n), s.most.Seconds(), s.retried)
	}
	return strings.TrimSuffix(sb.String(), "\n")
}

// stop sends SIGTERM and checks dev exits cleanly (it stops the roles,
// then MinIO, then NATS).
func (d *e2eDev) stop() {
	d.b.Helper()
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		d.fail("SIGTERM: %v", err)
	}
	select {
	case <-d.exited:
		if !d.cmd.ProcessState.Success() {
			d.fail("photodesk dev exited with %v after SIGTERM, want a clean exit", d.cmd.ProcessState)
		}
	case <-time.After(60 * time.Second):
		d.fail("photodesk dev did not stop within 60s of SIGTERM")
	}
	if err := syscall.Kill(d.minioPID, 0); err == nil {
		d.fail("MinIO (pid %d) still runs after photodesk dev stopped", d.minioPID)
	}
}

// e2eBanner is dev's stdout; ready closes once the whole banner, which
// ends with the roles line, is in.
type e2eBanner struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	ready chan struct{}
	done  bool
}

var e2eBannerEnd = regexp.MustCompile(`(?m)^\s+roles\s.*\n`)

func (w *e2eBanner) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if !w.done && bytes.Contains(w.buf.Bytes(), []byte("photodesk dev is running")) && e2eBannerEnd.Match(w.buf.Bytes()) {
		w.done = true
		close(w.ready)
	}
	return len(p), nil
}

func (w *e2eBanner) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// e2eFreeAddr is a loopback address whose port was free a moment ago.
func e2eFreeAddr(b *testing.B) string {
	b.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
