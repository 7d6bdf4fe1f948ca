package photometa

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/photodesk/photodesk/internal/fixture"
)

// The captions and bylines of the tests: one per block, so a result says
// which block it came from.
const (
	xmpCaption  = "7月28日,北京工人体育馆,全国职工职业技能大赛决赛开幕,来自全国各地的参赛选手入场。"
	xmpByline   = "王建国"
	iptcCaption = "7月28日,北京工人体育馆。决赛第一天。"
	iptcByline  = "李华"
	exifCaption = "Workers' Stadium, Beijing"
	exifByline  = "Zhang Xiaoming"
)

// captionEXIF is EXIF with a date, an ImageDescription and an Artist.
func captionEXIF() *fixture.EXIF {
	return &fixture.EXIF{
		DateTimeOriginal: "2026:07:28 09:30:00", Make: "Canon", Model: "Canon EOS R6",
		ImageDescription: exifCaption, Artist: exifByline,
	}
}

// xmpSeg is an XMP APP1 segment holding packet.
func xmpSeg(packet []byte) []byte { return segment(0xE1, []byte(fixture.XMPHeader), packet) }

// app13 is an APP13 segment with the given payload (fixture.IPTCSegment's).
func app13(payload []byte) []byte { return segment(0xED, payload) }

// exifSeg is the Exif APP1 segment of e for a 32×24 image.
func exifSeg(e *fixture.EXIF) []byte { return exifAPP1(fixture.EXIFBlock(e, 32, 24)) }

// captionJPEG is a 32×24 JPEG with segs after SOI, in order.
func captionJPEG(t testing.TB, segs ...[]byte) []byte { return jpegFile(t, 32, 24, segs...) }

func xmpOf(caption string, creators ...string) []byte {
	var alts []fixture.XMPLang
	if caption != "" {
		alts = []fixture.XMPLang{{Lang: "x-default", Text: caption}}
	}
	return fixture.XMPCaption(alts, creators...)
}

func wantCaption(t *testing.T, x *Exif, caption, captionSource, byline, bylineSource string) {
	t.Helper()
	if x.Caption != caption || x.CaptionSource != captionSource {
		t.Errorf("Caption = %q from %q, want %q from %q (notes %q)", x.Caption, x.CaptionSource, caption, captionSource, x.Notes)
	}
	if x.Byline != byline || x.BylineSource != bylineSource {
		t.Errorf("Byline = %q from %q, want %q from %q (notes %q)", x.Byline, x.BylineSource, byline, bylineSource, x.Notes)
	}
}

func hasNote(x *Exif, substr string) bool {
	return slices.ContainsFunc(x.Notes, func(n string) bool { return strings.Contains(n, substr) })
}

func wantNote(t *testing.T, x *Exif, substr string) {
	t.Helper()
	if !hasNote(x, substr) {
		t.Errorf("no note saying %q; notes %q", substr, x.Notes)
	}
}

// TestCaptionPrecedence: XMP wins over IPTC, IPTC over EXIF, for caption and
// byline separately; with none, no caption and empty sources.
func TestCaptionPrecedence(t *testing.T) {
	xmp := xmpSeg(xmpOf(xmpCaption, xmpByline))
	iptc := app13(fixture.IPTC(iptcCaption, iptcByline, true))
	ex := exifSeg(captionEXIF())
	for _, c := range []struct {
		name                           string
		segs                           [][]byte
		caption, captionSrc, by, bySrc string
	}{
		{"all three", [][]byte{xmp, iptc, ex}, xmpCaption, "xmp", xmpByline, "xmp"},
		{"all three, EXIF first", [][]byte{ex, iptc, xmp}, xmpCaption, "xmp", xmpByline, "xmp"},
		{"IPTC and EXIF", [][]byte{iptc, ex}, iptcCaption, "iptc", iptcByline, "iptc"},
		{"EXIF only", [][]byte{ex}, exifCaption, "exif", exifByline, "exif"},
		{"XMP caption only, IPTC byline", [][]byte{xmpSeg(xmpOf(xmpCaption)), app13(fixture.IPTC("", iptcByline, true)), ex},
			xmpCaption, "xmp", iptcByline, "iptc"},
		{"blank XMP and IPTC values fall through", [][]byte{xmpSeg(xmpOf(" \n ", "  ")), app13(fixture.IPTC("   ", " ", true)), ex},
			exifCaption, "exif", exifByline, "exif"},
		{"EXIF without caption tags", [][]byte{exifSeg(&fixture.EXIF{DateTimeOriginal: "2026:07:28 09:30:00"})}, "", "", "", ""},
		{"nothing at all", nil, "", "", "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			x := mustExtract(t, captionJPEG(t, c.segs...))
			wantCaption(t, x, c.caption, c.captionSrc, c.by, c.bySrc)
			if c.caption == "" && len(x.Notes) > 1 {
				t.Errorf("notes %q", x.Notes)
			}
		})
	}
}

