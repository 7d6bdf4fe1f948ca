package photometa

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

var shanghai = mustZone("Asia/Shanghai")

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err) // time/tzdata is linked in, so this cannot happen
	}
	return loc
}

func extractBytes(t testing.TB, b []byte) (*Exif, error) {
	t.Helper()
	return Extract(bytes.NewReader(b), int64(len(b)), shanghai)
}

// mustExtract extracts from b and fails the test on an error.
func mustExtract(t testing.TB, b []byte) *Exif {
	t.Helper()
	x, err := extractBytes(t, b)
	if err != nil {
		t.Fatalf("Extract: %v", err)
	}
	return x
}

// jpegWithEXIF is a 32×24 JPEG carrying spec's EXIF.
func jpegWithEXIF(t testing.TB, spec exifSpec) []byte {
	t.Helper()
	tiff, _ := spec.build()
	return jpegFile(t, 32, 24, exifAPP1(tiff))
}

func wantTime(t *testing.T, x *Exif, want, source, zone string) {
	t.Helper()
	if x.CapturedAt == nil {
		t.Fatalf("CapturedAt = nil (notes %q), want %s", x.Notes, want)
	}
	if got := x.CapturedAt.Format(time.RFC3339Nano); got != want {
		t.Errorf("CapturedAt = %s, want %s", got, want)
	}
	if x.DateSource != source || x.ZoneSource != zone {
		t.Errorf("DateSource, ZoneSource = %q, %q; want %q, %q", x.DateSource, x.ZoneSource, source, zone)
	}
}

func TestExtractJPEG(t *testing.T) {
	x := mustExtract(t, jpegWithEXIF(t, basicEXIF()))
	if x.Format != "jpeg" || !x.Present {
		t.Fatalf("Format, Present = %q, %v", x.Format, x.Present)
	}
	wantTime(t, x, "2026-07-28T09:30:00+08:00", "DateTimeOriginal", "newsroom-zone")
	if x.Make != "Canon" || x.Model != "Canon EOS R6" || x.Orientation != 6 {
		t.Errorf("Make, Model, Orientation = %q, %q, %d", x.Make, x.Model, x.Orientation)
	}
	// The frame header says 32×24; PixelXDimension's 6000×4000 is only a fallback.
	if x.Width != 32 || x.Height != 24 {
		t.Errorf("size = %d×%d, want 32×24 from SOF0", x.Width, x.Height)
	}
	if x.GPS != nil || len(x.Notes) != 0 {
		t.Errorf("GPS = %v, Notes = %q; want none", x.GPS, x.Notes)
	}
}

func TestExtractBigEndian(t *testing.T) {
	spec := basicEXIF()
	spec.order = binary.BigEndian
	x := mustExtract(t, jpegWithEXIF(t, spec))
	wantTime(t, x, "2026-07-28T09:30:00+08:00", "DateTimeOriginal", "newsroom-zone")
	if x.Make != "Canon" || x.Orientation != 6 {
		t.Errorf("Make, Orientation = %q, %d", x.Make, x.Orientation)
	}
}

func TestXMPBeforeEXIF(t *testing.T) {
	tiff, _ := basicEXIF().build()
	b := jpegFile(t, 32, 24, xmpAPP1(), exifAPP1(tiff))
	x := mustExtract(t, b)
	if !x.Present {
		t.Fatalf("EXIF after an XMP APP1 not found; notes %q", x.Notes)
	}
	wantTime(t, x, "2026-07-28T09:30:00+08:00", "DateTimeOriginal", "newsroom-zone")
}

func TestJPEGWithoutEXIF(t *testing.T) {
	for name, b := range map[string][]byte{
		"bare":     jpegFile(t, 16, 8),
		"XMP only": jpegFile(t, 16, 8, xmpAPP1()),
		"JFIF":     jpegFile(t, 16, 8, segment(0xE0, []byte("JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"))),
	} {
		t.Run(name, func(t *testing.T) {
			x := mustExtract(t, b)
			if x.Present || x.CapturedAt != nil || !slices.Contains(x.Notes, "no EXIF") {
				t.Errorf("got %+v, want Present=false with note \"no EXIF\"", x)
			}
			if x.Width != 16 || x.Height != 8 {
				t.Errorf("size = %d×%d, want 16×8", x.Width, x.Height)
			}
		})
	}
}

func TestOffsetTimeOriginal(t *testing.T) {
	spec := basicEXIF()
	spec.exif = append(spec.exif, ascii(tagOffsetTimeOrig, "+03:00"), ascii(tagOffsetTime, "+01:00"))
	x := mustExtract(t, jpegWithEXIF(t, spec))
	wantTime(t, x, "2026-07-28T09:30:00+03:00", "DateTimeOriginal", "OffsetTimeOriginal")
	if got := x.CapturedAt.UTC().Format(time.RFC3339); got != "2026-07-28T06:30:00Z" {
		t.Errorf("in UTC: %s", got)
	}
}

