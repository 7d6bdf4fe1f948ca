package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/photodesk/photodesk/internal/fixture"
	"github.com/photodesk/photodesk/pipeline"
	"github.com/photodesk/photodesk/pipeline/config"
	"github.com/photodesk/photodesk/pipeline/contract"
	"github.com/photodesk/photodesk/workers/ingest"
)

// Helpers of the whole-pipeline benchmarks (BenchmarkPipeline,
// BenchmarkScaleOut): a fleet of `photodesk worker` processes, small
// photos, the galleries' uploads, and a reader that follows a batch of
// galleries through the streams by their timestamps.

// pipelineRoles are the roles a whole pipeline needs, in pipeline order.
var pipelineRoles = []string{"ingest", "exif", "renditions", "watermark", "assembler"}

// resultRoles are the roles that publish a result per photo, and the
// subject each publishes on.
var resultRoles = map[string]string{
	contract.SubjectPhotoExif:        "exif",
	contract.SubjectPhotoRenditions:  "renditions",
	contract.SubjectPhotoWatermarked: "watermark",
}

// Small photos: 640×427, JPEG quality 85, camera EXIF.
const (
	smallW        = 640
	smallH        = 427
	smallDistinct = 20 // distinct images, cycled over the names
)

var small struct {
	sync.Mutex
	jpegs [][]byte
}

// smallPhotos are smallDistinct distinct small JPEGs, made once per process.
func smallPhotos(tb testing.TB) [][]byte {
	tb.Helper()
	small.Lock()
	defer small.Unlock()
	for seed := int64(len(small.jpegs) + 1); len(small.jpegs) < smallDistinct; seed++ {
		b, err := fixture.JPEG(fixture.Scene(smallW, smallH, seed), 85, cameraEXIF(seed))
		if err != nil {
			tb.Fatal(err)
		}
		small.jpegs = append(small.jpegs, b)
	}
	return small.jpegs
}

// workerProc is one running `photodesk worker` process of one role.
type workerProc struct {
	role    string
	cmd     *exec.Cmd
	exited  chan struct{}
	logPath string
}

// fleet is the worker processes of a benchmark: perRole of each role.
type fleet struct {
	procs []*workerProc
}

// startFleet starts perRole `photodesk worker --role R` processes for each
// role, with the production ack wait and max deliver (the test stack's
// short ones would only add redeliveries) and extra flags; they are killed
// when the benchmark ends unless stopped before.
func startFleet(b *testing.B, bn bin, cfg config.Config, roles []string, perRole int, extra ...string) *fleet {
	b.Helper()
	def := config.Default()
	// The machine's OTEL_* settings stay out: the benchmark says where
	// spans go.
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OTEL_") {
			env = append(env, kv)
		}
	}
	dir := b.TempDir()
	f := &fleet{}
	for _, role := range roles {
		for i := range perRole {
			args := append([]string{"worker", "--role", role, "--concurrency", "2",
				"--nats", cfg.NATSURL, "--s3-endpoint", cfg.S3Endpoint,
				"--s3-access-key", cfg.S3AccessKey, "--s3-secret-key", cfg.S3SecretKey,
				"--ack-wait", def.AckWait.String(), "--max-deliver", strconv.Itoa(def.MaxDeliver)}, extra...)
			args = append(args, bn.args...)
			p := &workerProc{role: role, exited: make(chan struct{}),
				logPath: filepath.Join(dir, fmt.Sprintf("%s-%d.log", role, i+1))}
			logFile, err := os.Create(p.logPath)
			if err != nil {
				b.Fatal(err)
			}
			p.cmd = exec.Command(bn.path, args...)
			p.cmd.Env = env
			p.cmd.Stdout, p.cmd.Stderr = logFile, logFile
			if err := p.cmd.Start(); err != nil {
				logFile.Close()
				b.Fatal(err)
			}
			go func() { _ = p.cmd.Wait(); logFile.Close(); close(p.exited) }()
			f.procs = append(f.procs, p)
		}
	}
	b.Cleanup(func() {
		for _, p := range f.procs {
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	})
	return f
}

