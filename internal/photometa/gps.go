package photometa

import (
	"math"
	"strconv"
	"strings"

	"github.com/rwcarlsen/goexif/exif"
	"github.com/rwcarlsen/goexif/tiff"
)

// readGPS sets x.GPS from GPSLatitude/GPSLongitude (signed by their Ref tags;
// a missing Ref counts as north or east) and GPSAltitude (negative when
// GPSAltitudeRef is 1, below sea level).
func readGPS(t tags, x *Exif) {
	latTag, lonTag := t.get(exif.GPSLatitude), t.get(exif.GPSLongitude)
	if latTag == nil || lonTag == nil {
		return
	}
	lat, ok1 := degrees(latTag)
	lon, ok2 := degrees(lonTag)
	if !ok1 || !ok2 || math.Abs(lat) > 90 || math.Abs(lon) > 180 {
		x.note("EXIF: GPS position is not readable; ignored")
		return
	}
	if strings.HasPrefix(strings.ToUpper(t.str(exif.GPSLatitudeRef)), "S") {
		lat = -lat
	}
	if strings.HasPrefix(strings.ToUpper(t.str(exif.GPSLongitudeRef)), "W") {
		lon = -lon
	}
	g := &GPS{Lat: lat, Lon: lon}
	if r, ok := t.rats(exif.GPSAltitude, 1); ok && r[0][1] != 0 {
		alt := float64(r[0][0]) / float64(r[0][1])
		if ref, ok := t.int(exif.GPSAltitudeRef); ok && ref == 1 {
			alt = -alt
		}
		g.Alt = &alt
	}
	x.GPS = g
}

// degrees reads a coordinate: degrees, minutes and seconds as rationals (as
// many of them as there are), or, as some HTC phones write it, as a string
// "52,50,34.0118" (or with commas for decimal marks too: "52,0,50,0,34,0118").
func degrees(tag *tiff.Tag) (float64, bool) {
	var v []float64
	switch tag.Format() {
	case tiff.RatVal:
		for i := 0; i < 3 && i < int(tag.Count); i++ {
			num, den, err := tag.Rat2(i)
			if err != nil {
				return 0, false
			}
			switch {
			case den != 0:
				v = append(v, float64(num)/float64(den))
			case num == 0: // 0/0: an unset part
				v = append(v, 0)
			default:
				return 0, false
			}
		}
	case tiff.StringVal:
		s, _ := tag.StringVal()
		parts := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' })
		if len(parts) == 6 {
			parts = []string{parts[0] + "." + parts[1], parts[2] + "." + parts[3], parts[4] + "." + parts[5]}
		}
		if len(parts) != 3 {
			return 0, false
		}
		for _, p := range parts {
			f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
			if err != nil {
				return 0, false
			}
			v = append(v, math.Abs(f))
		}
	default:
		return 0, false
	}
	var d float64
	for i, f := range v {
		d += f / math.Pow(60, float64(i))
	}
	if math.IsNaN(d) || math.IsInf(d, 0) {
		return 0, false
	}
	return d, true
}
