package photometa

import (
	"bytes"
	"encoding/binary"
	"errors"
)

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
	c := container{tiff: b, limit: s.size}
	if err := readTIFFCaptionTags(s, b, x, &c); err != nil {
		return container{}, err
	}
	return c, nil
}

// TIFF tags that hold caption metadata in a raw TIFF's IFD0.
const (
	tagXMP      = 700   // XMP packet, BYTE or UNDEFINED
	tagIPTCNAA  = 33723 // IPTC IIM datasets, UNDEFINED, BYTE or (as Photoshop writes it) LONG
	tiffEntryAt = 2     // the entries follow an IFD's 2-byte count
)

// readTIFFCaptionTags finds the XMP and IPTC tags of IFD0 in head (the
// first bytes of the file) and reads their values, which may lie beyond it,
// up to the limits. It runs before the guard, never edits head, and leaves
// damage to IFD0 itself to the guard: an IFD0 it cannot read gives nothing.
func readTIFFCaptionTags(s *source, head []byte, x *Exif, c *container) error {
	if len(head) < 8 {
		return nil
	}
	var o binary.ByteOrder = binary.LittleEndian
	if head[0] == 'M' {
		o = binary.BigEndian
	}
	off := int64(o.Uint32(head[4:]))
	if off < 8 || off+2 > int64(len(head)) {
		return nil
	}
	count := int64(o.Uint16(head[off:]))
	count = min(count, (int64(len(head))-off-tiffEntryAt)/12) // the entries within the head
	for i := range count {
		e := head[off+tiffEntryAt+12*i:]
		tag, typ, n := o.Uint16(e), o.Uint16(e[2:]), uint64(o.Uint32(e[4:]))
		if tag != tagXMP && tag != tagIPTCNAA {
			continue
		}
		var size uint64
		if int(typ) < len(tiffTypeSize) {
			size = tiffTypeSize[typ]
		}
		total := n * size // below 2^35: no overflow
		what, dst, limit := "XMP", &c.xmp, uint64(maxXMP)
		if tag == tagIPTCNAA {
			what, dst, limit = "IPTC", &c.iim, maxPhotoshop
		}
		if total == 0 || *dst != nil {
			continue
		}
		if total > limit {
			x.note("TIFF: %s (tag %d) of %d bytes is over the %d KiB limit; not read", what, tag, total, limit>>10)
			continue
		}
		var v []byte
		if total <= 4 {
			v = bytes.Clone(e[8 : 8+total])
		} else {
			at := int64(o.Uint32(e[8:]))
			var err error
			v, err = s.read(at, int64(total))
			if errors.Is(err, errPastEnd) {
				x.note("TIFF: %s (tag %d) at offset %d runs past the end of the file; not read", what, tag, at)
				continue
			} else if err != nil {
				return err
			}
		}
		*dst = v
	}
	return nil
}