// TestCaptionKeepsDateAndEXIF: reading captions changes nothing else.
func TestCaptionKeepsDateAndEXIF(t *testing.T) {
	x := mustExtract(t, captionJPEG(t, xmpSeg(xmpOf(xmpCaption, xmpByline)), app13(fixture.IPTC(iptcCaption, iptcByline, true)), exifSeg(captionEXIF())))
	wantTime(t, x, "2026-07-28T09:30:00+08:00", "DateTimeOriginal", "newsroom-zone")
	if x.Artist != exifByline || x.Make != "Canon" || x.Width != 32 || len(x.Notes) != 0 {
		t.Errorf("Artist %q, Make %q, Width %d, notes %q", x.Artist, x.Make, x.Width, x.Notes)
	}
}

func TestIPTCCharsets(t *testing.T) {
	utf8Bytes := []byte(iptcCaption)
	for _, c := range []struct {
		name     string
		seg      []byte
		caption  string
		byline   string
		note     string // a note that must be there; "" for no notes at all
		notNoted string
	}{
		{"UTF-8 declared", fixture.IPTC(iptcCaption, iptcByline, true), iptcCaption, iptcByline, "", ""},
		{"Latin-1, no 1:90", fixture.IPTC("Café Zürich, 28. Juli", "Zoë Müller", false), "Café Zürich, 28. Juli", "Zoë Müller",
			"no CodedCharacterSet (1:90); text assumed to be Latin-1", "valid UTF-8 too"},
		{"UTF-8 bytes without 1:90 read as Latin-1", fixture.IPTCSegment([]fixture.IPTCRecord{{Record: 2, Dataset: 120, Value: utf8Bytes}}, false),
			latin1(utf8Bytes), "", "text assumed to be Latin-1 (the bytes are valid UTF-8 too", ""},
		{"1:90 other than UTF-8", fixture.IPTCSegment([]fixture.IPTCRecord{{Record: 1, Dataset: 90, Value: []byte("\x1b(B")}, {Record: 2, Dataset: 120, Value: []byte{'C', 'a', 'f', 0xE9}}}, false),
			"Café", "", "CodedCharacterSet (1:90) 1B 28 42 is not UTF-8", ""},
		{"ASCII without 1:90: nothing to say", fixture.IPTC("Beijing", "Li Hua", false), "Beijing", "Li Hua", "", ""},
		{"invalid UTF-8 declared UTF-8", fixture.IPTCSegment([]fixture.IPTCRecord{{Record: 2, Dataset: 120, Value: []byte("北京\xff\xfe工人")}}, true),
			"北京\uFFFD工人", "", "not valid UTF-8; invalid bytes replaced with U+FFFD", ""},
		{"UTF-8 level designation", fixture.IPTCSegment([]fixture.IPTCRecord{{Record: 1, Dataset: 90, Value: []byte("\x1b%/I")}, {Record: 2, Dataset: 120, Value: []byte("北京")}}, false),
			"北京", "", "", ""},
		{"CR line breaks", fixture.IPTC("  第一段\r第二段\r\n第三段 \r", "", true), "第一段\n第二段\n第三段", "", "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			x := mustExtract(t, captionJPEG(t, app13(c.seg)))
			wantSrc := func(s string) string {
				if s == "" {
					return ""
				}
				return "iptc"
			}
			wantCaption(t, x, c.caption, wantSrc(c.caption), c.byline, wantSrc(c.byline))
			notes := slices.DeleteFunc(slices.Clone(x.Notes), func(n string) bool { return n == "no EXIF" })
			if c.note == "" && len(notes) > 0 {
				t.Errorf("notes %q, want none", notes)
			}
			if c.note != "" {
				wantNote(t, x, c.note)
			}
			if c.notNoted != "" && hasNote(x, c.notNoted) {
				t.Errorf("a note says %q: %q", c.notNoted, x.Notes)
			}
		})
	}
}

