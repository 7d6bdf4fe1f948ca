package main

import (
	"context"
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
	c := newCLI("worker").withRoles().withTracing()
	fs := c.fs
	roles := fs.String("role", envOr("PHOTODESK_ROLE", ""), "role(s) to run, comma separated: "+strings.Join(allRoles, ", ")+" (env PHOTODESK_ROLE)")
	concurrency := fs.Int("concurrency", 0, "jobs at once per role (0: each role's default from the stage table, 2 today)")
	httpAddr := fs.String("http", envOr("PHOTODESK_HTTP_ADDR", ""), "ops HTTP address for /healthz, /readyz and /metrics; empty: none (env PHOTODESK_HTTP_ADDR)")
	setup := fs.Bool("setup", true, "create streams and consumers if missing")
	requireRole := func() error {
		if *roles == "" {
			fs.Usage()
			return fmt.Errorf("--role is required")
		}
		return nil
	}
	if err := c.parse(args, requireRole, c.validate); err != nil {
		return err
	}
	cfg, rc := c.cfg, *c.rc
	log := newLogger(os.Stderr, slog.LevelInfo).With("pid", os.Getpid())
	names := strings.Split(*roles, ",")
	stopTracing, err := c.startTracing(ctx, log, names...)
	if err != nil {
		return err
	}
	defer stopTracing()
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
