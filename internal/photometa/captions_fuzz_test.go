package photometa

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/photodesk/photodesk/internal/fixture"
)

// Ways FuzzCaptions uses its bytes (kind modulo captionKinds).
const (
	fuzzWholeFile = iota // the bytes are the file
	fuzzAPP13            // the payload of an APP13 segment of a JPEG with EXIF
	fuzzXMPAPP1          // the packet of an XMP APP1 segment of a JPEG with EXIF
	fuzzIIM              // the IIM of an 8BIM 0x0404 resource in a JPEG with EXIF
	fuzzPNGiTXt          // the text of a PNG's XMP iTXt chunk (a compression flag first)
	captionKinds
)

// FuzzCaptions: on any bytes, or any caption metadata in an otherwise good
// file, Extract never panics or hangs, returns the same through a
// HeadReader of tiny chunks, gives valid UTF-8 in every string, and a
// source exactly when it gives a caption or byline, and rights fields
// clean and bounded (checkRights), an image region's centre inside the
// picture. Damaged caption metadata never fails a photo whose EXIF is good.
func FuzzCaptions(f *testing.F) {
	e := captionEXIF()
	ex := exifSeg(e)
	xmp := xmpOf(xmpCaption, xmpByline, "李华")
	for _, b := range [][]byte{
		captionJPEG(f, xmpSeg(xmp), app13(fixture.IPTC(iptcCaption, iptcByline, true)), ex),
		captionJPEG(f, app13(fixture.IPTC("Café Zürich", "Zoë Müller", false)), ex),
		pngFile(f, 4, 4, pngChunk("iTXt", append([]byte("XML:com.adobe.xmp\x00\x00\x00\x00\x00"), xmp...))),
		riff(vp8xFlags(16, 16, 0x04), vp8l(16, 16), riffChunk("XMP ", xmp)),
		tiffWith(f, field{tag: tagXMP, typ: typeUndefined, data: xmp}, field{tag: tagIPTCNAA, typ: typeUndefined,
			data: fixture.IIM([]fixture.IPTCRecord{{Record: 2, Dataset: 120, Value: []byte("Café")}})}),
	} {
		f.Add(uint8(fuzzWholeFile), b)
	}
	f.Add(uint8(fuzzAPP13), fixture.IPTC(iptcCaption, iptcByline, true))
	f.Add(uint8(fuzzAPP13), append([]byte(fixture.PhotoshopHeader), fixture.PhotoshopResource(0x0425, "x", []byte("digest"))...))
	f.Add(uint8(fuzzXMPAPP1), xmp)
	f.Add(uint8(fuzzXMPAPP1), fixture.XMPCaption([]fixture.XMPLang{{Lang: "en", Text: "a & b"}, {Lang: "x-default", Text: "说明\n第二段"}}))
	f.Add(uint8(fuzzIIM), fixture.IIM([]fixture.IPTCRecord{{Record: 1, Dataset: 90, Value: []byte(fixture.IPTCUTF8)},
		{Record: 2, Dataset: 80, Value: []byte("王建国")}, {Record: 2, Dataset: 80, Value: []byte("李华")}, {Record: 2, Dataset: 120, Value: []byte(iptcCaption)}}))
	f.Add(uint8(fuzzIIM), []byte("\x1c\x02\x78\x80\x04\x00\x00\x00\x03abc"))
	f.Add(uint8(fuzzPNGiTXt), append([]byte{0}, xmp...))
	f.Add(uint8(fuzzXMPAPP1), []byte(`<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">`+
		`<rdf:Description xmlns:plus="http://ns.useplus.org/ldf/xmp/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/">`+
		`<plus:Licensor><rdf:Seq><rdf:li rdf:parseType="Resource"><plus:LicensorName>图片部</plus:LicensorName><plus:LicensorURL>https://example.org/</plus:LicensorURL></rdf:li></rdf:Seq></plus:Licensor>`+
		`<dc:subject><rdf:Bag><rdf:li>展会</rdf:li></rdf:Bag></dc:subject><Iptc4xmpExt:LocationShown><rdf:Bag><rdf:li Iptc4xmpExt:City="北京" Iptc4xmpExt:CountryCode="CN"/></rdf:Bag></Iptc4xmpExt:LocationShown>`+
		`</rdf:Description></rdf:RDF></x:xmpmeta>`))
	f.Add(uint8(fuzzIIM), fixture.IIM([]fixture.IPTCRecord{{Record: 1, Dataset: 90, Value: []byte(fixture.IPTCUTF8)},
		{Record: 2, Dataset: 110, Value: []byte("工人日报")}, {Record: 2, Dataset: 25, Value: []byte("展会")}, {Record: 2, Dataset: 90, Value: []byte("北京")}}))
	f.Add(uint8(fuzzXMPAPP1), regionPacket(rect("pixel", "2", "2", "4", "4")+roleID("subjectArea"), rect("relative", "0.1", "0.1", "0.5", "0.5")+roleName("recommended cropping")))

	base := jpegFile(f, 8, 8)
	png := pngFile(f, 4, 4)
	const afterIHDR = 8 + 8 + 13 + 4
	f.Fuzz(func(t *testing.T, kind uint8, b []byte) {
		file := b
		clip := func(n int) []byte { return b[:min(len(b), n)] }
		switch kind % captionKinds {
		case fuzzAPP13:
			file = slices.Concat(base[:2], ex, app13(clip(0xFFFD)), base[2:])
		case fuzzXMPAPP1:
			file = slices.Concat(base[:2], xmpSeg(clip(0xFFFD-len(fixture.XMPHeader))), ex, base[2:])
		case fuzzIIM:
			ps := append([]byte(fixture.PhotoshopHeader), fixture.PhotoshopResource(0x0404, "", clip(0xFFFD-len(fixture.PhotoshopHeader)-13))...)
			file = slices.Concat(base[:2], ex, app13(ps), base[2:])
		case fuzzPNGiTXt:
			if len(b) == 0 {
				return
			}
			chunk := pngChunk("iTXt", append([]byte{'X', 'M', 'L', ':', 'c', 'o', 'm', '.', 'a', 'd', 'o', 'b', 'e', '.', 'x', 'm', 'p', 0, b[0] & 1, 0, 0, 0}, b[1:]...))
			file = slices.Concat(png[:afterIHDR], chunk, png[afterIHDR:])
		}
		var (
			x, hx     *Exif
			err, herr error
		)
		within(t, 10*time.Second, func() {
			x, err = Extract(bytes.NewReader(file), int64(len(file)), shanghai)
			h := NewHeadReader(func(off, n int64) ([]byte, error) { return bytes.Clone(file[off : off+n]), nil }, int64(len(file)), 7)
			hx, herr = Extract(h, int64(len(file)), shanghai)
		})
		if err != nil {
			if kind%captionKinds != fuzzWholeFile {
				t.Fatalf("caption metadata failed a good photo: %v", err)
			}
			if !errors.Is(err, ErrBadInput) || herr == nil || herr.Error() != err.Error() {
				t.Fatalf("error %v; through HeadReader %v", err, herr)
			}
			return
		}
		j, _ := json.Marshal(x)
		if hj, _ := json.Marshal(hx); herr != nil || !bytes.Equal(j, hj) {
			t.Fatalf("through HeadReader: %s, %v; want %s", hj, herr, j)
		}
		for _, s := range append([]string{x.Caption, x.Byline, x.Artist, x.Copyright, x.Make, x.Model}, x.Notes...) {
			if !utf8.ValidString(s) {
				t.Fatalf("invalid UTF-8: %q", s)
			}
		}
		for _, c := range []struct{ v, src string }{{x.Caption, x.CaptionSource}, {x.Byline, x.BylineSource}} {
			if (c.v == "") != (c.src == "") || !slices.Contains([]string{"", SourceXMP, SourceIPTC, SourceEXIF}, c.src) {
				t.Fatalf("value %q from source %q", c.v, c.src)
			}
		}
		if len(x.Caption) > maxCaption || len(x.Byline) > maxByline {
			t.Fatalf("caption of %d bytes, byline of %d", len(x.Caption), len(x.Byline))
		}
		checkRights(t, x.Rights)
		if g := x.Region; g != nil {
			// A region is read or refused, never a centre off the picture.
			if cx, cy, err := g.Centre(8, 8); err == nil && (cx < 0 || cx > 1 || cy < 0 || cy > 1) {
				t.Fatalf("region %+v: centre %g,%g", g, cx, cy)
			}
		}
		if !utf8.ValidString(x.RegionProblem) {
			t.Fatalf("invalid UTF-8 in %q", x.RegionProblem)
		}
	})
}