// exited is closed once any process of the fleet has exited.
func (f *fleet) exited() <-chan struct{} {
	ch := make(chan struct{})
	for _, p := range f.procs {
		go func() {
			<-p.exited
			select {
			case <-ch:
			default:
				close(ch)
			}
		}()
	}
	return ch
}

// logs is the tail of every process's log, for a failure message.
func (f *fleet) logs() string {
	var sb strings.Builder
	for _, p := range f.procs {
		log, _ := os.ReadFile(p.logPath)
		state := "running"
		select {
		case <-p.exited:
			state = p.cmd.ProcessState.String()
		default:
		}
		fmt.Fprintf(&sb, "--- %s pid %d (%s), last 1 KiB of its log:\n%s\n", p.role, p.cmd.Process.Pid, state, log[max(0, len(log)-1024):])
	}
	return sb.String()
}

// connect connects to the fleet's NATS and MinIO as name, once every
// process is pulling.
func (f *fleet) connect(b *testing.B, cfg config.Config, name string) (jetstream.JetStream, *pipeline.Store) {
	b.Helper()
	nc, js, err := pipeline.Connect(cfg, name)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(nc.Close)
	if err := f.waitPulling(js, 60*time.Second); err != nil {
		b.Fatalf("%v\n%s", err, f.logs())
	}
	store, err := pipeline.NewStore(cfg)
	if err != nil {
		b.Fatal(err)
	}
	return js, store
}

// waitPulling waits until every role's consumer has as many pull requests
// waiting as the role has processes: every process is up and idle, so the
// first op does not time start-ups.
func (f *fleet) waitPulling(js jetstream.JetStream, d time.Duration) error {
	want := map[string]int{}
	for _, p := range f.procs {
		want[p.role]++
	}
	return waitPulling(js, want, f.exited(), d)
}

// waitPulling waits until each role's consumer has at least want[role]
// pull requests waiting, or a process exits (exited closes).
func waitPulling(js jetstream.JetStream, want map[string]int, exited <-chan struct{}, d time.Duration) error {
	ctx := context.Background()
	deadline := time.Now().Add(d)
	for role, n := range want {
		spec, err := pipeline.ConsumerFor(role)
		if err != nil {
			return err
		}
		for ; ; time.Sleep(50 * time.Millisecond) {
			select {
			case <-exited:
				return errors.New("a process exited at start-up")
			default:
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("role %s: fewer than %d processes pulling from %s after %s", role, n, spec.Stream, d)
			}
			c, err := js.Consumer(ctx, spec.Stream, role)
			if err != nil {
				continue
			}
			if info, err := c.Info(ctx); err == nil && info.NumWaiting >= n {
				break
			}
		}
	}
	return nil
}

// stop sends every process SIGTERM (they finish in-flight jobs and flush
// their spans) and waits for them to exit.
func (f *fleet) stop(d time.Duration) error {
	for _, p := range f.procs {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
	}
	timeout := time.After(d)
	for _, p := range f.procs {
		select {
		case <-p.exited:
		case <-timeout:
			return fmt.Errorf("%s (pid %d) did not stop within %s of SIGTERM", p.role, p.cmd.Process.Pid, d)
		}
	}
	return nil
}

// cpu is the user+system CPU time each role's processes have used so far.
func (f *fleet) cpu() (map[string]time.Duration, error) {
	out := map[string]time.Duration{}
	for _, p := range f.procs {
		t, err := procCPU(p.cmd.Process.Pid)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.role, err)
		}
		out[p.role] += t
	}
	return out, nil
}

// clockTicks is Linux's USER_HZ, the unit of /proc/<pid>/stat's times.
const clockTicks = 100

// procCPU is a running process's user+system CPU time (all its threads),
// from /proc/<pid>/stat.
func procCPU(pid int) (time.Duration, error) {
	_, f, err := procStat(pid)
	if err != nil {
		return 0, err
	}
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}

