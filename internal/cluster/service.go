package cluster

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// service stands in for what Kubernetes gives a set of pods, one address
// (a Service, kube-proxy): it listens on the bridge and passes each
// connection to the next backend that answers, so a client that dials it
// again after a node died reaches a live one. Clients given the service
// address are the harness's photodesk processes for S3, and MinIO's NATS
// notification target, as in deploy/k8s.
type service struct {
	ln       net.Listener
	backends []string
	next     atomic.Uint64
	mu       sync.Mutex
	conns    map[net.Conn]bool
	wg       sync.WaitGroup
}

func newService(addr string, backends []string) (*service, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &service{ln: ln, backends: backends, conns: map[net.Conn]bool{}}
	s.wg.Add(1)
	go s.serve()
	return s, nil
}

func (s *service) Addr() string { return s.ln.Addr().String() }

func (s *service) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() { defer s.wg.Done(); s.pass(c) }()
	}
}

// pass dials the backends round robin from the next one, skipping those
// that refuse or stay silent for a second (killed, or partitioned away).
func (s *service) pass(c net.Conn) {
	defer c.Close()
	start := s.next.Add(1)
	var b net.Conn
	for i := range len(s.backends) {
		d, err := net.DialTimeout("tcp", s.backends[(int(start)+i)%len(s.backends)], time.Second)
		if err == nil {
			b = d
			break
		}
	}
	if b == nil {
		return
	}
	defer b.Close()
	if !s.track(c, b) {
		return
	}
	defer s.untrack(c, b)
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		done <- struct{}{}
	}
	go cp(b, c)
	go cp(c, b)
	// Neither S3 nor NATS half-closes: when one side ends, end both.
	<-done
	c.Close()
	b.Close()
	<-done
}

func (s *service) track(cs ...net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conns == nil {
		return false
	}
	for _, c := range cs {
		s.conns[c] = true
	}
	return true
}

func (s *service) untrack(cs ...net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range cs {
		delete(s.conns, c)
	}
}

// close stops listening and ends every connection passing through.
func (s *service) close() {
	_ = s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		_ = c.Close()
	}
	s.conns = nil
	s.mu.Unlock()
	s.wg.Wait()
}
