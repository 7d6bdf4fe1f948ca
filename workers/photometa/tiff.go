package photometa

import "bytes"

// tiffHead is how much of a raw TIFF file (TIFF, DNG, NEF, CR2, ...) is
// read. In such a file the EXIF is the TIFF structure itself, and the IFDs
// that matter sit near the start; the image data, which may come first or
// last, is never needed. What lies beyond the head is skipped by the guard.
const tiffHead = 256 << 10

func readTIFF(s *source, x *Exif, head []byte) (container, error) {
	if bytes.HasPrefix(head, []byte("II+")) || bytes.HasPrefix(head, []byte("MM\x00+")) {
		x.note("BigTIFF: EXIF not read")
		return container{unread: true}, nil
	}
	b, err := s.read(0, min(s.size, tiffHead))
	if err != nil {
		return container{}, err
	}
	return container{tiff: b, limit: s.size}, nil
}