// procStat is /proc/<pid>/stat: the command name (which may hold spaces
// and parentheses), and the fields after it, from field 3 (state) on.
func procStat(pid int) (string, []string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", nil, err
	}
	open, shut := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || shut < open {
		return "", nil, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[shut+1:]))
	if len(f) < 13 {
		return "", nil, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	return string(b[open+1 : shut]), f, nil
}

// childPID finds parent's one child process named name, by each
// process's parent pid (field 4 of /proc/<pid>/stat): the MinIO that
// devstack (in this process) or photodesk dev started.
func childPID(parent int, name string) (int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	var found []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, f, err := procStat(pid)
		if err != nil {
			continue // gone meanwhile
		}
		if comm == name && f[1] == strconv.Itoa(parent) {
			found = append(found, pid)
		}
	}
	if len(found) != 1 {
		return 0, fmt.Errorf("want one %s child process of pid %d, found %v", name, parent, found)
	}
	return found[0], nil
}

// object is one PUT of putAll.
type object struct {
	key, contentType string
	data             []byte
}

// putAll PUTs objs, parallel at a time; the first error stops it.
func putAll(ctx context.Context, store *pipeline.Store, bucket string, objs []object, parallel int) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan object)
	errs := make(chan error, parallel)
	var wg sync.WaitGroup
	for range parallel {
		wg.Go(func() {
			for o := range work {
				if _, err := store.PutObject(ctx, bucket, o.key, bytes.NewReader(o.data), int64(len(o.data)),
					minio.PutObjectOptions{ContentType: o.contentType}); err != nil {
					errs <- fmt.Errorf("put %s: %w", o.key, err)
					cancel()
					return
				}
			}
		})
	}
