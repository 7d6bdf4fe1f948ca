package photometa

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// corpusDir holds the shared camera JPEGs, outside this repository (they are
// never copied into it).
const corpusDir = "../../../shared/corpus/cameras"

// goldenFile is exiftool's reading of the corpus, written by golden.sh.
const goldenFile = "testdata/cameras.golden.json"

// goldenExceptions are the files where exiftool and our rules legitimately
// differ, with the reason. Each is still checked, against what we do.
var goldenExceptions = map[string]struct {
	reason string
	// exiftoolHas are keys exiftool reports that we knowingly do not read;
	// the test checks they are still in the golden file, so the exception
	// stays true.
	exiftoolHas []string
}{
	"olympus-d320l.jpg": {
		reason:      "no EXIF at all: exiftool's DateTimeOriginal comes from Olympus' pre-EXIF APP0 'PictureInfo' text block, which we do not read; expect no date",
		exiftoolHas: []string{"PictureInfo:DateTimeOriginal"},
	},
	"sony-powershota5.jpg": {
		reason:      "no EXIF at all (it is a Canon PowerShot A5): date, make and model come from Canon's pre-EXIF CIFF block in APP0, which we do not read; expect none of them",
		exiftoolHas: []string{"CIFF:DateTimeOriginal", "CIFF:Make", "CIFF:Model"},
	},
}

// goldenRecord is one file's tags as exiftool -j -G1 wrote them.
type goldenRecord map[string]any

// str is a tag's value as text ("" when absent); numbers keep their JSON
// spelling.
func (r goldenRecord) str(key string) string {
	switch v := r[key].(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	}
	return ""
}

func (r goldenRecord) num(t *testing.T, key string) (float64, bool) {
	v, ok := r[key].(json.Number)
	if !ok {
		return 0, false
	}
	f, err := v.Float64()
	if err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	return f, true
}

// exif is a tag from the EXIF blocks (IFD0, the Exif IFD), never from XMP,
// makernotes or other blocks exiftool also reads.
func (r goldenRecord) exif(tag string) string {
	for _, g := range []string{"ExifIFD:", "IFD0:"} {
		if v := r.str(g + tag); v != "" {
			return v
		}
	}
	return ""
}

// hasEXIF reports whether exiftool found an EXIF block.
func (r goldenRecord) hasEXIF() bool {
	for k := range r {
		for _, g := range []string{"IFD0:", "IFD1:", "ExifIFD:", "GPS:"} {
			if strings.HasPrefix(k, g) {
				return true
			}
		}
	}
	return false
}

// goldenWant is what Extract should say of a file, by exiftool.
type goldenWant struct {
	at                     *time.Time
	dateSource, zoneSource string
}

