package photometa

import (
	"bytes"
	"compress/zlib"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/photodesk/photodesk/internal/fixture"
)

// exiftoolCaptionTags are the tags the caption rule reads, as ExifTool
// names them with -G1.
var exiftoolCaptionTags = []string{
	"-XMP-dc:Description", "-XMP-dc:Creator", "-IPTC:Caption-Abstract", "-IPTC:By-line",
	"-IFD0:ImageDescription", "-IFD0:Artist", "-Make", "-Model",
}

// exiftoolRecords runs ExifTool once on the files of dir and returns its
// records by file name; the test is skipped where ExifTool is not
// installed.
func exiftoolRecords(t *testing.T, dir string, names ...string) map[string]map[string]any {
	t.Helper()
	bin, err := exec.LookPath("exiftool")
	if err != nil {
		t.Skip("exiftool not installed (Debian: apt-get install libimage-exiftool-perl); skipping the cross-check with ExifTool")
	}
	args := append([]string{"-j", "-G1", "-a", "-charset", "exiftool=UTF8"}, exiftoolCaptionTags...)
	for _, n := range names {
		args = append(args, filepath.Join(dir, n))
	}
	out, err := exec.Command(bin, args...).Output()
	if err != nil && len(out) == 0 {
		t.Fatalf("exiftool: %v", err)
	}
	d := json.NewDecoder(bytes.NewReader(out))
	d.UseNumber()
	var recs []map[string]any
	if err := d.Decode(&recs); err != nil {
		t.Fatalf("exiftool output %s: %v", out, err)
	}
	byName := map[string]map[string]any{}
	for _, r := range recs {
		byName[filepath.Base(fmt.Sprint(r["SourceFile"]))] = r
	}
	return byName
}

// exiftoolValues are a tag's values: one, or a list of them.
func exiftoolValues(r map[string]any, key string) []string {
	switch v := r[key].(type) {
	case nil:
		return nil
	case []any:
		var out []string
		for _, e := range v {
			out = append(out, fmt.Sprint(e))
		}
		return out
	default:
		return []string{fmt.Sprint(v)}
	}
}

// exiftoolWant applies the caption rule to ExifTool's values: XMP, IPTC,
// EXIF in order, each field on its own; a caption trimmed, a byline's names
// on one line, joined.
func exiftoolWant(r map[string]any) (caption, captionSrc, byline, bylineSrc string) {
	for _, c := range []struct{ src, caption, byline string }{
		{"xmp", "XMP-dc:Description", "XMP-dc:Creator"},
		{"iptc", "IPTC:Caption-Abstract", "IPTC:By-line"},
		{"exif", "IFD0:ImageDescription", "IFD0:Artist"},
	} {
		if v := exiftoolValues(r, c.caption); captionSrc == "" && len(v) > 0 {
			s := cleanCaption(v[0])
			if c.src == "exif" && isCameraDefault(s, fmt.Sprint(r["IFD0:Make"]), fmt.Sprint(r["IFD0:Model"])) {
				s = ""
			}
			if s != "" {
				caption, captionSrc = s, c.src
			}
		}
		var t captionText
		for _, n := range exiftoolValues(r, c.byline) {
			t.addName(n)
		}
		if bylineSrc == "" && len(t.names) > 0 {
			byline, bylineSrc = strings.Join(t.names, BylineSeparator), c.src
		}
	}
	return
}