// OffsetTime belongs to DateTime (the last write of the file), so it does
// not qualify DateTimeOriginal: see dateTags.
func TestOffsetTimeIsDateTimes(t *testing.T) {
	spec := basicEXIF()
	spec.exif = append(spec.exif, ascii(tagOffsetTime, "-05:00"))
	x := mustExtract(t, jpegWithEXIF(t, spec))
	wantTime(t, x, "2026-07-28T09:30:00+08:00", "DateTimeOriginal", "newsroom-zone")

	spec = exifSpec{
		ifd0: []field{ascii(tagDateTime, "2026:07:28 11:00:00")},
		exif: []field{ascii(tagOffsetTime, "-05:00"), ascii(tagSubSecTime, "25")},
	}
	x = mustExtract(t, jpegWithEXIF(t, spec))
	wantTime(t, x, "2026-07-28T11:00:00.25-05:00", "DateTime", "OffsetTime")
}

func TestDateTimeDigitizedWithItsOffset(t *testing.T) {
	spec := exifSpec{exif: []field{
		ascii(tagDateTimeDigit, "2026:07:28 09:30:01"), ascii(tagOffsetTimeDigit, "+05:45"),
		ascii(tagSubSecTimeDigit, "7"), ascii(tagSubSecTimeOrig, "999"),
	}}
	x := mustExtract(t, jpegWithEXIF(t, spec))
	wantTime(t, x, "2026-07-28T09:30:01.7+05:45", "DateTimeDigitized", "OffsetTimeDigitized")
}

func TestSubSecTimeOriginal(t *testing.T) {
	spec := basicEXIF()
	spec.exif = append(spec.exif, ascii(tagSubSecTimeOrig, "016"), ascii(tagSubSecTime, "5"))
	x := mustExtract(t, jpegWithEXIF(t, spec))
	wantTime(t, x, "2026-07-28T09:30:00.016+08:00", "DateTimeOriginal", "newsroom-zone")
}

func gpsFields() []field {
	return []field{
		ascii(tagGPSLatRef, "S"), rats(tagGPSLat, rat{33, 1}, rat{52, 1}, rat{1234, 100}),
		ascii(tagGPSLonRef, "W"), rats(tagGPSLon, rat{70, 1}, rat{30, 1}, rat{0, 1}),
		byte1(tagGPSAltRef, 1), rats(tagGPSAlt, rat{125, 10}),
		ascii(tagGPSDate, "2026:07:28"), rats(tagGPSTime, rat{1, 1}, rat{30, 1}, rat{1525, 100}),
	}
}

func TestGPSOnlyDate(t *testing.T) {
	spec := exifSpec{ifd0: []field{ascii(tagMake, "Apple")}, gps: gpsFields()}
	x := mustExtract(t, jpegWithEXIF(t, spec))
	wantTime(t, x, "2026-07-28T01:30:15.25Z", "GPSDateTime", "utc-gps")
	if x.CapturedAt.Location() != time.UTC {
		t.Errorf("GPS time in %v, want UTC", x.CapturedAt.Location())
	}
}

func TestGPSPosition(t *testing.T) {
	spec := basicEXIF()
	spec.gps = gpsFields()
	x := mustExtract(t, jpegWithEXIF(t, spec))
	if x.GPS == nil || x.GPS.Alt == nil {
		t.Fatalf("GPS = %+v, notes %q", x.GPS, x.Notes)
	}
	wantLat := -(33 + 52.0/60 + 12.34/3600)
	if d := x.GPS.Lat - wantLat; d > 1e-9 || d < -1e-9 || x.GPS.Lon != -70.5 || *x.GPS.Alt != -12.5 {
		t.Errorf("GPS = %v, %v, %v; want %v, -70.5, -12.5", x.GPS.Lat, x.GPS.Lon, *x.GPS.Alt, wantLat)
	}
	// The EXIF date still wins over the GPS one.
	wantTime(t, x, "2026-07-28T09:30:00+08:00", "DateTimeOriginal", "newsroom-zone")
}

func TestPlaceholderDatesFallThrough(t *testing.T) {
	for _, placeholder := range []string{"0000:00:00 00:00:00", "    :  :     :  :  ", ""} {
		spec := exifSpec{
			ifd0: []field{ascii(tagDateTime, "2026:07:28 11:00:00")},
			exif: []field{
				ascii(tagDateTimeOriginal, placeholder), ascii(tagOffsetTimeOrig, "+03:00"),
				ascii(tagDateTimeDigit, "0000:00:00 00:00:00"),
			},
		}
		x := mustExtract(t, jpegWithEXIF(t, spec))
		wantTime(t, x, "2026-07-28T11:00:00+08:00", "DateTime", "newsroom-zone")
	}
	// With only placeholders, the GPS date is used.
	spec := exifSpec{
		ifd0: []field{ascii(tagDateTime, "0000:00:00 00:00:00")},
		exif: []field{ascii(tagDateTimeOriginal, "0000:00:00 00:00:00")},
		gps:  gpsFields(),
	}
	x := mustExtract(t, jpegWithEXIF(t, spec))
	wantTime(t, x, "2026-07-28T01:30:15.25Z", "GPSDateTime", "utc-gps")
}