// TestIPTCMojibakeIsLatin1 spells out what the rule gives for UTF-8
// Chinese without 1:90: each byte its own character.
func TestIPTCMojibakeIsLatin1(t *testing.T) {
	seg := fixture.IPTCSegment([]fixture.IPTCRecord{{Record: 2, Dataset: 120, Value: []byte("北京")}}, false)
	x := mustExtract(t, captionJPEG(t, app13(seg)))
	if want := "\u00e5\u008c\u0097\u00e4\u00ba\u00ac"; x.Caption != want {
		t.Errorf("Caption = %+q, want %+q", x.Caption, want)
	}
}

func TestSeveralBylines(t *testing.T) {
	t.Run("IPTC", func(t *testing.T) {
		seg := fixture.IPTCSegment([]fixture.IPTCRecord{
			{Record: 2, Dataset: 80, Value: []byte("王建国")}, {Record: 2, Dataset: 80, Value: []byte(" 李华\n")},
			{Record: 2, Dataset: 80, Value: []byte("王建国")}, {Record: 2, Dataset: 80, Value: []byte("")},
			{Record: 2, Dataset: 80, Value: []byte("Jean  Dupont")},
		}, true)
		x := mustExtract(t, captionJPEG(t, app13(seg)))
		wantCaption(t, x, "", "", "王建国、李华、Jean Dupont", "iptc")
	})
	t.Run("XMP", func(t *testing.T) {
		x := mustExtract(t, captionJPEG(t, xmpSeg(fixture.XMPCaption(nil, "王建国", "李华", "张晓明"))))
		wantCaption(t, x, "", "", "王建国、李华、张晓明", "xmp")
	})
}

