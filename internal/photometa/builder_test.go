package photometa

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"slices"
	"testing"
)

// This file builds the test inputs: a TIFF/EXIF block from a list of fields,
// and the containers that carry one (JPEG, PNG, WebP, raw TIFF). Hostile
// inputs are made by building a valid block and patching it.

// field is one IFD entry. data is a string (ASCII; a NUL is added), []byte
// (BYTE or UNDEFINED), []uint16, []uint32, or []rat; count 0 means "as many
// as data holds".
type field struct {
	tag   uint16
	typ   uint16
	count uint32
	data  any
}

type rat [2]uint32

// appendOrder is binary.LittleEndian or binary.BigEndian.
type appendOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

func ascii(tag uint16, s string) field    { return field{tag: tag, typ: typeASCII, data: s} }
func short(tag uint16, v ...uint16) field { return field{tag: tag, typ: typeShort, data: v} }
func long(tag uint16, v ...uint32) field  { return field{tag: tag, typ: typeLong, data: v} }
func rats(tag uint16, v ...rat) field     { return field{tag: tag, typ: typeRational, data: v} }
func byte1(tag uint16, v byte) field      { return field{tag: tag, typ: typeByte, data: []byte{v}} }

// Tag IDs used by the tests.
const (
	tagMake             = 0x010F
	tagModel            = 0x0110
	tagImageWidth       = 0x0100
	tagImageLength      = 0x0101
	tagOrientation      = 0x0112
	tagDateTime         = 0x0132
	tagDateTimeOriginal = 0x9003
	tagDateTimeDigit    = 0x9004
	tagOffsetTime       = 0x9010
	tagOffsetTimeOrig   = 0x9011
	tagOffsetTimeDigit  = 0x9012
	tagSubSecTime       = 0x9290
	tagSubSecTimeOrig   = 0x9291
	tagSubSecTimeDigit  = 0x9292
	tagPixelX           = 0xA002
	tagPixelY           = 0xA003
	tagGPSLatRef        = 0x0001
	tagGPSLat           = 0x0002
	tagGPSLonRef        = 0x0003
	tagGPSLon           = 0x0004
	tagGPSAltRef        = 0x0005
	tagGPSAlt           = 0x0006
	tagGPSTime          = 0x0007
	tagGPSDate          = 0x001D
)

func (f field) encode(o appendOrder) (count uint32, val []byte) {
	switch d := f.data.(type) {
	case string:
		val = append([]byte(d), 0)
	case []byte:
		val = slices.Clone(d)
	case []uint16:
		for _, v := range d {
			val = o.AppendUint16(val, v)
		}
	case []uint32:
		for _, v := range d {
			val = o.AppendUint32(val, v)
		}
	case []rat:
		for _, v := range d {
			val = o.AppendUint32(o.AppendUint32(val, v[0]), v[1])
		}
	default:
		panic(fmt.Sprintf("field data %T", d))
	}
	count = f.count
	if count == 0 {
		count = uint32(len(val))
		switch f.typ {
		case typeShort:
			count /= 2
		case typeLong:
			count /= 4
		case typeRational:
			count /= 8
		}
	}
	return count, val
}

// exifSpec describes a TIFF/EXIF block: IFD0 (with IFD1 chained after it)
// and the Exif and GPS sub-IFDs, whose pointers are added to IFD0.
type exifSpec struct {
	order appendOrder // little-endian when nil
	ifd0  []field
	exif  []field
	gps   []field
	ifd1  []field
}

// layout is where build put each IFD (0: absent).
type layout struct{ ifd0, exif, gps, ifd1 int }

func ifdSize(o appendOrder, fs []field) int {
	n := 2 + 12*len(fs) + 4
	for _, f := range fs {
		if _, v := f.encode(o); len(v) > 4 {
			n += len(v) + len(v)&1
		}
	}
	return n
}

