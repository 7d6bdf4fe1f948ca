package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/photodesk/photodesk/pipeline"
)

func runWorker(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	roles := fs.String("role", envOr("PHOTODESK_ROLE", ""), "role(s) to run, comma separated: "+strings.Join(allRoles, ", ")+" (env PHOTODESK_ROLE)")
	concurrency := fs.Int("concurrency", 2, "jobs at once per role")
	httpAddr := fs.String("http", envOr("PHOTODESK_HTTP_ADDR", ""), "ops HTTP address for /healthz, /readyz and /metrics; empty: none (env PHOTODESK_HTTP_ADDR)")
	setup := fs.Bool("setup", true, "create streams and consumers if missing")
	cfg := pipeline.DefaultConfig()
	cfg.RegisterFlags(fs)
	rc := defaultRoleConfig()
	rc.RegisterFlags(fs)
	var tc pipeline.TracingConfig
	tc.RegisterFlags(fs)
	if _, err := pipeline.ParseFlags(fs, args); err != nil {
		return err
	}
	if *roles == "" {
		fs.Usage()
		return fmt.Errorf("--role is required")
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	if err := rc.Validate(); err != nil {
		return err
	}
	log := newLogger(os.Stderr, slog.LevelInfo).With("pid", os.Getpid())
	names := strings.Split(*roles, ",")
	stopTracing, err := pipeline.SetupTracing(ctx, tc, log, names...)
	if err != nil {
		return err
	}
	defer flushTraces(log, stopTracing)
	nc, js, err := pipeline.Connect(cfg, "photodesk-worker-"+*roles)
	if err != nil {
		return err
	}
	defer nc.Drain()
	if *setup {
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := pipeline.EnsureStreams(sctx, js, cfg)
		cancel()
		if err != nil {
			return err
		}
	}
	store, err := pipeline.NewStore(cfg)
	if err != nil {
		return err
	}
	limitGoMemory(names, *concurrency, log)
	ws, err := workers(cfg, rc, js, store, log, names, *concurrency)
	if err != nil {
		return err
	}
	if *httpAddr != "" {
		ln, err := net.Listen("tcp", *httpAddr)
		if err != nil {
			return fmt.Errorf("ops HTTP: %w", err)
		}
		srv := &http.Server{Handler: opsMux(js, store), ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		defer srv.Close()
	}
	return runWorkers(ctx, js, cfg, log, ws)
}

// flushTraces sends the spans still buffered as the process exits, giving
// up after a few seconds (an unreachable collector must not hold it).
func flushTraces(log *slog.Logger, shutdown func(context.Context) error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := shutdown(ctx); err != nil {
		log.Warn("tracing", "err", err)
	}
}
