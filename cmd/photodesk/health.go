package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/photodesk/photodesk/pipeline"
)

func runHealth(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("health", flag.ContinueOnError)
	wait := fs.Duration("wait", 0, "keep trying this long before giving up (0: one try)")
	cfg := pipeline.DefaultConfig()
	cfg.RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	deadline := time.Now().Add(*wait)
	for {
		err := checkOnce(ctx, cfg)
		if err == nil {
			fmt.Println("ok: NATS, JetStream streams and consumers, S3 buckets and notification are up")
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("not healthy: %w", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func checkOnce(ctx context.Context, cfg pipeline.Config) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	nc, js, err := pipeline.Connect(cfg, "photodesk-health")
	if err != nil {
		return err
	}
	defer nc.Close()
	store, err := pipeline.NewStore(cfg)
	if err != nil {
		return err
	}
	return pipeline.Check(ctx, js, store)
}