// encodeIFD writes fs (sorted by tag) as an IFD at offset start.
func encodeIFD(o appendOrder, start int, fs []field, next uint32) []byte {
	fs = slices.Clone(fs)
	slices.SortStableFunc(fs, func(a, b field) int { return int(a.tag) - int(b.tag) })
	out := make([]byte, ifdSize(o, fs))
	o.PutUint16(out, uint16(len(fs)))
	valueAt := 2 + 12*len(fs) + 4
	for i, f := range fs {
		p := out[2+12*i:]
		count, v := f.encode(o)
		o.PutUint16(p[0:], f.tag)
		o.PutUint16(p[2:], f.typ)
		o.PutUint32(p[4:], count)
		if len(v) <= 4 {
			copy(p[8:12], v)
			continue
		}
		o.PutUint32(p[8:], uint32(start+valueAt))
		copy(out[valueAt:], v)
		valueAt += len(v) + len(v)&1
	}
	o.PutUint32(out[2+12*len(fs):], next)
	return out
}

func (s exifSpec) build() ([]byte, layout) {
	var o appendOrder = binary.LittleEndian
	if s.order != nil {
		o = s.order
	}
	ifd0 := slices.Clone(s.ifd0)
	if len(s.exif) > 0 {
		ifd0 = append(ifd0, long(tagExifIFD, 0))
	}
	if len(s.gps) > 0 {
		ifd0 = append(ifd0, long(tagGPSIFD, 0))
	}
	var l layout
	l.ifd0 = 8
	at := l.ifd0 + ifdSize(o, ifd0)
	if len(s.exif) > 0 {
		l.exif, at = at, at+ifdSize(o, s.exif)
	}
	if len(s.gps) > 0 {
		l.gps, at = at, at+ifdSize(o, s.gps)
	}
	if len(s.ifd1) > 0 {
		l.ifd1 = at
	}
	for i, f := range ifd0 {
		switch f.tag {
		case tagExifIFD:
			ifd0[i] = long(tagExifIFD, uint32(l.exif))
		case tagGPSIFD:
			ifd0[i] = long(tagGPSIFD, uint32(l.gps))
		}
	}
	b := []byte("II*\x00\x08\x00\x00\x00")
	if o == binary.BigEndian {
		b = []byte("MM\x00*\x00\x00\x00\x08")
	}
	b = append(b, encodeIFD(o, l.ifd0, ifd0, uint32(l.ifd1))...)
	if l.exif > 0 {
		b = append(b, encodeIFD(o, l.exif, s.exif, 0)...)
	}
	if l.gps > 0 {
		b = append(b, encodeIFD(o, l.gps, s.gps, 0)...)
	}
	if l.ifd1 > 0 {
		b = append(b, encodeIFD(o, l.ifd1, s.ifd1, 0)...)
	}
	return b, l
}

// entryAt is the position of the entry for tag in the IFD at off of a
// little-endian block, for patching.
func entryAt(t testing.TB, b []byte, off int, tag uint16) int {
	t.Helper()
	le := binary.LittleEndian
	n := int(le.Uint16(b[off:]))
	for i := range n {
		p := off + 2 + 12*i
		if le.Uint16(b[p:]) == tag {
			return p
		}
	}
	t.Fatalf("no entry 0x%04X in IFD at %d", tag, off)
	return 0
}

// nextAt is the position of the next-IFD pointer of the IFD at off.
func nextAt(b []byte, off int) int {
	return off + 2 + 12*int(binary.LittleEndian.Uint16(b[off:]))
}

// basicEXIF is a camera's usual EXIF: make, model, orientation, dates.
func basicEXIF() exifSpec {
	return exifSpec{
		ifd0: []field{
			ascii(tagMake, "Canon"), ascii(tagModel, "Canon EOS R6"), short(tagOrientation, 6),
			ascii(tagDateTime, "2026:07:28 11:00:00"),
		},
		exif: []field{
			ascii(tagDateTimeOriginal, "2026:07:28 09:30:00"),
			ascii(tagDateTimeDigit, "2026:07:28 09:30:01"),
			long(tagPixelX, 6000), long(tagPixelY, 4000),
		},
	}
}

