package c2pa

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
)

// Locate finds where a file's manifest store is by reading only its
// segment or chunk headers through r, so a reader of originals fetches
// the whole file only when there is a manifest to validate. It returns
// ErrNoManifest when there is none; formats C2PA is not read from have
// none.
func Locate(r io.ReaderAt, size int64, format string) (Span, error) {
	switch format {
	case "jpeg":
		return locateJPEG(r, size)
	case "webp":
		return locateWebP(r, size)
	}
	return Span{}, ErrNoManifest
}

// Span is a byte range of a file: [Start, Start+Length).
type Span = span

func readAt(r io.ReaderAt, n int, off int64) ([]byte, error) {
	b := make([]byte, n)
	if _, err := r.ReadAt(b, off); err != nil {
		return nil, fmt.Errorf("read at %d: %w", off, err)
	}
	return b, nil
}

func locateJPEG(r io.ReaderAt, size int64) (Span, error) {
	var where Span
	for off := int64(2); off+4 <= size; {
		h, err := readAt(r, 4, off)
		if err != nil {
			return Span{}, err
		}
		if h[0] != 0xFF {
			break
		}
		if h[1] == 0xFF {
			off++
			continue
		}
		if h[1] == 0xDA || h[1] == 0xD9 {
			break
		}
		n := int64(binary.BigEndian.Uint16(h[2:]))
		if n < 2 || off+2+n > size {
			return Span{}, fmt.Errorf("JPEG segment at %d says %d bytes, the file ends first", off, n)
		}
		c2pa := false
		if h[1] == 0xEB && n >= 2+28 {
			p, err := readAt(r, 28, off+4)
			if err != nil {
				return Span{}, err
			}
			c2pa = isStoreStart(p) || where.Length > 0 && p[0] == 'J' && p[1] == 'P' && int64(where.Start+where.Length) == off
		}
		switch {
		case c2pa && where.Length == 0:
			where = Span{Start: int(off), Length: int(2 + n)}
		case c2pa:
			where.Length += int(2 + n)
		case where.Length > 0:
			return where, nil
		}
		off += 2 + n
	}
	if where.Length == 0 {
		return Span{}, ErrNoManifest
	}
	return where, nil
}

func locateWebP(r io.ReaderAt, size int64) (Span, error) {
	if size < 12 {
		return Span{}, fmt.Errorf("not a WebP file")
	}
	h, err := readAt(r, 12, 0)
	if err != nil {
		return Span{}, err
	}
	if !bytes.Equal(h[:4], []byte("RIFF")) || !bytes.Equal(h[8:12], []byte("WEBP")) {
		return Span{}, fmt.Errorf("not a WebP file")
	}
	end := min(size, 8+int64(binary.LittleEndian.Uint32(h[4:])))
	for off := int64(12); off+8 <= end; {
		c, err := readAt(r, 8, off)
		if err != nil {
			return Span{}, err
		}
		n := int64(binary.LittleEndian.Uint32(c[4:]))
		if string(c[:4]) == "C2PA" {
			if off+8+n > end {
				return Span{}, fmt.Errorf("the C2PA chunk at %d says %d bytes, the file ends first", off, n)
			}
			return Span{Start: int(off), Length: int(8 + n)}, nil
		}
		off += 8 + n + n&1
	}
	return Span{}, ErrNoManifest
}
