package photometa

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/photodesk/photodesk/internal/fixture"
)

// xmpWithDates is an XMP packet whose rdf:Description holds props (element
// form) and attrs (attribute form), as Lightroom and Photoshop write them.
func xmpWithDates(attrs, props string) []byte {
	return []byte(`<?xpacket begin="` + "\ufeff" + `" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:exif="http://ns.adobe.com/exif/1.0/" xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/" ` + attrs + `>` +
		props + `</rdf:Description></rdf:RDF></x:xmpmeta>
<?xpacket end="w"?>`)
}

// iptcDates is an APP13 segment with IIM 2:55 Date Created and, when given,
// 2:60 Time Created.
func iptcDates(date, clock string) []byte {
	recs := []fixture.IPTCRecord{{Record: 1, Dataset: 90, Value: []byte(fixture.IPTCUTF8)}, {Record: 2, Dataset: 55, Value: []byte(date)}}
	if clock != "" {
		recs = append(recs, fixture.IPTCRecord{Record: 2, Dataset: 60, Value: []byte(clock)})
	}
	return app13(fixture.IPTCSegment(recs, true))
}

// TestCaptureDateFromXMPAndIPTC: a photo whose capture date is only in its
// XMP (Lightroom, Photoshop) or IPTC gets that date rather than a weaker
// EXIF one, in exiftool's order: EXIF DateTimeOriginal, XMP
// exif:DateTimeOriginal, XMP photoshop:DateCreated, IPTC Date Created +
// Time Created, then EXIF DateTimeDigitized and DateTime.
func TestCaptureDateFromXMPAndIPTC(t *testing.T) {
	modified := exifSeg(&fixture.EXIF{DateTime: "2026:08:02 18:00:00"}) // an edit, days later
	taken := exifSeg(&fixture.EXIF{DateTimeOriginal: "2026:07:28 09:30:00", DateTime: "2026:08:02 18:00:00"})
	created := `<photoshop:DateCreated>2026-07-28T09:30:00+08:00</photoshop:DateCreated>`
	for _, c := range []struct {
		name         string
		segs         [][]byte
		want         time.Time
		source, zone string
		note         string
	}{
		{"XMP photoshop:DateCreated over EXIF DateTime", [][]byte{modified, xmpSeg(xmpWithDates("", created))},
			time.Date(2026, 7, 28, 9, 30, 0, 0, shanghai), SourceXMPDateCreated, SourceXMPDateCreated, ""},
		{"XMP exif:DateTimeOriginal over photoshop:DateCreated", [][]byte{modified,
			xmpSeg(xmpWithDates(`exif:DateTimeOriginal="2026-07-27T20:15:10.5Z"`, created))},
			time.Date(2026, 7, 27, 20, 15, 10, 5e8, time.UTC), SourceXMPDateTimeOriginal, SourceXMPDateTimeOriginal, ""},
		{"EXIF DateTimeOriginal over XMP", [][]byte{taken, xmpSeg(xmpWithDates(`exif:DateTimeOriginal="2026-07-01T08:00:00Z"`, ""))},
			time.Date(2026, 7, 28, 9, 30, 0, 0, shanghai), "DateTimeOriginal", "newsroom-zone", ""},
		{"an XMP date without offset is in the newsroom zone", [][]byte{xmpSeg(xmpWithDates("", `<photoshop:DateCreated>2026-07-29T14:05</photoshop:DateCreated>`))},
			time.Date(2026, 7, 29, 14, 5, 0, 0, shanghai), SourceXMPDateCreated, "newsroom-zone", ""},
		{"an XMP day alone is that day", [][]byte{modified, xmpSeg(xmpWithDates(`photoshop:DateCreated="2003-08-31"`, ""))},
			time.Date(2003, 8, 31, 0, 0, 0, 0, shanghai), SourceXMPDateCreated, "newsroom-zone", ""},
		{"IPTC Date and Time Created over EXIF DateTime", [][]byte{modified, iptcDates("20260729", "101500+0200")},
			time.Date(2026, 7, 29, 10, 15, 0, 0, time.FixedZone("", 2*3600)), SourceIPTCDateCreated, "IPTC TimeCreated", ""},
		{"XMP over IPTC", [][]byte{modified, iptcDates("20260729", ""), xmpSeg(xmpWithDates("", created))},
			time.Date(2026, 7, 28, 9, 30, 0, 0, shanghai), SourceXMPDateCreated, SourceXMPDateCreated, ""},
		{"a broken IPTC Time Created leaves the day", [][]byte{iptcDates("20260730", "25:61")},
			time.Date(2026, 7, 30, 0, 0, 0, 0, shanghai), SourceIPTCDateCreated, "newsroom-zone", `IPTC TimeCreated "25:61" is not a time`},
		{"IPTC Date Created alone is that day", [][]byte{iptcDates("20260730", "")},
			time.Date(2026, 7, 30, 0, 0, 0, 0, shanghai), SourceIPTCDateCreated, "newsroom-zone", ""},
		{"a year alone is no date: EXIF DateTime then", [][]byte{modified, xmpSeg(xmpWithDates(`photoshop:DateCreated="2026"`, ""))},
			time.Date(2026, 8, 2, 18, 0, 0, 0, shanghai), "DateTime", "newsroom-zone", `XMP photoshop:DateCreated "2026" is not a valid date`},
	} {
		t.Run(c.name, func(t *testing.T) {
			x := mustExtract(t, captionJPEG(t, c.segs...))
			if x.CapturedAt == nil || !x.CapturedAt.Equal(c.want) || x.DateSource != c.source || x.ZoneSource != c.zone {
				t.Fatalf("captured %v from %q (zone %q), want %v from %q (zone %q); notes %q", x.CapturedAt, x.DateSource, x.ZoneSource, c.want, c.source, c.zone, x.Notes)
			}
			if _, off := x.CapturedAt.Zone(); func() bool { _, w := c.want.Zone(); return w != off }() {
				t.Errorf("offset of %v, want that of %v", x.CapturedAt, c.want)
			}
			if c.note != "" {
				wantNote(t, x, c.note)
			}
		})
	}
}

