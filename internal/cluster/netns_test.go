package cluster

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/photodesk/photodesk/pipeline/devstack"
)

// TestMain lets the test binary serve as a NATS child.
func TestMain(m *testing.M) {
	devstack.ServeNATSChild()
	os.Exit(m.Run())
}

// TestNetwork checks the harness's network on its own: what a killed run
// left (a namespace, a link) is removed at the start; a server in a node's
// namespace is reached on its private address; a partition silences it
// and a heal brings it back; and nothing with the prefix is left after.
func TestNetwork(t *testing.T) {
	for _, args := range [][]string{{"netns", "add", prefix + "stale"}, {"link", "add", prefix + "stalebr", "type", "bridge"}} {
		if err := ip(args...); err != nil {
			t.Skipf("no network namespaces here: %v", err)
		}
	}
	n, err := newNetwork()
	if errors.Is(err, ErrNoNamespaces) || errors.Is(err, ErrBusy) {
		t.Skipf("no cluster network here: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	removed := false
	defer func() {
		if !removed {
			n.remove()
		}
	}()
	if left := leftovers(t); len(left) != 1 || left[0] != bridge+":" {
		t.Fatalf("want only the new bridge, have %v", left)
	}
	if err := n.addNode("x1", subnet+"31"); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ns := &devstack.NATSChild{Self: self, Wrap: inNamespace("x1"), Log: os.Stderr,
		Opts: devstack.NATSOptions{Addr: subnet + "31:4222", StoreDir: filepath.Join(t.TempDir(), "x1")}}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := ns.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer ns.Stop(syscall.SIGKILL)
	reach := func() error {
		c, err := net.DialTimeout("tcp", ns.Addr(), 500*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err
	}
	if err := reach(); err != nil {
		t.Fatalf("NATS in its namespace: %v", err)
	}
	if err := setLink("x1", false); err != nil {
		t.Fatal(err)
	}
	if err := reach(); err == nil {
		t.Fatal("a partitioned node still answers")
	}
	if err := setLink("x1", true); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); reach() != nil; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not reached after the heal: %v", reach())
		}
	}
	ns.Stop(syscall.SIGTERM)
	n.remove()
	removed = true
	if left := leftovers(t); len(left) > 0 {
		t.Fatalf("left after remove: %v", left)
	}
}

// leftovers lists the namespaces and links with the harness's prefix.
func leftovers(t *testing.T) []string {
	var out []string
	for _, args := range [][]string{{"netns", "list"}, {"-o", "link", "show"}} {
		b, err := exec.Command("ip", args...).Output()
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			for _, f := range strings.Fields(line) {
				if strings.HasPrefix(f, prefix) {
					out = append(out, f)
				}
			}
		}
	}
	return out
}
