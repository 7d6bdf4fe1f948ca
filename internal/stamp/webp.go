package stamp

import (
	"fmt"
	"math"
)

// VP8X flags.
const (
	flagAlpha = 0x10
	flagEXIF  = 0x08
	flagXMP   = 0x04
)

// webpFile is a WebP cut into its chunks.
type webpFile struct {
	// vp8x is the VP8X payload, made for a simple file.
	vp8x   []byte
	simple bool
	chunks []chunk // all but VP8X
	after  []byte  // bytes after the RIFF, kept as they are
	size   int     // of the file
	pic    picture
}

type chunk struct {
	fourcc string
	raw    []byte // header, payload and padding
}

func (c chunk) payload() []byte { return c.raw[8 : 8+le.Uint32(c.raw[4:])] }

func parseWebP(b []byte) (*webpFile, error) {
	if len(b) < 12 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WEBP" {
		return nil, malformed("not a WebP")
	}
	size := uint64(le.Uint32(b[4:]))
	if size < 4 || 8+size > uint64(len(b)) {
		return nil, malformed("WebP RIFF size %d, file %d bytes", size, len(b))
	}
	w := &webpFile{after: b[8+size:], size: len(b), pic: picture{res: [2]uint32{72, 72}, unit: 2, components: 3}}
	for p := b[12 : 8+size]; len(p) > 0; {
		if len(p) < 8 {
			return nil, malformed("WebP chunk header runs past the end")
		}
		n := uint64(le.Uint32(p[4:]))
		end := 8 + n + n%2
		if end > uint64(len(p)) {
			return nil, malformed("WebP %q chunk runs past the end", p[:4])
		}
		c := chunk{string(p[:4]), p[:end]}
		p = p[end:]
		switch {
		case c.fourcc == "VP8X" && w.vp8x == nil && len(w.chunks) == 0:
			if n < 10 {
				return nil, malformed("WebP VP8X chunk too short")
			}
			w.vp8x = append([]byte(nil), c.payload()...)
		case c.fourcc == "VP8X":
			return nil, malformed("WebP VP8X chunk not first")
		case c.fourcc == "ICCP":
			w.pic.icc = true
			fallthrough
		default:
			w.chunks = append(w.chunks, c)
		}
	}
	if w.vp8x != nil {
		w.pic.width = 1 + (uint32(w.vp8x[4]) | uint32(w.vp8x[5])<<8 | uint32(w.vp8x[6])<<16)
		w.pic.height = 1 + (uint32(w.vp8x[7]) | uint32(w.vp8x[8])<<8 | uint32(w.vp8x[9])<<16)
		return w, w.hasImage()
	}
	if len(w.chunks) == 0 {
		return nil, malformed("WebP without an image")
	}
	return w, w.simpleHeader(w.chunks[0])
}

// hasImage checks that an extended file holds image data.
func (w *webpFile) hasImage() error {
	if w.lastImage() < 0 {
		return malformed("WebP without an image")
	}
	return nil
}

// lastImage is the index of the last image data chunk, or -1.
func (w *webpFile) lastImage() int {
	last := -1
	for i, c := range w.chunks {
		switch c.fourcc {
		case "VP8 ", "VP8L", "ALPH", "ANMF":
			last = i
		}
	}
	return last
}

// simpleHeader reads the canvas of a simple file from its bitstream
// header, and makes the VP8X it gets when it gains metadata.
func (w *webpFile) simpleHeader(c chunk) error {
	width, height, alpha, err := bitstream(c)
	if err != nil {
		return err
	}
	var flags byte
	if alpha {
		flags = flagAlpha
	}
	w.pic.width, w.pic.height = width, height
	w.simple = true
	w.vp8x = []byte{flags, 0, 0, 0,
		byte(width - 1), byte((width - 1) >> 8), byte((width - 1) >> 16),
		byte(height - 1), byte((height - 1) >> 8), byte((height - 1) >> 16)}
	return nil
}

