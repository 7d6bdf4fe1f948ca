package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/photodesk/photodesk/internal/cluster"
	"github.com/photodesk/photodesk/pipeline/contract"
)

// runCluster starts the several-machines deployment on this one (package
// cluster): three NATS servers, four MinIO servers, each in a network
// namespace of its own, and worker processes with --replicas 3; prints
// the addresses and runs until Ctrl-C or SIGTERM, then removes it all.
func runCluster(ctx context.Context, args []string) error {
	c := newCLI("cluster")
	fs := c.fs
	dir := fs.String("dir", "", "work dir: NATS stores, MinIO drives and queue dirs, logs (default: a new temporary one, removed at the end)")
	workers := fs.Int("workers", 2, "photodesk worker processes, each running every role")
	if err := c.parse(args); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	keep := *dir != ""
	if !keep {
		if *dir, err = os.MkdirTemp("", "photodesk-cluster-"); err != nil {
			return err
		}
		defer os.RemoveAll(*dir)
	}
	cl, err := cluster.Start(ctx, cluster.Options{Dir: *dir, Binary: self, Workers: *workers, Config: c.cfg, Log: os.Stderr})
	if err != nil {
		return err
	}
	defer cl.Stop()
	cfg := cl.Config
	var nodes, s3, ops []string
	for _, n := range cl.NATS {
		nodes = append(nodes, n.Name+" nats://"+n.Addr)
	}
	for _, n := range cl.MinIO {
		s3 = append(s3, n.Name+" http://"+n.Addr)
	}
	for _, w := range cl.Workers {
		ops = append(ops, "http://"+w.HTTP+"/readyz")
	}
	fmt.Fprintf(os.Stdout, `photodesk cluster is running (Ctrl-C stops it and removes its namespaces)
  work dir   %s (logs in logs/)
  NATS       %s   (JetStream cluster %q, streams %s, %s, replicas %d)
             --nats %s
  S3/MinIO   %s   (one erasure set, %d nodes x 2 drives)
             --s3-endpoint %s (passes to a live node), access key %s, secret key %s
  notify     MinIO -> NATS at %s
  buckets    %s, %s, %s
  workers    %d processes, roles %s; ops HTTP %s
`, *dir, strings.Join(nodes, ", "), "photodesk", contract.S3EventsStream, contract.EventsStream, cfg.Replicas, cfg.NATSURL,
		strings.Join(s3, ", "), len(cl.MinIO), cl.S3Service, cfg.S3AccessKey, cfg.S3SecretKey, cl.NotifyAddr,
		cfg.OriginalsBucket, cfg.DerivativesBucket, cfg.ArticlesBucket,
		len(cl.Workers), strings.Join(cluster.Roles(), ","), strings.Join(ops, " "))
	<-ctx.Done()
	fmt.Fprintln(os.Stderr, "stopping the cluster")
	return nil
}