// wantCapture applies the capture-time rule to exiftool's values: the first
// of DateTimeOriginal, then the XMP and IPTC dates an editor wrote
// (XMP-exif:DateTimeOriginal, XMP-photoshop:DateCreated, IPTC:DateCreated
// with IPTC:TimeCreated), then CreateDate (exiftool's name for
// DateTimeDigitized) and ModifyDate (DateTime); where exiftool made a
// Composite:SubSec* tag (it does when a sub-second or offset tag exists)
// that is the date with them applied; a date without offset is in the
// newsroom zone; last, Composite:GPSDateTime in UTC.
func wantCapture(t *testing.T, r goldenRecord) goldenWant {
	exifDate := func(tag, composite, source, offset string) (goldenWant, bool) {
		v := r.exif(tag)
		if v == "" || strings.HasPrefix(v, "0000") {
			return goldenWant{}, false
		}
		if c := r.str("Composite:" + composite); c != "" {
			v = c
		}
		if at, err := time.Parse("2006:01:02 15:04:05.999999999Z07:00", v); err == nil {
			return goldenWant{&at, source, offset}, true
		}
		at, err := time.ParseInLocation("2006:01:02 15:04:05.999999999", v, shanghai)
		if err != nil {
			t.Fatalf("exiftool's %s %q: %v", tag, v, err)
		}
		return goldenWant{&at, source, "newsroom-zone"}, true
	}
	// stated is an XMP or IPTC date as exiftool writes it ("2003:08:31",
	// "2003:08:31 10:50:00+08:00"); zone names an offset it carries.
	stated := func(v, source, zone string) (goldenWant, bool) {
		if v == "" {
			return goldenWant{}, false
		}
		for _, layout := range []string{"2006:01:02 15:04:05.999999999Z07:00", "2006:01:02 15:04Z07:00"} {
			if at, err := time.Parse(layout, v); err == nil {
				return goldenWant{&at, source, zone}, true
			}
		}
		for _, layout := range []string{"2006:01:02 15:04:05.999999999", "2006:01:02 15:04", "2006:01:02"} {
			if at, err := time.ParseInLocation(layout, v, shanghai); err == nil {
				return goldenWant{&at, source, "newsroom-zone"}, true
			}
		}
		t.Fatalf("exiftool's %s %q is no date", source, v)
		return goldenWant{}, false
	}
	iptc := r.str("IPTC:DateCreated")
	if tc := r.str("IPTC:TimeCreated"); iptc != "" && tc != "" {
		iptc += " " + tc
	}
	for _, try := range []func() (goldenWant, bool){
		func() (goldenWant, bool) {
			return exifDate("DateTimeOriginal", "SubSecDateTimeOriginal", "DateTimeOriginal", "OffsetTimeOriginal")
		},
		func() (goldenWant, bool) {
			return stated(r.str("XMP-exif:DateTimeOriginal"), SourceXMPDateTimeOriginal, SourceXMPDateTimeOriginal)
		},
		func() (goldenWant, bool) {
			return stated(r.str("XMP-photoshop:DateCreated"), SourceXMPDateCreated, SourceXMPDateCreated)
		},
		func() (goldenWant, bool) { return stated(iptc, SourceIPTCDateCreated, "IPTC TimeCreated") },
		func() (goldenWant, bool) {
			return exifDate("CreateDate", "SubSecCreateDate", "DateTimeDigitized", "OffsetTimeDigitized")
		},
		func() (goldenWant, bool) { return exifDate("ModifyDate", "SubSecModifyDate", "DateTime", "OffsetTime") },
	} {
		if w, ok := try(); ok {
			return w
		}
	}
	if v := r.str("Composite:GPSDateTime"); v != "" {
		at, err := time.Parse("2006:01:02 15:04:05.999999999Z07:00", v)
		if err != nil {
			t.Fatalf("exiftool's GPSDateTime %q: %v", v, err)
		}
		return goldenWant{&at, "GPSDateTime", "utc-gps"}
	}
	return goldenWant{}
}

