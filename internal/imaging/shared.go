package imaging

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/photodesk/photodesk/pipeline"
)

// Decodes lets the image roles of one process share the decode of each
// original. Both roles take every photo.uploaded; when one process runs
// both (photodesk dev, or `worker --role renditions,watermark`), the role
// that comes second for a photo takes the first one's decode instead of
// downloading and decoding the original again: a 24 MP JPEG's download,
// half-scale decode and resize to 2048 px is about 0.2 CPU-s, a fifth of
// what the photo costs in all.
//
// A decode waits in memory (up to 12 MiB at 2048 px) for the other role,
// at most maxShared of them and for sharedTTL: with several processes,
// the other role's event may go to another process, and then it is only
// dropped later.
type Decodes struct {
	mu      sync.Mutex
	size    int  // long edge of a shared decode
	full    bool // a role renders larger than size: keep the original's bytes
	users   int  // roles that take each decode
	entries map[string]*shared
	// decoded counts decodes made here, taken the decodes another role used.
	decoded, taken int
	ttl            time.Duration // sharedTTL; tests shorten it
}

// Stats says how many decodes were made to share, how many of them
// another role took, and how many wait for a role now.
func (s *Decodes) Stats() (decoded, taken, waiting int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.decoded, s.taken, len(s.entries)
}

const (
	maxShared = 4
	sharedTTL = time.Minute
)

type shared struct {
	ready   chan struct{} // closed when src or err is set
	src     *Source       // with the decode in base; nil once dropped
	err     error
	left    int // roles yet to take it
	dropped bool
	timer   *time.Timer
}

// NewDecodes is for a process whose image roles share decodes; each role
// joins it (Join) before its first job.
func NewDecodes() *Decodes { return &Decodes{entries: map[string]*shared{}, ttl: sharedTTL} }

// Join registers a role's presets: the shared decode is as large as the
// largest preset up to a kept decode's edge.
func (s *Decodes) Join(presets []Preset) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users++
	for _, p := range presets {
		size := p.Size
		if p.Crop() {
			// Its decode depends on the photo's shape: this much at least
			// (a crop that needs more is made from the shared decode).
			w, h := p.Aspect.Box(p.Size)
			size = max(w, h)
		}
		switch {
		case size <= 0 || size > keepDecodeMaxEdge:
			s.full = true
		default:
			s.size = max(s.size, size)
		}
	}
}

// errNotShared: decode on your own (no room, or only one role joined).
var errNotShared = errors.New("not shared")

// Take returns the photo's Source, with the decode shared with the other
// role of this process where it can, and otherwise from open alone. key
// names the original's version (bucket/key@etag).
func (s *Decodes) Take(ctx context.Context, key string, open func() (*Source, error)) (*Source, error) {
	src, err := s.take(ctx, key, open)
	if errors.Is(err, errNotShared) {
		return open()
	}
	return src, err
}

// take returns the photo's Source with the shared decode kept in it, for
// the caller alone (RenderSet closes it). The first role to ask opens and
// decodes it, and gets open's errors as they are; the others wait for
// that, and get the photo's own faults (bad input, superseded, too large)
// or, for anything else, errNotShared: open it yourself.
func (s *Decodes) take(ctx context.Context, key string, open func() (*Source, error)) (*Source, error) {
	s.mu.Lock()
	if s.users < 2 || s.size == 0 {
		s.mu.Unlock()
		return nil, errNotShared
	}
	e := s.entries[key]
	first := e == nil
	switch {
	case first && len(s.entries) >= maxShared:
		s.mu.Unlock()
		return nil, errNotShared
	case first:
		s.decoded++
		e = &shared{ready: make(chan struct{}), left: s.users - 1}
		s.entries[key] = e
		e.timer = time.AfterFunc(s.ttl, func() { s.drop(key, e) })
	default:
		s.taken++
		e.left--
		if e.left == 0 {
			delete(s.entries, key) // the last role: nobody else will look
			defer s.drop(key, e)   // after this caller's view is made
		}
	}
	s.mu.Unlock()

	if first {
		e.src, e.err = s.decode(ctx, open)
		close(e.ready)
		if e.err != nil {
			s.drop(key, e)
			return nil, e.err
		}
	} else {
		select {
		case <-e.ready:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if e.err != nil {
			if errors.Is(e.err, ErrBadInput) || errors.Is(e.err, pipeline.ErrSuperseded) || errors.Is(e.err, pipeline.ErrTooLarge) {
				return nil, e.err
			}
			return nil, errNotShared
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e.src == nil {
		return nil, errNotShared // dropped at its TTL while this role waited
	}
	return e.src.view()
}

// decode opens the original and keeps its decode at the shared size.
func (s *Decodes) decode(ctx context.Context, open func() (*Source, error)) (*Source, error) {
	src, err := open()
	if err != nil {
		return nil, err
	}
	_, span := StepSpan(ctx, "image.render", attribute.String("photodesk.preset", "shared"))
	_, err = src.Render(ctx, Preset{Name: "shared", Size: s.size}, nil, Options{KeepDecode: true})
	pipeline.EndSpan(span, err)
	if err != nil {
		src.Close()
		return nil, err
	}
	if src.base != nil && !s.full {
		src.data = nil // every preset comes from the decode
	}
	return src, nil
}

// drop forgets a shared decode once every role has taken it, or at its TTL.
func (s *Decodes) drop(key string, e *shared) {
	s.mu.Lock()
	if s.entries[key] == e {
		delete(s.entries, key)
	}
	again := e.dropped
	e.dropped = true
	s.mu.Unlock()
	if again {
		return
	}
	e.timer.Stop()
	release := func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if e.src != nil {
			e.src.Close()
			e.src = nil
		}
	}
	select {
	case <-e.ready:
		release()
	default:
		// Still decoding (a role gave up waiting): released when done,
		// without holding up the role that gave up.
		go func() { <-e.ready; release() }()
	}
}

// view is a Source of its own over the same original and decode.
func (s *Source) view() (*Source, error) {
	v := *s
	v.base = nil
	if s.base != nil {
		b, err := s.base.Copy()
		if err != nil {
			return nil, fmt.Errorf("copy shared decode: %s", vipsErr(err))
		}
		v.base = b
	}
	return &v, nil
}
