package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/photodesk/photodesk/pipeline"
	"github.com/photodesk/photodesk/pipeline/config"
	"github.com/photodesk/photodesk/pipeline/contract"
)

// runSetup is `photodesk setup`: the one-shot init of a compose project or
// a Kubernetes Job. It creates what the pipeline needs, in order (streams,
// consumers and the key-value bucket on NATS; the buckets, their policies
// and the originals bucket's notification on S3), proves the trigger with
// a canary upload, prints what it found and did, and exits. Every step is
// idempotent, so it can run at every deploy.
func runSetup(ctx context.Context, args []string) error {
	c := newCLI("setup")
	fs := c.fs
	wait := fs.Duration("wait", 0, "keep retrying this long while NATS and S3 come up (0: one try)")
	canary := fs.Bool("canary", true, "prove the trigger: upload a canary object and wait for MinIO's event on JetStream")
	var publicDerivatives bool
	config.BoolVar(fs, &publicDerivatives, "public-derivatives", "PHOTODESK_PUBLIC_DERIVATIVES",
		"let anyone GET derivatives by key (never list them), for the assembler's --public-base-url; without it the derivatives bucket is private like the others")
	if err := c.parse(args, c.validate); err != nil {
		return err
	}
	cfg := c.cfg
	region := cfg.NotifyRegion
	log := newLogger(os.Stderr, slog.LevelInfo)
	start := time.Now()
	deadline := start.Add(*wait)
	w := stdout
	fmt.Fprintf(w, "photodesk setup: NATS %s, S3 %s\n", redactURLs(cfg.NATSURL), cfg.S3Endpoint)

	// NATS first: MinIO's events need the S3_EVENTS stream to land in.
	var nc *nats.Conn
	var js jetstream.JetStream
	err := retry(ctx, log, deadline, "NATS", func(ctx context.Context) error {
		c, j, err := pipeline.Connect(cfg, "photodesk-setup")
		if err != nil {
			return err
		}
		// A cluster answers only once JetStream has a meta leader.
		if _, err := j.AccountInfo(ctx); err != nil {
			c.Close()
			return fmt.Errorf("JetStream at %s: %w", redactURLs(cfg.NATSURL), err)
		}
		nc, js = c, j
		return nil
	})
	if err != nil {
		return err
	}
	defer nc.Close()
	topology := pipeline.Topology(cfg)
	before := map[string]bool{}
	for _, r := range topology {
		if !r.Unlisted {
			before[r.Label()] = r.Check(ctx, js) == nil
		}
	}
	// On a cluster that is still forming, R3 streams fail until enough
	// servers have JetStream up.
	if err := retry(ctx, log, deadline, "JetStream streams", func(ctx context.Context) error {
		return pipeline.EnsureStreams(ctx, js, cfg)
	}); err != nil {
		return err
	}
	for _, r := range topology {
		if !r.Unlisted {
			step(w, before, r.Label(), r.Detail)
		}
	}

	store, err := pipeline.NewStore(cfg)
	if err != nil {
		return err
	}
	bctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	for _, b := range store.Buckets() {
		ok, err := store.BucketExists(bctx, b)
		if err != nil {
			// Not up yet (or wrong keys): the retry below says which.
			break
		}
		before["bucket "+b] = ok
	}
	cancel()
	if err := retry(ctx, log, deadline, "S3 buckets", func(ctx context.Context) error {
		return store.EnsureBuckets(ctx)
	}); err != nil {
		return err
	}
	for _, b := range store.Buckets() {
		step(w, before, "bucket "+b, "")
	}
	var access []pipeline.BucketAccess
	if err := retry(ctx, log, deadline, "S3 bucket policies", func(ctx context.Context) error {
		a, err := store.EnsureBucketPolicies(ctx, publicDerivatives)
		access = a
		return err
	}); err != nil {
		return err
	}
	for _, a := range access {
		state := "unchanged"
		if a.Changed {
			state = "set"
		}
		fmt.Fprintf(w, "  %-32s %s (%s)\n", "policy "+a.Bucket, state, a.Access)
	}
	before["notification"] = store.CheckNotification(ctx, region) == nil
	// MinIO loads its notification targets in the background after it
	// reports ready: wait for the target at least half a minute.
	if err := store.EnsureNotificationWait(ctx, region, max(30*time.Second, time.Until(deadline))); err != nil {
		return err
	}
	step(w, before, "notification", fmt.Sprintf("bucket %s notifies %s of s3:ObjectCreated:*", cfg.OriginalsBucket, pipeline.NotifyARN(region)))

	if *canary {
		t0 := time.Now()
		n, err := store.ProveTrigger(ctx, js, region, 90*time.Second, log)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "  %-32s proven: a canary upload reached stream %s (%d upload(s), %s)\n", "trigger", contract.S3EventsStream, n, time.Since(t0).Round(100*time.Millisecond))
	}
	fmt.Fprintf(w, "setup done in %s\n", time.Since(start).Round(100*time.Millisecond))
	return nil
}

// step prints one thing setup made sure of, and whether it was there.
func step(w io.Writer, before map[string]bool, what, detail string) {
	state := "created"
	if before[what] {
		state = "exists"
	}
	if detail != "" {
		state += " (" + detail + ")"
	}
	fmt.Fprintf(w, "  %-32s %s\n", what, state)
}

// retry runs fn until it succeeds, ctx ends or deadline passes, saying
// what it waits for when that changes.
func retry(ctx context.Context, log *slog.Logger, deadline time.Time, what string, fn func(context.Context) error) error {
	var last string
	for {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := fn(cctx)
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			if errors.Is(err, context.Canceled) && ctx.Err() != nil {
				return fmt.Errorf("%s: interrupted", what)
			}
			return fmt.Errorf("%s: %w", what, err)
		}
		if msg := err.Error(); msg != last {
			log.Info("waiting for "+what, "err", msg, "until", deadline.Format(time.TimeOnly))
			last = msg
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// redactURLs drops the passwords from a list of NATS URLs.
func redactURLs(list string) string {
	parts := strings.Split(list, ",")
	for i, p := range parts {
		u, err := url.Parse(strings.TrimSpace(p))
		if err != nil || u.User == nil {
			continue
		}
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxx")
		} else {
			u.User = url.User("xxx") // a token
		}
		parts[i] = u.String()
	}
	return strings.Join(parts, ",")
}