feed:
	for _, o := range objs {
		select {
		case work <- o:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	close(errs)
	return <-errs
}

// batch is one op's uploads: galleries of perGallery photos each.
type batch struct {
	galleries []string
	names     []string // photo names, the same in every gallery
}

func newBatch(prefix string, op, galleries, perGallery int) batch {
	var bt batch
	for g := range galleries {
		bt.galleries = append(bt.galleries, fmt.Sprintf("%s-%d-%02d", prefix, op, g+1))
	}
	for i := range perGallery {
		bt.names = append(bt.names, fmt.Sprintf("%03d-scene.jpg", i+1))
	}
	return bt
}

func (bt batch) photos() int { return len(bt.galleries) * len(bt.names) }

// manifest is a gallery.json listing every photo of the batch.
func (bt batch) manifest(gallery string) []byte {
	type photo struct {
		File    string `json:"file"`
		Caption string `json:"caption"`
	}
	m := struct {
		Headline string  `json:"headline"`
		Byline   string  `json:"byline"`
		Dateline string  `json:"dateline"`
		Photos   []photo `json:"photos"`
	}{Headline: "基准测试 " + gallery, Byline: "张伟", Dateline: "北京"}
	for i, n := range bt.names {
		m.Photos = append(m.Photos, photo{File: n, Caption: fmt.Sprintf("第%d张照片。", i+1)})
	}
	data, _ := json.Marshal(m)
	return data
}

// upload puts every gallery's manifest, then its photos (the small JPEGs
// cycled over the names), 8 PUTs at once.
func (bt batch) upload(ctx context.Context, store *pipeline.Store, bucket string, jpegs [][]byte) error {
	var objs []object
	for _, g := range bt.galleries {
		objs = append(objs, object{g + "/" + contract.ManifestName, "application/json", bt.manifest(g)})
	}
	for _, g := range bt.galleries {
		for i, n := range bt.names {
			objs = append(objs, object{g + "/" + n, "image/jpeg", jpegs[i%len(jpegs)]})
		}
	}
	return putAll(ctx, store, bucket, objs, 8)
}

// photoFlow is one photo's way through the streams, by their timestamps
// (stream timestamps are the NATS server's clock, this process's).
type photoFlow struct {
	s3At       time.Time            // MinIO's S3 event (S3_EVENTS)
	uploadedAt time.Time            // ingest's photo.uploaded (PHOTODESK)
	results    map[string]time.Time // role → its result (first, if repeated)
}

// done is the photo's completion: its last result, and the role that made
// it; ok is false until all three results are in.
func (p *photoFlow) done() (at time.Time, role string, ok bool) {
	if len(p.results) < len(resultRoles) {
		return time.Time{}, "", false
	}
	for r, t := range p.results {
		if t.After(at) || (t.Equal(at) && r < role) {
			at, role = t, r
		}
	}
	return at, role, true
}

// batchFlow follows a batch through both streams.
type batchFlow struct {
	mu        sync.Mutex
	photos    map[string]*photoFlow // "<gallery>/<photo>"
	ready     map[string]time.Time  // gallery → article.ready
	firstS3   time.Time
	problems  []string
	remaining int // photos without all results, plus galleries without article.ready
}

func (bt batch) flow() *batchFlow {
	f := &batchFlow{photos: map[string]*photoFlow{}, ready: map[string]time.Time{}}
	for _, g := range bt.galleries {
		for _, n := range bt.names {
			f.photos[g+"/"+n] = &photoFlow{results: map[string]time.Time{}}
		}
		f.ready[g] = time.Time{}
	}
	f.remaining = len(f.photos) + len(f.ready)
	return f
}

func (f *batchFlow) problem(format string, args ...any) {
	if len(f.problems) < 20 {
		f.problems = append(f.problems, fmt.Sprintf(format, args...))
	}
}

// s3Event takes one message of S3_EVENTS.
func (f *batchFlow) s3Event(m jetstream.Msg) {
	md, err := m.Metadata()
	if err != nil {
		return
	}
	ups, err := ingest.ParseS3Event(m.Data())
	if err != nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, u := range ups {
		g, _, _ := strings.Cut(u.Key, "/")
		if _, ours := f.ready[g]; !ours {
			continue
		}
		if f.firstS3.IsZero() || md.Timestamp.Before(f.firstS3) {
			f.firstS3 = md.Timestamp
		}
		if p := f.photos[u.Key]; p != nil && p.s3At.IsZero() {
			p.s3At = md.Timestamp
		}
	}
}

// event takes one message of PHOTODESK.
func (f *batchFlow) event(m jetstream.Msg) {
	md, err := m.Metadata()
	if err != nil {
		return
	}
	subj := m.Subject()
	i := strings.LastIndexByte(subj, '.')
	prefix, gallery := subj[:i], subj[i+1:]
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ours := f.ready[gallery]; !ours {
		return
	}
	switch {
	case strings.HasPrefix(subj, contract.SubjectFailed+"."):
		var x contract.Failure
		_ = json.Unmarshal(m.Data(), &x)
		f.problem("failure event %s: %s: %s", subj, x.Photo, x.Reason)
	case prefix == contract.SubjectGalleryHeld:
		f.problem("gallery held: %s", m.Data())
	case prefix == contract.SubjectArticleReady:
		var x contract.ArticleEvent
		if err := json.Unmarshal(m.Data(), &x); err != nil {
			f.problem("%s: %v", subj, err)
			return
		}
		if want := len(f.photos) / len(f.ready); x.Photos != want {
			f.problem("%s: %d photos, want %d", subj, x.Photos, want)
		}
		if f.ready[gallery].IsZero() {
			f.ready[gallery] = md.Timestamp
			f.remaining--
		}
	case prefix == contract.SubjectPhotoUploaded:
		var x contract.Ref
		_ = json.Unmarshal(m.Data(), &x)
		if p := f.photos[x.Key]; p != nil && p.uploadedAt.IsZero() {
			p.uploadedAt = md.Timestamp
		} else if p == nil {
			f.problem("photo.uploaded for unexpected %q", x.Key)
		}
	case resultRoles[prefix] != "":
		role := resultRoles[prefix]
		var x contract.PhotoDerivatives // exif's result shares the Ref
		if err := json.Unmarshal(m.Data(), &x); err != nil {
			f.problem("%s: %v", subj, err)
			return
		}
		p := f.photos[x.Key]
		if p == nil {
			f.problem("%s for unexpected %q", subj, x.Key)
			return
		}
		if role != "exif" && len(x.Derivatives) == 0 {
			f.problem("%s for %s has no derivatives", subj, x.Key)
		}
		if _, seen := p.results[role]; seen {
			return
		}
		p.results[role] = md.Timestamp
		if len(p.results) == len(resultRoles) {
			f.remaining--
		}
	}
}

// follow reads both streams from their sequences startS3 and startEvents
// until every photo of f has its three results and every gallery its
// article.ready; any failure event, a held gallery, a worker's exit or the
// time limit ends it with an error.
func (f *batchFlow) follow(ctx context.Context, js jetstream.JetStream, startS3, startEvents uint64, exited <-chan struct{}, d time.Duration) error {
	for _, s := range []struct {
		stream string
		seq    uint64
		take   func(jetstream.Msg)
	}{{contract.S3EventsStream, startS3, f.s3Event}, {contract.EventsStream, startEvents, f.event}} {
		cons, err := js.OrderedConsumer(ctx, s.stream, jetstream.OrderedConsumerConfig{
			DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: s.seq, MaxResetAttempts: 3,
		})
		if err != nil {
			return fmt.Errorf("read %s: %w", s.stream, err)
		}
		cc, err := cons.Consume(s.take)
		if err != nil {
			return fmt.Errorf("read %s: %w", s.stream, err)
		}
		defer cc.Stop()
	}
	deadline := time.After(d)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		f.mu.Lock()
		remaining, problems := f.remaining, slices.Clone(f.problems)
		f.mu.Unlock()
		switch {
		case len(problems) > 0:
			return fmt.Errorf("%s", strings.Join(problems, "\n"))
		case remaining == 0:
			return nil
		}
		select {
		case <-tick.C:
		case <-exited:
			return errors.New("a worker process exited")
		case <-deadline:
			return fmt.Errorf("after %s, %d photos and galleries are still unfinished", d, remaining)
		}
	}
}