// TestCaptionsAgreeWithExiftool: on files made by the fixture writers, in
// every format, Extract finds the caption and byline that ExifTool's
// reading of the same tags gives under the rule. (IPTC text without 1:90
// is checked with Latin-1 text that Windows-1252, ExifTool's default for
// it, reads the same.)
func TestCaptionsAgreeWithExiftool(t *testing.T) {
	tiff, _ := basicEXIF().build()
	packet := fixture.XMPCaption([]fixture.XMPLang{{Lang: "en", Text: "Workers' Stadium"}, {Lang: "x-default", Text: xmpCaption + "\n\n第二段 <A&B>"}}, xmpByline, "张晓明")
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(packet)
	zw.Close()
	iim := fixture.IIM([]fixture.IPTCRecord{{Record: 1, Dataset: 90, Value: []byte(fixture.IPTCUTF8)}, {Record: 2, Dataset: 120, Value: []byte(iptcCaption)}, {Record: 2, Dataset: 80, Value: []byte(iptcByline)}})
	xmp := xmpSeg(packet)
	iptc := app13(fixture.IPTC(iptcCaption, iptcByline, true))
	ex := exifSeg(captionEXIF())
	olympus := captionEXIF()
	olympus.ImageDescription = "OLYMPUS DIGITAL CAMERA         "

	files := map[string][]byte{
		"all.jpg":          captionJPEG(t, xmp, iptc, ex),
		"iptc-exif.jpg":    captionJPEG(t, iptc, ex),
		"exif.jpg":         captionJPEG(t, ex),
		"none.jpg":         captionJPEG(t),
		"olympus.jpg":      captionJPEG(t, exifSeg(olympus)),
		"xmp-caption.jpg":  captionJPEG(t, xmpSeg(xmpOf(xmpCaption)), app13(fixture.IPTC("", iptcByline, true)), ex),
		"latin1.jpg":       captionJPEG(t, app13(fixture.IPTC("Café Zürich, 28. Juli\r2. Absatz", "Zoë Müller", false)), ex),
		"bylines.jpg":      captionJPEG(t, app13(fixture.IPTCSegment([]fixture.IPTCRecord{{Record: 2, Dataset: 80, Value: []byte("王建国")}, {Record: 2, Dataset: 80, Value: []byte("李华")}, {Record: 2, Dataset: 80, Value: []byte("王建国")}}, true))),
		"creators.jpg":     captionJPEG(t, xmpSeg(fixture.XMPCaption(nil, "王建国", "李华", "张晓明"))),
		"itxt.png":         pngFile(t, 4, 4, pngChunk("eXIf", tiff), pngChunk("iTXt", append([]byte("XML:com.adobe.xmp\x00\x00\x00\x00\x00"), packet...))),
		"itxt-zlib.png":    pngFile(t, 4, 4, pngChunk("iTXt", append([]byte("XML:com.adobe.xmp\x00\x01\x00\x00\x00"), z.Bytes()...))),
		"xmp.webp":         riff(vp8xFlags(64, 48, 0x0C), vp8l(64, 48), riffChunk("EXIF", tiff), riffChunk("XMP ", packet)),
		"xmp-iptc.tif":     tiffWith(t, field{tag: tagXMP, typ: typeUndefined, data: xmpOf("", xmpByline)}, field{tag: tagIPTCNAA, typ: typeUndefined, data: iim}),
		"iptc-as-long.tif": tiffWith(t, field{tag: tagIPTCNAA, typ: typeLong, count: uint32((len(iim) + 3) / 4), data: append(bytes.Clone(iim), make([]byte, 3)...)[:(len(iim)+3)/4*4]}),
	}
	// Where the caption and byline of each file come from: the check
	// below must not pass on both readers finding nothing.
	wantSources := map[string]string{
		"all.jpg": "xmp xmp", "iptc-exif.jpg": "iptc iptc", "exif.jpg": "exif exif", "none.jpg": " ",
		"olympus.jpg": " exif", "xmp-caption.jpg": "xmp iptc", "latin1.jpg": "iptc iptc", "bylines.jpg": " iptc",
		"creators.jpg": " xmp", "itxt.png": "xmp xmp", "itxt-zlib.png": "xmp xmp", "xmp.webp": "xmp xmp",
		"xmp-iptc.tif": "iptc xmp", "iptc-as-long.tif": "iptc iptc",
	}
	dir := t.TempDir()
	var names []string
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	recs := exiftoolRecords(t, dir, names...)
	for name, b := range files {
		t.Run(name, func(t *testing.T) {
			r := recs[name]
			if r == nil {
				t.Fatal("exiftool gave no record")
			}
			x := mustExtract(t, b)
			c, cs, by, bs := exiftoolWant(r)
			if x.Caption != c || x.CaptionSource != cs || x.Byline != by || x.BylineSource != bs {
				t.Errorf("Extract: caption %q (%s), byline %q (%s)\nexiftool:        %q (%s), byline %q (%s)\nrecord %v",
					x.Caption, x.CaptionSource, x.Byline, x.BylineSource, c, cs, by, bs, r)
			}
			if got := cs + " " + bs; got != wantSources[name] {
				t.Errorf("exiftool's caption and byline sources are %q, want %q: record %v", got, wantSources[name], r)
			}
		})
	}
}

// TestCaptionsCorpusAgreeWithExiftool does the same on the real camera
// files, where present.
func TestCaptionsCorpusAgreeWithExiftool(t *testing.T) {
	entries, err := os.ReadDir(corpusDir)
	if err != nil {
		t.Skipf("camera corpus not present (%v)", err)
	}
	var names []string
	for _, e := range entries {
		if strings.HasSuffix(strings.ToLower(e.Name()), ".jpg") {
			names = append(names, e.Name())
		}
	}
	recs := exiftoolRecords(t, corpusDir, names...)
	found := 0
	for _, name := range names {
		b, err := os.ReadFile(filepath.Join(corpusDir, name))
		if err != nil {
			t.Fatal(err)
		}
		x, err := extractBytes(t, b)
		if err != nil {
			continue // TestGoldenCameras says which files fail and why
		}
		c, cs, by, bs := exiftoolWant(recs[name])
		if x.Caption != c || x.CaptionSource != cs || x.Byline != by || x.BylineSource != bs {
			t.Errorf("%s: Extract: caption %q (%s), byline %q (%s)\nexiftool:        %q (%s), byline %q (%s)",
				name, x.Caption, x.CaptionSource, x.Byline, x.BylineSource, c, cs, by, bs)
		}
		if cs != "" || bs != "" {
			found++
		}
	}
	t.Logf("%d of %d files have a caption or byline", found, len(names))
}
