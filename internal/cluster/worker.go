package cluster

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/photodesk/photodesk/pipeline/devstack"
)

// Worker is one `photodesk worker` process running every role.
type Worker struct {
	Name string
	HTTP string // its ops address: /healthz, /readyz, /metrics
	args []string
	env  []string
	log  string
	cmd  *exec.Cmd
	done chan struct{}
}

func (c *Cluster) startWorkers() error {
	for i := range c.o.Workers {
		addr, err := devstack.FreeAddr()
		if err != nil {
			return err
		}
		w := &Worker{
			Name: fmt.Sprintf("worker-%d", i+1), HTTP: addr,
			args: append([]string{"worker", "--role", strings.Join(Roles(), ","), "--http", addr, "--setup=false",
				"--nats", c.Config.NATSURL, "--s3-endpoint", c.Config.S3Endpoint, "--replicas", "3",
				"--ack-wait", c.Config.AckWait.String(), "--max-deliver", strconv.Itoa(c.Config.MaxDeliver)}, c.o.WorkerArgs...),
			// Keys in the environment, not on a command line ps shows.
			env: []string{"PHOTODESK_S3_ACCESS_KEY=" + c.Config.S3AccessKey, "PHOTODESK_S3_SECRET_KEY=" + c.Config.S3SecretKey},
			log: filepath.Join(c.o.Dir, "logs", fmt.Sprintf("worker-%d.log", i+1)),
		}
		if err := w.Start(c.o.Binary); err != nil {
			return err
		}
		c.Workers = append(c.Workers, w)
	}
	if len(c.Workers) == 0 {
		return nil
	}
	c.logf("%d worker processes, each with every role (%s)", len(c.Workers), strings.Join(Roles(), ", "))
	return nil
}

// Start starts the process (again).
func (w *Worker) Start(bin string) error {
	f, err := os.OpenFile(w.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	cmd := exec.Command(bin, w.args...)
	cmd.Env = append(os.Environ(), w.env...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", w.Name, err)
	}
	w.cmd, w.done = cmd, make(chan struct{})
	go func() { _ = cmd.Wait(); close(w.done) }()
	return nil
}

// Kill SIGKILLs the process.
func (w *Worker) Kill() {
	if w.cmd == nil {
		return
	}
	_ = w.cmd.Process.Kill()
	<-w.done
	w.cmd = nil
}

// Stop asks the process to finish (SIGTERM: jobs in flight end or are
// released); SIGKILL after 30 s.
func (w *Worker) Stop() {
	if w.cmd == nil {
		return
	}
	_ = w.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-w.done:
	case <-time.After(30 * time.Second):
		_ = w.cmd.Process.Kill()
		<-w.done
	}
	w.cmd = nil
}
