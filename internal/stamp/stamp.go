// Package stamp writes what a published picture says about itself (its
// caption, byline, credit and rights) into JPEG and WebP files as IPTC
// IIM, XMP and EXIF. It splices metadata segments (JPEG) and chunks (WebP)
// into the encoded bytes and never re-encodes: the pixels stay
// byte-identical, so a caption correction costs no image work.
package stamp

import (
	"errors"
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

// ErrUnsupported is returned for a format stamp cannot write into.
var ErrUnsupported = errors.New("stamp: format not supported")

// File stamps data of format ("jpeg" or "webp", as imaging.Format names
// them) with m.
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
// replaced by m's. Not written yet.
func JPEG(jpg []byte, m Metadata) ([]byte, error) { return nil, ErrUnsupported }

// WebP returns webp with its EXIF and XMP chunks replaced by m's. Not
// written yet.
func WebP(webp []byte, m Metadata) ([]byte, error) { return nil, ErrUnsupported }