func TestXMPForms(t *testing.T) {
	const rdf = `xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"`
	const dc = `xmlns:dc="http://purl.org/dc/elements/1.1/"`
	for _, c := range []struct {
		name, packet, caption, byline, note string
	}{
		{"x-default wins wherever it is",
			string(fixture.XMPCaption([]fixture.XMPLang{{Lang: "en", Text: "English"}, {Lang: "x-default", Text: "默认"}, {Lang: "zh", Text: "中文"}})),
			"默认", "", ""},
		{"no x-default: the first",
			string(fixture.XMPCaption([]fixture.XMPLang{{Lang: "zh-CN", Text: "中文"}, {Lang: "en", Text: "English"}})),
			"中文", "", ""},
		{"paragraphs kept, escapes decoded",
			string(fixture.XMPCaption([]fixture.XMPLang{{Lang: "x-default", Text: "  第一段 <A&B>\n\n第二段  "}})),
			"第一段 <A&B>\n\n第二段", "", ""},
		{"other prefixes", `<x:xmpmeta xmlns:x="adobe:ns:meta/"><r:RDF xmlns:r="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><r:Description xmlns:d="http://purl.org/dc/elements/1.1/"><d:description><r:Alt><r:li xml:lang="x-default">说明</r:li></r:Alt></d:description><d:creator><r:Seq><r:li>王建国</r:li></r:Seq></d:creator></r:Description></r:RDF></x:xmpmeta>`,
			"说明", "王建国", ""},
		{"undeclared dc prefix", `<rdf:RDF ` + rdf + `><rdf:Description><dc:description><rdf:Alt><rdf:li xml:lang="x-default">说明</rdf:li></rdf:Alt></dc:description></rdf:Description></rdf:RDF>`,
			"说明", "", ""},
		{"undeclared prefixes", `<rdf:RDF><rdf:Description><dc:creator><rdf:Seq><rdf:li>王建国</rdf:li></rdf:Seq></dc:creator></rdf:Description></rdf:RDF>`,
			"", "王建国", ""},
		{"attribute shorthand", `<rdf:RDF ` + rdf + `><rdf:Description ` + dc + ` dc:description="说明" dc:creator="王建国"/></rdf:RDF>`,
			"说明", "王建国", ""},
		{"simple values", `<rdf:RDF ` + rdf + `><rdf:Description ` + dc + `><dc:description>说明</dc:description><dc:creator>王建国</dc:creator></rdf:Description></rdf:RDF>`,
			"说明", "王建国", ""},
		{"bag of creators", `<rdf:RDF ` + rdf + `><rdf:Description ` + dc + `><dc:creator><rdf:Bag><rdf:li>王建国</rdf:li><rdf:li>李华</rdf:li></rdf:Bag></dc:creator></rdf:Description></rdf:RDF>`,
			"", "王建国、李华", ""},
		{"other namespaces' description ignored", `<rdf:RDF ` + rdf + `><rdf:Description xmlns:o="http://example.com/"><o:description>no</o:description><o:creator>no</o:creator></rdf:Description></rdf:RDF>`,
			"", "", ""},
		{"trailing junk after the root", `<rdf:RDF ` + rdf + `><rdf:Description ` + dc + ` dc:creator="王建国"/></rdf:RDF>` + "\x00\x00junk<<<",
			"", "王建国", ""},
		{"invalid UTF-8", `<rdf:RDF ` + rdf + `><rdf:Description ` + dc + `><dc:description>北京` + "\xff" + `工人</dc:description></rdf:Description></rdf:RDF>`,
			"北京\uFFFD工人", "", "XMP: invalid UTF-8 replaced with U+FFFD"},
		{"not XML", "this is not XML at all", "", "", "XMP: no XML element in the packet; ignored"},
		{"broken XML", `<rdf:RDF ` + rdf + `><rdf:Description ` + dc + `><dc:description>说明</dc:creator>`, "", "", "XMP: not well-formed XML"},
		{"cut off", `<rdf:RDF ` + rdf + `><rdf:Description ` + dc + `><dc:description>说明`, "", "", "XMP: not well-formed XML"},
		{"entity", `<!DOCTYPE r [<!ENTITY e SYSTEM "file:///etc/passwd">]><rdf:RDF ` + rdf + `><rdf:Description ` + dc + `><dc:description>&e;</dc:description></rdf:Description></rdf:RDF>`,
			"", "", "XMP: not well-formed XML"},
		{"deep", strings.Repeat("<a>", 300) + strings.Repeat("</a>", 300), "", "", "XMP: elements nested over 256 deep"},
	} {
		t.Run(c.name, func(t *testing.T) {
			x := mustExtract(t, captionJPEG(t, xmpSeg([]byte(c.packet))))
			src := func(s string) string {
				if s == "" {
					return ""
				}
				return "xmp"
			}
			wantCaption(t, x, c.caption, src(c.caption), c.byline, src(c.byline))
			if c.note != "" {
				wantNote(t, x, c.note)
			}
		})
	}
}

// TestXMPNotXMLFallsBack: a broken XMP packet gives way to IPTC and EXIF.
func TestXMPNotXMLFallsBack(t *testing.T) {
	x := mustExtract(t, captionJPEG(t, xmpSeg([]byte("<x:xmpmeta><broken")), app13(fixture.IPTC(iptcCaption, "", true)), exifSeg(captionEXIF())))
	wantCaption(t, x, iptcCaption, "iptc", exifByline, "exif")
	wantNote(t, x, "XMP: not well-formed XML")
	wantTime(t, x, "2026-07-28T09:30:00+08:00", "DateTimeOriginal", "newsroom-zone")
}

func TestCameraDefaultDescription(t *testing.T) {
	for _, desc := range []string{"OLYMPUS DIGITAL CAMERA         ", "SANYO DIGITAL CAMERA", "KONICA MINOLTA DIGITAL CAMERA", "Canon EOS R6"} {
		e := captionEXIF()
		e.ImageDescription = desc
		x := mustExtract(t, captionJPEG(t, exifSeg(e)))
		wantCaption(t, x, "", "", exifByline, "exif")
		wantNote(t, x, "is a camera's default text")
	}
	// Not noted when a better caption is there anyway.
	e := captionEXIF()
	e.ImageDescription = "OLYMPUS DIGITAL CAMERA"
	x := mustExtract(t, captionJPEG(t, app13(fixture.IPTC(iptcCaption, "", true)), exifSeg(e)))
	if x.CaptionSource != "iptc" || len(x.Notes) != 0 {
		t.Errorf("caption from %q, notes %q", x.CaptionSource, x.Notes)
	}
}

