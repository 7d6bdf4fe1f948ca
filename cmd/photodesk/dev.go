package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/photodesk/photodesk/api"
	"github.com/photodesk/photodesk/internal/c2pa"
	"github.com/photodesk/photodesk/pipeline"
	"github.com/photodesk/photodesk/pipeline/contract"
	"github.com/photodesk/photodesk/pipeline/devstack"
)

func runDev(ctx context.Context, args []string) error {
	c := newCLI("dev").withRoles().withTracing()
	fs := c.fs
	data := fs.String("data", envOr("PHOTODESK_DATA", ".data"), "data dir: NATS store, MinIO objects and its event queue (env PHOTODESK_DATA)")
	natsAddr := fs.String("nats-addr", envOr("PHOTODESK_NATS_ADDR", "127.0.0.1:4222"), "NATS listen address (env PHOTODESK_NATS_ADDR)")
	s3Addr := fs.String("s3-addr", envOr("PHOTODESK_S3_ADDR", "127.0.0.1:9000"), "MinIO listen address (env PHOTODESK_S3_ADDR)")
	httpAddr := fs.String("http", envOr("PHOTODESK_HTTP_ADDR", "127.0.0.1:8080"), "ops HTTP address: /healthz, /readyz (env PHOTODESK_HTTP_ADDR)")
	concurrency := fs.Int("concurrency", 0, "jobs at once per role (0: each role's default from the stage table, 2 today)")
	minioLog := fs.Bool("minio-log", false, "show MinIO's own output")
	verbose := fs.Bool("v", false, "debug logging")
	var apiF apiFlags
	apiF.register(fs, "127.0.0.1:8088")
	if err := c.parse(args, c.validate); err != nil {
		return err
	}
	cfg, rc := c.cfg, *c.rc
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := newLogger(os.Stderr, level)
	stopTracing, err := c.startTracing(ctx, log, append(allRoles[:len(allRoles):len(allRoles)], "api")...)
	if err != nil {
		return err
	}
	defer stopTracing()
	dir, err := filepath.Abs(*data)
	if err != nil {
		return err
	}
	var mlog io.Writer
	if *minioLog {
		mlog = os.Stderr
	}

	stack, err := devstack.Start(ctx, devstack.Options{
		DataDir: dir, NATSAddr: *natsAddr, MinIOAddr: *s3Addr, Config: cfg, MinIOLog: mlog, Log: log,
	})
	if err != nil {
		return err
	}
	defer func() {
		log.Info("stopping MinIO and NATS")
		stack.Stop()
		log.Info("stopped")
	}()
	cfg = stack.Config
	if err := devProvenance(&rc, dir, log); err != nil {
		return err
	}

	nc, js, store, err := connectAll(cfg, "dev")
	if err != nil {
		return err
	}
	defer nc.Drain()
	limitGoMemory(allRoles, *concurrency, log)
	ws, err := workers(cfg, rc, js, store, log, allRoles, *concurrency)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *httpAddr)
	if err != nil {
		return fmt.Errorf("ops HTTP: %w", err)
	}
	srv := &http.Server{Handler: opsMux(js, store), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()

	tokens, err := api.ParseTokens(apiF.tokens)
	if err != nil {
		return err
	}
	if len(tokens) == 0 {
		tokens = devTokens()
	}
	apiAddr, stopAPI, err := serveAPI(ctx, apiF, tokens, cfg, log)
	if err != nil {
		return err
	}
	defer stopAPI()
	var tokenLines strings.Builder
	for _, t := range tokens {
		fmt.Fprintf(&tokenLines, "             %-12s token %s\n", t.Role, t.Value)
	}

	fmt.Fprintf(os.Stdout, `photodesk dev is running (Ctrl-C stops it cleanly)
  data dir   %s
  NATS       %s   (JetStream streams %s, %s)
  S3/MinIO   http://%s   access key %s, secret key %s
  buckets    %s, %s, %s
  ops HTTP   http://%s/healthz  http://%s/readyz  http://%s/metrics
  upload     http://%s/   (the photographers' page)
  API        http://%s/v1/openapi.json
%s  roles      %v, %s
`, dir, cfg.NATSURL, contract.S3EventsStream, contract.EventsStream,
		cfg.S3Endpoint, cfg.S3AccessKey, cfg.S3SecretKey,
		cfg.OriginalsBucket, cfg.DerivativesBucket, cfg.ArticlesBucket,
		ln.Addr(), ln.Addr(), ln.Addr(), apiAddr, apiAddr, tokenLines.String(), allRoles, describeJobs(allRoles, *concurrency))

	err = runWorkers(ctx, js, cfg, log, ws)
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// devProvenance gives dev a signing identity when none is configured: a
// development CA and key made in the data dir on first start, named as
// for testing only, and that CA as the trust anchor for originals.
func devProvenance(rc *roleConfig, dir string, log *slog.Logger) error {
	if rc.asm.SigningKey != "" {
		return nil
	}
	d, err := c2pa.DevIdentity(filepath.Join(dir, "c2pa"))
	if err != nil {
		return fmt.Errorf("development C2PA identity: %w", err)
	}
	rc.asm.SigningKey, rc.asm.SigningChain = d.Key, d.Chain
	if rc.anchors == "" {
		rc.anchors = d.CA
	}
	log.Info("signing Content Credentials with the development identity: TESTING ONLY, trusted by nobody but this data dir", "ca", d.CA)
	return nil
}

// opsMux serves the operators' endpoints: /healthz says the process is
// alive (503 once a role has lost a slot to a job stuck past its
// deadline, which only a restart frees; see pipeline.Deadline), /readyz that NATS, S3, the streams and the consumers are up, and
// /metrics the Prometheus metrics (jobs, durations, failures, bytes, and
// every role's consumer lag).
func opsMux(js jetstream.JetStream, store *pipeline.Store) *http.ServeMux {
	mux := http.NewServeMux()
	pipeline.RegisterConsumerMetrics(js)
	mux.Handle("GET /metrics", promhttp.HandlerFor(pipeline.Metrics, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		if err := pipeline.Stuck(); err != nil {
			http.Error(w, "stuck: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		if err := pipeline.Check(ctx, js, store); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	return mux
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
