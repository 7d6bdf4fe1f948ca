// Package cluster runs photodesk as it runs on several machines, on this
// one: three NATS servers with JetStream and cluster routes, four MinIO
// servers in one distributed erasure set (two drives each), each server
// in a network namespace of its own with a private address, and photodesk
// worker processes with --replicas 3 (streams, consumers and key-value
// buckets R3), every role in each. `photodesk cluster` (`make cluster`)
// and the cluster tests start it; its nodes can be killed, restarted,
// partitioned and healed.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/photodesk/photodesk/pipeline"
	"github.com/photodesk/photodesk/pipeline/config"
	"github.com/photodesk/photodesk/pipeline/contract"
	"github.com/photodesk/photodesk/pipeline/devstack"
)

// The cluster's shape; the addresses follow from it (n1 is 10.99.0.11,
// m1 10.99.0.21).
const (
	natsNodes   = 3
	minioNodes  = 4
	minioDrives = 2
	natsPort    = "4222"
	routePort   = "6222"
	s3Port      = "9000"
	clusterName = "photodesk"
)

// Options shape a cluster.
type Options struct {
	Dir string // work dir: NATS stores, MinIO drives and queue dirs, logs (required)
	// Binary is the photodesk binary: the workers, and the NATS servers
	// (it serves as one, see devstack.ServeNATSChild) (required).
	Binary string
	// NATSBinary serves as the NATS servers instead of Binary (a test
	// binary that calls devstack.ServeNATSChild).
	NATSBinary string
	// Workers is how many `photodesk worker` processes run, each with
	// every role (default 2): every role in two processes or more. Below
	// zero: none, for tests of the servers alone.
	Workers int
	// NotifyNATS is the NATS node (n1…) whose address every MinIO node
	// notifies; default the NATS service address.
	NotifyNATS string
	WorkerArgs []string // added to every worker's command line
	// Config is the base of every process's settings (keys, ack wait, max
	// deliver); NATS, S3 and the replicas are filled in.
	Config config.Config
	Log    io.Writer // progress lines (default: discarded)
}

// Cluster is a running cluster.
type Cluster struct {
	// Config reaches the cluster: every NATS server, the S3 service
	// address, replicas 3.
	Config  config.Config
	NATS    []*Node
	MinIO   []*Node
	Workers []*Worker
	// S3Service and NATSService are the addresses that pass connections
	// to a live node, as a Kubernetes Service does: photodesk's S3
	// endpoint, and MinIO's NATS notification target.
	S3Service, NATSService string
	NotifyAddr             string // the NATS address MinIO notifies

	o    Options
	net  *network
	svcs []*service
}

// Node is one server in its namespace.
type Node struct {
	Name string // n1…n3, m1…m4; its namespace is pdk-<Name>
	Addr string // the client address, host:port

	nats      *devstack.NATSChild
	minioOpts devstack.MinIOOptions
	minio     *devstack.MinIO
	queueDir  string // a MinIO node's own notification queue dir
}

func (o *Options) defaults() error {
	if o.Dir == "" || o.Binary == "" {
		return errors.New("cluster: Dir and Binary are required")
	}
	if o.Workers == 0 {
		o.Workers = 2
	}
	if o.NATSBinary == "" {
		o.NATSBinary = o.Binary
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	return nil
}

func (c *Cluster) logf(format string, args ...any) {
	fmt.Fprintf(c.o.Log, "%s  %s\n", time.Now().Format("15:04:05.0"), fmt.Sprintf(format, args...))
}

// Start makes the network, starts the servers, sets up what `photodesk
// setup` would (streams, consumers and key-value buckets R3, buckets, the
// notification, a proven trigger), then starts the workers. On an error
// everything started is removed again.
func Start(ctx context.Context, o Options) (_ *Cluster, err error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	if o.Dir, err = filepath.Abs(o.Dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(o.Dir, "logs"), 0o755); err != nil {
		return nil, err
	}
	c := &Cluster{o: o, Config: o.Config}
	if c.net, err = newNetwork(); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			c.Stop()
		}
	}()
	for i := range natsNodes {
		ip := fmt.Sprintf("%s%d", subnet, 11+i)
		c.NATS = append(c.NATS, &Node{Name: fmt.Sprintf("n%d", i+1), Addr: ip + ":" + natsPort})
	}
	for i := range minioNodes {
		ip := fmt.Sprintf("%s%d", subnet, 21+i)
		c.MinIO = append(c.MinIO, &Node{Name: fmt.Sprintf("m%d", i+1), Addr: ip + ":" + s3Port})
	}
	for _, n := range c.nodes() {
		if err := c.net.addNode(n.Name, n.host()); err != nil {
			return nil, err
		}
	}
	began := time.Now()
	if err := c.startNATS(ctx); err != nil {
		return nil, err
	}
	if err := c.startMinIO(ctx); err != nil {
		return nil, err
	}
	c.logf("servers up in %s", time.Since(began).Round(100*time.Millisecond))
	if err := c.setup(ctx); err != nil {
		return nil, err
	}
	if err := c.startWorkers(); err != nil {
		return nil, err
	}
	c.logf("cluster up in %s", time.Since(began).Round(100*time.Millisecond))
	return c, nil
}

