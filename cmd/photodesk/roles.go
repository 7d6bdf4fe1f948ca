package main

import (
	"context"
	"crypto/x509"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/photodesk/photodesk/internal/c2pa"
	"github.com/photodesk/photodesk/internal/imaging"
	"github.com/photodesk/photodesk/pipeline"
	"github.com/photodesk/photodesk/pipeline/config"
	"github.com/photodesk/photodesk/pipeline/contract"
	"github.com/photodesk/photodesk/workers/assembler"
	"github.com/photodesk/photodesk/workers/exif"
	"github.com/photodesk/photodesk/workers/ingest"
	"github.com/photodesk/photodesk/workers/renditions"
	"github.com/photodesk/photodesk/workers/watermark"
	"github.com/photodesk/photodesk/workers/webhooks"
)

// allRoles are the roles `photodesk dev` runs: every stage of the stage
// table, in pipeline order, then webhooks (a role with a consumer per
// endpoint rather than a stage).
var allRoles = append(contract.StageNames(contract.Stages), webhooks.Role)

// jobsAtOnce is how many jobs a process runs at once for role: the
// --concurrency flag, or when it is 0 the stage table's default.
func jobsAtOnce(role string, flag int) int {
	if flag > 0 {
		return flag
	}
	if st, ok := contract.StageNamed(role); ok {
		return st.Concurrency
	}
	return 1
}

// describeJobs says how many jobs at once the roles' stages run, for
// banners (webhooks, no stage, delivers one event per endpoint at a time).
func describeJobs(roles []string, flag int) string {
	var parts []string
	first, same := 0, true
	for _, r := range roles {
		if _, ok := contract.StageNamed(r); !ok {
			continue
		}
		n := jobsAtOnce(r, flag)
		if len(parts) == 0 {
			first = n
		}
		same = same && n == first
		parts = append(parts, fmt.Sprintf("%s %d", r, n))
	}
	if same && len(parts) > 0 {
		return fmt.Sprintf("%d jobs at once each", first)
	}
	return "jobs at once: " + strings.Join(parts, ", ")
}

// testWrap lets this package's tests wrap a role's handler (to stall one
// in a child process, say); nil outside tests.
var testWrap func(role string, h pipeline.Handler) pipeline.Handler

// roleConfig is the configuration of the roles beyond connections.
type roleConfig struct {
	img   imaging.Config
	asm   assembler.Config
	hooks webhooks.Config
	// anchors is the PEM file of the C2PA trust anchors originals'
	// Content Credentials are checked against (exif).
	anchors string
}

func defaultRoleConfig() roleConfig {
	return roleConfig{img: imaging.DefaultConfig(), asm: assembler.DefaultConfig(), hooks: webhooks.DefaultConfig()}
}

func (rc *roleConfig) RegisterFlags(fs *flag.FlagSet) {
	rc.img.RegisterFlags(fs)
	rc.asm.RegisterFlags(fs)
	rc.hooks.RegisterFlags(fs)
	config.StringVar(fs, &rc.anchors, "c2pa-trust-anchors", "PHOTODESK_C2PA_TRUST_ANCHORS", "PEM file of the C2PA trust anchors originals' Content Credentials are checked against (e.g. the C2PA trust list); without it, intact ones read as valid but untrusted")
}

// provenance loads what the roles sign and check Content Credentials
// with: the signer (nil when none is configured) and the trust anchors.
func (rc *roleConfig) provenance(roles []string) (*c2pa.Signer, []*x509.Certificate, error) {
	var signer *c2pa.Signer
	if rc.asm.SigningKey != "" && slices.Contains(roles, contract.StageAssembler) {
		s, err := c2pa.LoadSigner(rc.asm.SigningKey, rc.asm.SigningChain, "photodesk", pipeline.BuildVersion())
		if err != nil {
			return nil, nil, fmt.Errorf("c2pa signer: %w", err)
		}
		if rc.asm.TSAURL != "" {
			s = s.WithTimeStamps(c2pa.NewTSA(rc.asm.TSAURL, nil))
		}
		signer = s
	}
	var anchors []*x509.Certificate
	if rc.anchors != "" && slices.Contains(roles, contract.StageExif) {
		b, err := os.ReadFile(rc.anchors)
		if err != nil {
			return nil, nil, fmt.Errorf("c2pa trust anchors: %w", err)
		}
		certs, err := c2pa.ParseCertificates(b)
		if err != nil {
			return nil, nil, fmt.Errorf("c2pa trust anchors %s: %w", rc.anchors, err)
		}
		anchors = certs
	}
	return signer, anchors, nil
}

func (rc *roleConfig) Validate() error {
	if err := rc.img.Validate(); err != nil {
		return err
	}
	if err := rc.hooks.Validate(); err != nil {
		return err
	}
	return rc.asm.Validate()
}

// roleWorker is one role of a process: a pipeline.Worker for
// pipeline.Runtime or, when run is set, a role with its own loop
// (webhooks: its retries never give up, so it does not fit the runtime).
type roleWorker struct {
	pipeline.Worker
	run func(ctx context.Context) error
}

