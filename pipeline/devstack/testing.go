package devstack

import (
	"context"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/photodesk/photodesk/pipeline"
)

// ForTest starts a real stack on free ports in a temporary folder, with
// short ack waits and back-offs, and stops it when the test ends. It fails
// the test with the reason when MinIO cannot start (`make test` builds it).
func ForTest(tb testing.TB) *Stack {
	tb.Helper()
	cfg := pipeline.DefaultConfig()
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
