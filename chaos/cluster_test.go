package chaos

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/photodesk/photodesk/internal/cluster"
	"github.com/photodesk/photodesk/pipeline"
	"github.com/photodesk/photodesk/pipeline/config"
	"github.com/photodesk/photodesk/pipeline/contract"
	"github.com/photodesk/photodesk/pipeline/devstack"
)

// TestClusterSmoke starts the several-machines deployment (three NATS
// servers, four MinIO servers in one erasure set, each in a network
// namespace of its own; two worker processes with every role, replicas
// 3), puts a gallery through, then SIGKILLs the NATS node that leads the
// PHOTODESK stream and one MinIO node, puts a second gallery (with a
// broken photo) through, and checks both with the chaos run's verifier:
// each upload's events once, one article per gallery, every derivative
// decoded, nothing pending, the live nodes' queue dirs empty.
func TestClusterSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts seven servers")
	}
	began := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	dir := t.TempDir()
	bin := os.Getenv("PHOTODESK_CHAOS_BIN")
	if bin == "" {
		var err error
		if bin, err = devstack.BuildPhotodesk(ctx, dir); err != nil {
			t.Fatal(err)
		}
	}
	seed := uint64(time.Now().UnixNano())
	r := &run{
		o:         Options{Dir: dir, Self: bin, Binary: bin, Seed: seed, Log: &lineLog{t: t}},
		start:     time.Now(),
		report:    &Report{Seed: seed},
		galleries: plan(rand.New(rand.NewPCG(seed, 0)), 2, 3),
	}
	if err := r.o.defaults(); err != nil {
		t.Fatal(err)
	}
	r.logf("seed %d; photodesk built in %s", seed, time.Since(began).Round(100*time.Millisecond))
	cfg := config.Default()
	cfg.AckWait, cfg.MaxDeliver = r.o.AckWait, r.o.MaxDeliver
	cl, err := cluster.Start(ctx, cluster.Options{Dir: dir, Binary: bin, Config: cfg, Log: r.o.Log})
	if errors.Is(err, cluster.ErrNoNamespaces) || errors.Is(err, cluster.ErrBusy) {
		t.Skipf("no cluster here: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Stop)
	r.cluster, r.cfg = cl, cl.Config
	if r.nc, r.js, err = cl.Connect("photodesk-cluster-smoke"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.nc.Close)
	if r.store, err = pipeline.NewStore(cl.Config); err != nil {
		t.Fatal(err)
	}
	up := &uploader{store: r.store, bucket: r.cfg.OriginalsBucket, parallel: 1, rng: func() float64 { return 0 }, logf: r.logf}
	through := func(n int, limit time.Duration) {
		t.Helper()
		step := time.Now()
		if err := up.run(ctx, r.galleries[n-1:n]); err != nil {
			t.Fatal(err)
		}
		for r.outcomes(ctx) < n {
			if time.Since(step) > limit {
				t.Fatalf("gallery %s has no outcome %s after its upload began: %s", r.galleries[n-1].ID, limit, r.waiting(ctx))
			}
			sleepCtx(ctx, 200*time.Millisecond)
		}
		r.logf("gallery %s through in %s", r.galleries[n-1].ID, time.Since(step).Round(100*time.Millisecond))
	}
	through(1, time.Minute)

	leader, err := cl.StreamLeader(ctx, r.js, contract.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	m := cl.MinIO[rand.New(rand.NewPCG(seed, 1)).IntN(len(cl.MinIO))]
	leader.Kill()
	m.Kill()
	r.logf("SIGKILLed NATS %s (the %s stream's leader) and MinIO %s", leader.Name, contract.EventsStream, m.Name)
	through(2, 90*time.Second)
	if now, err := cl.StreamLeader(ctx, r.js, contract.EventsStream); err != nil || now == leader {
		t.Errorf("the %s stream's leader after killing %s: %v, %v", contract.EventsStream, leader.Name, now, err)
	}

	// Nothing pending anywhere, then the verifier.
	for deadline := time.Now().Add(30 * time.Second); ; sleepCtx(ctx, 500*time.Millisecond) {
		cs, err := consumers(ctx, r.js)
		idle := err == nil
		for _, c := range cs {
			idle = idle && c.Pending == 0 && c.AckPending == 0
		}
		if idle && r.queued() == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not idle after 30 s: %s", r.waiting(ctx))
		}
	}
	tl, err := collect(ctx, r.js)
	if err != nil {
		t.Fatal(err)
	}
	c := r.verify(ctx, tl)
	for _, p := range c.problems {
		t.Error(p)
	}
	if c.lost() != 0 || c.dups != 0 || c.unexpected != 0 {
		t.Errorf("lost %d, duplicates %d, unexpected failures %d (seed %d)", c.lost(), c.dups, c.unexpected, seed)
	}
	r.logf("verified: 2 galleries, one article each, every derivative decoded; %s in all", time.Since(began).Round(100*time.Millisecond))
}
