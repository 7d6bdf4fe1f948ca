package chaos

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/photodesk/photodesk/pipeline"
	"github.com/photodesk/photodesk/pipeline/config"
	"github.com/photodesk/photodesk/pipeline/contract"
	"github.com/photodesk/photodesk/pipeline/devstack"
)

// startStack starts NATS and MinIO, and sets up what `photodesk setup`
// would: streams, consumers (with this run's ack wait and max deliver),
// buckets, the notification, and a proven trigger.
func (r *run) startStack(ctx context.Context) error {
	o := r.o
	if err := os.MkdirAll(filepath.Join(o.Dir, "logs"), 0o755); err != nil {
		return err
	}
	if o.Binary == "" {
		r.logf("building photodesk")
		bin, err := devstack.BuildPhotodesk(ctx, o.Dir)
		if err != nil {
			return err
		}
		r.o.Binary = bin
	}
	natsLog, err := os.Create(filepath.Join(o.Dir, "logs", "nats.log"))
	if err != nil {
		return err
	}
	r.nats = &devstack.NATSChild{Self: o.Self, Opts: devstack.NATSOptions{Addr: "127.0.0.1:0", StoreDir: filepath.Join(o.Dir, "nats")}, Log: natsLog}
	if err := r.nats.Start(ctx); err != nil {
		return err
	}
	cfg := config.Default()
	cfg.NATSURL = r.nats.URL()
	cfg.AckWait, cfg.MaxDeliver = o.AckWait, o.MaxDeliver
	r.nc, r.js, err = pipeline.Connect(cfg, "photodesk-chaos")
	if err != nil {
		return err
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := pipeline.EnsureStreams(sctx, r.js, cfg); err != nil {
		return fmt.Errorf("set up streams: %w", err)
	}

	minioLog, err := os.Create(filepath.Join(o.Dir, "logs", "minio.log"))
	if err != nil {
		return err
	}
	r.minio = &minioProc{opts: devstack.MinIOOptions{
		DataDir: filepath.Join(o.Dir, "minio"), QueueDir: filepath.Join(o.Dir, "minio-queue"), Addr: "127.0.0.1:0",
		AccessKey: cfg.S3AccessKey, SecretKey: cfg.S3SecretKey, NATSAddr: r.nats.Addr(), Output: minioLog,
	}}
	if err := r.minio.start(ctx); err != nil {
		return err
	}
	cfg.S3Endpoint = r.minio.opts.Addr
	r.cfg = cfg
	if r.store, err = pipeline.NewStore(cfg); err != nil {
		return err
	}
	if err := r.store.EnsureBuckets(sctx); err != nil {
		return err
	}
	if err := r.store.EnsureNotificationWait(sctx, "", 30*time.Second); err != nil {
		return err
	}
	if _, err := r.store.ProveTrigger(ctx, r.js, "", 90*time.Second, nil); err != nil {
		return err
	}
	r.logf("NATS on %s, MinIO on %s: streams, consumers (ack wait %s, max deliver %d), buckets and the proven trigger are set up",
		r.nats.Addr(), r.minio.opts.Addr, o.AckWait, o.MaxDeliver)
	return nil
}

func (r *run) startWorkers(ctx context.Context) error {
	for _, role := range contract.StageNames(contract.Stages) {
		for i := range r.o.Procs[role] {
			addr, err := devstack.FreeAddr()
			if err != nil {
				return err
			}
			name := fmt.Sprintf("%s-%d", role, i+1)
			w := &worker{
				role: role, name: name, logPath: filepath.Join(r.o.Dir, "logs", name+".log"), httpAddr: addr, done: make(chan struct{}),
				args: []string{"worker", "--role", role, "--http", addr, "--setup=false",
					"--nats", r.cfg.NATSURL, "--s3-endpoint", r.cfg.S3Endpoint,
					"--ack-wait", r.o.AckWait.String(), "--max-deliver", fmt.Sprint(r.o.MaxDeliver), "--concurrency", "2"},
			}
			r.workers = append(r.workers, w)
			go w.supervise(ctx, r.o.Binary, func() time.Duration { return r.restarts.between(200*time.Millisecond, 2*time.Second) }, r.logf)
		}
	}
	r.logf("started %d worker processes: %v", len(r.workers), r.o.Procs)
	return nil
}

// shutdown stops the workers (SIGTERM), then MinIO, then NATS.
func (r *run) shutdown() {
	var wg sync.WaitGroup
	for _, w := range r.workers {
		wg.Add(1)
		go func() { defer wg.Done(); w.stop() }()
	}
	// The supervisors no longer restart anything: Run cancelled their
	// context (a later defer) before this runs.
	wg.Wait()
	if r.nc != nil {
		r.nc.Close()
	}
	if r.minio != nil {
		_ = r.minio.stop(false)
	}
	if r.nats != nil {
		r.nats.Stop(syscall.SIGTERM)
	}
}