func (c *Cluster) nodes() []*Node { return append(append([]*Node{}, c.NATS...), c.MinIO...) }

func (n *Node) host() string { h, _, _ := strings.Cut(n.Addr, ":"); return h }

func (c *Cluster) serverLog(name string) (io.Writer, error) {
	return os.OpenFile(filepath.Join(c.o.Dir, "logs", name+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
}

func (c *Cluster) startNATS(ctx context.Context) error {
	for _, n := range c.NATS {
		var routes []string
		for _, m := range c.NATS {
			if m != n {
				routes = append(routes, "nats://"+m.host()+":"+routePort)
			}
		}
		log, err := c.serverLog(n.Name)
		if err != nil {
			return err
		}
		n.nats = &devstack.NATSChild{Self: c.o.NATSBinary, Wrap: inNamespace(n.Name), Log: log, Opts: devstack.NATSOptions{
			Addr: n.Addr, StoreDir: filepath.Join(c.o.Dir, n.Name), Name: n.Name,
			Cluster: clusterName, ClusterAddr: n.host() + ":" + routePort, Routes: routes,
		}}
		if err := n.nats.Start(ctx); err != nil {
			return fmt.Errorf("NATS %s: %w", n.Name, err)
		}
	}
	var urls, addrs []string
	for _, n := range c.NATS {
		urls, addrs = append(urls, n.nats.URL()), append(addrs, n.Addr)
	}
	c.Config.NATSURL = strings.Join(urls, ",")
	svc, err := newService(bridgeIP+":"+natsPort, addrs)
	if err != nil {
		return fmt.Errorf("NATS service address: %w", err)
	}
	c.svcs = append(c.svcs, svc)
	c.NATSService = svc.Addr()
	c.logf("NATS %s (cluster %s, routes on :%s), service address %s", strings.Join(addrs, " "), clusterName, routePort, c.NATSService)
	return nil
}

// startMinIO starts the four nodes at once: each waits for the others
// before it is ready.
func (c *Cluster) startMinIO(ctx context.Context) error {
	var drives, addrs []string
	for _, n := range c.MinIO {
		addrs = append(addrs, n.Addr)
		for d := range minioDrives {
			dir := filepath.Join(c.o.Dir, n.Name, fmt.Sprintf("d%d", d+1))
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			drives = append(drives, "http://"+n.Addr+dir)
		}
	}
	svc, err := newService(bridgeIP+":"+s3Port, addrs)
	if err != nil {
		return fmt.Errorf("S3 service address: %w", err)
	}
	c.svcs = append(c.svcs, svc)
	c.S3Service = svc.Addr()
	notify := c.NATSService
	if c.o.NotifyNATS != "" {
		n := c.NATSNode(c.o.NotifyNATS)
		if n == nil {
			return fmt.Errorf("no NATS node %q to notify", c.o.NotifyNATS)
		}
		notify = n.Addr
	}
	queuePath := filepath.Join(c.o.Dir, "minio-queue")
	if err := os.MkdirAll(queuePath, 0o755); err != nil {
		return err
	}
	errs := make([]error, len(c.MinIO))
	var wg sync.WaitGroup
	for i, n := range c.MinIO {
		log, err := c.serverLog(n.Name)
		if err != nil {
			return err
		}
		// MinIO refuses to form a set unless every MINIO_* variable is
		// the same on every node, the queue dir's path and the NATS
		// address among them. On machines of their own each node has its
		// own disk at that path; here each node's own folder is mounted
		// there in its mount namespace (ip netns exec makes one; its
		// mounts do not reach ours).
		n.queueDir = filepath.Join(c.o.Dir, n.Name, "queue")
		if err := os.MkdirAll(n.queueDir, 0o755); err != nil {
			return err
		}
		n.minioOpts = devstack.MinIOOptions{
			Drives: drives, QueueDir: queuePath, Addr: n.Addr,
			AccessKey: c.Config.S3AccessKey, SecretKey: c.Config.S3SecretKey, Output: log,
			// So every node notifies through the one service address, as
			// every MinIO pod of deploy/k8s does through the nats Service.
			NATSAddr: notify,
			Wrap: append(inNamespace(n.Name), "sh", "-c", `mount --bind "$1" "$2" && shift 2 && exec "$@"`,
				"sh", n.queueDir, queuePath),
			// The drives are on the root filesystem, which MinIO refuses
			// for a distributed set unless told this is a test.
			Env: []string{"MINIO_CI_CD=on"},
		}
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = n.startMinIO(ctx) }()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	c.Config.S3Endpoint = c.S3Service
	if err := c.waitS3(ctx, "/minio/health/cluster", 2*time.Minute); err != nil {
		return err
	}
	c.NotifyAddr = notify
	c.logf("MinIO %s: one erasure set of %d drives, writable; service address %s; notifies NATS at %s", strings.Join(addrs, " "), len(drives), c.S3Service, notify)
	return nil
}

func (n *Node) startMinIO(ctx context.Context) error {
	m, err := devstack.StartMinIO(ctx, n.minioOpts)
	if err != nil {
		return fmt.Errorf("MinIO %s: %w", n.Name, err)
	}
	n.minio = m
	return nil
}

// waitS3 waits until a MinIO health path answers 200 through the S3
// service address: /minio/health/cluster says the set has its write
// quorum, /minio/health/cluster/read its read quorum.
func (c *Cluster) waitS3(ctx context.Context, path string, limit time.Duration) error {
	client := http.Client{Timeout: 2 * time.Second}
	var last string
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+c.S3Service+path, nil)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return fmt.Errorf("MinIO %s not 200 after %s: %s", path, limit, last)
}

// setup does what `photodesk setup` does, with replicas 3.
func (c *Cluster) setup(ctx context.Context) error {
	c.Config.Replicas = 3
	nc, js, err := pipeline.Connect(c.Config, "photodesk-cluster-setup")
	if err != nil {
		return err
	}
	defer nc.Close()
	// Until the servers have elected a meta leader a JetStream request
	// may go unanswered: each try gets a short deadline.
	for deadline := time.Now().Add(time.Minute); ; {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err = pipeline.EnsureStreams(sctx, js, c.Config)
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("set up streams (R3): %w", err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	store, err := pipeline.NewStore(c.Config)
	if err != nil {
		return err
	}
	if err := store.EnsureBuckets(ctx); err != nil {
		return err
	}
	if err := store.EnsureNotificationWait(ctx, "", time.Minute); err != nil {
		return err
	}
	if _, err := store.ProveTrigger(ctx, js, "", 90*time.Second, nil); err != nil {
		return err
	}
	c.logf("streams, consumers and key-value buckets (R3), buckets and the notification set up; trigger proven")
	return nil
}

// Node kinds, for Kill and Start.
func (n *Node) isNATS() bool { return n.nats != nil }

// Running says whether the node's server process is up.
func (n *Node) Running() bool {
	if n.isNATS() {
		return n.nats.Running()
	}
	return n.minio != nil
}

// Kill SIGKILLs the node's server: a crash.
func (n *Node) Kill() {
	if n.isNATS() {
		n.nats.Stop(syscall.SIGKILL)
		return
	}
	n.minio.Kill()
	n.minio = nil
}

// Stop stops the node's server cleanly (SIGTERM).
func (n *Node) Stop() {
	if n.isNATS() {
		n.nats.Stop(syscall.SIGTERM)
		return
	}
	_ = n.minio.Stop()
	n.minio = nil
}

// Start starts the node's server again on its store or drives. A MinIO
// node is ready once it has rejoined the set.
func (n *Node) Start(ctx context.Context) error {
	if n.Running() {
		return nil
	}
	if n.isNATS() {
		return n.nats.Start(ctx)
	}
	return n.startMinIO(ctx)
}

// Partition takes the node's link down: the server keeps running, and
// its peers and clients hear nothing from it until Heal.
func (n *Node) Partition() error {
	return setLink(n.Name, false)
}

// Heal brings the node's link up again.
func (n *Node) Heal() error {
	return setLink(n.Name, true)
}

// QueueDir is a MinIO node's own notification queue dir, as seen from
// here.
func (n *Node) QueueDir() string { return n.queueDir }

// NATSNode is the NATS node named name (a server name, as JetStream's
// cluster info gives it), or nil.
func (c *Cluster) NATSNode(name string) *Node {
	for _, n := range c.NATS {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// StreamLeader is the NATS node that leads stream's replicas.
func (c *Cluster) StreamLeader(ctx context.Context, js jetstream.JetStream, stream string) (*Node, error) {
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return nil, err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return nil, err
	}
	if info.Cluster == nil || c.NATSNode(info.Cluster.Leader) == nil {
		return nil, fmt.Errorf("stream %s has no leader among %d nodes (%+v)", stream, len(c.NATS), info.Cluster)
	}
	return c.NATSNode(info.Cluster.Leader), nil
}

// Connect connects to the cluster's NATS servers.
func (c *Cluster) Connect(name string) (*nats.Conn, jetstream.JetStream, error) {
	return pipeline.Connect(c.Config, name)
}

// Roles are the roles every worker process runs.
func Roles() []string { return contract.StageNames(contract.Stages) }

// Stop stops the workers, MinIO, NATS, the service addresses, and
// removes the namespaces and the bridge. It is safe on a cluster that
// only partly started.
func (c *Cluster) Stop() {
	var wg sync.WaitGroup
	for _, w := range c.Workers {
		wg.Add(1)
		go func() { defer wg.Done(); w.Stop() }()
	}
	wg.Wait()
	for _, n := range c.MinIO {
		if n.minio != nil {
			wg.Add(1)
			go func() { defer wg.Done(); n.Stop() }()
		}
	}
	wg.Wait()
	for _, n := range c.NATS {
		if n.nats != nil {
			wg.Add(1)
			go func() { defer wg.Done(); n.Stop() }()
		}
	}
	wg.Wait()
	for _, s := range c.svcs {
		s.close()
	}
	if c.net != nil {
		c.net.remove()
		c.net = nil
	}
	c.logf("cluster stopped, namespaces and bridge removed")
}
