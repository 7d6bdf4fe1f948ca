package chaos

import (
	"context"
	"errors"
	"fmt"
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
	clusterTwoGalleries(t, false)
}

// TestClusterPartition is TestClusterSmoke with the two nodes partitioned
// away (their links down: running, but silent) instead of killed, until
// the second gallery is through; then they are healed before the checks.
// PHOTODESK_CLUSTER_PARTITION=1 runs it.
func TestClusterPartition(t *testing.T) {
	if os.Getenv("PHOTODESK_CLUSTER_PARTITION") != "1" {
		t.Skip("set PHOTODESK_CLUSTER_PARTITION=1")
	}
	clusterTwoGalleries(t, true)
}

func clusterTwoGalleries(t *testing.T, partition bool) {
	began := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	dir := t.TempDir()
	bin := photodeskBinary(ctx, t, dir)
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
	if partition {
		for _, n := range []*cluster.Node{leader, m} {
			if err := n.Partition(); err != nil {
				t.Fatal(err)
			}
		}
		r.logf("partitioned NATS %s (the %s stream's leader) and MinIO %s away", leader.Name, contract.EventsStream, m.Name)
	} else {
		leader.Kill()
		m.Kill()
		r.logf("SIGKILLed NATS %s (the %s stream's leader) and MinIO %s", leader.Name, contract.EventsStream, m.Name)
	}
	through(2, 90*time.Second)
	if partition {
		for _, n := range []*cluster.Node{leader, m} {
			if err := n.Heal(); err != nil {
				t.Fatal(err)
			}
		}
		r.logf("healed %s and %s", leader.Name, m.Name)
	} else if now, err := cl.StreamLeader(ctx, r.js, contract.EventsStream); err != nil || now == leader {
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

// photodeskBinary is $PHOTODESK_CHAOS_BIN, else photodesk built into dir.
func photodeskBinary(ctx context.Context, t *testing.T, dir string) string {
	if bin := os.Getenv("PHOTODESK_CHAOS_BIN"); bin != "" {
		return bin
	}
	bin, err := devstack.BuildPhotodesk(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// TestClusterNotifyTargetDown is issue 19's question about MinIO's
// trigger: every MinIO node of a set must have the same MINIO_*
// variables, so all notify one NATS address: one node's (n1), or the
// service address that reaches any live node. Uploads go on while n1 is
// SIGKILLed, then straight to a MinIO node restarted while n1 is down;
// the test logs where their events are (on the stream, in the nodes'
// queue dirs), then starts n1 again and requires every event on the
// stream. With the service address the restarted node's events must
// reach the stream while n1 is still down. PHOTODESK_CLUSTER_NOTIFY=1
// runs it (about 2 minutes).
func TestClusterNotifyTargetDown(t *testing.T) {
	if os.Getenv("PHOTODESK_CLUSTER_NOTIFY") != "1" {
		t.Skip("set PHOTODESK_CLUSTER_NOTIFY=1")
	}
	t.Run("n1", func(t *testing.T) { notifyTargetDown(t, "n1") })
	t.Run("service", func(t *testing.T) { notifyTargetDown(t, "") })
}

func notifyTargetDown(t *testing.T, notify string) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	dir := t.TempDir()
	bin := photodeskBinary(ctx, t, dir)
	log := &lineLog{t: t}
	cl, err := cluster.Start(ctx, cluster.Options{Dir: dir, Binary: bin, Workers: -1, NotifyNATS: notify, Config: config.Default(), Log: log})
	if errors.Is(err, cluster.ErrNoNamespaces) || errors.Is(err, cluster.ErrBusy) {
		t.Skipf("no cluster here: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Stop)
	nc, js, err := cl.Connect("photodesk-notify-test")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	store, err := pipeline.NewStore(cl.Config)
	if err != nil {
		t.Fatal(err)
	}
	up := &uploader{store: store, bucket: cl.Config.OriginalsBucket, parallel: 1, rng: func() float64 { return 0 }, logf: t.Logf}
	put := func(prefix string, n int) []string {
		var keys []string
		for i := range n {
			key := fmt.Sprintf("notify/%s-%02d.txt", prefix, i)
			if _, err := up.put(ctx, key, "text/plain", []byte(key)); err != nil {
				t.Fatal(err)
			}
			keys = append(keys, key)
			sleepCtx(ctx, 100*time.Millisecond)
		}
		return keys
	}
	// arrived counts the keys with an event on the stream, and the events
	// waiting in the queue dirs.
	arrived := func(keys []string) (int, int) {
		rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
		got, err := s3Keys(rctx, js)
		rcancel()
		if err != nil {
			t.Logf("read the stream: %v", err)
		}
		n := 0
		for _, k := range keys {
			if got[k] > 0 {
				n++
			}
		}
		q := 0
		for _, m := range cl.MinIO {
			q += countFiles(m.QueueDir())
		}
		return n, q
	}
	wait := func(keys []string, d time.Duration) (int, int, time.Duration) {
		began := time.Now()
		for {
			n, q := arrived(keys)
			if n == len(keys) || time.Since(began) > d {
				return n, q, time.Since(began)
			}
			sleepCtx(ctx, 250*time.Millisecond)
		}
	}
	before := put("before", 5)
	n, q, took := wait(before, 20*time.Second)
	log.Write([]byte(fmt.Sprintf("n1 up: %d of %d events on the stream after %s, %d in queue dirs", n, len(before), took.Round(100*time.Millisecond), q)))

	n1 := cl.NATSNode("n1")
	n1.Kill()
	down := put("down", 10)
	n, q, took = wait(down, 20*time.Second)
	log.Write([]byte(fmt.Sprintf("n1 SIGKILLed: %d of %d events on the stream after %s, %d in queue dirs", n, len(down), took.Round(100*time.Millisecond), q)))

	// A MinIO node started while n1 is down cannot reach its target at
	// all: what happens to its events?
	m := cl.MinIO[0]
	m.Kill()
	if err := m.Start(ctx); err != nil {
		t.Fatalf("restart %s while n1 is down: %v", m.Name, err)
	}
	// Straight to m1: through the service address a kept-alive
	// connection may stay on another node.
	direct := cl.Config
	direct.S3Endpoint = m.Addr
	if up.store, err = pipeline.NewStore(direct); err != nil {
		t.Fatal(err)
	}
	restarted := put("restarted", 10)
	n, q, took = wait(restarted, 20*time.Second)
	log.Write([]byte(fmt.Sprintf("MinIO %s restarted while n1 is down: %d of %d events on the stream after %s, %d in queue dirs", m.Name, n, len(restarted), took.Round(100*time.Millisecond), q)))

	if notify == "" && n != len(restarted) {
		t.Errorf("through the service address, %d of %d events of the restarted node reached the stream while n1 was down", n, len(restarted))
	}
	if err := n1.Start(ctx); err != nil {
		t.Fatal(err)
	}
	all := append(append(append([]string{}, before...), down...), restarted...)
	n, q, took = wait(all, 60*time.Second)
	log.Write([]byte(fmt.Sprintf("n1 back: %d of %d events on the stream after %s, %d in queue dirs", n, len(all), took.Round(100*time.Millisecond), q)))
	if n != len(all) {
		t.Errorf("%d of %d uploads have no event on the stream a minute after n1 came back", len(all)-n, len(all))
	}
}
