package photometa

import (
	"math"
	"strings"
	"time"
	_ "time/tzdata" // the newsroom zone (Asia/Shanghai, say) must load on hosts without tz data

	"github.com/rwcarlsen/goexif/exif"
)

// dateTag is one EXIF date with the tags that qualify it.
type dateTag struct {
	name   string // DateSource
	date   exif.FieldName
	subsec exif.FieldName
	offset exif.FieldName
}

// dateTags in order of preference. Each date takes only its own offset and
// sub-second tags: OffsetTime belongs to DateTime, the time the file was last
// written, which may be an edit made later in another zone than the shot.
// This is also how exiftool's composite SubSecDateTimeOriginal and friends
// read them.
var dateTags = []dateTag{
	{"DateTimeOriginal", exif.DateTimeOriginal, exif.SubSecTimeOriginal, fieldOffsetTimeOriginal},
	{"DateTimeDigitized", exif.DateTimeDigitized, exif.SubSecTimeDigitized, fieldOffsetTimeDigitized},
	{"DateTime", exif.DateTime, exif.SubSecTime, fieldOffsetTime},
}

// Where a capture date can come from (Exif.DateSource) besides the EXIF
// tags, which go by their own names.
const (
	SourceXMPDateTimeOriginal = "XMP exif:DateTimeOriginal"
	SourceXMPDateCreated      = "XMP photoshop:DateCreated"
	SourceIPTCDateCreated     = "IPTC DateCreated"
)

// dateSources are the capture dates in exiftool's order of preference:
// the camera's own, then what an editor (Lightroom, Photoshop, a wire
// desk's IPTC) says the photo was taken, and only then the digitized and
// modify dates and the GPS clock.
var dateSources = []string{
	"DateTimeOriginal", SourceXMPDateTimeOriginal, SourceXMPDateCreated, SourceIPTCDateCreated,
	"DateTimeDigitized", "DateTime", "GPSDateTime",
}

// offerDate records a date the file states, to be read when its turn
// comes.
func (x *Exif) offerDate(source string, read func() (time.Time, string, bool)) {
	if x.dates == nil {
		x.dates = map[string]func() (time.Time, string, bool){}
	}
	if _, ok := x.dates[source]; !ok {
		x.dates[source] = read
	}
}

// pickCaptureTime sets CapturedAt from the first usable date in
// dateSources order.
func (x *Exif) pickCaptureTime() {
	for _, src := range dateSources {
		read, ok := x.dates[src]
		if !ok {
			continue
		}
		if at, zone, ok := read(); ok {
			x.CapturedAt, x.DateSource, x.ZoneSource = &at, src, zone
			return
		}
	}
	if x.Present || len(x.dates) > 0 {
		x.note("no capture date")
	}
}

// exifDates offers the EXIF dates, each with its own offset (else the
// newsroom zone) and sub-seconds, and the GPS date and time, which are UTC.
func exifDates(t tags, loc *time.Location, x *Exif) {
	for _, d := range dateTags {
		raw := t.str(d.date)
		if raw == "" {
			continue
		}
		x.offerDate(d.name, func() (time.Time, string, bool) {
			c, ok := parseDateTime(raw)
			if !ok {
				if isPlaceholder(raw) {
					x.note("EXIF: %s is a placeholder (%q); ignored", d.name, raw)
				} else {
					x.note("EXIF: %s %q is not a valid date; ignored", d.name, raw)
				}
				return time.Time{}, "", false
			}
			zone, zoneSource := loc, "newsroom-zone"
			if s := t.str(d.offset); strings.Trim(s, " :") != "" { // "   :  " is unset
				if off, ok := parseOffset(s); ok {
					zone, zoneSource = time.FixedZone("", off), string(d.offset)
				} else {
					x.note("EXIF: %s %q is not a UTC offset; ignored", d.offset, s)
				}
			}
			ns := 0
			if s := t.str(d.subsec); s != "" {
				if v, ok := parseSubSec(s); ok {
					ns = v
				} else {
					x.note("EXIF: %s %q is not a fraction of a second; ignored", d.subsec, s)
				}
			}
			return time.Date(c.year, time.Month(c.month), c.day, c.hour, c.min, c.sec, ns, zone), zoneSource, true
		})
	}
	x.offerDate("GPSDateTime", func() (time.Time, string, bool) {
		at, ok := gpsTime(t, x)
		return at, "utc-gps", ok
	})
}

