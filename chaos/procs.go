package chaos

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/photodesk/photodesk/pipeline/devstack"
)

// minioProc is the MinIO child, restarted on the same data dir, queue dir
// and address.
type minioProc struct {
	opts devstack.MinIOOptions
	m    *devstack.MinIO
}

// start starts MinIO and waits until it is ready; as for NATS, a port
// taken in the moment between two lives is retried for a while.
func (p *minioProc) start(ctx context.Context) error {
	var err error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline) && ctx.Err() == nil; time.Sleep(300 * time.Millisecond) {
		var m *devstack.MinIO
		if m, err = devstack.StartMinIO(ctx, p.opts); err == nil {
			p.m, p.opts.Addr = m, m.Endpoint
			return nil
		}
	}
	return err
}

func (p *minioProc) stop(hard bool) error {
	if p.m == nil {
		return nil
	}
	defer func() { p.m = nil }()
	if hard {
		p.m.Kill()
		return nil
	}
	return p.m.Stop()
}

// queued counts the events waiting in MinIO's notification queue dir.
func (p *minioProc) queued() int { return countFiles(p.opts.QueueDir) }

// countFiles counts the regular files below dir.
func countFiles(dir string) int {
	n := 0
	_ = filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			n++
		}
		return nil
	})
	return n
}

// worker is one slot of `photodesk worker --role R`: a supervisor starts
// the process again whenever it ends, as Kubernetes or systemd would, until
// the run is over.
type worker struct {
	role, name string
	args       []string
	logPath    string
	httpAddr   string // its ops port: /metrics says what it is working on

	mu      sync.Mutex
	cmd     *exec.Cmd
	killing bool // the driver killed it: its end is expected
	starts  int
	exits   []string // ends the driver did not cause, with the reason
	done    chan struct{}
}

// supervise runs the worker until ctx ends; restartDelay says how long it
// stays down after the driver killed it.
func (w *worker) supervise(ctx context.Context, bin string, restartDelay func() time.Duration, logf func(string, ...any)) {
	defer close(w.done)
	for ctx.Err() == nil {
		f, err := os.OpenFile(w.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			logf("worker %s: log: %v", w.name, err)
			return
		}
		cmd := exec.Command(bin, w.args...)
		cmd.Stdout, cmd.Stderr = f, f
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		w.mu.Lock()
		w.starts++
		fmt.Fprintf(f, "=== chaos: start #%d of %s at %s\n", w.starts, w.name, time.Now().Format(time.RFC3339Nano))
		err = cmd.Start()
		if err == nil {
			w.cmd = cmd
		}
		w.mu.Unlock()
		if err != nil {
			f.Close()
			logf("worker %s: start: %v", w.name, err)
			sleepCtx(ctx, time.Second)
			continue
		}
		werr := cmd.Wait()
		w.mu.Lock()
		killed := w.killing
		w.cmd, w.killing = nil, false
		if !killed && ctx.Err() == nil {
			w.exits = append(w.exits, fmt.Sprintf("%s exited by itself (%v): %s", w.name, werr, lastLine(w.logPath)))
		}
		w.mu.Unlock()
		fmt.Fprintf(f, "=== chaos: %s ended at %s: %v (killed by the driver: %v)\n", w.name, time.Now().Format(time.RFC3339Nano), werr, killed)
		f.Close()
		if ctx.Err() != nil {
			return
		}
		if killed {
			sleepCtx(ctx, restartDelay())
		} else {
			sleepCtx(ctx, time.Second)
		}
	}
}

// kill SIGKILLs the process if it runs; false if it was down.
func (w *worker) kill() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cmd == nil || w.killing {
		return false
	}
	w.killing = true
	_ = w.cmd.Process.Kill()
	return true
}

// inFlight is how many jobs the process is running now, from its
// metrics; 0 when it does not answer at once.
func (w *worker) inFlight() int {
	client := http.Client{Timeout: 500 * time.Millisecond}
	resp, err := client.Get("http://" + w.httpAddr + "/metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	n := 0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "photodesk_jobs_in_flight{") {
			continue
		}
		if v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64); err == nil {
			n += int(v)
		}
	}
	return n
}

// stop asks the process to shut down (SIGTERM: in-flight jobs finish or
// are released) once the supervisor has been told to stop, and again for
// a process it started in the meantime; SIGKILL after 40 s.
func (w *worker) stop() {
	deadline := time.Now().Add(40 * time.Second)
	for {
		w.mu.Lock()
		if w.cmd != nil {
			sig := syscall.SIGTERM
			if time.Now().After(deadline) {
				sig = syscall.SIGKILL
			}
			_ = w.cmd.Process.Signal(sig)
		}
		w.mu.Unlock()
		select {
		case <-w.done:
			return
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// lastLine is the last non-empty line of a log file that is not ours.
func lastLine(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" && !strings.HasPrefix(l, "=== chaos:") {
			return l
		}
	}
	return ""
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
