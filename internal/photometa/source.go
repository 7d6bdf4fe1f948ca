package photometa

import (
	"errors"
	"fmt"
	"io"
)

// source is the photo as a ReaderAt of known size. Every read is bounded by
// the caller, so a length read from the file never becomes an allocation
// larger than the limits in the format readers.
type source struct {
	r    io.ReaderAt
	size int64
}

// errPastEnd means the file's own structure points past its end. It is not
// returned by Extract: format readers turn it into a note or a bad-input
// error, depending on what was cut off.
var errPastEnd = errors.New("past the end of the file")

// read returns exactly n bytes at off, errPastEnd when they are not all
// within the file, or the ReaderAt's error (transient: the size said the
// bytes are there).
func (s *source) read(off, n int64) ([]byte, error) {
	if off < 0 || n < 0 || off > s.size || n > s.size-off {
		return nil, errPastEnd
	}
	b := make([]byte, n)
	m, err := s.r.ReadAt(b, off)
	if m == len(b) {
		return b, nil // a ReaderAt may report io.EOF along with a full read
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return nil, fmt.Errorf("photometa: reading %d bytes at offset %d of %d: %w", n, off, s.size, err)
}

// readUpTo is read for at most n bytes, fewer at the end of the file.
func (s *source) readUpTo(off, n int64) ([]byte, error) {
	if off >= s.size {
		return nil, nil
	}
	return s.read(off, min(n, s.size-off))
}