// lastSeqs are the streams' last sequences: an op reads from the next.
func lastSeqs(ctx context.Context, js jetstream.JetStream) (s3, events uint64, err error) {
	for _, s := range []struct {
		name string
		seq  *uint64
	}{{contract.S3EventsStream, &s3}, {contract.EventsStream, &events}} {
		st, err := js.Stream(ctx, s.name)
		if err != nil {
			return 0, 0, err
		}
		info, err := st.Info(ctx)
		if err != nil {
			return 0, 0, err
		}
		*s.seq = info.State.LastSeq
	}
	return s3, events, nil
}

// opResult is what one op measured.
type opResult struct {
	photos    int
	firstPut  time.Time
	firstS3   time.Time
	last      time.Time // the last per-photo completion
	lastReady time.Time // the last article.ready
	flow      *batchFlow
}

// runBatch uploads bt and follows it to its end.
func runBatch(ctx context.Context, js jetstream.JetStream, store *pipeline.Store, cfg config.Config, bt batch, jpegs [][]byte, exited <-chan struct{}, d time.Duration) (opResult, error) {
	s3Seq, evSeq, err := lastSeqs(ctx, js)
	if err != nil {
		return opResult{}, err
	}
	f := bt.flow()
	followed := make(chan error, 1)
	go func() { followed <- f.follow(ctx, js, s3Seq+1, evSeq+1, exited, d) }()
	r := opResult{photos: bt.photos(), firstPut: time.Now(), flow: f}
	if err := bt.upload(ctx, store, cfg.OriginalsBucket, jpegs); err != nil {
		return r, err
	}
	if err := <-followed; err != nil {
		return r, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	r.firstS3 = f.firstS3
	for key, p := range f.photos {
		if p.s3At.IsZero() || p.uploadedAt.IsZero() {
			return r, fmt.Errorf("%s: results without its S3 event or photo.uploaded", key)
		}
		if at, _, _ := p.done(); at.After(r.last) {
			r.last = at
		}
	}
	for _, t := range f.ready {
		if t.After(r.lastReady) {
			r.lastReady = t
		}
	}
	return r, nil
}

// percentile is the nearest-rank p-th percentile (0 < p ≤ 1) of sorted.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
