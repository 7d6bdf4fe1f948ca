package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/photodesk/photodesk/internal/fixture"
	"github.com/photodesk/photodesk/pipeline/devstack"
	"github.com/photodesk/photodesk/workers/assembler"
)

// TestPublishedFilesCarryTheirRights runs a gallery through every role
// with real servers and reads every published JPEG and WebP back with
// exiftool: byline (several names), credit, caption as published
// (Chinese, one over IIM's limit), rights, keywords, location, alt text
// and capture date, in IIM, XMP and EXIF as each format holds them, with
// no GPS or camera make. A photo dated only in XMP is captioned with that
// date. Then a caption correction makes version 2: that photo's files are
// new, with the new caption and byte-identical pixels; version 1's files
// still say what version 1 said; the other photos' files are the same
// objects.
func TestPublishedFilesCarryTheirRights(t *testing.T) {
	if _, err := exec.LookPath("exiftool"); err != nil {
		t.Skip("exiftool is not installed (make deps installs it)")
	}
	s := devstack.ForTest(t)
	startRoles(t, s, "ingest", "exif", "renditions", "watermark", "assembler")

	gps := &fixture.GPS{Lat: 39.9, Lon: 116.4}
	a, err := fixture.JPEG(fixture.Scene(900, 600, 1), 85, &fixture.EXIF{DateTimeOriginal: "2026:07:28 09:12:00", OffsetTimeOriginal: "+08:00",
		Make: "Canon", Model: "Canon EOS R6", Artist: "CAMERA OWNER", GPS: gps})
	if err != nil {
		t.Fatal(err)
	}
	// b is dated only in XMP (as Lightroom exports it): no EXIF date.
	b, err := fixture.JPEG(fixture.Scene(900, 600, 2), 85, &fixture.EXIF{Make: "Canon"})
	if err != nil {
		t.Fatal(err)
	}
	xmpDate := `<?xpacket begin="` + "\ufeff" + `" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">` +
		`<rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:DateTimeOriginal="2026-07-27T18:30:00+08:00"/></rdf:RDF></x:xmpmeta><?xpacket end="w"?>`
	if b, err = fixture.WithAPP(b, 1, []byte(fixture.XMPHeader), []byte(xmpDate)); err != nil {
		t.Fatal(err)
	}
	c, err := fixture.JPEG(fixture.Scene(900, 600, 3), 85, &fixture.EXIF{DateTimeOriginal: "2026:07:29 10:05:00", OffsetTimeOriginal: "+08:00"})
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("观众在展台前仔细观看展品了解相关创新成果。", 40) // 800 characters, 2400 bytes: over IIM's 2000
	manifest := func(captionA string) []byte {
		m, _ := json.Marshal(map[string]any{
			"headline": "高清大图|大国工匠创新交流大会", "byline": []string{"杨登峰", "郑莉"}, "source": "工人日报",
			"rights": map[string]any{
				"creator": []string{"杨登峰", "郑莉"}, "credit": "工人日报", "copyright_notice": "© {YYYY} {holder}",
				"copyright_holder": "工人日报社", "usage_terms": "未经授权不得转载。", "web_statement": "https://example.org/rights",
				"licensor": map[string]string{"name": "工人日报图片部", "url": "https://example.org/licence"},
				"keywords": []string{"大国工匠", "展会"},
				"location": map[string]string{"city": "北京", "province_state": "北京", "country": "中国", "country_code": "CN"},
			},
			"photos": []map[string]any{
				{"file": "a.jpg", "caption": captionA, "rights": map[string]any{"alt_text": "开幕式现场"}},
				{"file": "b.jpg", "caption": "夜幕下的展馆。"},
				{"file": "c.jpg", "caption": long, "rights": map[string]any{"creator": []string{"王伟伟", "李华", "欧阳建国"}}},
			},
		})
		return m
	}
	putObject(t, s.Config, "rights-1/a.jpg", a)
	putObject(t, s.Config, "rights-1/b.jpg", b)
	putObject(t, s.Config, "rights-1/c.jpg", c)
	putObject(t, s.Config, "rights-1/gallery.json", manifest("开幕式在北京展览馆举行。"))

	evs := articleEvents(t, s.Config, "rights-1", 1, 90*time.Second)
	var v1 assembler.Ninjs
	if err := json.Unmarshal(evs[0].Record, &v1); err != nil || len(v1.Associations) != 3 {
		t.Fatalf("record: %v %s", err, evs[0].Record)
	}
	if got := v1.Associations[1].Descriptions[0].Value; got != "7月27日,夜幕下的展馆。" || !strings.Contains(v1.Associations[1].EdNote, "XMP exif:DateTimeOriginal") {
		t.Errorf("photo dated in XMP only: caption %q, ednote %q", got, v1.Associations[1].EdNote)
	}
	dir := t.TempDir()
	files := fetchRenditions(t, dir, "v1", v1)
	tags := readTags(t, files)
	for i, assoc := range v1.Associations {
		creators := []string{"杨登峰", "郑莉"}
		if i == 2 {
			creators = []string{"王伟伟", "李华", "欧阳建国"}
		}
		caption := assoc.Descriptions[0].Value
		for _, r := range assoc.Renditions {
			f := files[assoc.URI+" "+r.Name]
			tg := tags[f]
			want := map[string]string{
				"XMP-dc:Creator": strings.Join(creators, "|"), "XMP-dc:Description": caption, "XMP-photoshop:Credit": "工人日报",
				"XMP-photoshop:Source": "工人日报", "XMP-dc:Rights": "© 2026 工人日报社", "XMP-xmpRights:UsageTerms": "未经授权不得转载。",
				"XMP-xmpRights:WebStatement": "https://example.org/rights", "XMP-photoshop:Headline": "高清大图|大国工匠创新交流大会",
				"XMP-dc:Subject": "大国工匠|展会", "XMP-photoshop:City": "北京", "XMP-photoshop:Country": "中国", "XMP-iptcCore:CountryCode": "CN",
				"XMP-plus:LicensorLicensorName": "工人日报图片部", "XMP-plus:LicensorLicensorURL": "https://example.org/licence", "XMP-plus:CopyrightOwnerCopyrightOwnerName": "工人日报社",
				"XMP-iptcExt:LocationShownCity": "北京", "XMP-iptcExt:LocationShownCountryName": "中国",
				"IFD0:Artist": strings.Join(creators, "; "), "IFD0:Copyright": "© 2026 工人日报社",
			}
			if i == 0 {
				want["XMP-iptcCore:AltTextAccessibility"] = "开幕式现场"
			}
			taken := []string{"2026:07:28 09:12:00", "2026:07:27 18:30:00", "2026:07:29 10:05:00"}[i]
			want["ExifIFD:DateTimeOriginal"] = taken
			want["ExifIFD:OffsetTimeOriginal"] = "+08:00"
			want["XMP-photoshop:DateCreated"] = taken + "+08:00"
			if r.ContentType == "image/jpeg" {
				want["IPTC:By-line"] = strings.Join(creators, "|")
				want["IPTC:Credit"] = "工人日报"
				want["IPTC:CopyrightNotice"] = "© 2026 工人日报社"
				want["IPTC:Keywords"] = "大国工匠|展会"
				want["IPTC:City"] = "北京"
				want["IPTC:Headline"] = "高清大图|大国工匠创新交流大会"
				want["IPTC:CodedCharacterSet"] = "UTF8"
				if i != 2 {
					want["IPTC:Caption-Abstract"] = caption
				}
			}
			for k, v := range want {
				if got := tg[k]; got != v {
					t.Errorf("%s %s: %s = %q, want %q", assoc.URI, r.Name, k, got, v)
				}
			}
			if r.ContentType == "image/jpeg" && i == 2 {
				iim := tg["IPTC:Caption-Abstract"]
				if len(iim) > 2000 || len(iim) < 1997 || !utf8.ValidString(iim) || !strings.HasPrefix(caption, iim) {
					t.Errorf("%s: IIM caption is %d bytes, valid UTF-8 %v, a prefix of the caption %v; want it cut under 2000 at a character boundary",
						r.Name, len(iim), utf8.ValidString(iim), strings.HasPrefix(caption, iim))
				}
			}
			if r.ContentType == "image/webp" && tg["IPTC:Caption-Abstract"] != "" {
				t.Errorf("%s: WebP holds IPTC", r.Name)
			}
			for _, k := range []string{"GPS:GPSLatitude", "IFD0:Make", "IFD0:Model", "ExifIFD:SerialNumber"} {
				if tg[k] != "" {
					t.Errorf("%s %s: %s = %q reached a published file", assoc.URI, r.Name, k, tg[k])
				}
			}
		}
	}

	// A caption correction: version 2.
	putObject(t, s.Config, "rights-1/gallery.json", manifest("开幕式在北京展览馆隆重举行。"))
	evs = articleEvents(t, s.Config, "rights-1", 2, 60*time.Second)
	var v2 assembler.Ninjs
	if err := json.Unmarshal(evs[1].Record, &v2); err != nil || v2.Version != "2" {
		t.Fatalf("version 2: %v %s", err, evs[1].Record)
	}
	files2 := fetchRenditions(t, dir, "v2", v2)
	tags2 := readTags(t, files2)
	for i, assoc := range v2.Associations {
		for j, r := range assoc.Renditions {
			old, now := files[v1.Associations[i].URI+" "+r.Name], files2[assoc.URI+" "+r.Name]
			samePath := hrefPath(t, r.Href) == hrefPath(t, v1.Associations[i].Renditions[j].Href)
			if i != 0 {
				if !samePath {
					t.Errorf("%s %s: a version that changes nothing of the photo links a new file", assoc.URI, r.Name)
				}
				continue
			}
			if samePath {
				t.Errorf("%s %s: the corrected photo links version 1's file", assoc.URI, r.Name)
			}
			if got := tags2[now]["XMP-dc:Description"]; got != "7月28日,开幕式在北京展览馆隆重举行。" {
				t.Errorf("%s %s: version 2's caption %q", assoc.URI, r.Name, got)
			}
			if !bytes.Equal(stripped(t, old), stripped(t, now)) {
				t.Errorf("%s %s: pixels changed with the caption", assoc.URI, r.Name)
			}
		}
	}
	// Version 1's links still say what version 1 said.
	again := fetchRenditions(t, dir, "v1-again", v1)
	for k, f := range again {
		if strings.Contains(k, "/a.jpg@") {
			if got := readTags(t, map[string]string{k: f})[f]["XMP-dc:Description"]; got != "7月28日,开幕式在北京展览馆举行。" {
				t.Errorf("version 1's %s now says %q", k, got)
			}
		}
	}
}

