package photometa

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// countingFetch serves ranges of data and records each call.
type countingFetch struct {
	data  []byte
	mu    sync.Mutex
	calls [][2]int64
	err   error
}

func (f *countingFetch) fetch(off, n int64) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, [2]int64{off, n})
	if f.err != nil {
		return nil, f.err
	}
	if off < 0 || off+n > int64(len(f.data)) {
		return nil, fmt.Errorf("range %d+%d outside %d bytes", off, n, len(f.data))
	}
	return bytes.Clone(f.data[off : off+n]), nil
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i * 7 / 3)
	}
	return b
}

func readAt(t *testing.T, r io.ReaderAt, off int64, n int) ([]byte, error) {
	t.Helper()
	p := make([]byte, n)
	m, err := r.ReadAt(p, off)
	return p[:m], err
}

func TestHeadReaderChunks(t *testing.T) {
	data := pattern(1 << 20)
	f := &countingFetch{data: data}
	h := NewHeadReader(f.fetch, int64(len(data)), 0)

	// A small read fetches a whole 64 KiB chunk...
	got, err := readAt(t, h, 0, 16)
	if err != nil || !bytes.Equal(got, data[:16]) {
		t.Fatalf("ReadAt = %v, %v", got, err)
	}
	if len(f.calls) != 1 || f.calls[0] != [2]int64{0, 64 << 10} || h.Fetched() != 64<<10 {
		t.Fatalf("calls %v, fetched %d", f.calls, h.Fetched())
	}
	// ...and later reads within it fetch nothing.
	for _, r := range [][2]int{{0, 16}, {100, 4000}, {65535, 1}, {0, 64 << 10}} {
		got, err := readAt(t, h, int64(r[0]), r[1])
		if err != nil || !bytes.Equal(got, data[r[0]:r[0]+r[1]]) {
			t.Fatalf("ReadAt(%d, %d): %v", r[0], r[1], err)
		}
	}
	if len(f.calls) != 1 {
		t.Fatalf("cached reads fetched: %v", f.calls)
	}
	// A read across the end of what is held fetches only the gap, a chunk long.
	got, err = readAt(t, h, 60000, 10000)
	if err != nil || !bytes.Equal(got, data[60000:70000]) {
		t.Fatalf("ReadAt across: %v", err)
	}
	if len(f.calls) != 2 || f.calls[1] != [2]int64{64 << 10, 64 << 10} {
		t.Fatalf("calls %v", f.calls)
	}
	// A read larger than a chunk is one fetch of its size.
	got, err = readAt(t, h, 500000, 200000)
	if err != nil || !bytes.Equal(got, data[500000:700000]) {
		t.Fatalf("big ReadAt: %v", err)
	}
	if len(f.calls) != 3 || f.calls[2] != [2]int64{500000, 200000} {
		t.Fatalf("calls %v", f.calls)
	}
	// A chunk stops where held bytes begin, and a read spanning held and
	// missing parts fetches only what is missing.
	got, err = readAt(t, h, 400000, 400000)
	if err != nil || !bytes.Equal(got, data[400000:800000]) {
		t.Fatalf("spanning ReadAt: %v", err)
	}
	if want := [][2]int64{{400000, 100000}, {700000, 100000}}; len(f.calls) != 5 || f.calls[3] != want[0] || f.calls[4] != want[1] {
		t.Fatalf("calls %v", f.calls)
	}
	if h.Fetched() != 2*(64<<10)+400000 {
		t.Errorf("Fetched = %d", h.Fetched())
	}
	if got, _ := readAt(t, h, 0, 800000); !bytes.Equal(got, data[:800000]) || len(f.calls) != 6 {
		t.Errorf("whole read: calls %v", f.calls) // one fetch for the gap 131072..400000
	}
}

func TestHeadReaderChunkSize(t *testing.T) {
	data := pattern(10000)
	f := &countingFetch{data: data}
	h := NewHeadReader(f.fetch, int64(len(data)), 1000)
	readAt(t, h, 10, 10)
	readAt(t, h, 2500, 600)
	if want := [][2]int64{{10, 1000}, {2500, 1000}}; len(f.calls) != 2 || f.calls[0] != want[0] || f.calls[1] != want[1] {
		t.Errorf("calls %v, want %v", f.calls, want)
	}
	// The last chunk is cut at the object's end.
	readAt(t, h, 9500, 10)
	if c := f.calls[len(f.calls)-1]; c != [2]int64{9500, 500} {
		t.Errorf("last call %v", c)
	}
}

func TestHeadReaderEOF(t *testing.T) {
	data := pattern(1000)
	f := &countingFetch{data: data}
	h := NewHeadReader(f.fetch, int64(len(data)), 0)
	// A read past the end returns what there is, with io.EOF, as io.ReaderAt.
	got, err := readAt(t, h, 990, 20)
	if err != io.EOF || !bytes.Equal(got, data[990:]) {
		t.Errorf("ReadAt(990, 20) = %d bytes, %v; want 10, io.EOF", len(got), err)
	}
	if len(f.calls) != 1 || f.calls[0] != [2]int64{990, 10} {
		t.Errorf("calls %v: a fetch past the end", f.calls)
	}
	for _, off := range []int64{1000, 5000} {
		if n, err := h.ReadAt(make([]byte, 4), off); n != 0 || err != io.EOF {
			t.Errorf("ReadAt at %d = %d, %v; want 0, io.EOF", off, n, err)
		}
	}
	if got, err := readAt(t, h, 996, 4); err != nil || !bytes.Equal(got, data[996:]) {
		t.Errorf("read ending exactly at the end: %v", err)
	}
	if _, err := h.ReadAt(make([]byte, 1), -1); err == nil {
		t.Error("negative offset accepted")
	}
	if n, err := h.ReadAt(nil, 1000); n != 0 || err != nil {
		t.Errorf("empty read at the end = %d, %v", n, err)
	}
	// HeadReader satisfies io.SectionReader's expectations.
	all, err := io.ReadAll(io.NewSectionReader(h, 0, 1000))
	if err != nil || !bytes.Equal(all, data) {
		t.Errorf("SectionReader: %v", err)
	}
}

