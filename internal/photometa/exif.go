package photometa

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/rwcarlsen/goexif/exif"
	"github.com/rwcarlsen/goexif/tiff"
)

// goexif (2019) predates EXIF 2.31 and does not know the offset tags; they
// are loaded by a parser of our own. Makernote parsers (mknote.All) are never
// registered: makernotes are vendor formats goexif decodes with even less
// care than EXIF, and nothing here needs them.
const (
	fieldOffsetTime          exif.FieldName = "OffsetTime"
	fieldOffsetTimeOriginal  exif.FieldName = "OffsetTimeOriginal"
	fieldOffsetTimeDigitized exif.FieldName = "OffsetTimeDigitized"
)

var offsetFields = map[uint16]exif.FieldName{
	0x9010: fieldOffsetTime,
	0x9011: fieldOffsetTimeOriginal,
	0x9012: fieldOffsetTimeDigitized,
}

func init() { exif.RegisterParsers(offsetParser{}) }

// offsetParser loads the offset tags from the Exif sub-IFD. goexif calls it
// after its own parser, on a block the guard has checked. An error here would
// stop goexif's decode, so a missing or unreadable IFD is simply no offsets.
type offsetParser struct{}

func (offsetParser) Parse(x *exif.Exif) error {
	ptr, err := x.Get(exif.ExifIFDPointer)
	if err != nil {
		return nil
	}
	off, err := ptr.Int64(0)
	if err != nil {
		return nil
	}
	r := bytes.NewReader(x.Raw)
	if _, err := r.Seek(off, io.SeekStart); err != nil {
		return nil
	}
	dir, _, err := tiff.DecodeDir(r, x.Tiff.Order)
	if err != nil {
		return nil
	}
	x.LoadTags(dir, offsetFields, false)
	return nil
}

// readEXIF guards and decodes the container's EXIF block and fills x from it.
func readEXIF(c container, loc *time.Location, x *Exif) error {
	notes, err := guardTIFF(c.tiff, c.limit)
	if errors.Is(err, errEXIFBeyondHead) {
		x.note("TIFF: IFD0 lies beyond the first %d KiB; EXIF not read", len(c.tiff)>>10)
		return nil
	} else if err != nil {
		return err
	}
	x.Notes = append(x.Notes, notes...)
	ex, warn, err := decode(c.tiff)
	if err != nil {
		return err
	}
	if warn != "" {
		x.note("EXIF: %s", warn)
	}
	x.Present = true
	return fill(ex, loc, x)
}

// decode runs goexif on a guarded block. A panic in goexif, which the guard
// should have made impossible, is reported as bad input.
func decode(b []byte) (x *exif.Exif, warn string, err error) {
	defer func() {
		if r := recover(); r != nil {
			x, warn, err = nil, "", BadInput("corrupt EXIF: decoder panicked: %v", r)
		}
	}()
	x, err = exif.Decode(bytes.NewReader(b))
	if err != nil {
		// A sub-IFD that failed leaves the rest usable (the guard should
		// have made this impossible too).
		if x != nil && !exif.IsCriticalError(err) {
			return x, oneLine(err.Error()), nil
		}
		return nil, "", BadInput("corrupt EXIF: %s", oneLine(err.Error()))
	}
	return x, "", nil
}

// fill copies the tags into x. Tag accessors in goexif panic on an index out
// of range; the guard makes every decoded tag hold at least one value, and a
// panic anyway is bad input.
func fill(ex *exif.Exif, loc *time.Location, x *Exif) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = BadInput("corrupt EXIF: reading tags panicked: %v", r)
		}
	}()
	t := tags{ex}
	x.Make = t.str(exif.Make)
	x.Model = t.str(exif.Model)
	x.Artist = t.str(exif.Artist)
	x.Copyright = t.str(exif.Copyright)
	x.imageDescription = t.str(exif.ImageDescription)
	if o, ok := t.int(exif.Orientation); ok && o >= 1 && o <= 8 {
		x.Orientation = o
	} else if ok {
		x.note("EXIF: Orientation %d is not 1..8; ignored", o)
	}
	if x.Width == 0 || x.Height == 0 {
		w, h := exif.PixelXDimension, exif.PixelYDimension
		if x.Format == "tiff" {
			// IFD0 describes the image itself (in a camera raw file, often
			// its preview; the sensor size is in a sub-IFD goexif skips).
			w, h = exif.ImageWidth, exif.ImageLength
		}
		wv, wok := t.int(w)
		hv, hok := t.int(h)
		if wok && hok && wv > 0 && hv > 0 {
			x.Width, x.Height = wv, hv
		}
	}
	exifDates(t, loc, x)
	readGPS(t, x)
	return nil
}

// tags reads goexif's tags leniently: a tag of the wrong type is absent.
type tags struct{ x *exif.Exif }

func (t tags) get(name exif.FieldName) *tiff.Tag {
	tag, err := t.x.Get(name)
	if err != nil {
		return nil
	}
	return tag
}

// str is an ASCII tag's value without NULs and surrounding spaces, as valid
// UTF-8.
func (t tags) str(name exif.FieldName) string {
	tag := t.get(name)
	if tag == nil {
		return ""
	}
	s, err := tag.StringVal()
	if err != nil {
		return ""
	}
	s = strings.TrimSpace(strings.ReplaceAll(s, "\x00", ""))
	return strings.ToValidUTF8(s, "\uFFFD")
}

// int is the first value of an integer tag.
func (t tags) int(name exif.FieldName) (int, bool) {
	tag := t.get(name)
	if tag == nil || tag.Format() != tiff.IntVal || tag.Count < 1 {
		return 0, false
	}
	v, err := tag.Int64(0)
	if err != nil || v < -1<<31 || v > 1<<31-1 {
		return 0, false
	}
	return int(v), true
}

// rats are the values of a rational tag, at most n of them.
func (t tags) rats(name exif.FieldName, n int) ([][2]int64, bool) {
	tag := t.get(name)
	if tag == nil || tag.Format() != tiff.RatVal || tag.Count < 1 {
		return nil, false
	}
	var out [][2]int64
	for i := 0; i < n && i < int(tag.Count); i++ {
		num, den, err := tag.Rat2(i)
		if err != nil {
			return nil, false
		}
		out = append(out, [2]int64{num, den})
	}
	return out, true
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
