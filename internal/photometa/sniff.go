package photometa

import (
	"bytes"
	"encoding/binary"
)

// sniffLen is how many leading bytes sniff looks at: enough for an ISO BMFF
// ftyp box with a dozen compatible brands.
const sniffLen = 64

// Sniff names the container from its leading bytes (the first 64 are
// enough), never from a file name: "jpeg", "png", "webp", "tiff", "gif",
// "heif", or "" for anything else.
func Sniff(b []byte) string { return sniff(b) }

// sniff names the container from its leading bytes, never from a file name;
// "" means not an image we know.
func sniff(b []byte) string {
	switch {
	case len(b) >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF:
		return "jpeg"
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return "png"
	case len(b) >= 12 && string(b[0:4]) == "RIFF" && string(b[8:12]) == "WEBP":
		return "webp"
	case bytes.HasPrefix(b, []byte("II*\x00")), bytes.HasPrefix(b, []byte("MM\x00*")),
		bytes.HasPrefix(b, []byte("II+\x00")), bytes.HasPrefix(b, []byte("MM\x00+")): // BigTIFF
		return "tiff"
	case bytes.HasPrefix(b, []byte("GIF87a")), bytes.HasPrefix(b, []byte("GIF89a")):
		return "gif"
	case isHEIF(b):
		return "heif"
	}
	return ""
}

// heifBrands are the ftyp brands of HEIF still images (HEIC, AVIF and
// friends). Other ISO BMFF files (MP4, MOV, Canon CR3) are not photos we read.
var heifBrands = map[string]bool{
	"heic": true, "heix": true, "hevc": true, "hevx": true,
	"heim": true, "heis": true, "hevm": true, "hevs": true,
	"mif1": true, "msf1": true, "mif2": true,
	"avif": true, "avis": true,
}

// isHEIF reports whether b starts with an ftyp box whose major brand or one
// of its compatible brands (as far as b reaches) is a HEIF brand.
func isHEIF(b []byte) bool {
	if len(b) < 12 || string(b[4:8]) != "ftyp" {
		return false
	}
	end := min(int(min(binary.BigEndian.Uint32(b[0:4]), uint32(len(b)))), len(b))
	if heifBrands[string(b[8:12])] {
		return true
	}
	for i := 16; i+4 <= end; i += 4 { // compatible brands follow the minor version
		if heifBrands[string(b[i:i+4])] {
			return true
		}
	}
	return false
}
