package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/photodesk/photodesk/pipeline"
	"github.com/photodesk/photodesk/pipeline/config"
	"github.com/photodesk/photodesk/pipeline/contract"
	"github.com/photodesk/photodesk/workers/ingest"
)

var binary struct {
	sync.Mutex
	path string
}

// photodeskBinary builds ./cmd/photodesk once per process.
func photodeskBinary(b *testing.B) string {
	b.Helper()
	binary.Lock()
	defer binary.Unlock()
	if binary.path != "" {
		return binary.path
	}
	p := filepath.Join(workDir, "photodesk")
	cmd := exec.Command("go", "build", "-o", p, "github.com/photodesk/photodesk/cmd/photodesk")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	binary.path = p
	return p
}

// BenchmarkWorkerPeakRSS runs a real `photodesk worker` process of one image
// role at --concurrency 2 against a dev stack; one op uploads a batch of
// distinct 24 MP JPEGs into a new gallery and waits until the role has
// published a result for each. peak-MiB is the worker's VmHWM after all ops.
func BenchmarkWorkerPeakRSS(b *testing.B) {
	n := 6
	if testing.Short() {
		n = 2
	}
	for _, role := range []struct {
		name, subject string
		args          []string
	}{
		{"renditions", contract.SubjectPhotoRenditions, nil},
		{"watermark", contract.SubjectPhotoWatermarked, []string{"--watermark-full"}},
	} {
		b.Run("role="+role.name, func(b *testing.B) {
			runBins(b, func(b *testing.B, bn bin) { benchWorker(b, bn, role.name, role.subject, role.args, n) })
		})
	}
}

func benchWorker(b *testing.B, bn bin, role, subject string, extra []string, n int) {
	// The photos first: drawing them takes seconds each.
	var originals [][]byte
	for i := range n {
		originals = append(originals, photo(b, int64(i+1)))
	}

	s := benchStack(b, bn)
	cfg := s.Config
	runIngest(b, cfg)

	// The measured process. Production ack-wait and max-deliver: the
	// test stack's short ones would only add redeliveries.
	def := config.Default()
	args := append([]string{"worker", "--role", role, "--concurrency", "2",
		"--nats", cfg.NATSURL, "--s3-endpoint", cfg.S3Endpoint,
		"--s3-access-key", cfg.S3AccessKey, "--s3-secret-key", cfg.S3SecretKey,
		"--ack-wait", def.AckWait.String(), "--max-deliver", strconv.Itoa(def.MaxDeliver)}, extra...)
	args = append(args, bn.args...)
	logPath := filepath.Join(b.TempDir(), role+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(bn.path, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	b.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		logFile.Close()
	})
	fail := func(format string, args ...any) {
		b.Helper()
		log, _ := os.ReadFile(logPath)
		b.Fatalf("%s\nworker log (last 4 KiB):\n%s", fmt.Sprintf(format, args...), log[max(0, len(log)-4096):])
	}

	nc, js, err := pipeline.Connect(cfg, "bench-"+role)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(nc.Close)
	// Pulling before the first batch, so it does not time the start-up.
	if err := waitPulling(js, map[string]int{role: 1}, exited, 60*time.Second); err != nil {
		fail("%s worker: %v", role, err)
	}
	store, err := pipeline.NewStore(cfg)
	if err != nil {
		b.Fatal(err)
	}

	ctx := context.Background()
	batch := 0
	var busy time.Duration // from each batch's first photo.uploaded to its last result
	start := time.Now()
	// Each op: the same n photos into a new gallery, so every one is work
	// again (the roles reuse derivatives by key, never by content).
	for b.Loop() {
		batch++
		t0 := time.Now()
		gallery := fmt.Sprintf("bench-%s-%d", role, batch)
		var names []string
		for i, data := range originals {
			name := fmt.Sprintf("%02d-scene.jpg", i+1)
			names = append(names, name)
			if _, err := store.PutObject(ctx, cfg.OriginalsBucket, gallery+"/"+name, bytes.NewReader(data), int64(len(data)),
				minio.PutObjectOptions{ContentType: "image/jpeg"}); err != nil {
				b.Fatal(err)
			}
		}
		window, err := waitDone(ctx, js, subject, gallery, names, exited, 10*time.Minute)
		if err != nil {
			fail("%s, batch %d: %v", role, batch, err)
		}
		busy += window
		if testing.Verbose() {
			if hwm, err := vmHWM(cmd.Process.Pid); err == nil {
				b.Logf("batch %d: %d photos in %s (worker %s), worker peak RSS so far %.1f MiB",
					batch, n, time.Since(t0).Round(time.Millisecond), window.Round(time.Millisecond), float64(hwm)/(1<<20))
			}
		}
	}
	elapsed := time.Since(start)

	hwm, err := vmHWM(cmd.Process.Pid)
	if err != nil {
		fail("%v", err)
	}
	// A clean stop, so the kernel accounts the worker's CPU time.
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(60 * time.Second):
		fail("the worker did not stop within 60s of SIGTERM")
	}
	photos := float64(n * b.N)
	b.ReportMetric(float64(hwm)/(1<<20), "peak-MiB")
	b.ReportMetric(photos/elapsed.Seconds(), "photos/s")
	b.ReportMetric(photos/busy.Seconds(), "worker-photos/s")
	if ps := cmd.ProcessState; ps != nil {
		b.ReportMetric((ps.UserTime()+ps.SystemTime()).Seconds()/photos, "cpu-s/photo")
	}
}

