package chaos

import (
	"context"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/photodesk/photodesk/pipeline/devstack"
)

// TestMain lets the test binary serve as the run's NATS server process.
func TestMain(m *testing.M) {
	devstack.ServeNATSChild()
	os.Exit(m.Run())
}

// TestChaosShort is the chaos run that `make test` includes: a few
// galleries, every kind of fault at least once (a worker SIGKILLed, NATS
// restarted, MinIO restarted) while they upload and process, and every
// check of the full run.
func TestChaosShort(t *testing.T) {
	if testing.Short() {
		t.Skip("a chaos run takes about a minute")
	}
	runChaos(t, Options{Galleries: 5, Photos: 3, ChaosUntil: 0.4, Settle: 100 * time.Second})
}

// TestChaosFull is `make chaos`: PHOTODESK_CHAOS_GALLERIES galleries (50
// there) of PHOTODESK_CHAOS_PHOTOS photos (default 8), faults until 80 %
// of them are through.
func TestChaosFull(t *testing.T) {
	n := envInt(t, "PHOTODESK_CHAOS_GALLERIES", 0)
	if n == 0 {
		t.Skip("set PHOTODESK_CHAOS_GALLERIES (make chaos runs 50)")
	}
	runChaos(t, Options{
		Galleries: n, Photos: envInt(t, "PHOTODESK_CHAOS_PHOTOS", 8),
		GapMin: 3 * time.Second, GapMax: 10 * time.Second, ChaosUntil: 0.8, ChaosMax: 20 * time.Minute,
		UploadParallel: 3, UploadPause: 1500 * time.Millisecond, Settle: 10 * time.Minute,
	})
}

// runChaos runs o with the settings every chaos test shares, prints the
// table and fails the test on anything lost, duplicated or stuck.
// PHOTODESK_CHAOS_SEED replays a run; PHOTODESK_CHAOS_HARD=1 crashes
// NATS and MinIO (SIGKILL) instead of stopping them; PHOTODESK_CHAOS_BIN
// uses a built photodesk binary; PHOTODESK_CHAOS_KEEP=1 keeps the work
// dir (logs, stores) and prints where.
func runChaos(t *testing.T, o Options) {
	o.Seed = uint64(time.Now().UnixNano())
	if s := os.Getenv("PHOTODESK_CHAOS_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("PHOTODESK_CHAOS_SEED=%q: %v", s, err)
		}
		o.Seed = v
	}
	o.Hard = os.Getenv("PHOTODESK_CHAOS_HARD") == "1"
	o.Binary = os.Getenv("PHOTODESK_CHAOS_BIN")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	o.Self = self
	o.Dir = t.TempDir()
	if os.Getenv("PHOTODESK_CHAOS_KEEP") == "1" {
		if o.Dir, err = os.MkdirTemp("", "photodesk-chaos-"); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("seed %d (rerun with PHOTODESK_CHAOS_SEED=%d), work dir %s", o.Seed, o.Seed, o.Dir)
	o.Log = &lineLog{t: t}

	rep, err := Run(context.Background(), o)
	if rep != nil {
		t.Logf("\n%s", rep.Table())
		for _, e := range rep.WorkerExits {
			t.Logf("worker exit: %s", e)
		}
		for _, p := range rep.Problems {
			t.Errorf("%s", p)
		}
	}
	if err != nil {
		t.Fatalf("the run could not be carried out: %v (seed %d)", err, o.Seed)
	}
	if rep.Lost != 0 || rep.Duplicates != 0 || !rep.OK() {
		t.Fatalf("lost %d, duplicates %d, failures of good photos %d, settled %v (seed %d; logs in %s/logs)",
			rep.Lost, rep.Duplicates, rep.UnexpectedFailures, rep.Settled, o.Seed, o.Dir)
	}
	if rep.Kills == 0 || rep.NATSRestarts == 0 || rep.MinIORestarts == 0 {
		t.Fatalf("not every kind of fault happened: %d kills, %d NATS restarts, %d MinIO restarts", rep.Kills, rep.NATSRestarts, rep.MinIORestarts)
	}
}

func envInt(t *testing.T, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("%s=%q: %v", name, s, err)
	}
	return v
}

// lineLog sends the run's progress lines to the test log.
type lineLog struct {
	t  *testing.T
	mu sync.Mutex
}

func (l *lineLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
