package bench

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/photodesk/photodesk/pipeline/config"
)

// e2eProcs is BenchmarkEndToEnd's production shape: the test stack's NATS
// (in this process) and MinIO, one `photodesk worker` process per role and
// a `photodesk api` process, all of bin bn.
type e2eProcs struct {
	b        *testing.B
	cfg      config.Config
	fl       *fleet
	api      e2eAPI
	apiCmd   *exec.Cmd
	apiLog   string
	apiDone  chan struct{}
	exited   <-chan struct{}
	minioPID int
}

func e2eStartProcs(b *testing.B, bn bin) *e2eProcs {
	b.Helper()
	s := benchStack(b, bn)
	p := &e2eProcs{b: b, cfg: s.Config, apiDone: make(chan struct{})}
	var err error
	if p.minioPID, err = childPID(os.Getpid(), "minio"); err != nil {
		b.Fatal(err)
	}
	p.fl = startFleet(b, bn, p.cfg, pipelineRoles, 1)

	apiAddr := e2eFreeAddr(b)
	p.api = e2eAPI{base: "http://" + apiAddr, token: "bench-photographer-0123456789abcdef"}
	p.apiLog = filepath.Join(b.TempDir(), "api.log")
	logFile, err := os.Create(p.apiLog)
	if err != nil {
		b.Fatal(err)
	}
	p.apiCmd = exec.Command(bn.path, "api", "--api", apiAddr, "--api-tokens", "bench:photographer:"+p.api.token,
		// Any user: the test stack's NATS has no auth, and the API
		// refuses to start without NATS credentials.
		"--nats", strings.Replace(p.cfg.NATSURL, "nats://", "nats://bench:bench@", 1), "--s3-endpoint", p.cfg.S3Endpoint,
		"--s3-access-key", p.cfg.S3AccessKey, "--s3-secret-key", p.cfg.S3SecretKey)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PHOTODESK_") && !strings.HasPrefix(kv, "OTEL_") {
			p.apiCmd.Env = append(p.apiCmd.Env, kv)
		}
	}
	p.apiCmd.Stdout, p.apiCmd.Stderr = logFile, logFile
	if err := p.apiCmd.Start(); err != nil {
		b.Fatal(err)
	}
	go func() { _ = p.apiCmd.Wait(); logFile.Close(); close(p.apiDone) }()
	b.Cleanup(func() { _ = p.apiCmd.Process.Kill(); <-p.apiDone })

	gone := make(chan struct{})
	go func() {
		select {
		case <-p.fl.exited():
		case <-p.apiDone:
		}
		close(gone)
	}()
	p.exited = gone
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		c, err := net.DialTimeout("tcp", apiAddr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-p.exited:
			p.fail("a process exited at start-up")
		default:
		}
		if time.Now().After(deadline) {
			p.fail("photodesk api not listening on %s after a minute", apiAddr)
		}
	}
	return p
}

func (p *e2eProcs) config() config.Config     { return p.cfg }
func (p *e2eProcs) apiClient() e2eAPI         { return p.api }
func (p *e2eProcs) exitedCh() <-chan struct{} { return p.exited }

// cpu: each role's process, the API's, MinIO's and this process's (the
// NATS server, and the benchmark's own uploads and reading).
func (p *e2eProcs) cpu() (map[string]time.Duration, error) {
	c, err := p.fl.cpu()
	if err != nil {
		return nil, err
	}
	var errs [3]error
	c["api"], errs[0] = procCPU(p.apiCmd.Process.Pid)
	c["minio"], errs[1] = procCPU(p.minioPID)
	c["nats+bench"], errs[2] = procCPU(os.Getpid())
	return c, errors.Join(errs[:]...)
}

func (p *e2eProcs) peak() (int64, error) {
	most, err := vmHWM(p.apiCmd.Process.Pid)
	for _, w := range p.fl.procs {
		h, e := vmHWM(w.cmd.Process.Pid)
		most, err = max(most, h), errors.Join(err, e)
	}
	return most, err
}

func (p *e2eProcs) jobs(gallery string) string {
	var all strings.Builder
	for _, w := range p.fl.procs {
		log, _ := os.ReadFile(w.logPath)
		all.Write(log)
	}
	return e2eJobs(all.String(), gallery)
}

func (p *e2eProcs) fail(format string, args ...any) {
	p.b.Helper()
	log, _ := os.ReadFile(p.apiLog)
	p.b.Fatalf("%s\n%s--- api, last 1 KiB of its log:\n%s", fmt.Sprintf(format, args...), p.fl.logs(), log[max(0, len(log)-1024):])
}

func (p *e2eProcs) stop() {
	p.b.Helper()
	_ = p.apiCmd.Process.Signal(syscall.SIGTERM)
	if err := p.fl.stop(60 * time.Second); err != nil {
		p.fail("%v", err)
	}
	select {
	case <-p.apiDone:
	case <-time.After(60 * time.Second):
		p.fail("photodesk api did not stop within 60s of SIGTERM")
	}
}