// fetchRenditions downloads every rendition of the record into dir, keyed
// by "<association uri> <rendition name>".
func fetchRenditions(t *testing.T, dir, tag string, rec assembler.Ninjs) map[string]string {
	t.Helper()
	out := map[string]string{}
	for i, a := range rec.Associations {
		for _, r := range a.Renditions {
			resp, err := http.Get(r.Href)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || int64(len(body)) != r.SizeInBytes {
				t.Fatalf("%s %s: GET %d, %d bytes; record says %d", a.URI, r.Name, resp.StatusCode, len(body), r.SizeInBytes)
			}
			f := filepath.Join(dir, fmt.Sprintf("%s-%d-%s.%s", tag, i, r.Name, strings.TrimPrefix(r.ContentType, "image/")))
			if err := os.WriteFile(f, body, 0o644); err != nil {
				t.Fatal(err)
			}
			out[a.URI+" "+r.Name] = f
		}
	}
	return out
}

// readTags asks exiftool (one run for all files) for every tag, flattened
// to "group:name" = value, lists joined with "|", struct fields as
// <name><field> (XMP-plus:LicensorLicensorName).
func readTags(t *testing.T, files map[string]string) map[string]map[string]string {
	t.Helper()
	args := []string{"-j", "-G1", "-struct", "-charset", "iptc=UTF8"}
	for _, f := range files {
		args = append(args, f)
	}
	out, err := exec.Command("exiftool", args...).Output()
	if err != nil {
		t.Fatalf("exiftool: %v", err)
	}
	var recs []map[string]any
	if err := json.Unmarshal(out, &recs); err != nil {
		t.Fatalf("exiftool output: %v", err)
	}
	tags := map[string]map[string]string{}
	for _, rec := range recs {
		flat := map[string]string{}
		for k, v := range rec {
			flatten(flat, k, v)
		}
		tags[flat["SourceFile"]] = flat
	}
	return tags
}

func flatten(into map[string]string, key string, v any) {
	switch v := v.(type) {
	case []any:
		var parts []string
		for _, x := range v {
			if m, ok := x.(map[string]any); ok {
				for f, fv := range m {
					flatten(into, key+f, fv)
				}
				continue
			}
			parts = append(parts, fmt.Sprint(x))
		}
		if len(parts) > 0 {
			into[key] = strings.Join(parts, "|")
		}
	case map[string]any:
		for f, fv := range v {
			flatten(into, key+f, fv)
		}
	default:
		into[key] = fmt.Sprint(v)
	}
}

// stripped is the file with all its metadata removed by exiftool: equal
// for two files whose pixels are byte-identical.
func stripped(t *testing.T, file string) []byte {
	t.Helper()
	out, err := exec.Command("exiftool", "-all=", "-o", "-", file).Output()
	if err != nil || len(out) == 0 {
		t.Fatalf("exiftool -all= %s: %v", file, err)
	}
	return out
}

func hrefPath(t *testing.T, href string) string {
	u, err := url.Parse(href)
	if err != nil {
		t.Fatal(err)
	}
	return u.Path
}