// TestStatedDatesAsExiftoolReadsThem: exiftool, a reader we did not write,
// reads the fixtures' XMP and IPTC dates as the same instants we do.
func TestStatedDatesAsExiftoolReadsThem(t *testing.T) {
	bin, err := exec.LookPath("exiftool")
	if err != nil {
		t.Skip("exiftool not installed (Debian: apt-get install libimage-exiftool-perl); skipping the cross-check with ExifTool")
	}
	dir := t.TempDir()
	files := map[string][]byte{
		"xmp.jpg":  captionJPEG(t, xmpSeg(xmpWithDates(`exif:DateTimeOriginal="2026-07-27T20:15:10Z"`, `<photoshop:DateCreated>2026-07-28T09:30:00+08:00</photoshop:DateCreated>`))),
		"iptc.jpg": captionJPEG(t, iptcDates("20260729", "101500+0200")),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.Command(bin, "-j", "-G1", "-XMP-exif:DateTimeOriginal", "-XMP-photoshop:DateCreated", "-IPTC:DateCreated", "-IPTC:TimeCreated",
		filepath.Join(dir, "xmp.jpg"), filepath.Join(dir, "iptc.jpg")).Output()
	if err != nil {
		t.Fatalf("exiftool: %v", err)
	}
	var recs []map[string]string
	if err := json.Unmarshal(out, &recs); err != nil || len(recs) != 2 {
		t.Fatalf("exiftool said %s (%v)", out, err)
	}
	parse := func(v string) time.Time {
		at, err := time.Parse("2006:01:02 15:04:05Z07:00", v)
		if err != nil {
			t.Fatalf("exiftool's date %q: %v", v, err)
		}
		return at
	}
	for _, r := range recs {
		x := mustExtract(t, files[filepath.Base(r["SourceFile"])])
		var theirs time.Time
		switch filepath.Base(r["SourceFile"]) {
		case "xmp.jpg":
			if !parse(r["XMP-photoshop:DateCreated"]).Equal(time.Date(2026, 7, 28, 9, 30, 0, 0, shanghai)) {
				t.Errorf("exiftool reads photoshop:DateCreated as %q", r["XMP-photoshop:DateCreated"])
			}
			theirs = parse(r["XMP-exif:DateTimeOriginal"])
		case "iptc.jpg":
			theirs = parse(r["IPTC:DateCreated"] + " " + r["IPTC:TimeCreated"])
		}
		if x.CapturedAt == nil || !x.CapturedAt.Equal(theirs) {
			t.Errorf("%s: we read %v, exiftool %v (%v)", r["SourceFile"], x.CapturedAt, theirs, r)
		}
	}
}
