package photometa

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"io"
)

// maxChunks bounds the chunk walk of PNG and WebP files.
const maxChunks = 1024

// maxEXIFChunk bounds an EXIF block stored in a PNG or WebP chunk. A JPEG
// cannot hold more than 64 KiB of EXIF; a block far larger is not worth
// fetching and decoding for a date.
const maxEXIFChunk = 1 << 20

// readPNG reads IHDR (which must come first) for the pixel size and walks the
// chunk headers for eXIf and the XMP iTXt chunk, stopping at the first IDAT:
// the eXIf chunk belongs before the image data, and going past it would mean
// fetching the image. (XMP written after the image data is not read.)
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
		case "iTXt":
			if c.xmp != nil {
				break
			}
			b, err := readPNGXMP(s, x, data, length)
			if err != nil {
				return c, err
			}
			c.xmp = b
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
		return nil, BadInput("truncated EXIF: %s chunk at offset %d claims %d bytes but the file ends %d bytes into it",
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

// pngXMPKeyword starts the data of the iTXt chunk that holds XMP.
const pngXMPKeyword = "XML:com.adobe.xmp\x00"

// readPNGXMP returns the XMP packet of an iTXt chunk (data at off, length
// bytes), or nil when the chunk is other text or cannot be read, with a
// note. The chunk is keyword, NUL, compression flag and method, language
// tag, NUL, translated keyword, NUL, and the text, zlib-compressed when the
// flag is 1; inflated text is bounded like the chunk, so a small chunk
// cannot inflate into a large packet.
func readPNGXMP(s *source, x *Exif, off, length int64) ([]byte, error) {
	if length < int64(len(pngXMPKeyword))+2 {
		return nil, nil
	}
	h, err := s.read(off, int64(len(pngXMPKeyword)))
	if errors.Is(err, errPastEnd) || err == nil && string(h) != pngXMPKeyword {
		return nil, nil // the walk notes the end of the file
	} else if err != nil {
		return nil, err
	}
	if length > maxXMP+1024 { // the packet, and room for the chunk's own header
		x.note("PNG: XMP iTXt chunk of %d bytes is over the %d KiB limit; not read", length, maxXMP>>10)
		return nil, nil
	}
	b, err := s.read(off, length)
	if errors.Is(err, errPastEnd) {
		x.note("PNG: XMP iTXt chunk at offset %d runs past the end of the file; not read", off-8)
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	b = b[len(pngXMPKeyword):]
	compressed, method := b[0], b[1]
	b = b[2:]
	for range 2 { // the language tag and the translated keyword
		i := bytes.IndexByte(b, 0)
		if i < 0 {
			x.note("PNG: XMP iTXt chunk at offset %d is malformed; not read", off-8)
			return nil, nil
		}
		b = b[i+1:]
	}
	switch {
	case compressed == 0:
		if len(b) > maxXMP {
			x.note("PNG: XMP packet of %d bytes is over the %d KiB limit; not read", len(b), maxXMP>>10)
			return nil, nil
		}
		return b, nil
	case compressed == 1 && method == 0:
		zr, err := zlib.NewReader(bytes.NewReader(b))
		if err != nil {
			x.note("PNG: XMP iTXt chunk at offset %d does not inflate (%v); not read", off-8, err)
			return nil, nil
		}
		p, err := io.ReadAll(io.LimitReader(zr, maxXMP+1))
		if err != nil {
			x.note("PNG: XMP iTXt chunk at offset %d does not inflate (%v); not read", off-8, err)
			return nil, nil
		}
		if len(p) > maxXMP {
			x.note("PNG: XMP iTXt chunk at offset %d inflates to over %d KiB; not read", off-8, maxXMP>>10)
			return nil, nil
		}
		return p, nil
	}
	x.note("PNG: XMP iTXt chunk at offset %d has unknown compression %d/%d; not read", off-8, compressed, method)
	return nil, nil
}
