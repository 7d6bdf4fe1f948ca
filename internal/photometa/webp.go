package photometa

import (
	"encoding/binary"
	"errors"
)

// readWebP reads a RIFF/WEBP file's chunk headers. A simple file (first
// chunk VP8 or VP8L) holds only the bitstream, whose header gives the size. An
// extended file starts with VP8X, which gives the canvas size and flags for
// EXIF and XMP; their chunks come after the image data, so only when a flag
// is set are the remaining chunk headers walked to find them.
func readWebP(s *source, x *Exif) (container, error) {
	var c container
	// wantEXIF and wantXMP: the chunk may be there and was not read yet. A
	// VP8X header says whether it is there; without one, the walk goes on.
	wantEXIF, wantXMP := true, true
	h, err := s.read(0, 12)
	if err != nil {
		return c, err // sniff saw 12 bytes, so this is I/O
	}
	end := 8 + int64(binary.LittleEndian.Uint32(h[4:8]))
	if end > s.size {
		x.note("WebP: file is shorter than its RIFF header says")
		end = s.size
	}
	pos := int64(12)
	for n := 0; n < maxChunks; n++ {
		if pos+8 > end {
			if n == 0 {
				x.note("WebP: no chunks")
			}
			return c, nil
		}
		ch, err := s.read(pos, 8)
		if err != nil {
			return c, err
		}
		fourcc, size := string(ch[0:4]), int64(binary.LittleEndian.Uint32(ch[4:8]))
		data := pos + 8
		switch fourcc {
		case "VP8X":
			if n != 0 {
				break
			}
			d, err := webpRead(s, x, data, 10, size)
			if d == nil {
				return c, err
			}
			x.Width = 1 + int(le24(d[4:7]))
			x.Height = 1 + int(le24(d[7:10]))
			wantEXIF, wantXMP = d[0]&0x08 != 0, d[0]&0x04 != 0
			if !wantEXIF && !wantXMP {
				return c, nil
			}
		case "VP8 ":
			d, err := webpRead(s, x, data, 10, size)
			if d == nil {
				return c, err
			}
			if x.Width == 0 && d[3] == 0x9d && d[4] == 0x01 && d[5] == 0x2a { // key frame start code
				x.Width = int(binary.LittleEndian.Uint16(d[6:8]) & 0x3fff)
				x.Height = int(binary.LittleEndian.Uint16(d[8:10]) & 0x3fff)
			}
			if n == 0 {
				return c, nil // simple format: no EXIF
			}
		case "VP8L":
			d, err := webpRead(s, x, data, 5, size)
			if d == nil {
				return c, err
			}
			if x.Width == 0 && d[0] == 0x2f { // lossless signature
				bits := binary.LittleEndian.Uint32(d[1:5])
				x.Width = 1 + int(bits&0x3fff)
				x.Height = 1 + int(bits>>14&0x3fff)
			}
			if n == 0 {
				return c, nil
			}
		case "EXIF":
			if !wantEXIF {
				break
			}
			b, err := readEXIFChunk(s, x, "WebP EXIF", data, size)
			if err != nil {
				return c, err
			}
			c.tiff, c.limit, c.unread = b, int64(len(b)), b == nil
			wantEXIF = false
		case "XMP ":
			if !wantXMP {
				break
			}
			wantXMP = false
			switch {
			case size > maxXMP:
				x.note("WebP: XMP chunk of %d bytes is over the %d KiB limit; not read", size, maxXMP>>10)
			case data+size > end:
				x.note("WebP: XMP chunk at offset %d runs past the end of the RIFF data; not read", pos)
			default:
				b, err := s.read(data, size)
				if err != nil {
					return c, err // end <= s.size, so this is I/O
				}
				c.xmp = b
			}
		}
		if !wantEXIF && !wantXMP {
			return c, nil
		}
		pos = data + size + size&1 // chunks are padded to an even size
	}
	x.note("WebP: stopped after %d chunks", maxChunks)
	return c, nil
}

// webpRead reads the first n bytes of a chunk of the given size. A chunk too
// short, or cut off by the end of the file, is a note and a nil result.
func webpRead(s *source, x *Exif, off, n, size int64) ([]byte, error) {
	if size < n {
		x.note("WebP: chunk at offset %d is too short (%d bytes)", off-8, size)
		return nil, nil
	}
	d, err := s.read(off, n)
	if errors.Is(err, errPastEnd) {
		x.note("WebP: file ends inside the chunk at offset %d", off-8)
		return nil, nil
	}
	return d, err
}

func le24(b []byte) uint32 { return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 }
