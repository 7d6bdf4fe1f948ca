// Package stamp writes what a published picture says about itself (its
// caption, byline, credit and rights) into JPEG and WebP files as IPTC
// IIM, XMP and EXIF. It splices metadata segments (JPEG) and chunks (WebP)
// into the encoded bytes and never re-encodes: the pixels stay
// byte-identical, so a caption correction costs no image work.
package stamp

import (
	"errors"
	"fmt"
	"time"

	"github.com/photodesk/photodesk/pipeline/contract"
)

// Metadata is everything a published file carries about itself. Empty
// fields are left out; an empty Metadata strips the file of EXIF, XMP and
// IPTC.
type Metadata struct {
	// Rights are resolved: CopyrightNotice is the final text, not a
	// template.
	contract.Rights
	Headline string
	// Caption is the caption exactly as published (date prefix included).
	Caption string
	// Created is when the photo was taken, in its own zone: XMP
	// photoshop:DateCreated, IIM 2:55/2:60, EXIF DateTimeOriginal and
	// OffsetTimeOriginal.
	Created *time.Time
	// GPS is written (EXIF GPS IFD) only when set: desks that keep
	// positions (--keep-gps) set it.
	GPS *contract.GPS
}

var (
	// ErrUnsupported is returned for a format stamp cannot write into.
	ErrUnsupported = errors.New("stamp: format not supported")
	// ErrMalformed is returned for a file whose structure stamp cannot
	// follow (not a JPEG or WebP, or cut short).
	ErrMalformed = errors.New("stamp: malformed file")
	// ErrTooLarge is returned when the metadata does not fit where it
	// goes (one JPEG segment each: 64 KiB).
	ErrTooLarge = errors.New("stamp: metadata too large")
)

// Writes says whether File can stamp files of format: the rest (AVIF)
// are published as rendered, unstamped and unsigned.
func Writes(format string) bool { return format == "jpeg" || format == "webp" }

// File stamps data of format ("jpeg" or "webp", as imaging.Format names
// them) with m. Errors are ErrUnsupported, ErrMalformed (the file),
// ErrTooLarge (the metadata), or a GPS position out of range.
func File(data []byte, format string, m Metadata) ([]byte, error) {
	switch format {
	case "jpeg":
		return JPEG(data, m)
	case "webp":
		return WebP(data, m)
	}
	return nil, ErrUnsupported
}

// JPEG returns jpg with its EXIF, XMP and Photoshop (IPTC) segments
// replaced by m's: APP1 Exif, APP1 XMP and APP13, in that order, after SOI
// and the JFIF APP0. Every other byte is kept as it was.
func JPEG(jpg []byte, m Metadata) ([]byte, error) {
	j, err := parseJPEG(jpg)
	if err != nil {
		return nil, err
	}
	b, err := build(m, j.pic)
	if err != nil {
		return nil, err
	}
	return j.with(b)
}

// WebP returns webp with its EXIF and XMP chunks replaced by m's (WebP
// has no place for IPTC IIM). A simple file that gains metadata becomes
// the extended format.
func WebP(webp []byte, m Metadata) ([]byte, error) {
	w, err := parseWebP(webp)
	if err != nil {
		return nil, err
	}
	b, err := build(m, w.pic)
	if err != nil {
		return nil, err
	}
	return w.with(b)
}

// picture is what the metadata says about the image it goes into.
type picture struct {
	width, height uint32
	components    int  // 1 for grey
	icc           bool // an embedded colour profile: EXIF ColorSpace uncalibrated
	// res is the X and Y resolution; unit 2 for inch, 3 for centimetre
	// (EXIF ResolutionUnit).
	res  [2]uint32
	unit uint16
}

// blocks are the encoded metadata, each nil when there is nothing to say.
type blocks struct {
	exif []byte // a TIFF, without the "Exif\0\0" of JPEG's segment
	xmp  []byte // an XMP packet
	iim  []byte // IPTC IIM datasets
}

// maxXMP is the largest packet a JPEG APP1 segment holds (XMP part 3).
const maxXMP = 65502

func build(m Metadata, p picture) (blocks, error) {
	m = clean(m)
	exif, err := exifTIFF(m, p)
	if err != nil {
		return blocks{}, err
	}
	b := blocks{exif: exif, xmp: xmpPacket(m), iim: iimData(m)}
	if len(b.xmp) > maxXMP {
		return blocks{}, fmt.Errorf("%w: XMP packet of %d bytes, over the %d one JPEG segment holds", ErrTooLarge, len(b.xmp), maxXMP)
	}
	return b, nil
}