// bitstream reads the size of a VP8 key frame or a VP8L image, and
// whether VP8L says it uses alpha.
func bitstream(c chunk) (width, height uint32, alpha bool, err error) {
	p := c.payload()
	switch c.fourcc {
	case "VP8 ":
		// frame tag (3 bytes, bit 0 clear for a key frame), start code,
		// then 14-bit width and height, each with 2 bits of scale.
		if len(p) < 10 || p[0]&1 != 0 || p[3] != 0x9D || p[4] != 0x01 || p[5] != 0x2A {
			return 0, 0, false, malformed("WebP VP8 chunk without a key frame header")
		}
		width, height = uint32(le.Uint16(p[6:])&0x3FFF), uint32(le.Uint16(p[8:])&0x3FFF)
	case "VP8L":
		// signature, then 14 bits each of width-1 and height-1, alpha,
		// and a 3-bit version that must be 0.
		if len(p) < 5 || p[0] != 0x2F || p[4]>>5 != 0 {
			return 0, 0, false, malformed("WebP VP8L chunk without a header")
		}
		bits := le.Uint32(p[1:])
		width, height, alpha = bits&0x3FFF+1, bits>>14&0x3FFF+1, bits>>28&1 == 1
	default:
		return 0, 0, false, malformed("WebP starts with a %q chunk", c.fourcc)
	}
	if width == 0 || height == 0 {
		return 0, 0, false, malformed("WebP of %dx%d pixels", width, height)
	}
	return width, height, alpha, nil
}

// plain reports an extended file that says nothing its bitstream does not
// once its metadata is gone: one VP8 or VP8L chunk of the canvas size, no
// flag but VP8L's alpha. Without metadata it becomes a simple file again,
// as libwebpmux writes it, so that stamping and stripping round-trips.
func (w *webpFile) plain() bool {
	var img []chunk
	for _, c := range w.chunks {
		if c.fourcc != "EXIF" && c.fourcc != "XMP " {
			img = append(img, c)
		}
	}
	if len(img) != 1 || (img[0].fourcc != "VP8 " && img[0].fourcc != "VP8L") {
		return false
	}
	width, height, alpha, err := bitstream(img[0])
	flags := w.vp8x[0] &^ (flagEXIF | flagXMP)
	if alpha {
		flags &^= flagAlpha
	}
	return err == nil && width == w.pic.width && height == w.pic.height && flags == 0 &&
		w.vp8x[1]|w.vp8x[2]|w.vp8x[3] == 0 // reserved
}

// with is the file with b's EXIF and XMP chunks right after the image
// data (the container's order: VP8X, ICCP, ANIM, image, EXIF, XMP) and
// the VP8X flags to match; without them, a plain file is simple.
func (w *webpFile) with(b blocks) ([]byte, error) {
	var ours []byte
	flags := w.vp8x[0] &^ (flagEXIF | flagXMP)
	if b.exif != nil {
		ours = appendChunk(ours, "EXIF", b.exif)
		flags |= flagEXIF
	}
	if b.xmp != nil {
		ours = appendChunk(ours, "XMP ", b.xmp)
		flags |= flagXMP
	}
	out := make([]byte, 0, w.size+len(ours)+18) // 18: a new VP8X
	out = append(out, "RIFF\x00\x00\x00\x00WEBP"...)
	if ours != nil || !w.simple && !w.plain() {
		vp8x := append([]byte{flags}, w.vp8x[1:]...)
		out = appendChunk(out, "VP8X", vp8x)
	}
	last := w.lastImage()
	for i, c := range w.chunks {
		if c.fourcc != "EXIF" && c.fourcc != "XMP " {
			out = append(out, c.raw...)
		}
		if i == last {
			out = append(out, ours...)
		}
	}
	if len(out)-8 > math.MaxUint32 {
		return nil, fmt.Errorf("%w: WebP over 4 GiB", ErrTooLarge)
	}
	le.PutUint32(out[4:], uint32(len(out)-8))
	return append(out, w.after...), nil
}

// appendChunk appends a RIFF chunk, padded to even.
func appendChunk(b []byte, fourcc string, payload []byte) []byte {
	b = append(b, fourcc...)
	b = le.AppendUint32(b, uint32(len(payload)))
	b = append(b, payload...)
	if len(payload)%2 == 1 {
		b = append(b, 0)
	}
	return b
}
