package bench

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/photodesk/photodesk/pipeline"
	"github.com/photodesk/photodesk/pipeline/config"
	"github.com/photodesk/photodesk/pipeline/devstack"
)

// A bin is a photodesk binary the process benchmarks run: the work tree's
// (bin=head, always) and, when PHOTODESK_BENCH_BASELINE names another
// build (`make bench BASELINE=<commit>` builds it with bench/baseline.sh),
// that one too (bin=base), so that "against that commit" is measured in
// the same run, on the same inputs, rather than remembered.
type bin struct {
	name string // "head" or "base": the sub-benchmark is bin=<name>
	path string
	// args go after `dev` or `worker`: a head run given the same work as
	// a baseline that predates a feature (see benchBins).
	args []string
}

// benchBins are the binaries to run, in this round's order. `make bench`
// runs `go test -count 1` once per round with PHOTODESK_BENCH_ROUND set,
// and odd rounds run head first, so neither binary always has the
// machine's first (or last, warmer) turn; the report pairs the i-th base
// and head results.
//
// The crops (issue 18) came after commit f3de3da, the issue 20 baseline: a
// baseline whose `dev -h` has no --crops is compared with a head that
// makes none either (--crops=), so both do the same work; without a
// baseline head runs on its defaults.
func benchBins(b *testing.B) []bin {
	b.Helper()
	head := bin{name: "head", path: photodeskBinary(b)}
	basePath := os.Getenv("PHOTODESK_BENCH_BASELINE")
	if basePath == "" {
		return []bin{head}
	}
	if !hasFlag(b, basePath, "crops") {
		head.args = []string{"--crops="}
	}
	bins := []bin{{name: "base", path: basePath}, head}
	if round, _ := strconv.Atoi(os.Getenv("PHOTODESK_BENCH_ROUND")); round%2 == 1 {
		bins[0], bins[1] = bins[1], bins[0]
	}
	return bins
}

// runBins runs f as a sub-benchmark bin=<name> for each of benchBins.
func runBins(b *testing.B, f func(b *testing.B, bn bin)) {
	for _, bn := range benchBins(b) {
		b.Run("bin="+bn.name, func(b *testing.B) { f(b, bn) })
	}
}

var flagHelp struct {
	sync.Mutex
	byBin map[string]string
}

// hasFlag reports whether the binary's `dev -h` lists --name.
func hasFlag(b *testing.B, path, name string) bool {
	b.Helper()
	flagHelp.Lock()
	defer flagHelp.Unlock()
	help, ok := flagHelp.byBin[path]
	if !ok {
		// -h exits 2 after printing the flags; only a missing binary is an error.
		out, err := exec.Command(path, "dev", "-h").CombinedOutput()
		if _, exit := err.(*exec.ExitError); err != nil && !exit {
			b.Fatalf("baseline %s: %v", path, err)
		}
		help = string(out)
		if flagHelp.byBin == nil {
			flagHelp.byBin = map[string]string{}
		}
		flagHelp.byBin[path] = help
	}
	return strings.Contains(help, "\n  -"+name+" ")
}

// benchStack is the test stack (NATS in this process, a MinIO child) for
// the benchmarks that run `photodesk worker` processes of bn, set up by bn
// itself: a baseline's `setup` may want other stream settings than the
// work tree's (JetStream refuses to turn a stream's message TTLs off), so
// for bin=base the streams the stack made are deleted and bn's `setup`
// makes them again. MinIO runs with non-default keys so that `photodesk
// api`'s production checks pass (shape=procs).
func benchStack(b *testing.B, bn bin) *devstack.Stack {
	b.Helper()
	cfg := config.Default()
	cfg.S3AccessKey, cfg.S3SecretKey = "photodesk-bench", "photodesk-bench-secret"
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := devstack.Start(ctx, devstack.Options{
		DataDir: b.TempDir(), NATSAddr: "127.0.0.1:0", MinIOAddr: "127.0.0.1:0",
		Config: cfg, Log: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		b.Fatalf("start NATS and MinIO: %v", err)
	}
	b.Cleanup(s.Stop)
	if bn.name == "head" {
		return s
	}
	nc, js, err := pipeline.Connect(s.Config, "bench-setup")
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	for name := range js.StreamNames(ctx).Name() {
		if err := js.DeleteStream(ctx, name); err != nil {
			b.Fatalf("delete stream %s: %v", name, err)
		}
	}
	c := s.Config
	out, err := exec.Command(bn.path, "setup", "--nats", c.NATSURL, "--s3-endpoint", c.S3Endpoint,
		"--s3-access-key", c.S3AccessKey, "--s3-secret-key", c.S3SecretKey).CombinedOutput()
	if err != nil {
		b.Fatalf("%s setup: %v\n%s", bn.name, err, out)
	}
	return s
}
