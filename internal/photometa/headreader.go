package photometa

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
)

// defaultChunk is the smallest fetch: the head of a JPEG, EXIF and frame
// header included, fits in it.
const defaultChunk = 64 << 10

// FetchFunc returns length bytes of the object at off (a ranged GET).
type FetchFunc func(off, length int64) ([]byte, error)

// HeadReader is an io.ReaderAt over a remote object that fetches only the
// ranges asked for, in chunks of at least the chunk size, and keeps what it
// fetched: reading the head of a 20 MB JPEG costs one ranged GET of 64 KiB,
// and a long EXIF segment one more. It is safe for concurrent use.
type HeadReader struct {
	fetch FetchFunc
	size  int64
	chunk int64

	mu      sync.Mutex
	spans   []span // fetched ranges, sorted, neither overlapping nor touching
	fetched int64
}

// span is a fetched range of the object.
type span struct {
	off int64
	b   []byte
}

func (s span) end() int64 { return s.off + int64(len(s.b)) }

// NewHeadReader reads an object of size bytes through fetch, in chunks of at
// least chunk bytes (64 KiB when chunk is 0 or less).
func NewHeadReader(fetch FetchFunc, size int64, chunk int) *HeadReader {
	if chunk <= 0 {
		chunk = defaultChunk
	}
	return &HeadReader{fetch: fetch, size: max(size, 0), chunk: int64(chunk)}
}

// Fetched reports the total number of bytes fetched so far.
func (h *HeadReader) Fetched() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.fetched
}

// ReadAt reads len(p) bytes at off as io.ReaderAt does: fewer only at the end
// of the object, with io.EOF.
func (h *HeadReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("photometa: HeadReader.ReadAt: negative offset")
	}
	if off >= h.size {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	end := min(off+int64(len(p)), h.size)
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.fill(off, end); err != nil {
		return 0, err
	}
	n := h.copy(p[:end-off], off)
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// fill fetches the parts of [off, end) not yet held. Each fetch starts at a
// gap and takes at least a chunk, but stops where held bytes begin.
func (h *HeadReader) fill(off, end int64) error {
	for off < end {
		i := sort.Search(len(h.spans), func(i int) bool { return h.spans[i].end() > off })
		if i < len(h.spans) && h.spans[i].off <= off {
			off = h.spans[i].end() // held
			continue
		}
		stop := h.size
		if i < len(h.spans) {
			stop = h.spans[i].off
		}
		n := min(max(end-off, h.chunk), stop-off)
		b, err := h.fetch(off, n)
		if err != nil {
			return fmt.Errorf("photometa: fetching %d bytes at offset %d: %w", n, off, err)
		}
		h.fetched += int64(len(b))
		if int64(len(b)) < n {
			return fmt.Errorf("photometa: fetching %d bytes at offset %d: got %d: %w", n, off, len(b), io.ErrUnexpectedEOF)
		}
		h.insert(i, span{off: off, b: b[:n:n]})
		off += n
	}
	return nil
}

// insert puts s at index i and joins it with the spans it touches.
func (h *HeadReader) insert(i int, s span) {
	if i < len(h.spans) && h.spans[i].off == s.end() {
		s.b = append(s.b, h.spans[i].b...)
		h.spans = append(h.spans[:i], h.spans[i+1:]...)
	}
	if i > 0 && h.spans[i-1].end() == s.off {
		h.spans[i-1].b = append(h.spans[i-1].b, s.b...)
		return
	}
	h.spans = append(h.spans, span{})
	copy(h.spans[i+1:], h.spans[i:])
	h.spans[i] = s
}

// copy copies held bytes at off into p, which fill made sure are held.
func (h *HeadReader) copy(p []byte, off int64) int {
	n := 0
	i := sort.Search(len(h.spans), func(i int) bool { return h.spans[i].end() > off })
	for ; n < len(p) && i < len(h.spans); i++ {
		s := h.spans[i]
		if s.off > off+int64(n) {
			break
		}
		n += copy(p[n:], s.b[off+int64(n)-s.off:])
	}
	return n
}
