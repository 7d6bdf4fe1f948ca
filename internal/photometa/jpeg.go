package photometa

import (
	"bytes"
	"encoding/binary"
	"errors"
)

// maxJPEGSegments bounds the marker walk: a real JPEG has a few dozen
// segments before its image data, even with a split ICC profile.
const maxJPEGSegments = 1024

// exifHeader starts the payload of an Exif APP1 segment; the TIFF block
// follows it. The sixth byte is meant to be NUL but some writers put 0xFF
// there, so only the first five are checked.
var exifHeader = []byte("Exif\x00")

// xmpSegmentHeader starts the payload of a standard XMP APP1 segment; the
// packet follows it.
const xmpSegmentHeader = "http://ns.adobe.com/xap/1.0/\x00"

// readXMPSegment returns the packet of the APP1 segment whose payload (of
// plen bytes, all in the file) is at off, or nil when it is not standard
// XMP.
func readXMPSegment(s *source, off, plen int64) ([]byte, error) {
	h, err := s.read(off, int64(len(xmpSegmentHeader)))
	if err != nil || string(h) != xmpSegmentHeader {
		return nil, err
	}
	return s.read(off+int64(len(xmpSegmentHeader)), plen-int64(len(xmpSegmentHeader)))
}

// readJPEG walks the marker segments from SOI, reading each segment's header
// only, and stops at the first SOFn (whose frame header gives the pixel size)
// or SOS: a JPEG's metadata comes before its image data, so nothing after
// that is read. The first APP1 whose payload starts with "Exif\0\0" is the
// EXIF, whatever APP1 (XMP, say) comes before it; goexif itself would give
// up at a leading XMP APP1, so it is handed the TIFF block, never the JPEG.
//
// On the way it keeps the first XMP APP1 (standard XMP; Extended XMP, in
// APP1 segments of its own header, is not read) and the Photoshop image
// resources of the APP13 segments, where IPTC IIM lives; both are parsed
// later, and damage in them is never an error.
//
// Damage outside the EXIF segment (a file cut short, bytes where a marker
// belongs) ends the walk with a note, not an error: the EXIF read so far
// stands, and whether the pixels decode is for the image roles to say. An
// EXIF segment cut short is an error, as its block cannot be read.
func readJPEG(s *source, x *Exif) (container, error) {
	var c container
	overPhotoshop := false
	pos := int64(2) // after SOI
	for n := 0; ; n++ {
		if n == maxJPEGSegments {
			x.note("JPEG: stopped after %d segments without reaching the image data", n)
			return c, nil
		}
		m, err := s.read(pos, 2)
		if err != nil {
			return c, jpegEnd(x, err)
		}
		if m[0] != 0xFF {
			x.note("JPEG: expected a marker at offset %d, found 0x%02X; stopped reading", pos, m[0])
			return c, nil
		}
		marker := m[1]
		switch {
		case marker == 0xFF: // fill byte before a marker
			pos++
			continue
		case marker == 0xDA, marker == 0xD9: // SOS, EOI: no more metadata
			return c, nil
		case marker == 0x01, marker >= 0xD0 && marker <= 0xD7: // TEM, RSTn: no length
			pos += 2
			continue
		case marker == 0x00, marker == 0xD8:
			x.note("JPEG: unexpected marker 0xFF%02X at offset %d; stopped reading", marker, pos)
			return c, nil
		}
		lb, err := s.read(pos+2, 2)
		if err != nil {
			return c, jpegEnd(x, err)
		}
		length := int64(binary.BigEndian.Uint16(lb)) // counts itself, not the marker
		if length < 2 {
			x.note("JPEG: segment 0xFF%02X at offset %d has length %d; stopped reading", marker, pos, length)
			return c, nil
		}
		payload, plen, end := pos+4, length-2, pos+2+length
		switch {
		case marker == 0xED && plen >= int64(len(photoshopHeader)) && end <= s.size:
			h, err := s.read(payload, int64(len(photoshopHeader)))
			if err != nil {
				return c, err
			}
			if !bytes.Equal(h, photoshopHeader) {
				break // another APP13
			}
			// Resources too long for one segment continue in the next.
			size := plen - int64(len(photoshopHeader))
			if int64(len(c.photoshop))+size > maxPhotoshop {
				if !overPhotoshop {
					x.note("JPEG: Photoshop APP13 segments hold over %d KiB; the rest not read", maxPhotoshop>>10)
					overPhotoshop = true
				}
				break
			}
			b, err := s.read(payload+int64(len(photoshopHeader)), size)
			if err != nil {
				return c, err
			}
			c.photoshop = append(c.photoshop, b...)
			if c.photoshop == nil {
				c.photoshop = []byte{}
			}
		case marker == 0xE1 && plen >= 6:
			head, err := s.read(payload, 6)
			if err != nil {
				return c, jpegEnd(x, err)
			}
			if !bytes.HasPrefix(head, exifHeader) {
				if c.xmp == nil && plen >= int64(len(xmpSegmentHeader)) && end <= s.size {
					if c.xmp, err = readXMPSegment(s, payload, plen); err != nil {
						return c, err
					}
				}
				break // XMP or another APP1: keep looking
			}
			if c.tiff != nil {
				break // a second Exif APP1
			}
			if end > s.size {
				return c, BadInput("truncated EXIF: APP1 segment at offset %d claims %d bytes but the file ends %d bytes after its marker",
					pos, length, s.size-pos-2)
			}
			b, err := s.read(payload+6, plen-6)
			if err != nil {
				return c, err
			}
			c.tiff, c.limit = b, int64(len(b))
		case isSOF(marker):
			if plen >= 5 {
				f, err := s.read(payload, 5) // precision, height, width
				if err != nil {
					return c, jpegEnd(x, err)
				}
				// Height 0 means "given later by a DNL marker": leave it to EXIF.
				if h, w := binary.BigEndian.Uint16(f[1:3]), binary.BigEndian.Uint16(f[3:5]); h > 0 && w > 0 {
					x.Width, x.Height = int(w), int(h)
				}
			}
			return c, nil
		}
		if end > s.size {
			x.note("JPEG: segment 0xFF%02X at offset %d runs past the end of the file", marker, pos)
			return c, nil
		}
		pos = end
	}
}

