// Package devstack runs the real servers of a one-machine photodesk: an
// embedded NATS server with JetStream, and MinIO as a child process wired to
// notify it. `photodesk dev` and the integration tests both start it.
package devstack

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/photodesk/photodesk/pipeline"
	"github.com/photodesk/photodesk/pipeline/config"
)

// NATSOptions start the embedded NATS server.
type NATSOptions struct {
	Addr     string // host:port; port 0 picks a free one
	StoreDir string // JetStream store on disk, kept across restarts

	// Name is the server's name (default photodesk-dev); the servers of a
	// JetStream cluster need one each.
	Name string
	// Cluster, when set, is the name of the JetStream cluster this server
	// joins: it listens for routes on ClusterAddr (host:port) and routes
	// to Routes (nats://host:port of the other servers' route listeners).
	Cluster     string
	ClusterAddr string
	Routes      []string
}

// StartNATS starts an in-process NATS server with JetStream on disk.
func StartNATS(o NATSOptions) (*server.Server, error) {
	host, portStr, err := net.SplitHostPort(o.Addr)
	if err != nil {
		return nil, fmt.Errorf("NATS address %q: %w", o.Addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("NATS port %q: %w", portStr, err)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	if o.Name == "" {
		o.Name = "photodesk-dev"
	}
	opts := &server.Options{
		ServerName: o.Name,
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   o.StoreDir,
		NoSigs:     true, // the process owns its signals
		MaxPayload: 8 << 20,
	}
	if o.Cluster != "" {
		chost, cport, err := net.SplitHostPort(o.ClusterAddr)
		if err != nil {
			return nil, fmt.Errorf("NATS cluster address %q: %w", o.ClusterAddr, err)
		}
		opts.Cluster.Name, opts.Cluster.Host = o.Cluster, chost
		if opts.Cluster.Port, err = strconv.Atoi(cport); err != nil {
			return nil, fmt.Errorf("NATS cluster port %q: %w", cport, err)
		}
		opts.Routes = server.RoutesFromStr(strings.Join(o.Routes, ","))
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("NATS server: %w", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(15 * time.Second) {
		ns.Shutdown()
		return nil, fmt.Errorf("NATS server on %s not ready after 15s (port in use?)", o.Addr)
	}
	return ns, nil
}

// Options start a whole stack.
type Options struct {
	DataDir   string // nats/, minio/, minio-queue/ live below it
	NATSAddr  string // default 127.0.0.1:4222; port 0 = any free port
	MinIOAddr string // default 127.0.0.1:9000; port 0 = any free port
	Config    config.Config
	MinIOLog  io.Writer
	Log       *slog.Logger
}

// Stack is a running NATS + MinIO pair, set up for photodesk: streams,
// consumers, buckets and the bucket notification exist.
type Stack struct {
	NATS  *server.Server
	MinIO *MinIO
	// Config reaches this stack (NATS URL, S3 endpoint and keys filled in).
	Config config.Config

	opts      Options
	natsAddr  string
	minioAddr string
}

// Start starts NATS, creates the streams, starts MinIO, creates the buckets
// and the notification. Every step is idempotent, so a stack restarted on
// the same data dir finds everything as it was.
func Start(ctx context.Context, o Options) (*Stack, error) {
	if o.NATSAddr == "" {
		o.NATSAddr = "127.0.0.1:4222"
	}
	if o.MinIOAddr == "" {
		o.MinIOAddr = "127.0.0.1:9000"
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	s := &Stack{Config: o.Config, opts: o, natsAddr: o.NATSAddr, minioAddr: o.MinIOAddr}
	if err := s.StartNATS(); err != nil {
		return nil, err
	}
	if err := s.StartMinIO(ctx); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// StartNATS (re)starts the NATS server on the stack's store and address,
// and makes sure the streams and consumers exist.
func (s *Stack) StartNATS() error {
	ns, err := StartNATS(NATSOptions{Addr: s.natsAddr, StoreDir: filepath.Join(s.opts.DataDir, "nats")})
	if err != nil {
		return err
	}
	s.NATS = ns
	s.Config.NATSURL = ns.ClientURL()
	s.natsAddr = ns.Addr().String() // a restart comes back on the same port
	nc, js, err := pipeline.Connect(s.Config, "photodesk-setup")
	if err != nil {
		return err
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := pipeline.EnsureStreams(ctx, js, s.Config); err != nil {
		return fmt.Errorf("set up streams: %w", err)
	}
	return nil
}

// StopNATS shuts the NATS server down (its store stays on disk).
func (s *Stack) StopNATS() {
	if s.NATS != nil {
		s.NATS.Shutdown()
		s.NATS.WaitForShutdown()
		s.NATS = nil
	}
}

// StartMinIO (re)starts MinIO on the stack's data dir and makes sure the
// buckets and the bucket notification exist.
func (s *Stack) StartMinIO(ctx context.Context) error {
	m, err := StartMinIO(ctx, MinIOOptions{
		DataDir:   filepath.Join(s.opts.DataDir, "minio"),
		QueueDir:  filepath.Join(s.opts.DataDir, "minio-queue"),
		Addr:      s.minioAddr,
		AccessKey: s.Config.S3AccessKey,
		SecretKey: s.Config.S3SecretKey,
		NATSAddr:  s.natsAddr,
		Output:    s.opts.MinIOLog,
	})
	if err != nil {
		return err
	}
	s.MinIO = m
	s.Config.S3Endpoint = m.Endpoint
	s.minioAddr = m.Endpoint // a restart comes back on the same port
	store, err := pipeline.NewStore(s.Config)
	if err != nil {
		return err
	}
	if err := store.EnsureBuckets(ctx); err != nil {
		return err
	}
	// MinIO loads its notification targets in the background after it
	// reports ready; until then the target's ARN "does not exist".
	if err := store.EnsureNotificationWait(ctx, "", 30*time.Second); err != nil {
		return err
	}
	nc, js, err := pipeline.Connect(s.Config, "photodesk-canary")
	if err != nil {
		return err
	}
	defer nc.Close()
	_, err = store.ProveTrigger(ctx, js, "", 90*time.Second, s.opts.Log)
	return err
}

// StopMinIO stops MinIO gracefully (its data and queue dir stay on disk).
func (s *Stack) StopMinIO() error {
	err := s.MinIO.Stop()
	s.MinIO = nil
	return err
}

// Stop stops MinIO, then NATS.
func (s *Stack) Stop() {
	if s.MinIO != nil {
		if err := s.StopMinIO(); err != nil {
			s.opts.Log.Warn("minio stop", "err", err)
		}
	}
	s.StopNATS()
}
