package devstack

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestMain lets the test binary serve as a NATS child.
func TestMain(m *testing.M) {
	ServeNATSChild()
	os.Exit(m.Run())
}

// TestNATSChildCluster starts three NATS children with cluster routes on
// loopback, makes an R3 stream, SIGKILLs its leader and publishes again:
// the two left elect a new leader and keep every message.
func TestNATSChildCluster(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var clients, routes []string
	for range 3 {
		c, err := resolveAddr("127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		r, err := resolveAddr("127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		clients, routes = append(clients, c), append(routes, r)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	nodes := map[string]*NATSChild{}
	var urls []string
	for i := range 3 {
		name := fmt.Sprintf("n%d", i+1)
		var others []string
		for j, r := range routes {
			if j != i {
				others = append(others, "nats://"+r)
			}
		}
		n := &NATSChild{Self: self, Log: os.Stderr, Opts: NATSOptions{
			Addr: clients[i], StoreDir: filepath.Join(dir, name), Name: name,
			Cluster: "test", ClusterAddr: routes[i], Routes: others,
		}}
		if err := n.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Stop(syscall.SIGKILL) })
		nodes[name] = n
		urls = append(urls, n.URL())
	}
	nc, err := nats.Connect(strings.Join(urls, ","), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	var s jetstream.Stream
	for { // until the servers have elected a meta leader (a request before that may go unanswered)
		cctx, ccancel := context.WithTimeout(ctx, 2*time.Second)
		s, err = js.CreateStream(cctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}, Replicas: 3})
		ccancel()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("create an R3 stream: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if _, err := js.Publish(ctx, "t.1", []byte("one")); err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	leader := info.Cluster.Leader
	if nodes[leader] == nil || len(info.Cluster.Replicas) != 2 {
		t.Fatalf("stream cluster info: leader %q, replicas %+v", leader, info.Cluster.Replicas)
	}
	nodes[leader].Stop(syscall.SIGKILL)
	for {
		pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
		_, err = js.Publish(pctx, "t.2", []byte("two"))
		pcancel()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("publish after the leader %s was killed: %v", leader, err)
		}
	}
	info, err = s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Cluster.Leader == leader || info.State.Msgs != 2 {
		t.Fatalf("after killing %s: leader %q, %d messages", leader, info.Cluster.Leader, info.State.Msgs)
	}
}
