package devstack

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/photodesk/photodesk/pipeline"
	"github.com/photodesk/photodesk/pipeline/config"
)

// ForTest starts a real stack on free ports in a temporary folder, with
// short ack waits and back-offs, and stops it when the test ends. It fails
// the test with the reason when MinIO cannot start (`make test` builds it).
func ForTest(tb testing.TB) *Stack {
	tb.Helper()
	cfg := config.Default()
	cfg.AckWait = 3 * time.Second
	cfg.MaxDeliver = 3
	cfg.Backoff = []time.Duration{100 * time.Millisecond, 500 * time.Millisecond}
	var mlog io.Writer
	if os.Getenv("PHOTODESK_TEST_MINIO_LOG") != "" {
		mlog = os.Stderr
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := Start(ctx, Options{
		DataDir:   tb.TempDir(),
		NATSAddr:  "127.0.0.1:0",
		MinIOAddr: "127.0.0.1:0",
		Config:    cfg,
		MinIOLog:  mlog,
		Log:       slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		tb.Fatalf("start NATS and MinIO: %v", err)
	}
	tb.Cleanup(s.Stop)
	return s
}

// Settle waits up to d until role's consumer on stream has nothing pending
// or unacked, and returns its info; it fails the test if it never does.
func Settle(tb testing.TB, js jetstream.JetStream, stream, role string, d time.Duration) *jetstream.ConsumerInfo {
	tb.Helper()
	ctx := context.Background()
	var info *jetstream.ConsumerInfo
	for deadline := time.Now().Add(d); ; time.Sleep(50 * time.Millisecond) {
		c, err := js.Consumer(ctx, stream, role)
		if err != nil {
			tb.Fatal(err)
		}
		if info, err = c.Info(ctx); err != nil {
			tb.Fatal(err)
		}
		if info.NumPending == 0 && info.NumAckPending == 0 {
			return info
		}
		if time.Now().After(deadline) {
			tb.Fatalf("consumer %s did not settle in %s: pending %d, ack pending %d", role, d, info.NumPending, info.NumAckPending)
		}
	}
}

// NATSForTest starts an embedded NATS (JetStream on disk) with photodesk's
// streams for tb, points cfg at it, and returns it with a connection that
// closes when the test ends. For tests that need no MinIO.
func NATSForTest(tb testing.TB, cfg config.Config) (config.Config, jetstream.JetStream) {
	tb.Helper()
	ns, err := StartNATS(NATSOptions{Addr: "127.0.0.1:0", StoreDir: tb.TempDir()})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(ns.Shutdown)
	cfg.NATSURL = ns.ClientURL()
	nc, js, err := pipeline.Connect(cfg, tb.Name())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	if err := pipeline.EnsureStreams(context.Background(), js, cfg); err != nil {
		tb.Fatal(err)
	}
	return cfg, js
}

// BuildPhotodesk builds the photodesk binary into dir, for tests that run
// it as processes.
func BuildPhotodesk(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "photodesk")
	cmd := exec.CommandContext(ctx, goTool(), "build", "-o", bin, "github.com/photodesk/photodesk/cmd/photodesk")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build photodesk: %w\n%s", err, out)
	}
	return bin, nil
}

// goTool is the go command that runs this test, else the one on PATH.
func goTool() string {
	if root := os.Getenv("GOROOT"); root != "" {
		if p := filepath.Join(root, "bin", "go"); fileExists(p) {
			return p
		}
	}
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "go"
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
