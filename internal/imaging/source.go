package imaging

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"time"

	"github.com/davidbyttow/govips/v2/vips"

	"github.com/photodesk/photodesk/internal/photometa"
)

// Limits bound what Open accepts.
type Limits struct {
	MaxPixels int64
	MaxBytes  int64
}

// Source is an original that passed the checks: a known type, within the
// limits, with a readable header. Nothing has been decoded yet.
type Source struct {
	data []byte
	size int64 // len(data), kept when a shared decode drops data
	// Format is sniffed from the bytes.
	Format string
	// Width and Height are upright: the EXIF orientation applied.
	Width, Height int
	// Copyright is the EXIF Copyright notice, kept in every derivative.
	Copyright string
	// Region is the embedded image region crops centre on when the gallery
	// gives no focal point; RegionNote says why none could be read.
	Region     *photometa.ImageRegion
	RegionNote string
	// SHA256 is the hex SHA-256 of the original's bytes: the parent its
	// renditions' Content Credentials name.
	SHA256 string
	// cmyk sources take their own load path (see loadCMYK).
	cmyk bool
	// base is a kept decode (Options.KeepDecode) for smaller presets.
	base *vips.ImageRef
}

// keep replaces the kept decode.
func (s *Source) keep(img *vips.ImageRef) {
	if s.base != nil {
		s.base.Close()
	}
	s.base = img
}

// Close releases the kept decode, if any; the Source stays usable.
func (s *Source) Close() {
	if s.base != nil {
		s.base.Close()
		s.base = nil
	}
}

// MaxJPEGScans bounds a JPEG's scans, libjpeg-turbo's own limit for its
// TurboJPEG API (libvips uses the libjpeg API, which has none, and its
// fail option does not help: a crafted file of many valid scans draws no
// warning). Cameras and editors write 1 to about 20.
const MaxJPEGScans = 500

// Open checks an original from its bytes and header alone: the type is
// sniffed (never taken from a name), and the size, pixel count and (for a
// JPEG) scan count are bounded before libvips decodes a single pixel.
func Open(data []byte, lim Limits) (*Source, error) {
	Start(nil)
	if len(data) == 0 {
		return nil, badInput("the file is empty")
	}
	if problem := lim.OverSize(int64(len(data))); problem != "" {
		return nil, badInput("%s", problem)
	}
	format := photometa.Sniff(data[:min(len(data), 64)])
	if format == "" {
		return nil, badInput("not an image photodesk reads (JPEG, PNG, WebP, TIFF, HEIF, GIF): the bytes look like %s",
			http.DetectContentType(data[:min(len(data), 512)]))
	}
	if !CanRead(format) {
		return nil, badInput("%s images are not supported by this server's libvips (no loader)", format)
	}
	if format == "jpeg" {
		if n := photometa.JPEGScans(data); n > MaxJPEGScans {
			return nil, badInput("the JPEG has %d scans, over the %d-scan limit (libjpeg decodes every scan over the whole image first: that many would take minutes)", n, MaxJPEGScans)
		}
	}
	p := vips.NewImportParams()
	p.FailOnError.Set(true)
	// A lazy load: libvips reads the header here, pixels only on demand.
	hdr, err := withReason(func() (*vips.ImageRef, error) {
		img, err := vips.LoadImageFromBuffer(data, p)
		if err != nil {
			return nil, badInput("unreadable %s: %s", format, vipsErr(err))
		}
		return img, nil
	})
	if err != nil {
		return nil, err
	}
	w, h, o := hdr.Width(), hdr.PageHeight(), hdr.Orientation()
	cmyk := hdr.Interpretation() == vips.InterpretationCMYK
	hdr.Close()
	if h <= 0 {
		h = 0
	}
	if w <= 0 || h <= 0 {
		return nil, badInput("%s header gives no size", format)
	}
	if px := int64(w) * int64(h); lim.MaxPixels > 0 && px > lim.MaxPixels {
		return nil, badInput("the image is %d×%d (%.1f MP), over the %.1f MP limit", w, h, float64(px)/1e6, float64(lim.MaxPixels)/1e6)
	}
	if o >= 5 && o <= 8 {
		w, h = h, w
	}
	sum := sha256.Sum256(data)
	s := &Source{data: data, size: int64(len(data)), Format: format, Width: w, Height: h, cmyk: cmyk, SHA256: hex.EncodeToString(sum[:])}
	// EXIF damage is the exif role's to report; here it only costs the notice.
	if x, err := photometa.Extract(bytes.NewReader(data), int64(len(data)), time.UTC); err == nil {
		s.Copyright = x.Copyright
		s.Region, s.RegionNote = x.Region, x.RegionProblem
	}
	return s, nil
}

// Size is the original's length in bytes.
func (s *Source) Size() int64 { return s.size }

// OverSize says why an original of n bytes is over the limit, or "" if
// it is not; the image roles check an event's size before downloading.
func (l Limits) OverSize(n int64) string {
	if l.MaxBytes > 0 && n > l.MaxBytes {
		return fmt.Sprintf("the file is %s, over the %s limit", mib(n), mib(l.MaxBytes))
	}
	return ""
}

func mib(n int64) string {
	if n < 1<<20 {
		return fmt.Sprintf("%d bytes", n)
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}