// workers builds the named roles.
func workers(cfg config.Config, rc roleConfig, js jetstream.JetStream, store *pipeline.Store, log *slog.Logger, roles []string, concurrency int) ([]roleWorker, error) {
	icfg := rc.img
	// Both image roles in one process share each original's decode.
	var shared *imaging.Decodes
	if slices.Contains(roles, contract.StageRenditions) && slices.Contains(roles, contract.StageWatermark) {
		shared = imaging.NewDecodes()
	}
	signer, anchors, err := rc.provenance(roles)
	if err != nil {
		return nil, err
	}
	if signer == nil && slices.Contains(roles, contract.StageAssembler) {
		log.Warn("no --c2pa-key: published files go out without Content Credentials")
	}
	var ws []roleWorker
	for _, name := range roles {
		var w pipeline.Worker
		concurrency := jobsAtOnce(name, concurrency)
		switch name {
		case contract.StageIngest:
			w = (&ingest.Role{Bucket: cfg.OriginalsBucket}).Worker(concurrency)
		case contract.StageExif:
			w = (&exif.Role{Store: store, Zone: cfg.Location(), Anchors: anchors}).Worker(concurrency)
		case contract.StageRenditions:
			w = renditions.New(icfg, store, cfg.DerivativesBucket, shared, log).Worker(concurrency)
		case contract.StageWatermark:
			d, err := watermark.New(icfg, store, cfg.DerivativesBucket, shared, log)
			if err != nil {
				return nil, err
			}
			w = d.Worker(concurrency)
		case contract.StageAssembler:
			kv, err := js.KeyValue(context.Background(), pipeline.GalleriesKV)
			if err != nil {
				return nil, fmt.Errorf("assembler: key-value bucket %s: %w (run with --setup)", pipeline.GalleriesKV, err)
			}
			w = (&assembler.Role{
				KV: kv, Store: store, ArticlesBucket: cfg.ArticlesBucket, DerivativesBucket: cfg.DerivativesBucket,
				OriginalsBucket: cfg.OriginalsBucket, Signer: signer, Zone: cfg.Location(), Cfg: rc.asm,
			}).Worker(concurrency)
		case webhooks.Role:
			d := &webhooks.Deliverer{JS: js, Pipeline: cfg, Cfg: rc.hooks, Log: log}
			ws = append(ws, roleWorker{Worker: pipeline.Worker{Role: name}, run: d.Run})
			continue
		default:
			return nil, fmt.Errorf("unknown role %q (roles: %s)", name, strings.Join(allRoles, ", "))
		}
		if testWrap != nil {
			w.Handler = testWrap(name, w.Handler)
		}
		ws = append(ws, roleWorker{Worker: w})
	}
	return ws, nil
}

// goMemoryLimit is the Go heap limit for a process running roles at
// concurrency, or 0 to leave Go's default: only the image roles hold
// photos in Go memory, and an operator's GOMEMLIMIT wins.
func goMemoryLimit(roles []string, concurrency int, getenv func(string) string) int64 {
	if getenv("GOMEMLIMIT") != "" {
		return 0
	}
	jobs := 0
	for _, r := range roles {
		if r == contract.StageRenditions || r == contract.StageWatermark {
			jobs += jobsAtOnce(r, concurrency)
		}
	}
	if jobs == 0 {
		return 0
	}
	return imaging.GoMemoryLimit(jobs)
}

// limitGoMemory applies goMemoryLimit to this process.
func limitGoMemory(roles []string, concurrency int, log *slog.Logger) {
	if n := goMemoryLimit(roles, concurrency, os.Getenv); n > 0 {
		debug.SetMemoryLimit(n)
		log.Info("Go memory limit set for the image roles (GOMEMLIMIT overrides)", "MiB", n>>20)
	}
}

// runWorkers runs every worker until ctx ends and all have shut down.
func runWorkers(ctx context.Context, js jetstream.JetStream, cfg config.Config, log *slog.Logger, ws []roleWorker) error {
	rt := &pipeline.Runtime{JS: js, Cfg: cfg, Log: log}
	// One role failing to start stops the others: a half-running process
	// would look healthy to a supervisor.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, len(ws))
	started := time.Now()
	for i, w := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// The process counts as bound to the role until the role has
			// stopped, in-flight jobs included (`photodesk status`).
			pctx, unannounce := context.WithCancel(context.WithoutCancel(ctx))
			announced := make(chan struct{})
			go func() {
				defer close(announced)
				pipeline.Announce(pctx, js, pipeline.ThisProcess(w.Role, max(w.Concurrency, 1), started), log)
			}()
			defer func() { unannounce(); <-announced }()
			if w.run != nil {
				errs[i] = w.run(ctx)
			} else {
				errs[i] = rt.Run(ctx, w.Worker)
			}
			if errs[i] != nil {
				cancel()
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
