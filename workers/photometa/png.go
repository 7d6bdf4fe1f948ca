package photometa

import (
	"bytes"
	"encoding/binary"
	"errors"
)

// maxChunks bounds the chunk walk of PNG and WebP files.
const maxChunks = 1024

// maxEXIFChunk bounds an EXIF block stored in a PNG or WebP chunk. A JPEG
// cannot hold more than 64 KiB of EXIF; a block far larger is not worth
// fetching and decoding for a date.
const maxEXIFChunk = 1 << 20

// readPNG reads IHDR (which must come first) for the pixel size and walks the
// chunk headers for eXIf, stopping at the first IDAT: the eXIf chunk belongs
// before the image data, and going past it would mean fetching the image.
func readPNG(s *source, x *Exif) (container, error) {
	var c container
	pos := int64(8) // after the signature
	for n := 0; n < maxChunks; n++ {
		h, err := s.read(pos, 8)
		if errors.Is(err, errPastEnd) {
			x.note("PNG: file ends before the image data")
			return c, nil
		} else if err != nil {
			return c, err
		}
		length, typ := int64(binary.BigEndian.Uint32(h[0:4])), string(h[4:8])
		if length > 1<<31-1 { // the PNG limit
			x.note("PNG: chunk %q at offset %d claims %d bytes; stopped reading", typ, pos, length)
			return c, nil
		}
		data := pos + 8
		if n == 0 {
			if typ != "IHDR" || length < 8 {
				x.note("PNG: first chunk is %q, not IHDR; stopped reading", typ)
				return c, nil
			}
			d, err := s.read(data, 8)
			if errors.Is(err, errPastEnd) {
				x.note("PNG: file ends inside IHDR")
				return c, nil
			} else if err != nil {
				return c, err
			}
			x.Width, x.Height = int(binary.BigEndian.Uint32(d[0:4])), int(binary.BigEndian.Uint32(d[4:8]))
		}
		switch typ {
		case "IDAT", "IEND":
			return c, nil
		case "eXIf":
			if c.tiff != nil {
				break
			}
			b, err := readEXIFChunk(s, x, "PNG eXIf", data, length)
			if err != nil {
				return c, err
			}
			c.tiff, c.limit, c.unread = b, int64(len(b)), b == nil
		}
		pos = data + length + 4 // data, then the CRC
	}
	x.note("PNG: stopped after %d chunks without reaching the image data", maxChunks)
	return c, nil
}

// readEXIFChunk reads the EXIF block held by a PNG or WebP chunk: a TIFF
// block, with the "Exif\0\0" of the JPEG form in front when the writer got
// it wrong.
func readEXIFChunk(s *source, x *Exif, what string, off, length int64) ([]byte, error) {
	if length > maxEXIFChunk {
		x.note("%s chunk of %d bytes is over the %d KiB limit; not read", what, length, maxEXIFChunk>>10)
		return nil, nil
	}
	b, err := s.read(off, length)
	if errors.Is(err, errPastEnd) {
		return nil, badInput("truncated EXIF: %s chunk at offset %d claims %d bytes but the file ends %d bytes into it",
			what, off, length, s.size-off)
	} else if err != nil {
		return nil, err
	}
	if bytes.HasPrefix(b, exifHeader) && len(b) >= 6 {
		b = b[6:]
	}
	if b == nil {
		b = []byte{} // present but empty: the guard says why it is no TIFF
	}
	return b, nil
}
