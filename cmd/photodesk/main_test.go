package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/photodesk/photodesk/internal/fixture"
	"github.com/photodesk/photodesk/pipeline"
	"github.com/photodesk/photodesk/pipeline/config"
	"github.com/photodesk/photodesk/pipeline/contract"
	"github.com/photodesk/photodesk/pipeline/devstack"
)

// TestMain lets the test binary run as the photodesk binary, so tests can
// start, stop and kill real photodesk processes. PHOTODESK_TEST_STALL=role
// makes that role take its first message and never finish it;
// PHOTODESK_TEST_STALL_PHOTO=name limits that to the photo of that name.
func TestMain(m *testing.M) {
	if os.Getenv("PHOTODESK_TEST_CHILD") == "1" {
		if role := os.Getenv("PHOTODESK_TEST_STALL"); role != "" {
			only := os.Getenv("PHOTODESK_TEST_STALL_PHOTO")
			testWrap = func(name string, h pipeline.Handler) pipeline.Handler {
				if name != role {
					return h
				}
				return func(ctx context.Context, msg *pipeline.Message) ([]contract.Output, error) {
					if only != "" && msg.Ref.Photo != only {
						return h(ctx, msg)
					}
					fmt.Printf("STALLED %s\n", msg.Ref.Photo)
					select {} // holds the message, unacked, until killed
				}
			}
		}
		os.Exit(run(os.Args[1:], os.Stderr))
	}
	os.Exit(m.Run())
}

// child starts this test binary as `photodesk args...`.
func child(t *testing.T, env []string, args ...string) (*exec.Cmd, *bufio.Scanner) {
	t.Helper()
	return childLogTo(t, nil, env, args...)
}

// childLogTo is child that also copies the process's log (its stderr) to
// log when log is not nil.
func childLogTo(t *testing.T, log io.Writer, env []string, args ...string) (*exec.Cmd, *bufio.Scanner) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), "PHOTODESK_TEST_CHILD=1"), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = &prefixWriter{t: t, prefix: args[0] + ": "}
	if log != nil {
		cmd.Stderr = io.MultiWriter(cmd.Stderr, log)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd, bufio.NewScanner(stdout)
}

// connFlags point a command at the test stack.
func connFlags(cfg config.Config) []string {
	return []string{"--nats", cfg.NATSURL, "--s3-endpoint", cfg.S3Endpoint, "--ack-wait", cfg.AckWait.String(), "--max-deliver", fmt.Sprint(cfg.MaxDeliver)}
}

// startRolesWith runs roles with rc in this process until stop is called
// (or the test ends).
func startRolesWith(t *testing.T, s *devstack.Stack, rc roleConfig, roles ...string) (stop func()) {
	t.Helper()
	nc, js, err := pipeline.Connect(s.Config, t.Name())
	if err != nil {
		t.Fatal(err)
	}
	store, err := pipeline.NewStore(s.Config)
	if err != nil {
		t.Fatal(err)
	}
	if err := rc.Validate(); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(&prefixWriter{t: t, prefix: "roles: "}, nil))
	ws, err := workers(s.Config, rc, js, store, log, roles, 2)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := runWorkers(ctx, js, s.Config, log, ws); err != nil {
			t.Errorf("workers: %v", err)
		}
	}()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done; nc.Close() }) }
	t.Cleanup(stop)
	return stop
}

// startRoles runs roles in this process, with the default role
// configuration, until the test ends.
func startRoles(t *testing.T, s *devstack.Stack, roles ...string) {
	t.Helper()
	startRolesWith(t, s, defaultRoleConfig(), roles...)
}

// events reads a gallery's events of the given kinds from the start of the
// stream until want photos have one, or the deadline passes.
type results struct {
	exif     map[string]contract.PhotoExif
	failures map[string]contract.Failure
	uploaded map[string]int
}