func TestLongCaptionCut(t *testing.T) {
	long := strings.Repeat("北", maxCaption) // 3 bytes each
	x := mustExtract(t, captionJPEG(t, xmpSeg(xmpOf(long, strings.Repeat("李", 1000)))))
	if len(x.Caption) > maxCaption || len(x.Caption) < maxCaption-3 || !utf8.ValidString(x.Caption) || !strings.HasPrefix(long, x.Caption) {
		t.Errorf("caption of %d bytes, valid %v", len(x.Caption), utf8.ValidString(x.Caption))
	}
	if len(x.Byline) > maxByline || !utf8.ValidString(x.Byline) {
		t.Errorf("byline of %d bytes", len(x.Byline))
	}
	wantNote(t, x, "xmp caption cut to its first 16 KiB")
	wantNote(t, x, "xmp byline cut to its first 1 KiB")
}

// TestCaptionsHostile: damaged caption metadata is a note; the rest of the
// file (the EXIF, the other blocks) is still read, and nothing much is
// allocated.
func TestCaptionsHostile(t *testing.T) {
	e := captionEXIF()
	xmp := xmpSeg(xmpOf(xmpCaption))
	iim := fixture.IIM([]fixture.IPTCRecord{{Record: 1, Dataset: 90, Value: []byte(fixture.IPTCUTF8)},
		{Record: 2, Dataset: 80, Value: []byte(iptcByline)}, {Record: 2, Dataset: 120, Value: []byte(iptcCaption)}})
	ps := func(resources ...[]byte) []byte {
		return append([]byte(fixture.PhotoshopHeader), bytes.Join(resources, nil)...)
	}
	withSize := func(res []byte, size uint32) []byte {
		res = bytes.Clone(res)
		binary.BigEndian.PutUint32(res[8:], size) // after "8BIM", the id, an empty name
		return res
	}
	// The IIM cut inside the caption dataset, its length left as it was.
	cutIIM := iim[:len(iim)-5]
	good := fixture.PhotoshopResource(0x0404, "", iim)
	for _, c := range []struct {
		name                    string
		file                    []byte
		caption, src, by, bySrc string
		note                    string
	}{
		{"truncated APP13", func() []byte {
			b := captionJPEG(t, exifSeg(e), xmp, app13(ps(good)))
			at := bytes.Index(b, []byte("\xFF\xED"))
			return b[:at+20]
		}(), xmpCaption, "xmp", exifByline, "exif", "segment 0xFFED at offset"},
		{"8BIM size past the end", captionJPEG(t, exifSeg(e), xmp, app13(ps(withSize(good, 0xFFFFFFF0)))),
			xmpCaption, "xmp", exifByline, "exif", "image resource 0x0404 at offset 0 claims 4294967280 bytes"},
		{"8BIM resource before it past the end", captionJPEG(t, exifSeg(e), app13(ps(withSize(fixture.PhotoshopResource(0x0425, "", make([]byte, 16)), 1<<30), good))),
			exifCaption, "exif", exifByline, "exif", "image resource 0x0425 at offset 0 claims 1073741824 bytes"},
		{"8BIM header cut off", captionJPEG(t, exifSeg(e), app13(ps([]byte("8BIM\x04\x04\x05ab")))),
			exifCaption, "exif", exifByline, "exif", "image resource 0x0404 at offset 0 is cut off"},
		{"no 8BIM signature", captionJPEG(t, exifSeg(e), app13(ps([]byte("XXXX\x04\x04\x00\x00\x00\x00\x00\x00")))),
			exifCaption, "exif", exifByline, "exif", "no image resource signature"},
		{"IIM length past the end: the datasets before it stand", captionJPEG(t, exifSeg(e), app13(ps(fixture.PhotoshopResource(0x0404, "", cutIIM)))),
			exifCaption, "exif", iptcByline, "iptc", "dataset 2:120 at offset"},
		{"IIM extended length past the end", captionJPEG(t, exifSeg(e), app13(ps(fixture.PhotoshopResource(0x0404, "", []byte("\x1c\x02\x78\x80\x04\xff\xff\xff\xffabc"))))),
			exifCaption, "exif", exifByline, "exif", "claims 4294967295 bytes"},
		{"IIM extended length of 9 bytes", captionJPEG(t, exifSeg(e), app13(ps(fixture.PhotoshopResource(0x0404, "", []byte("\x1c\x02\x78\x80\x09\xff\xff\xff\xff\xff\xff\xff\xff\xffabc"))))),
			exifCaption, "exif", exifByline, "exif", "malformed extended length"},
		{"IIM junk", captionJPEG(t, exifSeg(e), app13(ps(fixture.PhotoshopResource(0x0404, "", append(bytes.Clone(iim), "junk"...))))),
			iptcCaption, "iptc", iptcByline, "iptc", "IPTC: no dataset marker"},
		{"IIM header cut off", captionJPEG(t, exifSeg(e), app13(ps(fixture.PhotoshopResource(0x0404, "", append(bytes.Clone(iim), 0x1c, 2))))),
			iptcCaption, "iptc", iptcByline, "iptc", "IPTC: dataset header at offset"},
		{"XMP not XML", captionJPEG(t, exifSeg(e), xmpSeg([]byte("\x00\x01\x02 not xml"))),
			exifCaption, "exif", exifByline, "exif", "XMP: not well-formed XML"},
		{"APP13 segments over 1 MiB in all", func() []byte {
			segs := [][]byte{exifSeg(e), xmp}
			for range 20 {
				segs = append(segs, app13(ps(fixture.PhotoshopResource(0x0425, "", make([]byte, 60000)))))
			}
			return captionJPEG(t, segs...)
		}(), xmpCaption, "xmp", exifByline, "exif", "Photoshop APP13 segments hold over 1024 KiB"},
	} {
		t.Run(c.name, func(t *testing.T) {
			x := extractBounded(t, c.file, 8<<20)
			wantCaption(t, x, c.caption, c.src, c.by, c.bySrc)
			wantNote(t, x, c.note)
			wantTime(t, x, "2026-07-28T09:30:00+08:00", "DateTimeOriginal", "newsroom-zone")
		})
	}
}

