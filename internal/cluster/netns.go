package cluster

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Every network namespace, veth and bridge the harness makes is named with
// this prefix, so a run can remove what a killed run left behind without
// touching anything else.
const prefix = "pdk-"

// The private network: the bridge in the root namespace has .1, every
// node a fixed address of its own.
const (
	subnet   = "10.99.0."
	bridge   = prefix + "br0"
	bridgeIP = subnet + "1"
	lockPath = "/run/photodesk-cluster.lock"
	lockWait = 5 * time.Minute
)

// ErrNoNamespaces says the machine cannot give the nodes network
// namespaces (not root, or `ip netns add` refused); the cluster tests
// skip with it.
var ErrNoNamespaces = errors.New("cannot make network namespaces")

// ErrBusy says another cluster of this harness has run on the machine for
// longer than lockWait: the names and addresses are fixed, so there is
// one at a time.
var ErrBusy = errors.New("another photodesk cluster is running on this machine")

// network is the bridge and the nodes' namespaces. Why namespaces: MinIO
// sees /.dockerenv, takes itself for a container and will not form a
// distributed set from loopback endpoints; a node in a namespace of its
// own, with a private address, is a machine to it. They also give real
// partitions: a node's link taken down.
type network struct {
	lock  *os.File
	nodes []string // namespace names, to remove
}

// ip runs `ip args…`.
func ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// newNetwork takes the machine's cluster lock, removes what an earlier run
// left, and makes the bridge with its address.
func newNetwork() (*network, error) {
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("%w: not root", ErrNoNamespaces)
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return nil, fmt.Errorf("%w: no ip command (iproute2)", ErrNoNamespaces)
	}
	f, err := os.OpenFile(lockPath, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoNamespaces, err)
	}
	// Tests of several packages run at once: wait a while for the other
	// cluster rather than skip.
	for deadline := time.Now().Add(lockWait); ; time.Sleep(200 * time.Millisecond) {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("%w (%s is locked after %s)", ErrBusy, lockPath, lockWait)
		}
	}
	n := &network{lock: f}
	removeLeftovers()
	if err := ip("link", "add", bridge, "type", "bridge"); err != nil {
		n.remove()
		return nil, fmt.Errorf("%w: %v", ErrNoNamespaces, err)
	}
	for _, args := range [][]string{
		{"addr", "add", bridgeIP + "/24", "dev", bridge},
		{"link", "set", bridge, "up"},
	} {
		if err := ip(args...); err != nil {
			n.remove()
			return nil, err
		}
	}
	return n, nil
}

// addNode makes namespace pdk-<name> with a veth pair: eth0 inside, with
// address addr, pdk-<name> in the root namespace, on the bridge.
func (n *network) addNode(name, addr string) error {
	ns := prefix + name
	if err := ip("netns", "add", ns); err != nil {
		return fmt.Errorf("%w: %v", ErrNoNamespaces, err)
	}
	n.nodes = append(n.nodes, ns)
	for _, args := range [][]string{
		{"link", "add", ns, "type", "veth", "peer", "name", "eth0", "netns", ns},
		{"link", "set", ns, "master", bridge, "up"},
		{"-n", ns, "addr", "add", addr + "/24", "dev", "eth0"},
		{"-n", ns, "link", "set", "eth0", "up"},
		{"-n", ns, "link", "set", "lo", "up"},
	} {
		if err := ip(args...); err != nil {
			return err
		}
	}
	return nil
}

// inNamespace is the command prefix that runs a program in node name's
// namespace (`ip netns exec` execs it: the program stays our child).
func inNamespace(name string) []string { return []string{"ip", "netns", "exec", prefix + name} }

// setLink takes node name's link down (a partition: it keeps running, its
// peers and clients see silence) or up again.
func setLink(name string, up bool) error {
	state := "down"
	if up {
		state = "up"
	}
	return ip("link", "set", prefix+name, state)
}

// remove deletes every namespace (its veth goes with it) and the bridge,
// then lets go of the lock.
func (n *network) remove() {
	for _, ns := range n.nodes {
		_ = ip("netns", "del", ns)
	}
	_ = ip("link", "del", bridge)
	if n.lock != nil {
		_ = syscall.Flock(int(n.lock.Fd()), syscall.LOCK_UN)
		n.lock.Close()
	}
}

// removeLeftovers removes the namespaces and links of a run that was
// killed before it could: their processes (ours, from that run) first,
// since a namespace lives on while a process is in it.
func removeLeftovers() {
	out, _ := exec.Command("ip", "netns", "list").Output()
	for _, line := range strings.Split(string(out), "\n") {
		ns, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		if !strings.HasPrefix(ns, prefix) {
			continue
		}
		pids, _ := exec.Command("ip", "netns", "pids", ns).Output()
		for _, p := range strings.Fields(string(pids)) {
			if pid, err := strconv.Atoi(p); err == nil {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		_ = ip("netns", "del", ns)
	}
	out, _ = exec.Command("ip", "-o", "link", "show").Output()
	for _, line := range strings.Split(string(out), "\n") {
		// "7: pdk-n1@if2: <…" — the name, and the peer after @.
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
		if strings.HasPrefix(name, prefix) {
			_ = ip("link", "del", name)
		}
	}
}
