package photometa

import (
	"bytes"
	"encoding/binary"
	"strings"
	"unicode/utf8"

	"github.com/photodesk/photodesk/pipeline/gallery"
)

// photoshopHeader starts the payload of a JPEG APP13 segment that holds
// Photoshop image resources (IPTC IIM among them).
var photoshopHeader = []byte("Photoshop 3.0\x00")

// resourceIPTC is the id of the image resource that holds IPTC IIM.
const resourceIPTC = 0x0404

// photoshopIPTC finds the IPTC IIM resource (id 0x0404) among Photoshop
// image resources: blocks of "8BIM", a 2-byte id, a Pascal-string name
// padded to an even length, a 4-byte size and the data, padded to an even
// length. Every length is checked against what is there; a block that does
// not fit ends the walk with a note, and nil means no IPTC.
func photoshopIPTC(b []byte, x *Exif) []byte {
	for pos := 0; pos < len(b); {
		rest := b[pos:]
		if len(rest) < 4 || !isResourceSignature(rest[:4]) {
			if !allZero(rest) { // some writers pad the segment with zeros
				x.note("Photoshop: no image resource signature at offset %d of the APP13 data (%s); stopped reading", pos, quoteBytes(rest))
			}
			return nil
		}
		if len(rest) < 7 {
			x.note("Photoshop: image resource at offset %d is cut off", pos)
			return nil
		}
		id := binary.BigEndian.Uint16(rest[4:])
		sizeAt := 6 + even(1+int(rest[6])) // the name: a length byte, the name, padding
		if len(rest) < sizeAt+4 {
			x.note("Photoshop: image resource 0x%04X at offset %d is cut off", id, pos)
			return nil
		}
		size := uint64(binary.BigEndian.Uint32(rest[sizeAt:]))
		data := rest[sizeAt+4:]
		if size > uint64(len(data)) {
			x.note("Photoshop: image resource 0x%04X at offset %d claims %d bytes but only %d remain; stopped reading", id, pos, size, len(data))
			return nil
		}
		if id == resourceIPTC {
			return data[:size]
		}
		pos += sizeAt + 4 + even(int(size))
	}
	return nil
}

// isResourceSignature reports the signatures Photoshop resource blocks
// carry: "8BIM", and a few others some applications write.
func isResourceSignature(b []byte) bool {
	switch string(b) {
	case "8BIM", "PHUT", "AgHg", "DCSR", "MeSa":
		return true
	}
	return false
}

func even(n int) int { return n + n&1 }

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// utf8Designations are the values of IIM dataset 1:90 (CodedCharacterSet)
// that say the text is UTF-8: the ISO 2022 escape sequence ESC % G, and
// the UTF-8 level 1 to 3 designations ESC % / G, H, I.
var utf8Designations = []string{"\x1b%G", "\x1b%/G", "\x1b%/H", "\x1b%/I"}

// readIIM reads IPTC IIM datasets: each a tag marker 0x1C, record and
// dataset numbers, and a 2-byte length (its top bit set: an extended
// length, in the number of bytes the other 15 bits give). It takes 2:120
// Caption-Abstract (the first), every 2:80 By-line, and the rights fields
// (iimRights). Text is UTF-8 when dataset 1:90 says so, else Latin-1 (ISO
// 8859-1), with a note when that assumption decided how non-ASCII bytes
// read. A dataset that does not fit
// ends the walk with a note; what was read before it stands.
func readIIM(b []byte, x *Exif) captionText {
	var (
		names, keywords [][]byte
		charset         []byte // the 1:90 value; nil when absent
		// first is the first of each other record 2 dataset: 2:120
		// Caption-Abstract, 2:55 Date Created (CCYYMMDD), 2:60 Time
		// Created (HHMMSS±HHMM), the rights fields.
		first = map[byte][]byte{}
	)
	for pos := 0; pos < len(b); {
		rest := b[pos:]
		if rest[0] != 0x1C {
			if !allZero(rest) {
				x.note("IPTC: no dataset marker at offset %d of the IIM data (%s); stopped reading", pos, quoteBytes(rest))
			}
			break
		}
		if len(rest) < 5 {
			x.note("IPTC: dataset header at offset %d is cut off", pos)
			break
		}
		rec, ds := rest[1], rest[2]
		n, at := uint64(binary.BigEndian.Uint16(rest[3:])), 5
		if n&0x8000 != 0 {
			ll := int(n & 0x7FFF)
			if ll == 0 || ll > 4 || len(rest) < 5+ll {
				x.note("IPTC: dataset %d:%d at offset %d has a malformed extended length; stopped reading", rec, ds, pos)
				break
			}
			n = 0
			for _, c := range rest[5 : 5+ll] {
				n = n<<8 | uint64(c)
			}
			at += ll
		}
		if n > uint64(len(rest)-at) {
			x.note("IPTC: dataset %d:%d at offset %d claims %d bytes but only %d remain; stopped reading", rec, ds, pos, n, len(rest)-at)
			break
		}
		v := rest[at : at+int(n)]
		pos += at + int(n)
		switch {
		case rec == 1 && ds == 90:
			charset = v
		case rec == 2 && ds == 80:
			if len(names) < maxBylineNames {
				names = append(names, v)
			}
		case rec == 2 && ds == 25:
			if len(keywords) < 4*gallery.MaxKeywords { // room for empty and repeated ones
				keywords = append(keywords, v)
			}
		case rec == 2 && first[ds] == nil:
			first[ds] = v
		}
	}

	isUTF8 := false
	if charset != nil {
		cs := string(bytes.TrimRight(charset, "\x00 "))
		for _, d := range utf8Designations {
			isUTF8 = isUTF8 || cs == d
		}
	}
	var t captionText
	latin1Used, invalid, alsoUTF8 := false, false, true
	decode := func(v []byte) string {
		if isUTF8 {
			if !utf8.Valid(v) {
				invalid = true
			}
			return strings.ToValidUTF8(string(v), "\uFFFD")
		}
		if !isASCII(v) {
			latin1Used = true
			alsoUTF8 = alsoUTF8 && utf8.Valid(v)
		}
		return latin1(v)
	}
	if caption, ok := first[120]; ok {
		t.caption = cleanCaption(decode(caption))
	}
	var creators, kws []string
	for _, v := range names {
		creators = append(creators, decode(v))
		t.addName(creators[len(creators)-1])
	}
	for _, v := range keywords {
		kws = append(kws, decode(v))
	}
	t.rights = iimRights(creators, kws, func(ds byte) string { return decode(first[ds]) }, x)
	if d := strings.TrimSpace(string(first[55])); d != "" {
		t.dates = []statedDate{{source: SourceIPTCDateCreated, date: clip(d, 64), time: clip(strings.TrimSpace(string(first[60])), 64)}}
	}
	switch {
	case invalid:
		x.note("IPTC: text declared UTF-8 (1:90) is not valid UTF-8; invalid bytes replaced with U+FFFD")
	case latin1Used:
		why := "no CodedCharacterSet (1:90)"
		if charset != nil {
			why = "CodedCharacterSet (1:90) " + quoteBytes(charset) + " is not UTF-8"
		}
		also := ""
		if alsoUTF8 {
			also = " (the bytes are valid UTF-8 too, so the writer may have meant UTF-8)"
		}
		x.note("IPTC: %s; text assumed to be Latin-1%s", why, also)
	}
	return t
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// latin1 decodes ISO 8859-1: every byte is the code point of its value.
func latin1(b []byte) string {
	var s strings.Builder
	s.Grow(2 * len(b))
	for _, c := range b {
		s.WriteRune(rune(c))
	}
	return s.String()
}
