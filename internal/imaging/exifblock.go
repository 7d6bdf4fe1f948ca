package imaging

import (
	"bytes"
	"encoding/binary"
	"errors"
)

// copyrightEXIF is an EXIF block (as libvips holds it: "Exif\0\0" and a
// little-endian TIFF) whose only tag is IFD0 Copyright: what a derivative
// keeps of the original's metadata.
func copyrightEXIF(notice string) []byte {
	text := append([]byte(notice), 0)
	le := binary.LittleEndian
	b := []byte("Exif\x00\x00II*\x00")
	b = le.AppendUint32(b, 8) // IFD0 right after the header
	b = le.AppendUint16(b, 1) // one entry
	b = le.AppendUint16(b, 0x8298)
	b = le.AppendUint16(b, 2) // ASCII
	b = le.AppendUint32(b, uint32(len(text)))
	if len(text) <= 4 {
		v := make([]byte, 4)
		copy(v, text)
		b = append(b, v...)
		return le.AppendUint32(b, 0) // no next IFD
	}
	b = le.AppendUint32(b, 8+2+12+4) // value right after the IFD
	b = le.AppendUint32(b, 0)
	return append(b, text...)
}

// withJPEGEXIF inserts an Exif APP1 segment into a JPEG written by libvips:
// after its JFIF APP0 when there is one (the order JFIF readers expect),
// else right after SOI.
func withJPEGEXIF(jpg, exif []byte) ([]byte, error) {
	if len(jpg) < 4 || jpg[0] != 0xFF || jpg[1] != 0xD8 {
		return nil, errors.New("not a JPEG")
	}
	if len(exif)+2 > 0xFFFF {
		return nil, errors.New("EXIF too large for a JPEG segment")
	}
	at := 2
	if jpg[2] == 0xFF && jpg[3] == 0xE0 && len(jpg) >= 6 {
		at = 4 + int(binary.BigEndian.Uint16(jpg[4:6]))
		if at > len(jpg) {
			return nil, errors.New("JPEG APP0 runs past the end")
		}
	}
	seg := []byte{0xFF, 0xE1, 0, 0}
	binary.BigEndian.PutUint16(seg[2:], uint16(len(exif)+2))
	out := make([]byte, 0, len(jpg)+len(seg)+len(exif))
	out = append(out, jpg[:at]...)
	out = append(out, seg...)
	out = append(out, exif...)
	return append(out, jpg[at:]...), nil
}

// webpMetadata rewrites a WebP written by libvips so that its only
// metadata is exif (nil for none): libvips 8.14 writes an EXIF chunk of its
// own even when told to strip. A simple file becomes the extended format (a
// VP8X chunk with the EXIF flag) when EXIF is added. exif is "Exif\0\0" and
// TIFF; the chunk holds the TIFF only.
func webpMetadata(webp, exif []byte, width, height int) ([]byte, error) {
	if len(webp) < 20 || string(webp[:4]) != "RIFF" || string(webp[8:12]) != "WEBP" {
		return nil, errors.New("not a WebP")
	}
	chunk := func(fourcc string, payload []byte) []byte {
		c := append([]byte(fourcc), 0, 0, 0, 0)
		binary.LittleEndian.PutUint32(c[4:], uint32(len(payload)))
		c = append(c, payload...)
		if len(payload)%2 == 1 {
			c = append(c, 0)
		}
		return c
	}
	var vp8x []byte
	var body []byte
	for p := webp[12:]; len(p) > 0; {
		if len(p) < 8 {
			return nil, errors.New("WebP chunk header runs past the end")
		}
		n := int(binary.LittleEndian.Uint32(p[4:8]))
		end := 8 + n + n%2
		if n < 0 || end > len(p) {
			return nil, errors.New("WebP chunk runs past the end")
		}
		switch fourcc := string(p[:4]); fourcc {
		case "VP8X":
			vp8x = append([]byte(nil), p[8:8+n]...)
		case "EXIF", "XMP ":
		default:
			body = append(body, p[:end]...)
		}
		p = p[end:]
	}
	if vp8x == nil && exif != nil {
		vp8x = make([]byte, 10)
		w, h := uint32(width-1), uint32(height-1)
		vp8x[4], vp8x[5], vp8x[6] = byte(w), byte(w>>8), byte(w>>16)
		vp8x[7], vp8x[8], vp8x[9] = byte(h), byte(h>>8), byte(h>>16)
	}
	out := []byte("RIFF\x00\x00\x00\x00WEBP")
	if vp8x != nil {
		vp8x[0] &^= 0x08 | 0x04 // EXIF and XMP flags
		if exif != nil {
			vp8x[0] |= 0x08
		}
		out = append(out, chunk("VP8X", vp8x)...)
	}
	out = append(out, body...)
	if exif != nil {
		out = append(out, chunk("EXIF", bytes.TrimPrefix(exif, []byte("Exif\x00\x00")))...)
	}
	binary.LittleEndian.PutUint32(out[4:], uint32(len(out)-8))
	return out, nil
}
