// Package photometa reads a photo's capture date and camera facts (make,
// model, orientation, pixel size, GPS), and its embedded caption, byline and
// rights fields, from the few bytes of the file that hold them, so the exif role can work on
// a 20 MB original with one or two ranged GETs.
//
// The container is sniffed from the bytes (jpeg.go, png.go, webp.go, tiff.go,
// gif.go, heif.go); the EXIF block it holds is checked by tiffguard.go before
// goexif decodes it (exif.go), because goexif trusts the counts and offsets it
// reads; capture.go and gps.go turn the tags into values. captions.go,
// xmp.go and iptc.go read the caption and byline from XMP, IPTC IIM and EXIF,
// and rights.go the credit and rights fields.
package photometa

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/photodesk/photodesk/pipeline/contract"
)

// ErrBadInput is wrapped by every error caused by the photo's bytes (not an
// image, corrupt or hostile EXIF, ...). Callers treat errors.Is(err,
// ErrBadInput) as permanent; other errors (I/O from the ReaderAt) are
// transient.
var ErrBadInput = errors.New("bad input")

// BadInput returns an error wrapping ErrBadInput.
func BadInput(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadInput, fmt.Sprintf(format, args...))
}

// GPS is where the photo was taken, in decimal degrees (south and west
// negative) and metres above sea level.
type GPS struct {
	Lat float64  `json:"lat"`
	Lon float64  `json:"lon"`
	Alt *float64 `json:"alt,omitempty"`
}

// Exif is what Extract learnt about one photo.
type Exif struct {
	// Format is sniffed from the bytes: "jpeg", "png", "webp", "tiff", "heif"
	// or "gif".
	Format string `json:"format"`
	// Present reports that an EXIF block was found and read.
	Present bool `json:"present"`
	// CapturedAt is nil when no date is known.
	CapturedAt *time.Time `json:"captured_at,omitempty"`
	// DateSource is the tag CapturedAt came from, the first usable of
	// dateSources: "DateTimeOriginal", "XMP exif:DateTimeOriginal", "XMP
	// photoshop:DateCreated", "IPTC DateCreated", "DateTimeDigitized",
	// "DateTime", "GPSDateTime"; "" when none.
	DateSource string `json:"date_source,omitempty"`
	// ZoneSource is where CapturedAt's UTC offset came from:
	// "OffsetTimeOriginal", "OffsetTimeDigitized", "OffsetTime", the XMP
	// date itself, "IPTC TimeCreated", "newsroom-zone" (the date carries
	// no offset), "utc-gps", or "".
	ZoneSource string `json:"zone_source,omitempty"`
	Make       string `json:"make,omitempty"`
	Model      string `json:"model,omitempty"`
	// Artist and Copyright are the EXIF IFD0 tags, on one line; the image
	// roles keep Copyright in every derivative.
	Artist    string `json:"artist,omitempty"`
	Copyright string `json:"copyright,omitempty"`
	// Caption and Byline are the photo's own caption and byline, from the
	// first of XMP (dc:description, dc:creator), IPTC IIM (2:120
	// Caption-Abstract, 2:80 By-line) and EXIF (ImageDescription, Artist)
	// that has one; CaptionSource and BylineSource say which: "xmp",
	// "iptc", "exif", or "" when none (see captions.go). A caption keeps its
	// line breaks (as "\n"); a byline is one line, several names joined
	// with "、".
	Caption       string `json:"caption,omitempty"`
	CaptionSource string `json:"caption_source,omitempty"`
	Byline        string `json:"byline,omitempty"`
	BylineSource  string `json:"byline_source,omitempty"`
	// Rights are the credit and rights fields the photo embeds, each from
	// the first of XMP, IPTC IIM and EXIF that has it (see rights.go); nil
	// when it embeds none.
	Rights *contract.Rights `json:"rights,omitempty"`
	// Orientation is the EXIF orientation, 1..8; 0 when absent or invalid.
	Orientation int `json:"orientation,omitempty"`
	// Width and Height are the real pixel dimensions: from the container's
	// own header (JPEG SOFn, PNG IHDR, WebP, GIF; TIFF IFD0) when it was
	// within the bytes read, else EXIF PixelXDimension/PixelYDimension.
	Width  int  `json:"width,omitempty"`
	Height int  `json:"height,omitempty"`
	GPS    *GPS `json:"gps,omitempty"`
	// Notes are non-fatal observations, e.g. "no EXIF".
	Notes []string `json:"notes,omitempty"`
	// Region is the embedded IPTC image region that names the picture's
	// centre of interest (a recommended crop or its subject), for the
	// image roles' crops; RegionProblem says why the regions with such a
	// role could not be read, when none could.
	Region        *ImageRegion `json:"-"`
	RegionProblem string       `json:"-"`

	// imageDescription is the EXIF ImageDescription, the caption of last
	// resort.
	imageDescription string
	// dates are the capture dates the file states, by DateSource, read
	// only when their turn comes (pickCaptureTime), so an unusable date
	// after a usable one costs no note.
	dates map[string]func() (at time.Time, zone string, ok bool)
}

func (x *Exif) note(format string, args ...any) {
	x.Notes = append(x.Notes, fmt.Sprintf(format, args...))
}

// container is what a format reader found besides the pixel size, which it
// sets on the Exif directly.
type container struct {
	// tiff is the EXIF block, TIFF-structured ("II*\0" or "MM\0*"); nil when
	// the file holds none.
	tiff []byte
	// limit is the size of the TIFF stream tiff is the head of: len(tiff),
	// except for a raw TIFF file, of which only the head is read.
	limit int64
	// unread means the file may hold EXIF that was not read (HEIF): no
	// "no EXIF" note then.
	unread bool
	// xmp is the XMP packet (at most maxXMP bytes); photoshop the
	// Photoshop image resources of a JPEG's APP13 segments, after their
	// "Photoshop 3.0\0" header; iim the IPTC IIM datasets of a TIFF's tag
	// 33723. nil when the file holds none.
	xmp, photoshop, iim []byte
}

// Extract reads only what it needs from r (size is the object's size): the
// container's headers, and the EXIF block. loc is the newsroom time zone used
// when the EXIF carries no offset; nil means UTC.
func Extract(r io.ReaderAt, size int64, loc *time.Location) (*Exif, error) {
	if loc == nil {
		loc = time.UTC
	}
	if size < 0 {
		return nil, fmt.Errorf("photometa: negative size %d", size)
	}
	if size == 0 {
		return nil, BadInput("empty file")
	}
	s := &source{r: r, size: size}
	head, err := s.readUpTo(0, sniffLen)
	if err != nil {
		return nil, err
	}
	x := &Exif{Format: sniff(head)}
	var c container
	switch x.Format {
	case "jpeg":
		c, err = readJPEG(s, x)
	case "png":
		c, err = readPNG(s, x)
	case "webp":
		c, err = readWebP(s, x)
	case "tiff":
		c, err = readTIFF(s, x, head)
	case "gif":
		c, err = readGIF(s, x)
	case "heif":
		c, err = readHEIF(x)
	default:
		return nil, BadInput("not an image: unrecognised file signature")
	}
	if err != nil {
		return nil, err
	}
	if c.tiff == nil {
		if !c.unread {
			x.note("no EXIF")
		}
	} else if err := readEXIF(c, loc, x); err != nil {
		return nil, err
	}
	for _, d := range readCaptions(c, x) {
		d.offer(loc, x)
	}
	x.pickCaptureTime()
	return x, nil
}
