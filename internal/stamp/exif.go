package stamp

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/photodesk/photodesk/pipeline/contract"
)

// TIFF field types.
const (
	typeByte      = 1
	typeASCII     = 2
	typeShort     = 3
	typeLong      = 4
	typeRational  = 5
	typeUndefined = 7
)

// field is one IFD entry; value is its little-endian bytes.
type field struct {
	tag   uint16
	typ   uint16
	count uint32
	value []byte
}

var le = binary.LittleEndian

// ascii is a text field: UTF-8 (as exiftool and libvips read it) with the
// NUL that TIFF strings end in.
func ascii(tag uint16, s string) field {
	return field{tag, typeASCII, uint32(len(s) + 1), append([]byte(s), 0)}
}

func short(tag, v uint16) field       { return field{tag, typeShort, 1, le.AppendUint16(nil, v)} }
func long(tag uint16, v uint32) field { return field{tag, typeLong, 1, le.AppendUint32(nil, v)} }
func undefined(tag uint16, b string) field {
	return field{tag, typeUndefined, uint32(len(b)), []byte(b)}
}

// rationals is a RATIONAL field of numerator, denominator pairs.
func rationals(tag uint16, v ...uint32) field {
	f := field{tag: tag, typ: typeRational, count: uint32(len(v) / 2)}
	for _, x := range v {
		f.value = le.AppendUint32(f.value, x)
	}
	return f
}

// ifd encodes one IFD at offset base (even): its entries in ascending tag
// order, no next IFD, then the values longer than 4 bytes, each at an even
// offset.
func ifd(base uint32, fs []field) []byte {
	slices.SortFunc(fs, func(a, b field) int { return int(a.tag) - int(b.tag) })
	out := le.AppendUint16(nil, uint16(len(fs)))
	data := base + uint32(2+12*len(fs)+4)
	var values []byte
	for _, f := range fs {
		out = le.AppendUint16(out, f.tag)
		out = le.AppendUint16(out, f.typ)
		out = le.AppendUint32(out, f.count)
		if len(f.value) <= 4 {
			out = append(out, f.value...)
			out = append(out, make([]byte, 4-len(f.value))...)
			continue
		}
		out = le.AppendUint32(out, data+uint32(len(values)))
		values = append(values, f.value...)
		if len(values)%2 == 1 {
			values = append(values, 0)
		}
	}
	out = le.AppendUint32(out, 0)
	return append(out, values...)
}

// exifTIFF is m's EXIF as a little-endian TIFF: IFD0 Artist and
// Copyright, Exif IFD DateTimeOriginal and OffsetTimeOriginal, the GPS
// IFD; and with them the tags the EXIF standard requires of a JPEG in
// each IFD it has (resolution and YCbCrPositioning in IFD0; versions,
// ColorSpace, pixel size and ComponentsConfiguration in the Exif IFD), as
// exiftool adds them, so that validators find nothing missing. Nil when m
// has nothing for EXIF.
func exifTIFF(m Metadata, p picture) ([]byte, error) {
	artist := strings.Join(m.Creator, "; ")
	if artist == "" && m.CopyrightNotice == "" && m.Created == nil && m.GPS == nil {
		return nil, nil
	}
	ifd0 := []field{
		rationals(0x011A, p.res[0], 1), // XResolution
		rationals(0x011B, p.res[1], 1), // YResolution
		short(0x0128, p.unit),          // ResolutionUnit
		short(0x0213, 1),               // YCbCrPositioning: centred
	}
	if artist != "" {
		ifd0 = append(ifd0, ascii(0x013B, artist))
	}
	if m.CopyrightNotice != "" {
		ifd0 = append(ifd0, ascii(0x8298, m.CopyrightNotice))
	}
	var exif, gps []field
	if m.Created != nil {
		exif = exifIFD(m, p)
		ifd0 = append(ifd0, long(0x8769, 0))
	}
	if m.GPS != nil {
		var err error
		if gps, err = gpsFields(*m.GPS); err != nil {
			return nil, err
		}
		ifd0 = append(ifd0, long(0x8825, 0))
	}
	// Sub-IFD pointers are 4-byte values, so IFD0's size does not depend
	// on them: lay out once, then write IFD0 with the offsets.
	exifAt := 8 + uint32(len(ifd(8, ifd0)))
	var exifBytes []byte
	if exif != nil {
		exifBytes = ifd(exifAt, exif)
	}
	gpsAt := exifAt + uint32(len(exifBytes))
	for i, f := range ifd0 {
		switch f.tag {
		case 0x8769:
			ifd0[i] = long(f.tag, exifAt)
		case 0x8825:
			ifd0[i] = long(f.tag, gpsAt)
		}
	}
	out := append([]byte("II*\x00"), le.AppendUint32(nil, 8)...)
	out = append(out, ifd(8, ifd0)...)
	out = append(out, exifBytes...)
	if gps != nil {
		out = append(out, ifd(gpsAt, gps)...)
	}
	return out, nil
}

// exifIFD holds the capture time, in its own zone.
func exifIFD(m Metadata, p picture) []field {
	components, space := "\x01\x02\x03\x00", uint16(1) // YCbCr; sRGB
	if p.components == 1 {
		components = "\x01\x00\x00\x00"
	}
	if p.icc {
		space = 0xFFFF // uncalibrated: the profile says
	}
	return []field{
		undefined(0x9000, "0232"), // ExifVersion
		ascii(0x9003, created(m, "2006:01:02 15:04:05")),
		ascii(0x9011, created(m, "-07:00")),
		undefined(0x9101, components),
		undefined(0xA000, "0100"), // FlashpixVersion
		short(0xA001, space),
		long(0xA002, p.width),
		long(0xA003, p.height),
	}
}

// gpsFields is the GPS IFD for g: version 2.3, latitude and longitude as
// degrees, minutes and seconds to 1/10000 s (3 mm), altitude to 1 cm.
func gpsFields(g contract.GPS) ([]field, error) {
	if !(math.Abs(g.Lat) <= 90) || !(math.Abs(g.Lon) <= 180) {
		return nil, fmt.Errorf("stamp: GPS position %v, %v out of range", g.Lat, g.Lon)
	}
	ref := func(v float64, pos, neg string) string {
		if v < 0 {
			return neg
		}
		return pos
	}
	fs := []field{
		{0x0000, typeByte, 4, []byte{2, 3, 0, 0}}, // GPSVersionID
		ascii(0x0001, ref(g.Lat, "N", "S")),
		dms(0x0002, g.Lat),
		ascii(0x0003, ref(g.Lon, "E", "W")),
		dms(0x0004, g.Lon),
	}
	if a := g.Alt; a != nil {
		cm := math.Round(math.Abs(*a) * 100)
		if !(cm <= math.MaxUint32) {
			return nil, fmt.Errorf("stamp: GPS altitude %v out of range", *a)
		}
		below := byte(0)
		if *a < 0 {
			below = 1
		}
		fs = append(fs, field{0x0005, typeByte, 1, []byte{below}}, rationals(0x0006, uint32(cm), 100))
	}
	return fs, nil
}

// dms writes |deg| as degrees, minutes and seconds, rounding in whole
// units of 1/10000 s so that 59.99999 s carries into the minute.
func dms(tag uint16, deg float64) field {
	const perSecond = 10000
	u := uint64(math.Round(math.Abs(deg) * 3600 * perSecond))
	d, m, s := u/(3600*perSecond), u/(60*perSecond)%60, u%(60*perSecond)
	return rationals(tag, uint32(d), 1, uint32(m), 1, uint32(s), perSecond)
}
