package stamp

import (
	"bytes"
	"testing"
	"time"

	"github.com/photodesk/photodesk/pipeline/contract"
)

// TestPictureFromJPEG: what EXIF says of the image comes from the file:
// frame size and components, JFIF density, an ICC profile making the
// colour space uncalibrated.
func TestPictureFromJPEG(t *testing.T) {
	jpg := []byte("\xFF\xD8" +
		"\xFF\xE0\x00\x10JFIF\x00\x01\x01\x02\x00\x76\x00\x76\x00\x00" + // 118 dots per cm
		"\xFF\xE2\x00\x10ICC_PROFILE\x00\x01\x01" +
		"\xFF\xC0\x00\x0B\x08\x01\xF4\x02\x00\x01\x01\x11\x00" + // 512x500, grey
		"\xFF\xDA\x00\x02\xFF\xD9")
	j, err := parseJPEG(jpg)
	if err != nil {
		t.Fatal(err)
	}
	want := picture{width: 512, height: 500, components: 1, icc: true, res: [2]uint32{118, 118}, unit: 3}
	if j.pic != want {
		t.Fatalf("picture %+v, want %+v", j.pic, want)
	}
	at := time.Date(2026, 7, 28, 10, 41, 30, 0, time.UTC)
	exif, err := exifTIFF(Metadata{Created: &at}, j.pic)
	if err != nil {
		t.Fatal(err)
	}
	for name, entry := range map[string]string{
		"ColorSpace uncalibrated":   "\x01\xA0\x03\x00\x01\x00\x00\x00\xFF\xFF\x00\x00",
		"ComponentsConfiguration":   "\x01\x91\x07\x00\x04\x00\x00\x00\x01\x00\x00\x00",
		"ResolutionUnit cm":         "\x28\x01\x03\x00\x01\x00\x00\x00\x03\x00\x00\x00",
		"PixelXDimension":           "\x02\xA0\x04\x00\x01\x00\x00\x00\x00\x02\x00\x00",
		"OffsetTimeOriginal +00:00": "+00:00\x00",
	} {
		if !bytes.Contains(exif, []byte(entry)) {
			t.Errorf("no %s in % x", name, exif)
		}
	}
}

// TestIIMCountryCode: IIM 2:100 takes three letters only (ISO 3166
// alpha-3, as exiftool validates it); XMP takes a two-letter code too.
func TestIIMCountryCode(t *testing.T) {
	for code, inIIM := range map[string]bool{"CHN": true, "CN": false} {
		m := Metadata{Rights: contract.Rights{Location: &contract.Location{City: "北京", CountryCode: code}}}
		if got := bytes.Contains(iimData(m), []byte{0x1C, 2, 100}); got != inIIM {
			t.Errorf("%s in IIM: %v", code, got)
		}
		if !bytes.Contains(xmpPacket(m), []byte("<Iptc4xmpCore:CountryCode>"+code+"<")) {
			t.Errorf("%s not in XMP", code)
		}
	}
}
