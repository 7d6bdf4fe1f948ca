package devstack

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/photodesk/photodesk/pipeline"
	"github.com/photodesk/photodesk/pipeline/contract"
)

// MinIOVersion is the pinned MinIO server build (the Makefile's
// MINIO_VERSION; a test keeps the two equal). MinIO's community edition
// ships as source only, so it is built once with `go install` into a cache
// folder named by this version and reused by every clone and CI run.
const MinIOVersion = "v0.0.0-20260212201848-7aac2a2c5b7c"

// MinIOBinary finds the minio server: $PHOTODESK_MINIO_BIN, else the
// per-user cache folder the Makefile installs into.
func MinIOBinary() (string, error) {
	if p := os.Getenv("PHOTODESK_MINIO_BIN"); p != "" {
		return p, nil
	}
	p := filepath.Join(MinIOCacheDir(), "minio")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("minio server not found at %s: run `make minio` (builds it once, about 5 minutes) or set PHOTODESK_MINIO_BIN", p)
	}
	return p, nil
}

// MinIOCacheDir is $XDG_CACHE_HOME/photodesk/minio-<version> (~/.cache when unset).
func MinIOCacheDir() string {
	base := os.Getenv("XDG_CACHE_HOME")
	if base == "" {
		if home, err := os.UserHomeDir(); err == nil {
			base = filepath.Join(home, ".cache")
		} else {
			base = os.TempDir()
		}
	}
	return filepath.Join(base, "photodesk", "minio-"+MinIOVersion)
}

// MinIOOptions start a MinIO child.
type MinIOOptions struct {
	Binary    string // default MinIOBinary()
	DataDir   string // objects; the notification queue lives beside it
	QueueDir  string // MinIO's persistent notification queue: events wait here while NATS is down
	Addr      string // host:port; port 0 picks a free one
	AccessKey string
	SecretKey string
	NATSAddr  string // host:port of the NATS server MinIO notifies
	// CertsDir, when set, holds public.crt and private.key: MinIO then
	// serves HTTPS only.
	CertsDir string
	Output   io.Writer

	// Drives, when set, replace DataDir: the drives of a distributed set
	// (http://host:port/path of every node's, the same list on each node).
	Drives []string
	// Wrap comes before the binary on the command line (e.g. `ip netns
	// exec <ns>`, which execs: MinIO is still our child).
	Wrap []string
	Env  []string // added to MinIO's environment
}

// MinIO is a running MinIO child process.
type MinIO struct {
	Endpoint string // host:port
	tls      bool
	cmd      *exec.Cmd
	exited   chan struct{}
	err      error
}

// StartMinIO starts MinIO with its NATS notification target configured
// (JetStream on, persistent queue dir) and waits until it is ready.
func StartMinIO(ctx context.Context, o MinIOOptions) (*MinIO, error) {
	if o.Binary == "" {
		bin, err := MinIOBinary()
		if err != nil {
			return nil, err
		}
		o.Binary = bin
	}
	addr, err := resolveAddr(o.Addr)
	if err != nil {
		return nil, err
	}
	drives := o.Drives
	if len(drives) == 0 {
		drives = []string{o.DataDir}
		if err := os.MkdirAll(o.DataDir, 0o755); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(o.QueueDir, 0o755); err != nil {
		return nil, err
	}
	id := pipeline.NotifyTargetID
	args := append(append(append([]string{}, o.Wrap...), o.Binary, "server"), drives...)
	args = append(args, "--address", addr, "--quiet")
	if o.CertsDir != "" {
		args = append(args, "--certs-dir", o.CertsDir)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+o.AccessKey,
		"MINIO_ROOT_PASSWORD="+o.SecretKey,
		"MINIO_BROWSER=off",
		"MINIO_UPDATE=off",
		// Without these two MinIO loses the events of uploads it has
		// acknowledged (the chaos run found it, chaos/minio_test.go pins
		// it): it queues events in memory before its queue dir, so a stop
		// or a crash drops them; and after a start it serves requests
		// before it has loaded the buckets' notification rules, so the
		// first uploads notify no one.
		"MINIO_API_SYNC_EVENTS=on",
		"MINIO_SYNC_BOOT=on",
		"MINIO_NOTIFY_NATS_ENABLE_"+id+"=on",
		"MINIO_NOTIFY_NATS_ADDRESS_"+id+"="+o.NATSAddr,
		"MINIO_NOTIFY_NATS_SUBJECT_"+id+"="+contract.S3EventsSubject,
		"MINIO_NOTIFY_NATS_JETSTREAM_"+id+"=on",
		"MINIO_NOTIFY_NATS_QUEUE_DIR_"+id+"="+o.QueueDir,
		"MINIO_NOTIFY_NATS_QUEUE_LIMIT_"+id+"=1000000",
	)
	cmd.Env = append(cmd.Env, o.Env...)
	if o.Output != nil {
		cmd.Stdout, cmd.Stderr = o.Output, o.Output
	}
	// Its own process group: a Ctrl-C in the terminal reaches us, and we
	// stop MinIO in order, after the workers.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start minio: %w", err)
	}
	m := &MinIO{Endpoint: addr, tls: o.CertsDir != "", cmd: cmd, exited: make(chan struct{})}
	go func() { m.err = cmd.Wait(); close(m.exited) }()
	if err := m.waitReady(ctx, 60*time.Second); err != nil {
		m.Kill()
		return nil, err
	}
	return m, nil
}

func (m *MinIO) waitReady(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	url := "http://" + m.Endpoint + "/minio/health/ready"
	client := http.DefaultClient
	if m.tls {
		// Only asks our own child whether it is up; the callers verify.
		url = "https://" + m.Endpoint + "/minio/health/ready"
		client = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				// Ours must still be running: a MinIO of an earlier
				// stack still closing on a reused port answers too,
				// while ours fails to bind it.
				select {
				case <-m.exited:
					return fmt.Errorf("minio exited at start (%v): is %s taken?", m.err, m.Endpoint)
				case <-time.After(200 * time.Millisecond):
				}
				return nil
			}
		}
		select {
		case <-m.exited:
			return fmt.Errorf("minio exited before it was ready: %v", m.err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("minio not ready at %s after %s", m.Endpoint, limit)
		}
	}
}

// Stop asks MinIO to shut down and waits (SIGKILL after 15 s).
func (m *MinIO) Stop() error {
	if m == nil {
		return nil
	}
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.exited:
	case <-time.After(15 * time.Second):
		m.Kill()
	}
	var ee *exec.ExitError
	if m.err != nil && !errors.As(m.err, &ee) {
		return m.err
	}
	return nil
}

// Kill ends MinIO at once, as a crash would.
func (m *MinIO) Kill() {
	if m == nil {
		return
	}
	_ = m.cmd.Process.Kill()
	<-m.exited
}

// FreeAddr is a free TCP address on the loopback interface.
func FreeAddr() (string, error) { return resolveAddr("127.0.0.1:0") }

// resolveAddr turns a port of 0 into a free port on the same host.
func resolveAddr(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("address %q: %w", addr, err)
	}
	if port != "0" {
		return addr, nil
	}
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return "", err
	}
	defer l.Close()
	return net.JoinHostPort(host, strconv.Itoa(l.Addr().(*net.TCPAddr).Port)), nil
}