// runIngest runs the ingest role in this process until the benchmark ends:
// it turns MinIO's notifications into photo.uploaded events.
func runIngest(b *testing.B, cfg config.Config) {
	b.Helper()
	nc, js, err := pipeline.Connect(cfg, "bench-ingest")
	if err != nil {
		b.Fatal(err)
	}
	rt := &pipeline.Runtime{JS: js, Cfg: cfg, Log: slog.New(slog.DiscardHandler)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rt.Run(ctx, (&ingest.Role{Bucket: cfg.OriginalsBucket}).Worker(2)) }()
	b.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			b.Errorf("ingest: %v", err)
		}
		nc.Close()
	})
}

// waitDone reads the gallery's photo.uploaded, result (subject) and
// failure events from the start of the stream until every photo has a
// result; a failure of any photo, at any stage, is an error. It returns the
// time from the first photo.uploaded to the last result, by the stream's
// timestamps: the worker's part of the batch, without the up to 3 s MinIO
// holds a notification in its queue dir before sending it.
func waitDone(ctx context.Context, js jetstream.JetStream, subject, gallery string, names []string, exited <-chan struct{}, d time.Duration) (time.Duration, error) {
	cons, err := js.OrderedConsumer(ctx, contract.EventsStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{
			contract.GallerySubject(contract.SubjectPhotoUploaded, gallery),
			contract.GallerySubject(subject, gallery),
			contract.FailedSubject("*", gallery),
		},
		MaxResetAttempts: 3,
	})
	if err != nil {
		return 0, err
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	got := map[string]bool{}
	var first, last time.Time
	for deadline := time.Now().Add(d); len(got) < len(want); {
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("after %s only %d of %d photos have a result", d, len(got), len(want))
		}
		select {
		case <-exited:
			return 0, errors.New("the worker exited")
		default:
		}
		batch, err := cons.Fetch(100, jetstream.FetchMaxWait(300*time.Millisecond))
		if err != nil {
			return 0, err
		}
		for m := range batch.Messages() {
			md, err := m.Metadata()
			if err != nil {
				return 0, err
			}
			switch {
			case strings.HasPrefix(m.Subject(), contract.SubjectFailed):
				var f contract.Failure
				_ = json.Unmarshal(m.Data(), &f)
				return 0, fmt.Errorf("failure event %s: %+v", m.Subject(), f)
			case strings.HasPrefix(m.Subject(), contract.SubjectPhotoUploaded):
				if first.IsZero() {
					first = md.Timestamp
				}
			default:
				var x contract.PhotoDerivatives
				if err := json.Unmarshal(m.Data(), &x); err != nil {
					return 0, fmt.Errorf("%s: %v", m.Subject(), err)
				}
				if !want[x.Photo] {
					return 0, fmt.Errorf("result for unexpected photo %q", x.Photo)
				}
				got[x.Photo] = true
				last = md.Timestamp
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) && !errors.Is(err, context.DeadlineExceeded) {
			return 0, err
		}
	}
	if first.IsZero() || !last.After(first) {
		return 0, fmt.Errorf("no photo.uploaded event before the results (first %v, last %v)", first, last)
	}
	return last.Sub(first), nil
}

// vmHWM is a process's peak resident set size in bytes, from /proc.
func vmHWM(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	if err := sc.Err(); err != nil && !errors.Is(err, io.EOF) {
		return 0, err
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status", pid)
}
