package devstack

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// natsChildEnv makes an executable that calls ServeNATSChild a NATS
// server (its value: the NATSOptions as JSON). Embedded nats-server then
// lives in a process of its own, so a driver can kill it, stop it and
// start it again on the same store, as an operator would.
const natsChildEnv = "PHOTODESK_NATS_CHILD"

// ServeNATSChild runs this process as a NATS server when it was started
// as one by a NATSChild, and then never returns. Call it first thing in
// main or TestMain.
func ServeNATSChild() {
	spec, ok := os.LookupEnv(natsChildEnv)
	if !ok {
		return
	}
	os.Exit(serveNATS(spec))
}

func serveNATS(spec string) int {
	var o NATSOptions
	if err := json.Unmarshal([]byte(spec), &o); err != nil {
		fmt.Fprintln(os.Stderr, "nats child:", err)
		return 1
	}
	ns, err := StartNATS(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "nats child:", err)
		return 1
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	fmt.Printf("READY %s\n", ns.Addr())
	<-sig
	ns.Shutdown()
	ns.WaitForShutdown()
	return 0
}

// NATSChild is a NATS server in a child process: Self started with
// natsChildEnv. Its address is fixed after the first start, so every
// client reconnects to the restarted server.
type NATSChild struct {
	Self string      // an executable that calls ServeNATSChild first
	Opts NATSOptions // Addr's port 0 becomes the port of the first start
	// Wrap comes before Self on the command line: e.g. `ip netns exec
	// <ns>` runs the server in a network namespace (it execs, so the
	// server is still our child and signals reach it).
	Wrap []string
	Log  io.Writer // the server's stderr

	cmd    *exec.Cmd
	exited chan struct{}
}

// Addr is host:port of the client listener.
func (n *NATSChild) Addr() string { return n.Opts.Addr }

// URL is the client URL.
func (n *NATSChild) URL() string { return "nats://" + n.Opts.Addr }

// Running says whether the server process is up.
func (n *NATSChild) Running() bool { return n.cmd != nil }

// Start starts the server and waits until it accepts connections. A port
// taken in the moment between two lives is retried for a while.
func (n *NATSChild) Start(ctx context.Context) error {
	var err error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		if err = n.startOnce(ctx); err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return err
		}
		time.Sleep(300 * time.Millisecond)
	}
	return err
}

func (n *NATSChild) startOnce(ctx context.Context) error {
	spec, err := json.Marshal(n.Opts)
	if err != nil {
		return err
	}
	argv := append(append([]string{}, n.Wrap...), n.Self)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), natsChildEnv+"="+string(spec))
	cmd.Stderr = n.Log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start NATS child: %w", err)
	}
	exited := make(chan struct{})
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "READY "); ok {
				ready <- a
			}
		}
	}()
	go func() { _ = cmd.Wait(); close(exited) }()
	select {
	case a := <-ready:
		n.Opts.Addr, n.cmd, n.exited = a, cmd, exited
		return nil
	case <-exited:
		return fmt.Errorf("NATS child exited before it was ready (%v)", cmd.ProcessState)
	case <-time.After(20 * time.Second):
	case <-ctx.Done():
	}
	_ = cmd.Process.Kill()
	<-exited
	return fmt.Errorf("NATS child not ready on %s", n.Opts.Addr)
}

// Stop ends the server: SIGTERM lets it shut down cleanly (the store is
// flushed), SIGKILL is a crash.
func (n *NATSChild) Stop(sig syscall.Signal) {
	if n.cmd == nil {
		return
	}
	_ = n.cmd.Process.Signal(sig)
	select {
	case <-n.exited:
	case <-time.After(20 * time.Second):
		_ = n.cmd.Process.Kill()
		<-n.exited
	}
	n.cmd = nil
}
