package stamp

import (
	"bytes"
	"fmt"
)

// Payload prefixes of the segments stamp owns (and of the ICC profile,
// which it keeps).
const (
	exifPrefix   = "Exif\x00\x00"
	xmpPrefix    = "http://ns.adobe.com/xap/1.0/\x00"
	xmpExtPrefix = "http://ns.adobe.com/xmp/extension/\x00"
	psPrefix     = "Photoshop 3.0\x00"
	iccPrefix    = "ICC_PROFILE\x00"
)

// maxSegment is the most payload a JPEG marker segment holds.
const maxSegment = 0xFFFF - 2

// jpegFile is a JPEG's header cut into the segments it keeps, up to the
// first scan; the rest (entropy-coded data, EOI, anything after) is copied
// as it is.
type jpegFile struct {
	data []byte
	// kept are the [start, end) spans of the segments kept (with any fill
	// bytes before their marker); the first lead of them are the APP0
	// segments (JFIF, JFXX) that stay ahead of ours.
	kept []span
	lead int
	scan int // where the first SOS marker starts
	pic  picture
}

type span struct{ start, end int }

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
}

// parseJPEG walks the marker segments up to the first scan, dropping
// stamp's own (Exif, XMP and extended XMP APP1, Photoshop APP13) and
// reading what EXIF needs: the frame size and components, the JFIF
// density, whether there is an ICC profile.
func parseJPEG(b []byte) (*jpegFile, error) {
	if len(b) < 4 || b[0] != 0xFF || b[1] != 0xD8 {
		return nil, malformed("not a JPEG")
	}
	j := &jpegFile{data: b, pic: picture{res: [2]uint32{72, 72}, unit: 2}}
	leading, frame := true, false
	for pos := 2; ; {
		start := pos
		if pos < len(b) && b[pos] != 0xFF {
			return nil, malformed("JPEG: no marker at byte %d", pos)
		}
		for pos < len(b) && b[pos] == 0xFF { // fill bytes
			pos++
		}
		if pos+3 > len(b) {
			return nil, malformed("JPEG ends before its first scan")
		}
		code := b[pos]
		switch {
		case code == 0xDA: // SOS
			if !frame {
				return nil, malformed("JPEG scan before a frame header")
			}
			j.scan = start
			return j, nil
		case code == 0x00 || code == 0x01 || code >= 0xD0 && code <= 0xD9:
			return nil, malformed("JPEG marker %#02x before the first scan", code)
		}
		n := int(be.Uint16(b[pos+1:]))
		end := pos + 1 + n
		if n < 2 || end > len(b) {
			return nil, malformed("JPEG segment %#02x at byte %d runs past the end", code, start)
		}
		payload := b[pos+3 : end]
		pos = end
		if replaced(code, payload) {
			continue
		}
		j.kept = append(j.kept, span{start, end})
		switch {
		case code == 0xE0 && leading:
			j.lead++
			j.pic.jfif(payload)
			continue
		case code == 0xE2 && bytes.HasPrefix(payload, []byte(iccPrefix)):
			j.pic.icc = true
		case isSOF(code) && !frame:
			if len(payload) < 6 {
				return nil, malformed("JPEG frame header too short")
			}
			frame = true
			j.pic.height, j.pic.width = uint32(be.Uint16(payload[1:])), uint32(be.Uint16(payload[3:]))
			j.pic.components = int(payload[5])
		}
		leading = false
	}
}

// replaced reports a segment stamp replaces.
func replaced(code byte, p []byte) bool {
	switch code {
	case 0xE1:
		return bytes.HasPrefix(p, []byte("Exif\x00")) || bytes.HasPrefix(p, []byte(xmpPrefix)) ||
			bytes.HasPrefix(p, []byte(xmpExtPrefix))
	case 0xED:
		return bytes.HasPrefix(p, []byte(psPrefix))
	}
	return false
}

// isSOF reports a start-of-frame marker (SOF0-SOF15 but DHT, JPG, DAC).
func isSOF(code byte) bool {
	return code >= 0xC0 && code <= 0xCF && code != 0xC4 && code != 0xC8 && code != 0xCC
}

// jfif takes the density of a JFIF APP0 when it has units, so that EXIF
// and JFIF agree on it.
func (p *picture) jfif(payload []byte) {
	if len(payload) < 12 || !bytes.HasPrefix(payload, []byte("JFIF\x00")) {
		return
	}
	x, y := be.Uint16(payload[8:]), be.Uint16(payload[10:])
	if u := payload[7]; (u == 1 || u == 2) && x > 0 && y > 0 {
		p.res = [2]uint32{uint32(x), uint32(y)}
		p.unit = uint16(u) + 1 // JFIF 1 dpi, 2 dpcm; EXIF 2 inch, 3 cm
	}
}

// segment is a marker segment to write: its marker and payload parts.
type segment struct {
	marker byte
	parts  [][]byte
}

// with is the file with b's segments after SOI and the leading APP0s.
func (j *jpegFile) with(b blocks) ([]byte, error) {
	var segs []segment
	if b.exif != nil {
		segs = append(segs, segment{0xE1, [][]byte{[]byte(exifPrefix), b.exif}})
	}
	if b.xmp != nil {
		segs = append(segs, segment{0xE1, [][]byte{[]byte(xmpPrefix), b.xmp}})
	}
	if b.iim != nil {
		segs = append(segs, segment{0xED, [][]byte{photoshop(b.iim)}})
	}
	var ours []byte
	for _, s := range segs {
		n := 0
		for _, p := range s.parts {
			n += len(p)
		}
		if n > maxSegment {
			return nil, fmt.Errorf("%w: APP%d segment of %d bytes, over %d", ErrTooLarge, s.marker&0x0F, n, maxSegment)
		}
		ours = append(ours, 0xFF, s.marker)
		ours = be.AppendUint16(ours, uint16(n+2))
		for _, p := range s.parts {
			ours = append(ours, p...)
		}
	}
	out := make([]byte, 0, len(j.data)+len(ours))
	out = append(out, 0xFF, 0xD8)
	for i, s := range j.kept {
		if i == j.lead {
			out = append(out, ours...)
		}
		out = append(out, j.data[s.start:s.end]...)
	}
	if len(j.kept) == j.lead {
		out = append(out, ours...)
	}
	return append(out, j.data[j.scan:]...), nil
}
