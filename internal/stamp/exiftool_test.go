package stamp_test

import (
	"math"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/photodesk/photodesk/internal/stamp"
)

// formats are the files the tests stamp: libvips JPEG, lossy and
// lossless WebP (file extension for exiftool, stamp's format name).
var formats = []struct{ name, ext, format string }{
	{"jpeg", "jpg", "jpeg"},
	{"webp", "webp", "webp"},
	{"webp-lossless", "webp", "webp"},
}

// longCaption is over IIM's 2000 bytes, in three-byte characters, so the
// limit falls inside one.
var longCaption = "7月28日," + strings.Repeat("劳动者在车间里检查机器,", 70) + "完。"

// longName is a By-line of 36 bytes, over IIM's 32.
const longName = "欧阳司马长孙慕容诸葛东方"

// TestExiftoolReads: exiftool reads every field back from stamped libvips
// files, its validator finds nothing wrong, IIM carries the texts cut to
// its limits at character boundaries while XMP keeps them whole, and the
// IPTC digest says IIM and XMP agree.
func TestExiftoolReads(t *testing.T) {
	m := full()
	m.Caption = longCaption
	m.Creator = append(m.Creator, longName)
	for _, f := range formats {
		t.Run(f.name, func(t *testing.T) {
			plain := encode(t, f.name, 320, 200, 1)
			got := exiftool(t, mustStamp(t, plain, f.format, m), f.ext)
			want := map[string]any{
				"IFD0:Artist":                "张晓明; 李华; Jane O'Doe; " + longName,
				"IFD0:Copyright":             "© 2026 工人日报",
				"ExifIFD:DateTimeOriginal":   "2026:07:28 10:41:30",
				"ExifIFD:OffsetTimeOriginal": "+08:00",
				"ExifIFD:ExifVersion":        "0232",
				"ExifIFD:ExifImageWidth":     320.0,
				"ExifIFD:ExifImageHeight":    200.0,
				"GPS:GPSVersionID":           "2.3.0.0",
				"GPS:GPSLatitudeRef":         "North",
				"GPS:GPSLongitudeRef":        "West",
				"GPS:GPSAltitudeRef":         "Below Sea Level",
				"GPS:GPSAltitude":            "12.5 m",

				"XMP-dc:Creator":                    []any{"张晓明", "李华", "Jane O'Doe", longName},
				"XMP-dc:Rights":                     "© 2026 工人日报",
				"XMP-dc:Description":                longCaption,
				"XMP-dc:Subject":                    []any{"劳动模范", "北京", "workers"},
				"XMP-photoshop:Headline":            "高清大图|劳动者的一天",
				"XMP-photoshop:Credit":              "工人日报",
				"XMP-photoshop:Source":              "工人日报社摄影部",
				"XMP-photoshop:DateCreated":         "2026:07:28 10:41:30+08:00",
				"XMP-photoshop:City":                "北京",
				"XMP-photoshop:State":               "北京市",
				"XMP-photoshop:Country":             "中国",
				"XMP-iptcCore:CountryCode":          "CHN",
				"XMP-iptcCore:AltTextAccessibility": "工人在车间里检查机器",
				"XMP-iptcExt:LocationShown": []any{map[string]any{
					"City": "北京", "ProvinceState": "北京市", "CountryName": "中国", "CountryCode": "CHN"}},
				"XMP-xmpRights:Marked":       true,
				"XMP-xmpRights:WebStatement": "https://example.com/licence?a=1&b=2",
				"XMP-xmpRights:UsageTerms":   "仅限新闻报道使用 <editorial only> & no resale",
				"XMP-plus:CopyrightOwner":    []any{map[string]any{"CopyrightOwnerName": "工人日报社"}},
				"XMP-plus:Licensor": []any{map[string]any{
					"LicensorName": "工人日报图片库", "LicensorURL": "https://images.example.com/"}},
				"ExifTool:Validate": "OK",
			}
			if f.format == "jpeg" {
				for k, v := range map[string]any{
					"IPTC:CodedCharacterSet":           "UTF8",
					"IPTC:ApplicationRecordVersion":    4.0,
					"IPTC:Keywords":                    []any{"劳动模范", "北京", "workers"},
					"IPTC:DateCreated":                 "2026:07:28",
					"IPTC:TimeCreated":                 "10:41:30+08:00",
					"IPTC:By-line":                     []any{"张晓明", "李华", "Jane O'Doe", "欧阳司马长孙慕容诸葛"},
					"IPTC:City":                        "北京",
					"IPTC:Province-State":              "北京市",
					"IPTC:Country-PrimaryLocationCode": "CHN",
					"IPTC:Country-PrimaryLocationName": "中国",
					"IPTC:Headline":                    "高清大图|劳动者的一天",
					"IPTC:Credit":                      "工人日报",
					"IPTC:Source":                      "工人日报社摄影部",
					"IPTC:CopyrightNotice":             "© 2026 工人日报",
				} {
					want[k] = v
				}
			}
			for k, w := range want {
				if g := got[k]; !reflect.DeepEqual(g, w) {
					t.Errorf("%s = %#v, want %#v", k, g, w)
				}
			}
			lat, lon := got["GPS:GPSLatitude"].(float64), got["GPS:GPSLongitude"].(float64)
			if math.Abs(lat-39.9042) > 1e-7 || math.Abs(lon-116.4074) > 1e-7 {
				t.Errorf("GPS %v, %v", lat, lon)
			}
			for _, k := range []string{"ExifTool:Warning", "ExifTool:Error"} {
				if got[k] != nil {
					t.Errorf("%s: %v", k, got[k])
				}
			}
			caption, _ := got["IPTC:Caption-Abstract"].(string)
			if f.format == "webp" {
				for k := range got {
					if strings.HasPrefix(k, "IPTC:") || strings.HasPrefix(k, "Photoshop:") {
						t.Errorf("WebP has %s", k)
					}
				}
				return
			}
			if len(caption) > 2000 || len(caption) < 1998 || !utf8.ValidString(caption) || !strings.HasPrefix(longCaption, caption) {
				t.Errorf("IIM caption of %d bytes (valid UTF-8 %v) is not the caption cut at 2000 bytes", len(caption), utf8.ValidString(caption))
			}
			if d := got["Photoshop:IPTCDigest"]; d == nil || d != got["File:CurrentIPTCDigest"] {
				t.Errorf("IPTCDigest %v, IIM's MD5 %v", d, got["File:CurrentIPTCDigest"])
			}
		})
	}
}