func readGolden(t *testing.T) []goldenRecord {
	t.Helper()
	b, err := os.ReadFile(goldenFile)
	if err != nil {
		t.Fatalf("%v (run testdata/golden.sh)", err)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var recs []goldenRecord
	if err := d.Decode(&recs); err != nil {
		t.Fatalf("%s: %v", goldenFile, err)
	}
	return recs
}

// TestGoldenCameras compares Extract with exiftool on every real camera
// JPEG of the shared corpus: capture time (instant and UTC offset),
// DateSource, ZoneSource, Make, Model, Orientation, pixel size and GPS.
func TestGoldenCameras(t *testing.T) {
	if _, err := os.Stat(corpusDir); err != nil {
		t.Skipf("../shared/corpus/cameras not present (%v)", err)
	}
	recs := readGolden(t)
	files, _ := filepath.Glob(filepath.Join(corpusDir, "*.jpg"))
	var names []string
	for _, f := range files {
		names = append(names, filepath.Base(f))
	}
	var golden []string
	for _, r := range recs {
		golden = append(golden, r.str("SourceFile"))
	}
	slices.Sort(names)
	slices.Sort(golden)
	if !slices.Equal(names, golden) {
		t.Fatalf("corpus and golden file list different files (run testdata/golden.sh):\ncorpus %q\ngolden %q", names, golden)
	}

	noDTO, offset := 0, 0
	for _, r := range recs {
		name := r.str("SourceFile")
		t.Run(name, func(t *testing.T) {
			f, err := os.Open(filepath.Join(corpusDir, name))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			st, err := f.Stat()
			if err != nil {
				t.Fatal(err)
			}
			x, err := Extract(f, st.Size(), shanghai)
			if err != nil {
				t.Fatalf("Extract: %v", err)
			}
			if exc, ok := goldenExceptions[name]; ok {
				t.Logf("exception: %s", exc.reason)
				for _, k := range exc.exiftoolHas {
					if r[k] == nil {
						t.Errorf("exception no longer holds: exiftool has no %s", k)
					}
				}
			}
			if r.exif("DateTimeOriginal") == "" {
				noDTO++
			}
			if r.exif("OffsetTimeOriginal") != "" {
				offset++
			}
			checkGolden(t, r, x)
		})
	}
	// The corpus cases the rules were written for must stay covered.
	if noDTO < 2 || offset < 1 {
		t.Errorf("corpus has %d files without DateTimeOriginal and %d with OffsetTimeOriginal; want >= 2 and >= 1", noDTO, offset)
	}
}

func checkGolden(t *testing.T, r goldenRecord, x *Exif) {
	t.Helper()
	if x.Present != r.hasEXIF() {
		t.Errorf("Present = %v, exiftool found EXIF: %v", x.Present, r.hasEXIF())
	}
	want := wantCapture(t, r)
	switch {
	case want.at == nil && x.CapturedAt != nil:
		t.Errorf("CapturedAt = %v from %s, exiftool has no EXIF date", x.CapturedAt, x.DateSource)
	case want.at != nil && x.CapturedAt == nil:
		t.Errorf("CapturedAt = nil (notes %q), want %v", x.Notes, want.at)
	case want.at != nil:
		_, gotOff := x.CapturedAt.Zone()
		_, wantOff := want.at.Zone()
		if !x.CapturedAt.Equal(*want.at) || gotOff != wantOff {
			t.Errorf("CapturedAt = %s, want %s", x.CapturedAt.Format(time.RFC3339Nano), want.at.Format(time.RFC3339Nano))
		}
	}
	if x.DateSource != want.dateSource || x.ZoneSource != want.zoneSource {
		t.Errorf("DateSource, ZoneSource = %q, %q; want %q, %q", x.DateSource, x.ZoneSource, want.dateSource, want.zoneSource)
	}
	for _, c := range []struct{ got, want, what string }{
		{x.Make, strings.TrimSpace(r.str("IFD0:Make")), "Make"},
		{x.Model, strings.TrimSpace(r.str("IFD0:Model")), "Model"},
		{fmt.Sprint(x.Orientation), cmpOr(r.str("IFD0:Orientation"), "0"), "Orientation"},
		{fmt.Sprint(x.Width), r.str("File:ImageWidth"), "Width"},
		{fmt.Sprint(x.Height), r.str("File:ImageHeight"), "Height"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, exiftool says %q", c.what, c.got, c.want)
		}
	}
	lat, hasLat := r.num(t, "Composite:GPSLatitude")
	lon, _ := r.num(t, "Composite:GPSLongitude")
	switch {
	case !hasLat && x.GPS != nil:
		t.Errorf("GPS = %+v, exiftool has none", x.GPS)
	case hasLat && x.GPS == nil:
		t.Errorf("GPS = nil, want %v, %v", lat, lon)
	case hasLat:
		if !near(x.GPS.Lat, lat, 1e-6) || !near(x.GPS.Lon, lon, 1e-6) {
			t.Errorf("GPS = %v, %v; want %v, %v", x.GPS.Lat, x.GPS.Lon, lat, lon)
		}
		alt, hasAlt := r.num(t, "Composite:GPSAltitude")
		switch {
		case hasAlt != (x.GPS.Alt != nil):
			t.Errorf("GPS altitude = %v, exiftool has one: %v", x.GPS.Alt, hasAlt)
		case hasAlt && !near(*x.GPS.Alt, alt, 1e-6):
			t.Errorf("GPS altitude = %v, want %v", *x.GPS.Alt, alt)
		}
	}
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