// statedDate is a capture date an XMP packet or IPTC block states, as
// written: an XMP date (ISO 8601), or IPTC's 2:55 Date Created with 2:60
// Time Created.
type statedDate struct {
	source     string
	date, time string
}

// offer offers d, read in loc when it states no offset.
func (d statedDate) offer(loc *time.Location, x *Exif) {
	x.offerDate(d.source, func() (time.Time, string, bool) {
		var (
			at   time.Time
			zone string
			ok   bool
		)
		if d.source == SourceIPTCDateCreated {
			var clockOK bool
			at, zone, ok, clockOK = parseIPTCDate(d.date, d.time, loc)
			if ok && !clockOK {
				x.note("IPTC TimeCreated %q is not a time; the day of DateCreated stands", clip(d.time, 64))
			}
		} else {
			at, zone, ok = parseXMPDate(d.date, d.source, loc)
		}
		if !ok {
			x.note("%s %q is not a valid date; ignored", d.source, clip(d.date+d.time, 64))
		}
		return at, zone, ok
	})
}

// parseXMPDate reads an XMP date (ISO 8601 as XMP writes it: a date, or a
// date and time to the minute, second or fraction, with an optional "Z" or
// "±hh:mm"). A date without a time is midnight; without an offset, in loc.
// Year-only and year-month dates are no capture date. zone is source when
// the offset is the date's own, else "newsroom-zone".
func parseXMPDate(s, source string, loc *time.Location) (time.Time, string, bool) {
	for _, layout := range []string{"2006-01-02T15:04:05Z07:00", "2006-01-02T15:04Z07:00"} {
		if at, err := time.Parse(layout, s); err == nil {
			return at, source, true
		}
	}
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if at, err := time.ParseInLocation(layout, s, loc); err == nil {
			return at, "newsroom-zone", true
		}
	}
	return time.Time{}, "", false
}

// parseIPTCDate reads IIM 2:55 Date Created ("CCYYMMDD") with 2:60 Time
// Created ("HHMMSS±HHMM", the offset optional); no time is midnight, and
// no offset is loc. A time that does not parse leaves the day standing, at
// midnight, with clockOK false.
func parseIPTCDate(date, clock string, loc *time.Location) (at time.Time, zone string, ok, clockOK bool) {
	day, err := time.ParseInLocation("20060102", date, loc)
	if err != nil {
		return time.Time{}, "", false, false
	}
	switch {
	case clock == "":
		return day, "newsroom-zone", true, true
	case len(clock) == 11:
		if at, err := time.Parse("20060102 150405-0700", date+" "+clock); err == nil {
			return at, "IPTC TimeCreated", true, true
		}
	case len(clock) == 6:
		if at, err := time.ParseInLocation("20060102 150405", date+" "+clock, loc); err == nil {
			return at, "newsroom-zone", true, true
		}
	}
	return day, "newsroom-zone", true, false
}

// civil is a wall-clock date and time.
type civil struct{ year, month, day, hour, min, sec int }