// follow reads the PHOTODESK stream's events on filters from the start,
// handing each to take, until done says so or d has passed.
func follow(t *testing.T, cfg config.Config, filters []string, d time.Duration, take func(jetstream.Msg), done func() bool) {
	t.Helper()
	nc, js, err := pipeline.Connect(cfg, t.Name()+"-follow")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	cons, err := js.OrderedConsumer(context.Background(), contract.EventsStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: filters, MaxResetAttempts: 3,
	})
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(d); !done() && time.Now().Before(deadline); {
		b, err := cons.Fetch(100, jetstream.FetchMaxWait(300*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		for m := range b.Messages() {
			take(m)
		}
	}
}

func waitResults(t *testing.T, cfg config.Config, gallery string, want int, d time.Duration) results {
	t.Helper()
	r := results{exif: map[string]contract.PhotoExif{}, failures: map[string]contract.Failure{}, uploaded: map[string]int{}}
	filters := []string{
		contract.GallerySubject(contract.SubjectPhotoExif, gallery),
		contract.GallerySubject(contract.SubjectPhotoUploaded, gallery),
		contract.FailedSubject("*", gallery),
	}
	follow(t, cfg, filters, d, func(m jetstream.Msg) {
		switch {
		case strings.HasPrefix(m.Subject(), contract.SubjectPhotoExif):
			var x contract.PhotoExif
			mustDecode(t, m, &x)
			r.exif[x.Photo] = x
		case strings.HasPrefix(m.Subject(), contract.SubjectPhotoUploaded):
			var u contract.PhotoUploaded
			mustDecode(t, m, &u)
			r.uploaded[u.Photo]++
		default:
			var f contract.Failure
			mustDecode(t, m, &f)
			name := f.Photo
			if name == "" {
				name = f.Key
			}
			r.failures[name] = f
		}
	}, func() bool { return len(r.exif)+len(r.failures) >= want })
	if got := len(r.exif) + len(r.failures); got < want {
		t.Fatalf("after %s: %d of %d photos have a result (exif %v, failures %v, uploaded events %v)\n%s",
			d, got, want, keysOf(r.exif), r.failures, r.uploaded, pipelineState(cfg))
	}
	return r
}

// pipelineState says where events stand, for a test that timed out: how
// many S3 events MinIO delivered, and each consumer's progress.
func pipelineState(cfg config.Config) string {
	nc, js, err := pipeline.Connect(cfg, "test-diagnostics")
	if err != nil {
		return "diagnostics: " + err.Error()
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var b strings.Builder
	for _, name := range []string{contract.S3EventsStream, contract.EventsStream} {
		if st, err := js.Stream(ctx, name); err == nil {
			fmt.Fprintf(&b, "stream %s: %d messages, last at %s\n", name, st.CachedInfo().State.Msgs, st.CachedInfo().State.LastTime.Format(time.RFC3339Nano))
		}
	}
	for _, c := range pipeline.Consumers {
		if ci, err := js.Consumer(ctx, c.Stream, c.Role); err == nil {
			i := ci.CachedInfo()
			fmt.Fprintf(&b, "consumer %s: delivered %d, ack floor %d, pending %d, ack pending %d, redelivered %d, waiting %d\n",
				c.Role, i.Delivered.Stream, i.AckFloor.Stream, i.NumPending, i.NumAckPending, i.NumRedelivered, i.NumWaiting)
		}
	}
	return b.String()
}

func mustDecode(t *testing.T, m jetstream.Msg, v any) {
	t.Helper()
	if err := json.Unmarshal(m.Data(), v); err != nil {
		t.Fatalf("%s: %v", m.Subject(), err)
	}
}

// photo makes a small JPEG with the given EXIF.
func photo(t *testing.T, seed int64, e *fixture.EXIF) []byte {
	t.Helper()
	b, err := fixture.JPEG(fixture.Scene(320, 213, seed), 80, e)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func putObject(t *testing.T, cfg config.Config, key string, body []byte) {
	t.Helper()
	store, err := pipeline.NewStore(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.PutObject(context.Background(), cfg.OriginalsBucket, key, bytes.NewReader(body), int64(len(body)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestGalleryThroughMinIOAndJetStream uploads a gallery with the upload
// command and checks that each photo's EXIF result arrives on JetStream,
// with the right date, through MinIO's own notification.
func TestGalleryThroughMinIOAndJetStream(t *testing.T) {
	s := devstack.ForTest(t)
	startRoles(t, s, "ingest", "exif")

	dir := t.TempDir()
	files := map[string]*fixture.EXIF{
		"a.jpg": {DateTimeOriginal: "2026:07:28 09:30:00", Make: "Canon", Model: "Canon EOS R6"},
		"b.jpg": {DateTimeOriginal: "2026:07:29 21:05:10", OffsetTimeOriginal: "+02:00", SubSecTimeOriginal: "250"},
		"c.jpg": {DateTime: "2026:07:30 08:00:00"},
		"d.jpg": nil, // no EXIF at all: not an error
	}
	i := int64(0)
	for name, e := range files {
		i++
		if err := os.WriteFile(filepath.Join(dir, name), photo(t, i, e), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	manifest := `{"headline":"高清大图|测试","photos":[{"file":"a.jpg","caption":"开幕"}]}`
	if err := os.WriteFile(filepath.Join(dir, "gallery.json"), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	if code := run(append([]string{"upload", "--gallery", "e2e-1"}, append(connFlags(s.Config), dir)...), os.Stderr); code != 0 {
		t.Fatalf("upload exited %d", code)
	}

	r := waitResults(t, s.Config, "e2e-1", len(files), 90*time.Second)
	if len(r.failures) != 0 {
		t.Fatalf("failures: %v", r.failures)
	}
	shanghai, _ := time.LoadLocation("Asia/Shanghai")
	want := map[string]struct {
		at         time.Time
		src, zone  string
		present    bool
		make_      string
		noCaptured bool
	}{
		"a.jpg": {at: time.Date(2026, 7, 28, 9, 30, 0, 0, shanghai), src: "DateTimeOriginal", zone: "newsroom-zone", present: true, make_: "Canon"},
		"b.jpg": {at: time.Date(2026, 7, 29, 21, 5, 10, 250e6, time.FixedZone("", 2*3600)), src: "DateTimeOriginal", zone: "OffsetTimeOriginal", present: true},
		"c.jpg": {at: time.Date(2026, 7, 30, 8, 0, 0, 0, shanghai), src: "DateTime", zone: "newsroom-zone", present: true},
		"d.jpg": {noCaptured: true},
	}
	for name, w := range want {
		x, ok := r.exif[name]
		if !ok {
			t.Errorf("%s: no exif result", name)
			continue
		}
		if x.Exif.Present != w.present || x.Exif.Format != "jpeg" || x.Exif.Width != 320 || x.Exif.Height != 213 {
			t.Errorf("%s: present %v format %q size %dx%d", name, x.Exif.Present, x.Exif.Format, x.Exif.Width, x.Exif.Height)
		}
		if w.noCaptured {
			if x.Exif.CapturedAt != nil {
				t.Errorf("%s: captured %v, want none", name, x.Exif.CapturedAt)
			}
			continue
		}
		if x.Exif.CapturedAt == nil || !x.Exif.CapturedAt.Equal(w.at) || x.Exif.DateSource != w.src || x.Exif.ZoneSource != w.zone {
			t.Errorf("%s: captured %v from %s/%s, want %v from %s/%s", name, x.Exif.CapturedAt, x.Exif.DateSource, x.Exif.ZoneSource, w.at, w.src, w.zone)
		}
		if w.make_ != "" && x.Exif.Make != w.make_ {
			t.Errorf("%s: make %q", name, x.Exif.Make)
		}
		if x.BytesRead <= 0 || x.BytesRead > 128<<10 {
			t.Errorf("%s: read %d bytes of the original, want a head only", name, x.BytesRead)
		}
	}
	for name, n := range r.uploaded {
		if n != 1 {
			t.Errorf("%s: %d photo.uploaded events", name, n)
		}
	}
}

// TestBadInputFailsAlone: broken files each get a failure event with a
// reason, and the good photos of the same gallery are processed.
func TestBadInputFailsAlone(t *testing.T) {
	s := devstack.ForTest(t)
	startRoles(t, s, "ingest", "exif")
	good := &fixture.EXIF{DateTimeOriginal: "2026:07:28 10:00:00"}
	objects := map[string][]byte{
		"bad-1/good-1.jpg":    photo(t, 1, good),
		"bad-1/empty.jpg":     {},
		"bad-1/notes.jpg":     []byte("these are my notes, not a photo\n"),
		"bad-1/huge.jpg":      fixture.HugeCountEXIFJPEG(),
		"bad-1/truncated.jpg": fixture.TruncatedEXIFJPEG(),
		"bad-1/good-2.jpg":    photo(t, 2, good),
		"bad-1/sub/x.jpg":     photo(t, 3, good), // not of the gallery shape
	}
	for k, b := range objects {
		putObject(t, s.Config, k, b)
	}
	r := waitResults(t, s.Config, "bad-1", len(objects), 90*time.Second)
	for _, name := range []string{"good-1.jpg", "good-2.jpg"} {
		if x, ok := r.exif[name]; !ok || x.Exif.CapturedAt == nil {
			t.Errorf("%s: not processed: %+v", name, x)
		}
	}
	for name, reason := range map[string]string{
		"empty.jpg":     "empty",
		"notes.jpg":     "not an image",
		"huge.jpg":      "EXIF",
		"truncated.jpg": "",
		"sub/x.jpg":     "nested",
	} {
		key := name
		if name == "sub/x.jpg" {
			key = "bad-1/sub/x.jpg"
		}
		f, ok := r.failures[key]
		if !ok {
			t.Errorf("%s: no failure event (exif result: %+v)", name, r.exif[name])
			continue
		}
		if f.Reason == "" || !strings.Contains(strings.ToLower(f.Reason), strings.ToLower(reason)) || !f.Permanent || f.Attempts != 1 {
			t.Errorf("%s: failure %+v, want a permanent one mentioning %q", name, f, reason)
		}
	}
}

// TestDuplicateS3EventPublishesOnce: MinIO may deliver a notification
// twice (its queue replays after an outage); one photo.uploaded results.
func TestDuplicateS3EventPublishesOnce(t *testing.T) {
	s := devstack.ForTest(t)
	startRoles(t, s, "ingest", "exif")
	putObject(t, s.Config, "dup-1/a.jpg", photo(t, 1, nil))
	waitResults(t, s.Config, "dup-1", 1, 90*time.Second)

	nc, js, err := pipeline.Connect(s.Config, t.Name())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ctx := context.Background()
	raw, err := js.Stream(ctx, contract.S3EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	// The photo's event is the stream's last (the stack's canary came first).
	orig, err := raw.GetLastMsgForSubject(ctx, contract.S3EventsSubject)
	if err != nil || !strings.Contains(string(orig.Data), "a.jpg") {
		t.Fatalf("photo's S3 event: %v", err)
	}
	before, err := raw.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := js.Publish(ctx, orig.Subject, orig.Data); err != nil {
			t.Fatal(err)
		}
	}
	settle(t, js, contract.S3EventsStream, "ingest")
	settle(t, js, contract.EventsStream, "exif")
	r := waitResults(t, s.Config, "dup-1", 1, 5*time.Second)
	if r.uploaded["a.jpg"] != 1 {
		t.Errorf("%d photo.uploaded events for one object version, want 1", r.uploaded["a.jpg"])
	}
	info, _ := raw.Info(ctx)
	if info.State.Msgs != before.State.Msgs+2 {
		t.Errorf("S3 event stream holds %d events, want %d (the duplicates did arrive)", info.State.Msgs, before.State.Msgs+2)
	}
}

// TestKilledWorkerLosesNothing: a worker process takes a photo and dies
// without acking; another process completes it.
func TestKilledWorkerLosesNothing(t *testing.T) {
	s := devstack.ForTest(t)
	startRoles(t, s, "ingest")
	cmd, out := child(t, []string{"PHOTODESK_TEST_STALL=exif"}, append([]string{"worker", "--role", "exif"}, connFlags(s.Config)...)...)
	putObject(t, s.Config, "kill-1/a.jpg", photo(t, 1, &fixture.EXIF{DateTimeOriginal: "2026:07:28 10:00:00"}))

	stalled := make(chan string, 1)
	go func() {
		for out.Scan() {
			if p, ok := strings.CutPrefix(out.Text(), "STALLED "); ok {
				stalled <- p
			}
		}
	}()
	select {
	case p := <-stalled:
		if p != "a.jpg" {
			t.Fatalf("child stalled on %q", p)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the worker process never took the photo")
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()

	startRoles(t, s, "exif")
	r := waitResults(t, s.Config, "kill-1", 1, 90*time.Second)
	if _, ok := r.exif["a.jpg"]; !ok {
		t.Fatalf("photo lost: %+v", r)
	}
	nc, js, err := pipeline.Connect(s.Config, t.Name())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	info := settle(t, js, contract.EventsStream, "exif")
	if info.Delivered.Consumer < 2 || info.NumRedelivered != 0 {
		t.Errorf("delivered %d times (want a redelivery), %d still redelivering", info.Delivered.Consumer, info.NumRedelivered)
	}
}

func settle(t *testing.T, js jetstream.JetStream, stream, role string) *jetstream.ConsumerInfo {
	t.Helper()
	return devstack.Settle(t, js, stream, role, 10*time.Second)
}

func keysOf[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

// prefixWriter sends a child's or the roles' log lines to the test log
// when run with -v.
type prefixWriter struct {
	t      *testing.T
	prefix string
	mu     sync.Mutex
}

func (w *prefixWriter) Write(p []byte) (int, error) {
	if testing.Verbose() {
		w.mu.Lock()
		defer w.mu.Unlock()
		io.WriteString(os.Stderr, w.prefix+string(p))
	}
	return len(p), nil
}

func runWatchFor(t *testing.T, w *watcher, cfg config.Config, gallery string) {
	t.Helper()
	nc, js, err := pipeline.Connect(cfg, t.Name()+"-watch")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.run(ctx, js, gallery); err != nil {
		t.Fatal(err)
	}
}

func TestCameraName(t *testing.T) {
	for _, c := range [][3]string{
		{"Canon", "Canon EOS R6", "Canon EOS R6"},
		{"NIKON CORPORATION", "NIKON Z 6_2", "NIKON Z 6_2"},
		{"FUJIFILM", "X-T4", "FUJIFILM X-T4"},
		{"", "", ""},
		{"Apple", "", "Apple"},
	} {
		if got := cameraName(c[0], c[1]); got != c[2] {
			t.Errorf("cameraName(%q, %q) = %q, want %q", c[0], c[1], got, c[2])
		}
	}
}
