package pipeline

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/photodesk/photodesk/pipeline/config"
)

// presenceNATS starts an embedded NATS with JetStream for an in-package
// test (devstack imports this package, so it cannot be used here).
func presenceNATS(t *testing.T) jetstream.JetStream {
	t.Helper()
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, JetStream: true, StoreDir: t.TempDir(), NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("NATS not ready")
	}
	t.Cleanup(ns.Shutdown)
	cfg := config.Default()
	cfg.NATSURL = ns.ClientURL()
	nc, js, err := Connect(cfg, t.Name())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return js
}

// waitProcesses polls until the bucket lists n processes.
func waitProcesses(t *testing.T, js jetstream.JetStream, bucket string, ttl time.Duration, n int) []Process {
	t.Helper()
	var ps []Process
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if ps, err = processes(context.Background(), js, bucket, ttl); err == nil && len(ps) == n {
			return ps
		}
	}
	t.Fatalf("%s lists %d processes (%v), want %d: %+v", bucket, len(ps), err, n, ps)
	return nil
}

// TestPresence: EnsureStreams makes the bucket; a process is listed while
// it announces itself and gone as soon as it stops cleanly; another
// process's key stays.
func TestPresence(t *testing.T) {
	js := presenceNATS(t)
	ctx := context.Background()
	if _, err := Processes(ctx, js); !errors.Is(err, ErrNoPresence) {
		t.Fatalf("before set-up: %v, want ErrNoPresence", err)
	}
	if err := EnsureStreams(ctx, js, config.Default()); err != nil {
		t.Fatal(err)
	}
	if ps, err := Processes(ctx, js); err != nil || len(ps) != 0 {
		t.Fatalf("empty bucket: %v %v", ps, err)
	}
	log := slog.New(slog.DiscardHandler)
	started := time.Now().Add(-time.Minute)
	me := ThisProcess("exif", 3, started)
	other := Process{Role: "exif", Host: "other host", PID: 1, Concurrency: 1, Started: started}
	actx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); Announce(actx, js, me, log) }()
	octx, ostop := context.WithCancel(ctx)
	defer ostop()
	go Announce(octx, js, other, log)

	ps := waitProcesses(t, js, ProcessesKV, PresenceTTL, 2)
	var mine *Process
	for i := range ps {
		if ps[i].Host == me.Host && ps[i].PID == os.Getpid() {
			mine = &ps[i]
		}
	}
	if mine == nil || mine.Role != "exif" || mine.Concurrency != 3 || mine.Version == "" || !mine.Started.Equal(started.UTC()) || time.Since(mine.Seen) > time.Minute {
		t.Fatalf("this process is listed as %+v (all: %+v)", mine, ps)
	}
	if other.Key() != "exif.other_host-1" {
		t.Errorf("key %q: a space is not a key character", other.Key())
	}

	stop()
	<-done
	if ps, err := Processes(ctx, js); err != nil || len(ps) != 1 || ps[0].Host != "other host" {
		t.Fatalf("after a clean stop: %+v %v, want only the other process", ps, err)
	}
}

// TestPresenceExpires: a process that dies without deleting its key drops
// out after the TTL, while one that keeps refreshing stays; a process
// started before the bucket existed is listed once it does.
func TestPresenceExpires(t *testing.T) {
	js := presenceNATS(t)
	ctx := context.Background()
	const bucket, ttl = "PRESENCE_TEST", time.Second
	log := slog.New(slog.DiscardHandler)
	actx, stop := context.WithCancel(ctx)
	defer stop()
	go announce(actx, js, bucket, 100*time.Millisecond, Process{Role: "watermark", Host: "alive", PID: 2}, log)

	time.Sleep(300 * time.Millisecond) // a few refreshes fail: no bucket yet
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: bucket, History: 1, TTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	dead := Process{Role: "watermark", Host: "dead", PID: 3}
	if _, err := kv.Put(ctx, dead.Key(), []byte(`{"role":"watermark","host":"dead","pid":3}`)); err != nil {
		t.Fatal(err)
	}
	waitProcesses(t, js, bucket, ttl, 2)
	ps := waitProcesses(t, js, bucket, ttl, 1)
	if ps[0].Host != "alive" {
		t.Fatalf("listed %+v, want the refreshing process", ps)
	}
}
