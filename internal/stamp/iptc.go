package stamp

import (
	"crypto/md5"
	"encoding/binary"
)

var be = binary.BigEndian

// iimHead is record 1's version and CodedCharacterSet ESC % G (UTF-8),
// then record 2's version (4), as exiftool writes them.
var iimHead = []byte{
	0x1C, 1, 0, 0, 2, 0, 4,
	0x1C, 1, 90, 0, 3, 0x1B, '%', 'G',
	0x1C, 2, 0, 0, 2, 0, 4,
}

// iimData is m as IPTC IIM datasets, in ascending order. Each text is cut
// to its dataset's limit in bytes (at a character boundary: the limits
// are the standard's and exiftool's validator enforces them); XMP keeps
// the whole text. Nil when m has nothing for IIM.
func iimData(m Metadata) []byte {
	var b []byte
	add := func(dataset byte, s string, limit int) {
		if s = cut(s, limit); s != "" {
			b = append(b, 0x1C, 2, dataset)
			b = be.AppendUint16(b, uint16(len(s)))
			b = append(b, s...)
		}
	}
	for _, k := range m.Keywords {
		add(25, k, 64)
	}
	add(55, created(m, "20060102"), 8)
	add(60, created(m, "150405-0700"), 11)
	for _, c := range m.Creator {
		add(80, c, 32)
	}
	if l := m.Location; l != nil {
		add(90, l.City, 32)
		add(95, l.ProvinceState, 32)
		if len(l.CountryCode) == 3 { // IIM takes ISO 3166 alpha-3 only
			add(100, l.CountryCode, 3)
		}
		add(101, l.Country, 64)
	}
	add(105, m.Headline, 256)
	add(110, m.Credit, 32)
	add(115, m.Source, 32)
	add(116, m.CopyrightNotice, 128)
	add(120, m.Caption, 2000)
	if b == nil {
		return nil
	}
	return append(append([]byte(nil), iimHead...), b...)
}

// photoshop is the payload of a JPEG APP13 segment holding iim: the IPTC
// resource (0x0404) and IPTCDigest (0x0425), the MD5 of the IIM, which
// tells MWG readers (Lightroom, exiftool) that IIM and XMP agree.
func photoshop(iim []byte) []byte {
	sum := md5.Sum(iim)
	b := []byte("Photoshop 3.0\x00")
	b = resource(b, 0x0404, iim)
	return resource(b, 0x0425, sum[:])
}

// resource appends a Photoshop image resource with no name (an empty
// Pascal string padded to even) and its data padded to even.
func resource(b []byte, id uint16, data []byte) []byte {
	b = append(b, "8BIM"...)
	b = be.AppendUint16(b, id)
	b = append(b, 0, 0)
	b = be.AppendUint32(b, uint32(len(data)))
	b = append(b, data...)
	if len(data)%2 == 1 {
		b = append(b, 0)
	}
	return b
}
