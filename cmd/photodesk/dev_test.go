package main

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/photodesk/photodesk/internal/fixture"
	"github.com/photodesk/photodesk/pipeline"
	"github.com/photodesk/photodesk/pipeline/config"
	"github.com/photodesk/photodesk/pipeline/devstack"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return "127.0.0.1:" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// TestDevRunsStopsAndRestarts runs `photodesk dev` as a real process: it
// comes up healthy, processes an upload, stops cleanly on SIGTERM, and a
// restart on the same data dir has lost nothing.
func TestDevRunsStopsAndRestarts(t *testing.T) {
	data := t.TempDir()
	natsAddr, s3Addr, httpAddr := freeAddr(t), freeAddr(t), freeAddr(t)
	cfg := config.Default()
	cfg.NATSURL, cfg.S3Endpoint = "nats://"+natsAddr, s3Addr
	flags := connFlags(cfg)[:4] // --nats, --s3-endpoint: the rest stay default

	startDev := func() (*os.Process, chan error) {
		cmd, out := child(t, nil, "dev", "--data", data, "--nats-addr", natsAddr, "--s3-addr", s3Addr, "--http", httpAddr, "--api", "127.0.0.1:0")
		banner := make(chan string, 1)
		go func() {
			var b strings.Builder
			for out.Scan() {
				b.WriteString(out.Text() + "\n")
				if strings.HasPrefix(strings.TrimSpace(out.Text()), "roles") {
					banner <- b.String()
				}
			}
		}()
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		if code := run(append([]string{"health", "--wait", "60s"}, flags...), os.Stderr); code != 0 {
			t.Fatalf("health exited %d", code)
		}
		select {
		case b := <-banner:
			for _, want := range []string{natsAddr, s3Addr, config.DevAccessKey, config.DevSecretKey, httpAddr + "/readyz"} {
				if !strings.Contains(b, want) {
					t.Errorf("banner does not show %q:\n%s", want, b)
				}
			}
		case <-time.After(10 * time.Second):
			t.Error("no banner with endpoints and credentials")
		}
		return cmd.Process, exited
	}
	stop := func(p *os.Process, exited chan error) {
		t.Helper()
		if err := p.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-exited:
			if err != nil {
				t.Fatalf("dev exited with %v after SIGTERM, want a clean exit", err)
			}
		case <-time.After(40 * time.Second):
			t.Fatal("dev did not stop within 40s of SIGTERM")
		}
	}

	p, exited := startDev()
	resp, err := http.Get("http://" + httpAddr + "/readyz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/readyz: %v %v", resp, err)
	}
	resp.Body.Close()
	img, err := fixture.JPEG(fixture.Scene(200, 150, 1), 80, &fixture.EXIF{DateTimeOriginal: "2026:07:28 09:00:00"})
	if err != nil {
		t.Fatal(err)
	}
	putObject(t, cfg, "dev-1/a.jpg", img)
	var watchOut bytes.Buffer
	w, err := newWatcher(&watchOut, 1, []string{"exif", "renditions", "watermark"})
	if err != nil {
		t.Fatal(err)
	}
	runWatchFor(t, w, cfg, "dev-1")
	if !regexp.MustCompile(`a\.jpg\s+2026-07-28 09:00:00 \+08:00\s+DateTimeOriginal.*12 renditions \(up to 200x150\), 2 watermark \(up to 200x150\)`).MatchString(watchOut.String()) {
		t.Errorf("watch printed:\n%s", watchOut.String())
	}
	// Prometheus metrics on the same ops port: the jobs just done (a job is
	// counted once acked, just after its event), and every role's consumer.
	wantMetrics := []string{`photodesk_jobs_total{outcome="done",role="exif"}`, `photodesk_job_duration_seconds_bucket{outcome="done",role="renditions"`,
		`photodesk_consumer_pending{role="assembler"} 0`, `photodesk_s3_bytes_total{direction="write"}`, `photodesk_jobs_in_flight{role="watermark"} 0`}
	var metrics string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		resp, err = http.Get("http://" + httpAddr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		metrics = string(b)
		missing := 0
		for _, want := range wantMetrics {
			if !strings.Contains(metrics, want) {
				missing++
			}
		}
		if missing == 0 {
			break
		}
	}
	for _, want := range wantMetrics {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// The development signing identity is made on first start, named as
	// for testing only.
	devCA, err := os.ReadFile(filepath.Join(data, "c2pa", "c2pa-dev-ca.TESTING-ONLY.pem"))
	if err != nil || !strings.Contains(string(devCA), "BEGIN CERTIFICATE") {
		t.Errorf("no development CA in the data dir: %v", err)
	}
	stop(p, exited)
	// MinIO is gone with it.
	if c, err := net.DialTimeout("tcp", s3Addr, time.Second); err == nil {
		c.Close()
		t.Error("MinIO still listening after dev stopped")
	}

	// Restart on the same data: old objects and events are there, new uploads flow.
	p, exited = startDev()
	defer stop(p, exited)
	putObject(t, cfg, "dev-1/b.jpg", img)
	r := waitResults(t, cfg, "dev-1", 2, 90*time.Second)
	if _, ok := r.exif["a.jpg"]; !ok {
		t.Error("the first run's result is gone after restart")
	}
	if _, ok := r.exif["b.jpg"]; !ok {
		t.Error("upload after restart was not processed")
	}
	if again, _ := os.ReadFile(filepath.Join(data, "c2pa", "c2pa-dev-ca.TESTING-ONLY.pem")); !bytes.Equal(again, devCA) {
		t.Error("a restart made a new development CA: files signed before would no longer chain to the data dir's")
	}
	store, err := pipeline.NewStore(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.StatObject(t.Context(), cfg.OriginalsBucket, "dev-1/a.jpg", minio.StatObjectOptions{}); err != nil {
		t.Errorf("original from the first run: %v", err)
	}
}

// TestMakefilePinsTheSameMinIO keeps the Makefile's build and the Go code
// that looks for it on one version.
func TestMakefilePinsTheSameMinIO(t *testing.T) {
	b, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^MINIO_VERSION\s*:=\s*(\S+)`).FindSubmatch(b)
	if m == nil || string(m[1]) != devstack.MinIOVersion {
		t.Errorf("Makefile MINIO_VERSION %q, devstack.MinIOVersion %q", m, devstack.MinIOVersion)
	}
}