// parseDateTime reads EXIF's "YYYY:MM:DD HH:MM:SS". Dashes in the date and a
// T between date and time are accepted too, as some writers use them;
// anything after the seconds is ignored. Placeholders (all zeros, blanks) and
// impossible dates are not ok.
func parseDateTime(s string) (civil, bool) {
	if len(s) < 19 || !strings.ContainsRune(":-", rune(s[4])) || s[7] != s[4] ||
		(s[10] != ' ' && s[10] != 'T') || s[13] != ':' || s[16] != ':' {
		return civil{}, false
	}
	c, ok := civil{}, true
	for _, f := range []struct {
		p        *int
		at, n    int
		min, max int
	}{
		{&c.year, 0, 4, 1, 9999}, {&c.month, 5, 2, 1, 12}, {&c.day, 8, 2, 1, 31},
		{&c.hour, 11, 2, 0, 23}, {&c.min, 14, 2, 0, 59}, {&c.sec, 17, 2, 0, 60},
	} {
		v, isNum := digits(s[f.at : f.at+f.n])
		ok = ok && isNum && v >= f.min && v <= f.max
		*f.p = v
	}
	if !ok || c.day > daysIn(c.year, c.month) {
		return c, false
	}
	return c, true
}

// parseDate reads GPSDateStamp's "YYYY:MM:DD".
func parseDate(s string) (civil, bool) {
	if len(s) < 10 {
		return civil{}, false
	}
	return parseDateTime(s[:10] + " 00:00:00")
}

func daysIn(year, month int) int {
	return time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// digits is the value of s when it is all ASCII digits.
func digits(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	v := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		v = v*10 + int(s[i]-'0')
	}
	return v, true
}

// isPlaceholder reports a value made of zeros, blanks and separators only,
// which cameras write when their clock or the field is unset.
func isPlaceholder(s string) bool {
	return strings.Trim(s, "0 :-") == ""
}

// parseOffset reads "+HH:MM" or "-HH:MM" as seconds east of UTC.
func parseOffset(s string) (int, bool) {
	if len(s) != 6 || (s[0] != '+' && s[0] != '-') || s[3] != ':' {
		return 0, false
	}
	h, ok1 := digits(s[1:3])
	m, ok2 := digits(s[4:6])
	if !ok1 || !ok2 || h > 14 || m > 59 {
		return 0, false
	}
	off := h*3600 + m*60
	if s[0] == '-' {
		off = -off
	}
	return off, true
}

// parseSubSec reads SubSecTime's digits, the decimal fraction of a second
// ("016" is 16 ms), as nanoseconds; digits past nanoseconds are dropped.
func parseSubSec(s string) (int, bool) {
	if _, ok := digits(s); !ok {
		return 0, false
	}
	s = (s + "000000000")[:9]
	v, _ := digits(s)
	return v, true
}

// gpsTime is GPSDateStamp plus GPSTimeStamp (hours, minutes, seconds as
// rationals), in UTC.
func gpsTime(t tags, x *Exif) (time.Time, bool) {
	ds := t.str(exif.GPSDateStamp)
	hms, ok := t.rats(exif.GPSTimeStamp, 3)
	if ds == "" || !ok || len(hms) < 3 {
		return time.Time{}, false
	}
	c, ok := parseDate(ds)
	if !ok {
		if !isPlaceholder(ds) {
			x.note("EXIF: GPSDateStamp %q is not a valid date; ignored", ds)
		}
		return time.Time{}, false
	}
	var v [3]float64
	for i, r := range hms {
		if r[1] == 0 {
			x.note("EXIF: GPSTimeStamp has a zero denominator; ignored")
			return time.Time{}, false
		}
		v[i] = float64(r[0]) / float64(r[1])
	}
	if v[0] < 0 || v[0] >= 24 || v[1] < 0 || v[1] >= 60 || v[2] < 0 || v[2] >= 61 {
		x.note("EXIF: GPSTimeStamp %v:%v:%v is not a time of day; ignored", v[0], v[1], v[2])
		return time.Time{}, false
	}
	ns := math.Round((v[0]*3600 + v[1]*60 + v[2]) * 1e9)
	return time.Date(c.year, time.Month(c.month), c.day, 0, 0, 0, 0, time.UTC).Add(time.Duration(ns)), true
}