// segment is a JPEG marker segment.
func segment(marker byte, payload ...[]byte) []byte {
	p := bytes.Join(payload, nil)
	if len(p)+2 > 0xFFFF {
		panic("segment too long")
	}
	return append([]byte{0xFF, marker, byte((len(p) + 2) >> 8), byte(len(p) + 2)}, p...)
}

func exifAPP1(tiff []byte) []byte { return segment(0xE1, []byte("Exif\x00\x00"), tiff) }

const xmpHeader = "http://ns.adobe.com/xap/1.0/\x00"

func xmpAPP1() []byte {
	return segment(0xE1, []byte(xmpHeader), []byte(`<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:CreateDate="2001-01-01T00:00:00"/></rdf:RDF></x:xmpmeta>`))
}

func testImage(w, h int) image.Image {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			m.Set(x, y, color.RGBA{uint8(x * 7), uint8(y * 5), 90, 255})
		}
	}
	return m
}

// jpegFile is a real w×h JPEG (as image/jpeg writes it: SOI, DQT, SOF0,
// ...) with segs inserted after SOI.
func jpegFile(t testing.TB, w, h int, segs ...[]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, testImage(w, h), &jpeg.Options{Quality: 75}); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	return slices.Concat(b[:2], bytes.Join(segs, nil), b[2:])
}

// pngFile is a real w×h PNG with chunks inserted after IHDR.
func pngFile(t testing.TB, w, h int, chunks ...[]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, testImage(w, h)); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	const afterIHDR = 8 + 8 + 13 + 4
	return slices.Concat(b[:afterIHDR], bytes.Join(chunks, nil), b[afterIHDR:])
}

func pngChunk(typ string, data []byte) []byte {
	c := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	c = append(append(c, typ...), data...)
	return binary.BigEndian.AppendUint32(c, crc32.ChecksumIEEE(c[4:]))
}

func riffChunk(fourcc string, data []byte) []byte {
	c := binary.LittleEndian.AppendUint32([]byte(fourcc), uint32(len(data)))
	c = append(c, data...)
	if len(data)&1 == 1 {
		c = append(c, 0)
	}
	return c
}

func riff(chunks ...[]byte) []byte {
	body := append([]byte("WEBP"), bytes.Join(chunks, nil)...)
	return append(binary.LittleEndian.AppendUint32([]byte("RIFF"), uint32(len(body))), body...)
}

// vp8x is a VP8X chunk for a w×h canvas, flagged as holding EXIF or not.
func vp8x(w, h int, exif bool) []byte {
	d := make([]byte, 10)
	if exif {
		d[0] = 0x08
	}
	d[4], d[5], d[6] = byte(w-1), byte((w-1)>>8), byte((w-1)>>16)
	d[7], d[8], d[9] = byte(h-1), byte((h-1)>>8), byte((h-1)>>16)
	return riffChunk("VP8X", d)
}

// vp8l is the header of a lossless bitstream for w×h (the rest is not
// needed to read the size).
func vp8l(w, h int) []byte {
	bits := uint32(w-1) | uint32(h-1)<<14
	return riffChunk("VP8L", binary.LittleEndian.AppendUint32([]byte{0x2f}, bits))
}

// vp8 is the header of a lossy key frame for w×h.
func vp8(w, h int) []byte {
	d := []byte{0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a}
	d = binary.LittleEndian.AppendUint16(d, uint16(w))
	d = binary.LittleEndian.AppendUint16(d, uint16(h))
	return riffChunk("VP8 ", d)
}

func gifFile(t testing.TB, w, h int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := gif.Encode(&buf, testImage(w, h), nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