// padTo is b with zeros up to n bytes.
func padTo(b []byte, n int) []byte { return append(b, make([]byte, n-len(b))...) }

// allocated is how many bytes f allocates.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// extractBounded is mustExtract with a deadline and a bound on the bytes
// allocated.
func extractBounded(t *testing.T, b []byte, maxAlloc uint64) *Exif {
	t.Helper()
	var (
		x     *Exif
		err   error
		alloc uint64
	)
	within(t, 10*time.Second, func() {
		alloc = allocated(func() { x, err = Extract(bytes.NewReader(b), int64(len(b)), shanghai) })
	})
	if err != nil {
		t.Fatalf("Extract: %v", err)
	}
	if alloc > maxAlloc {
		t.Errorf("allocated %d bytes, want at most %d", alloc, maxAlloc)
	}
	return x
}

// TestXMPClaims: an XMP block claiming more than the limit is not read, and
// says so; the file is still read.
func TestXMPClaims(t *testing.T) {
	tiff, _ := basicEXIF().build()
	itxt := func(compressed bool, text []byte) []byte {
		d := []byte("XML:com.adobe.xmp\x00\x00\x00\x00\x00")
		if compressed {
			var z bytes.Buffer
			w := zlib.NewWriter(&z)
			w.Write(text)
			w.Close()
			d[18], text = 1, z.Bytes()
		}
		return pngChunk("iTXt", append(d, text...))
	}
	claim := func(chunk []byte, size uint32, order binary.ByteOrder, at int) []byte {
		chunk = bytes.Clone(chunk)
		order.PutUint32(chunk[at:], size)
		return chunk
	}
	big := append(bytes.Repeat([]byte(" "), 2<<20), xmpOf(xmpCaption)...)
	for _, c := range []struct {
		name, note string
		file       []byte
	}{
		{"PNG iTXt claiming 2 MiB", "PNG: XMP iTXt chunk of 2097152 bytes is over the 1024 KiB limit",
			pngFile(t, 4, 4, pngChunk("eXIf", tiff), claim(itxt(false, xmpOf(xmpCaption)), 2<<20, binary.BigEndian, 0))},
		{"PNG iTXt of 2 MiB", "PNG: XMP iTXt chunk of 2097",
			pngFile(t, 4, 4, pngChunk("eXIf", tiff), itxt(false, big))},
		{"PNG iTXt inflating to 2 MiB", "inflates to over 1024 KiB",
			pngFile(t, 4, 4, pngChunk("eXIf", tiff), itxt(true, big))},
		{"PNG iTXt that does not inflate", "does not inflate",
			pngFile(t, 4, 4, pngChunk("eXIf", tiff), pngChunk("iTXt", []byte("XML:com.adobe.xmp\x00\x01\x00\x00\x00not zlib at all")))},
		{"WebP XMP claiming 2 MiB", "WebP: XMP chunk of 2097152 bytes is over the 1024 KiB limit",
			riff(vp8xFlags(64, 48, 0x0C), vp8l(64, 48), riffChunk("EXIF", tiff), claim(riffChunk("XMP ", xmpOf(xmpCaption)), 2<<20, binary.LittleEndian, 4))},
		{"WebP XMP past the end", "WebP: XMP chunk at offset",
			riff(vp8xFlags(64, 48, 0x0C), vp8l(64, 48), riffChunk("EXIF", tiff), claim(riffChunk("XMP ", xmpOf(xmpCaption)), 1<<19, binary.LittleEndian, 4))},
		// A raw TIFF whose XMP is 2 MiB, beyond the head.
		{"TIFF tag 700 of 2 MiB", "TIFF: XMP (tag 700) of 2097152 bytes is over the 1024 KiB limit",
			padTo(tiffWith(t, field{tag: tagXMP, typ: typeUndefined, count: 2 << 20, data: le.AppendUint32(nil, 1<<10)}), 3<<20)},
		{"TIFF tag 700 past the end", "TIFF: XMP (tag 700) at offset 1024 runs past the end of the file",
			tiffWith(t, field{tag: tagXMP, typ: typeUndefined, count: 1 << 19, data: le.AppendUint32(nil, 1<<10)})},
		{"TIFF tag 33723 of 8 MiB", "TIFF: IPTC (tag 33723) of 8388608 bytes is over the 1024 KiB limit",
			padTo(tiffWith(t, field{tag: tagIPTCNAA, typ: typeLong, count: 2 << 20, data: le.AppendUint32(nil, 1<<10)}), 9<<20)},
	} {
		t.Run(c.name, func(t *testing.T) {
			x := extractBounded(t, c.file, 8<<20)
			wantNote(t, x, c.note)
			if !x.Present || x.CapturedAt == nil {
				t.Errorf("EXIF not read: %+v", x)
			}
			if x.CaptionSource == "xmp" {
				t.Errorf("caption %q read from XMP", x.Caption)
			}
		})
	}
}