func TestInvalidDateFallsThrough(t *testing.T) {
	spec := exifSpec{
		ifd0: []field{ascii(tagDateTime, "2026:07:28 11:00:00")},
		exif: []field{ascii(tagDateTimeOriginal, "2026:02:30 09:30:00")},
	}
	x := mustExtract(t, jpegWithEXIF(t, spec))
	wantTime(t, x, "2026-07-28T11:00:00+08:00", "DateTime", "newsroom-zone")
	if !containsNote(x.Notes, "DateTimeOriginal") {
		t.Errorf("no note on the invalid DateTimeOriginal: %q", x.Notes)
	}
}

func TestNoDate(t *testing.T) {
	x := mustExtract(t, jpegWithEXIF(t, exifSpec{ifd0: []field{ascii(tagMake, "Canon")}}))
	if !x.Present || x.CapturedAt != nil || x.DateSource != "" || x.ZoneSource != "" {
		t.Errorf("got %+v, want EXIF without a date", x)
	}
	if !slices.Contains(x.Notes, "no capture date") {
		t.Errorf("notes %q", x.Notes)
	}
}

func TestNewsroomZoneDefaultsToUTC(t *testing.T) {
	b := jpegWithEXIF(t, basicEXIF())
	x, err := Extract(bytes.NewReader(b), int64(len(b)), nil)
	if err != nil {
		t.Fatal(err)
	}
	wantTime(t, x, "2026-07-28T09:30:00Z", "DateTimeOriginal", "newsroom-zone")
}

func TestMakeModelTrimmed(t *testing.T) {
	spec := exifSpec{ifd0: []field{
		ascii(tagMake, "  NIKON CORPORATION   "), ascii(tagModel, "NIKON D70\x00\x00junk"),
		short(tagOrientation, 9),
	}}
	x := mustExtract(t, jpegWithEXIF(t, spec))
	if x.Make != "NIKON CORPORATION" || x.Model != "NIKON D70" {
		t.Errorf("Make, Model = %q, %q", x.Make, x.Model)
	}
	if x.Orientation != 0 || !containsNote(x.Notes, "Orientation 9") {
		t.Errorf("Orientation = %d, notes %q; want 0 and a note", x.Orientation, x.Notes)
	}
}

// Without a frame header in the bytes (the file is cut off after the EXIF),
// the size comes from EXIF PixelX/YDimension.
func TestSizeFromEXIFWhenNoSOF(t *testing.T) {
	tiff, _ := basicEXIF().build()
	b := append([]byte{0xFF, 0xD8}, exifAPP1(tiff)...)
	x := mustExtract(t, b)
	if x.Width != 6000 || x.Height != 4000 {
		t.Errorf("size = %d×%d, want 6000×4000", x.Width, x.Height)
	}
	if !containsNote(x.Notes, "file ends before the image data") {
		t.Errorf("notes %q", x.Notes)
	}
}

func TestJSON(t *testing.T) {
	spec := basicEXIF()
	spec.exif = append(spec.exif, ascii(tagOffsetTimeOrig, "+03:00"))
	spec.gps = gpsFields()
	x := mustExtract(t, jpegWithEXIF(t, spec))
	j, err := json.Marshal(x)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`"format":"jpeg"`, `"present":true`, `"captured_at":"2026-07-28T09:30:00+03:00"`,
		`"date_source":"DateTimeOriginal"`, `"zone_source":"OffsetTimeOriginal"`, `"make":"Canon"`,
		`"model":"Canon EOS R6"`, `"orientation":6`, `"width":32`, `"height":24`, `"gps":{"lat":`, `"alt":-12.5`,
	} {
		if !strings.Contains(string(j), want) {
			t.Errorf("JSON lacks %s: %s", want, j)
		}
	}
	j, _ = json.Marshal(mustExtract(t, jpegFile(t, 8, 8)))
	if want := `{"format":"jpeg","present":false,"width":8,"height":8,"notes":["no EXIF"]}`; string(j) != want {
		t.Errorf("JSON = %s, want %s", j, want)
	}
}

func containsNote(notes []string, sub string) bool {
	return slices.ContainsFunc(notes, func(n string) bool { return strings.Contains(n, sub) })
}