// jpegEnd turns a read error during the walk into the walk's result: the end
// of the file is a note, anything else (I/O) is returned.
func jpegEnd(x *Exif, err error) error {
	if errors.Is(err, errPastEnd) {
		x.note("JPEG: file ends before the image data")
		return nil
	}
	return err
}

// isSOF reports whether marker starts a frame (SOF0..SOF15); C4 (DHT), C8
// (JPG) and CC (DAC) share the range but are not frames.
func isSOF(marker byte) bool {
	return marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC
}

// JPEGScans counts the scans (SOS segments) of a JPEG held in memory,
// walking its marker segments and skipping each scan's entropy-coded data
// to the next marker. It reads every byte once and allocates nothing, so
// it is cheap beside a decode: libjpeg decodes every scan of a
// progressive JPEG over the whole image before the first row comes out,
// so a small file of many scans decodes for minutes (see
// fixture.ScanBombJPEG), and counting them first is the only way to know.
// Damage ends the count where it is: the decoder reports it.
func JPEGScans(data []byte) int {
	scans := 0
	pos := 2 // after SOI
	for pos+4 <= len(data) {
		if data[pos] != 0xFF {
			return scans
		}
		marker := data[pos+1]
		switch {
		case marker == 0xFF: // fill byte
			pos++
			continue
		case marker == 0xD9: // EOI
			return scans
		case marker == 0x01, marker >= 0xD0 && marker <= 0xD7: // TEM, RSTn: no length
			pos += 2
			continue
		}
		pos += 2 + int(binary.BigEndian.Uint16(data[pos+2:]))
		if marker != 0xDA {
			continue
		}
		scans++
		// Entropy-coded data: 0xFF is followed by 0x00 (a stuffed byte),
		// by RSTn within the scan, or by the next marker.
		for {
			i := bytes.IndexByte(data[min(pos, len(data)):], 0xFF)
			if i < 0 || pos+i+1 >= len(data) {
				return scans
			}
			pos += i
			if next := data[pos+1]; next == 0x00 || next >= 0xD0 && next <= 0xD7 || next == 0xFF {
				pos++
				continue
			}
			break
		}
	}
	return scans
}