// vp8xFlags is a VP8X chunk for a w×h canvas with the given flags (0x08
// EXIF, 0x04 XMP).
func vp8xFlags(w, h int, flags byte) []byte {
	c := vp8x(w, h, false)
	c[8] = flags
	return c
}

// tiffWith is a raw TIFF with basicEXIF's tags and fs added to IFD0.
func tiffWith(t testing.TB, fs ...field) []byte {
	spec := basicEXIF()
	spec.ifd0 = append(spec.ifd0, fs...)
	b, _ := spec.build()
	return b
}

// TestCaptionFormats: PNG (iTXt, plain and compressed), WebP (XMP chunk)
// and TIFF (tags 700 and 33723) carry captions too.
func TestCaptionFormats(t *testing.T) {
	tiff, _ := basicEXIF().build()
	packet := xmpOf(xmpCaption, xmpByline, "李华")
	itxt := func(compressed bool) []byte {
		d := []byte("XML:com.adobe.xmp\x00\x00\x00\x00\x00")
		text := packet
		if compressed {
			var z bytes.Buffer
			w := zlib.NewWriter(&z)
			w.Write(text)
			w.Close()
			d[18], text = 1, z.Bytes()
		}
		return pngChunk("iTXt", append(d, text...))
	}
	iim := fixture.IIM([]fixture.IPTCRecord{{Record: 1, Dataset: 90, Value: []byte(fixture.IPTCUTF8)}, {Record: 2, Dataset: 120, Value: []byte(iptcCaption)}, {Record: 2, Dataset: 80, Value: []byte(iptcByline)}})
	for _, c := range []struct {
		name                    string
		file                    []byte
		caption, src, by, bySrc string
	}{
		{"PNG iTXt", pngFile(t, 4, 4, itxt(false)), xmpCaption, "xmp", xmpByline + "、李华", "xmp"},
		{"PNG compressed iTXt", pngFile(t, 4, 4, pngChunk("eXIf", tiff), itxt(true)), xmpCaption, "xmp", xmpByline + "、李华", "xmp"},
		{"PNG iTXt after IDAT is not read", func() []byte {
			b := pngFile(t, 4, 4)
			iend := len(b) - 12
			return slices.Concat(b[:iend], itxt(false), b[iend:])
		}(), "", "", "", ""},
		{"PNG other iTXt", pngFile(t, 4, 4, pngChunk("iTXt", []byte("Comment\x00\x00\x00\x00\x00hello"))), "", "", "", ""},
		{"WebP XMP", riff(vp8xFlags(64, 48, 0x04), vp8l(64, 48), riffChunk("XMP ", packet)), xmpCaption, "xmp", xmpByline + "、李华", "xmp"},
		{"WebP EXIF and XMP", riff(vp8xFlags(64, 48, 0x0C), vp8l(64, 48), riffChunk("EXIF", tiff), riffChunk("XMP ", packet)), xmpCaption, "xmp", xmpByline + "、李华", "xmp"},
		{"WebP XMP without its flag is not read", riff(vp8xFlags(64, 48, 0x08), vp8l(64, 48), riffChunk("EXIF", tiff), riffChunk("XMP ", packet)), "", "", "", ""},
		{"TIFF XMP", tiffWith(t, field{tag: tagXMP, typ: typeByte, data: packet}), xmpCaption, "xmp", xmpByline + "、李华", "xmp"},
		{"TIFF IPTC as LONG", tiffWith(t, field{tag: tagIPTCNAA, typ: typeLong, count: uint32((len(iim) + 3) / 4), data: append(bytes.Clone(iim), make([]byte, 3)...)[:(len(iim)+3)/4*4]}),
			iptcCaption, "iptc", iptcByline, "iptc"},
		{"TIFF IPTC as UNDEFINED, XMP too", tiffWith(t, field{tag: tagIPTCNAA, typ: typeUndefined, data: iim}, field{tag: tagXMP, typ: typeUndefined, data: xmpOf("", xmpByline)}),
			iptcCaption, "iptc", xmpByline, "xmp"},
	} {
		t.Run(c.name, func(t *testing.T) {
			x := mustExtract(t, c.file)
			wantCaption(t, x, c.caption, c.src, c.by, c.bySrc)
			if x.Width == 0 && x.Format != "tiff" { // basicEXIF gives a TIFF no size
				t.Errorf("size not read: notes %q", x.Notes)
			}
			if want := bytes.Contains(c.file, tiff) || x.Format == "tiff"; x.Present != want {
				t.Errorf("Present = %v, want %v: notes %q", x.Present, want, x.Notes)
			}
		})
	}
}

// TestCaptionHeadOnly: the caption blocks of a JPEG come before its image
// data, so reading them through a HeadReader costs no more than the head.
func TestCaptionHeadOnly(t *testing.T) {
	jpg, err := fixture.JPEG(fixture.Scene(1200, 800, 5), 90, captionEXIF())
	if err != nil {
		t.Fatal(err)
	}
	jpg, _ = fixture.WithAPP(jpg, 13, fixture.IPTC(iptcCaption, iptcByline, true))
	jpg, _ = fixture.WithAPP(jpg, 1, []byte(fixture.XMPHeader), xmpOf(xmpCaption, xmpByline))
	h := NewHeadReader(func(off, n int64) ([]byte, error) { return bytes.Clone(jpg[off : off+n]), nil }, int64(len(jpg)), 0)
	x, err := Extract(h, int64(len(jpg)), shanghai)
	if err != nil {
		t.Fatal(err)
	}
	wantCaption(t, x, xmpCaption, "xmp", xmpByline, "xmp")
	if h.Fetched() > 64<<10 || int64(len(jpg)) < 2*h.Fetched() {
		t.Errorf("fetched %d of %d bytes", h.Fetched(), len(jpg))
	}
}