func TestHeadReaderErrors(t *testing.T) {
	boom := errors.New("object replaced")
	f := &countingFetch{data: pattern(100), err: boom}
	h := NewHeadReader(f.fetch, 100, 0)
	if _, err := h.ReadAt(make([]byte, 4), 0); !errors.Is(err, boom) {
		t.Errorf("err = %v, want it to wrap the fetch error", err)
	}
	// Extract passes I/O errors through, not as bad input: they are transient.
	_, err := Extract(h, 100, shanghai)
	if !errors.Is(err, boom) || errors.Is(err, ErrBadInput) {
		t.Errorf("Extract err = %v", err)
	}
	// A fetch that returns fewer bytes than asked is an error too.
	short := NewHeadReader(func(off, n int64) ([]byte, error) { return make([]byte, n/2), nil }, 100, 0)
	if _, err := short.ReadAt(make([]byte, 4), 0); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("short fetch: %v", err)
	}
}

func TestHeadReaderConcurrent(t *testing.T) {
	data := pattern(300000)
	f := &countingFetch{data: data}
	h := NewHeadReader(f.fetch, int64(len(data)), 4096)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				off := int64((g*7919 + i*104729) % (len(data) - 100))
				p := make([]byte, 100)
				if _, err := h.ReadAt(p, off); err != nil || !bytes.Equal(p, data[off:off+100]) {
					t.Errorf("ReadAt(%d): %v", off, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if h.Fetched() > int64(len(data)) {
		t.Errorf("fetched %d of %d bytes: something was fetched twice", h.Fetched(), len(data))
	}
}

// The exif role reads a photo through HeadReader: the head of a JPEG of
// several MB costs one 64 KiB fetch.
func TestExtractReadsLittle(t *testing.T) {
	t.Run("corpus", func(t *testing.T) {
		data, err := os.ReadFile(filepath.Join(corpusDir, "HMD_Nokia_8.3_5G.jpg"))
		if err != nil {
			t.Skipf("%s not present: %v", corpusDir, err)
		}
		f := &countingFetch{data: data}
		h := NewHeadReader(f.fetch, int64(len(data)), 0)
		x, err := Extract(h, int64(len(data)), shanghai)
		if err != nil || x.CapturedAt == nil || x.Width != 4608 {
			t.Fatalf("Extract = %+v, %v", x, err)
		}
		if h.Fetched() > 128<<10 {
			t.Errorf("fetched %d bytes of a %d-byte file, want <= 128 KiB", h.Fetched(), len(data))
		}
		t.Logf("fetched %d bytes in %d calls of a %d-byte file", h.Fetched(), len(f.calls), len(data))
	})
	t.Run("not past the frame header", func(t *testing.T) {
		tiff, _ := basicEXIF().build()
		b := jpegFile(t, 64, 64, xmpAPP1(), exifAPP1(tiff))
		sof := bytes.Index(b, []byte{0xFF, 0xC0})
		r := &recordingReader{r: bytes.NewReader(b)}
		if _, err := Extract(r, int64(len(b)), shanghai); err != nil {
			t.Fatal(err)
		}
		// SOF0: marker, length, precision, height, width.
		if want := int64(sof + 2 + 2 + 5); r.max > want {
			t.Errorf("read up to offset %d; the frame header ends at %d of %d", r.max, want, len(b))
		}
	})
	t.Run("long EXIF segment", func(t *testing.T) {
		// A 63 KB EXIF segment (a big makernote) after a 50 KB ICC profile,
		// then 6 MB of image data: two fetches at most.
		spec := basicEXIF()
		spec.exif = append(spec.exif, field{tag: 0x927C, typ: typeUndefined, data: make([]byte, 63000)})
		tiff, _ := spec.build()
		b := jpegFile(t, 64, 64, segment(0xE2, []byte("ICC_PROFILE\x00\x01\x01"), make([]byte, 50000)), exifAPP1(tiff))
		b = append(b, make([]byte, 6<<20)...)
		f := &countingFetch{data: b}
		h := NewHeadReader(f.fetch, int64(len(b)), 0)
		x, err := Extract(h, int64(len(b)), shanghai)
		if err != nil || x.CapturedAt == nil || x.Width != 64 {
			t.Fatalf("Extract = %+v, %v", x, err)
		}
		if len(f.calls) > 2 || h.Fetched() > 128<<10 {
			t.Errorf("fetched %d bytes in %v", h.Fetched(), f.calls)
		}
	})
}

// recordingReader notes the furthest byte read.
type recordingReader struct {
	r   io.ReaderAt
	max int64
}

func (r *recordingReader) ReadAt(p []byte, off int64) (int, error) {
	r.max = max(r.max, off+int64(len(p)))
	return r.r.ReadAt(p, off)
}