// TestLibvipsWarnings: what exiftool's validator says of libvips' own
// files (its WebP carries an EXIF chunk with JPEG's "Exif\0\0" prefix),
// and that stamping, even with nothing to say, leaves nothing to warn of.
func TestLibvipsWarnings(t *testing.T) {
	for _, f := range formats {
		plain := encode(t, f.name, 64, 48, 2)
		before := exiftool(t, plain, f.ext)
		t.Logf("%s from libvips: Validate %v, warning %v", f.name, before["ExifTool:Validate"], before["ExifTool:Warning"])
		for _, m := range []stamp.Metadata{{}, full()} {
			after := exiftool(t, mustStamp(t, plain, f.format, m), f.ext)
			if after["ExifTool:Validate"] != "OK" || after["ExifTool:Warning"] != nil {
				t.Errorf("%s stamped: Validate %v, warning %v", f.name, after["ExifTool:Validate"], after["ExifTool:Warning"])
			}
		}
	}
}

// TestOnlyWhatIsSet: no GPS IFD without a position, no capture date
// without Created, and an empty Metadata leaves no EXIF, XMP or IPTC at
// all, even over a file that had them.
func TestOnlyWhatIsSet(t *testing.T) {
	m := full()
	m.GPS, m.Created = nil, nil
	empty := stamp.Metadata{}
	for _, f := range formats {
		stamped := mustStamp(t, encode(t, f.name, 64, 48, 3), f.format, full())
		for _, c := range []struct {
			m      stamp.Metadata
			absent []string
		}{
			{m, []string{"GPS:", "ExifIFD:", "XMP-photoshop:DateCreated", "IPTC:DateCreated", "IPTC:TimeCreated"}},
			{empty, []string{"GPS:", "ExifIFD:", "IFD0:", "XMP", "IPTC:", "Photoshop:"}},
		} {
			got := exiftool(t, mustStamp(t, stamped, f.format, c.m), f.ext)
			for k, v := range got {
				for _, a := range c.absent {
					if strings.HasPrefix(k, a) {
						t.Errorf("%s: %s = %v", f.name, k, v)
					}
				}
			}
			if c.m.Headline != "" && got["XMP-photoshop:Headline"] == nil {
				t.Errorf("%s: headline lost", f.name)
			}
		}
	}
}

// TestExiftoolOnHostileText: text with markup, a NUL, escapes and invalid
// UTF-8 comes out valid (XML, UTF-8) and as the caller meant it.
func TestExiftoolOnHostileText(t *testing.T) {
	m := stamp.Metadata{Caption: "a]]></rdf:li>\x00b\x1b[31m\xffc &amp; \"d\"\n'e'\uFFFE", Headline: "<x:xmpmeta>"}
	m.Creator = []string{"\x00", "名\x7f字"}
	for _, f := range formats[:2] {
		got := exiftool(t, mustStamp(t, encode(t, f.name, 64, 48, 4), f.format, m), f.ext)
		if want := "a]]></rdf:li>b[31m\uFFFDc &amp; \"d\"\n'e'\uFFFD"; got["XMP-dc:Description"] != want {
			t.Errorf("%s: description %q, want %q", f.name, got["XMP-dc:Description"], want)
		}
		if got["XMP-photoshop:Headline"] != "<x:xmpmeta>" || !reflect.DeepEqual(got["XMP-dc:Creator"], []any{"名字"}) {
			t.Errorf("%s: headline %q, creator %v", f.name, got["XMP-photoshop:Headline"], got["XMP-dc:Creator"])
		}
		if got["ExifTool:Validate"] != "OK" {
			t.Errorf("%s: Validate %v, warning %v", f.name, got["ExifTool:Validate"], got["ExifTool:Warning"])
		}
	}
}
