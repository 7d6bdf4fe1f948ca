package photometa

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/photodesk/photodesk/internal/fixture"
	"github.com/photodesk/photodesk/pipeline/contract"
	"github.com/photodesk/photodesk/pipeline/gallery"
)

// exiftoolWrite is b after ExifTool (-m: IPTC values over IIM's lengths
// are written whole) wrote args into it; the test is skipped where ExifTool
// is not installed.
func exiftoolWrite(t *testing.T, b []byte, args ...string) []byte {
	t.Helper()
	bin, err := exec.LookPath("exiftool")
	if err != nil {
		t.Skip("exiftool not installed (Debian: apt-get install libimage-exiftool-perl); skipping the fixtures ExifTool writes")
	}
	path := filepath.Join(t.TempDir(), "f.jpg")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	args = append([]string{"-q", "-m", "-overwrite_original", "-sep", "|"}, append(args, path)...)
	if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
		t.Fatalf("exiftool %q: %v\n%s", args, err, out)
	}
	out, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// rightsJPEG is a JPEG from fixture.JPEG with e's EXIF (none when nil).
func rightsJPEG(t *testing.T, e *fixture.EXIF) []byte {
	t.Helper()
	if e == nil {
		e = &fixture.EXIF{DateTimeOriginal: "2026:07:28 09:30:00"}
	}
	b, err := fixture.JPEG(fixture.Scene(96, 64, 3), 80, e)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The rights ExifTool writes into the fixtures, as XMP and as IPTC IIM
// (UTF-8, declared by 1:90).
var (
	xmpRightsArgs = []string{
		"-XMP-dc:Creator=王建国|李华|欧阳建国", "-XMP-photoshop:Credit=工人日报", "-XMP-photoshop:Source=新华社",
		"-XMP-dc:Rights=© 2026 工人日报社", "-XMP-plus:CopyrightOwnerID=urn:example:owner", "-XMP-plus:CopyrightOwnerName=工人日报社",
		"-XMP-xmpRights:UsageTerms=未经授权不得转载。\n转载请联系图片部。", "-XMP-xmpRights:WebStatement=https://example.org/rights",
		"-XMP-plus:LicensorName=工人日报图片部", "-XMP-plus:LicensorURL=https://example.org/licence",
		"-XMP-dc:Subject=大国工匠|展会|职业技能", "-XMP-iptcExt:LocationShownCity=北京", "-XMP-iptcExt:LocationShownProvinceState=北京市",
		"-XMP-iptcExt:LocationShownCountryName=中国", "-XMP-iptcExt:LocationShownCountryCode=CN",
		"-XMP-iptcCore:AltTextAccessibility=开幕式现场,选手列队入场",
	}
	xmpRightsWant = contract.Rights{
		Creator: contract.Names{"王建国", "李华", "欧阳建国"}, Credit: "工人日报", Source: "新华社",
		CopyrightNotice: "© 2026 工人日报社", CopyrightHolder: "工人日报社",
		UsageTerms: "未经授权不得转载。\n转载请联系图片部。", WebStatement: "https://example.org/rights",
		Licensor: &contract.Licensor{Name: "工人日报图片部", URL: "https://example.org/licence"},
		Keywords: []string{"大国工匠", "展会", "职业技能"},
		Location: &contract.Location{City: "北京", ProvinceState: "北京市", Country: "中国", CountryCode: "CN"},
		AltText:  "开幕式现场,选手列队入场",
	}
	iptcRightsArgs = []string{
		"-IPTC:CodedCharacterSet=UTF8", "-charset", "iptc=UTF8",
		"-IPTC:By-line=张晓明|郑莉", "-IPTC:Credit=中国日报", "-IPTC:Source=中新社", "-IPTC:CopyrightNotice=© 2026 中国日报",
		"-IPTC:Keywords=技能大赛|决赛|技能大赛", "-IPTC:City=上海", "-IPTC:Province-State=上海市",
		"-IPTC:Country-PrimaryLocationName=中国", "-IPTC:Country-PrimaryLocationCode=CHN",
	}
	iptcRightsWant = contract.Rights{
		Creator: contract.Names{"张晓明", "郑莉"}, Credit: "中国日报", Source: "中新社", CopyrightNotice: "© 2026 中国日报",
		Keywords: []string{"技能大赛", "决赛"}, // the repeat dropped
		Location: &contract.Location{City: "上海", ProvinceState: "上海市", Country: "中国", CountryCode: "CHN"},
	}
)

// TestRightsExiftoolFixtures: on JPEGs whose XMP and IPTC ExifTool wrote,
// Extract reports every rights field the original embeds, each from the
// first of XMP, IPTC and EXIF that has it, and nil when there is none.
func TestRightsExiftoolFixtures(t *testing.T) {
	withEXIF := &fixture.EXIF{DateTimeOriginal: "2026:07:28 09:30:00", Artist: "相机主人", Copyright: "© 相机主人"}
	for _, c := range []struct {
		name  string
		exif  *fixture.EXIF
		args  []string
		want  *contract.Rights
		notes []string
	}{
		{name: "XMP only", args: xmpRightsArgs, want: &xmpRightsWant},
		{name: "IPTC only", args: iptcRightsArgs, want: &iptcRightsWant},
		{name: "XMP wins over IPTC and EXIF, field by field", exif: withEXIF,
			args: append(append([]string{}, iptcRightsArgs...), "-XMP-dc:Creator=王建国|李华", "-XMP-photoshop:Credit=工人日报",
				"-XMP-dc:Subject=大国工匠", "-XMP-photoshop:City=北京", "-XMP-photoshop:State=北京市", "-XMP-photoshop:Country=中国",
				"-XMP-iptcCore:CountryCode=CN"),
			want: &contract.Rights{
				Creator: contract.Names{"王建国", "李华"}, Credit: "工人日报", Source: "中新社", CopyrightNotice: "© 2026 中国日报",
				Keywords: []string{"大国工匠"}, Location: &contract.Location{City: "北京", ProvinceState: "北京市", Country: "中国", CountryCode: "CN"},
			}},
		{name: "LocationShown over the legacy location", args: []string{"-XMP-photoshop:City=上海", "-XMP-iptcExt:LocationShownCity=北京"},
			want: &contract.Rights{Location: &contract.Location{City: "北京"}}},
		{name: "EXIF only: Artist's names split on ;", exif: &fixture.EXIF{DateTimeOriginal: "2026:07:28 09:30:00", Artist: "张三; 李四;", Copyright: "© 2026 工人日报"},
			want: &contract.Rights{Creator: contract.Names{"张三", "李四"}, CopyrightNotice: "© 2026 工人日报"}},
		{name: "IPTC without 1:90 is Latin-1", args: []string{"-charset", "iptc=Latin", "-IPTC:By-line=Zoë Müller", "-IPTC:City=Zürich"},
			want:  &contract.Rights{Creator: contract.Names{"Zoë Müller"}, Location: &contract.Location{City: "Zürich"}},
			notes: []string{"text assumed to be Latin-1"}},
		{name: "only http(s) URLs, only ISO 3166 codes", args: []string{"-XMP-xmpRights:WebStatement=javascript:alert(1)",
			"-XMP-plus:LicensorName=图片部", "-XMP-plus:LicensorURL=ftp://example.org/", "-XMP-iptcExt:LocationShownCity=北京", "-XMP-iptcExt:LocationShownCountryCode=China"},
			want:  &contract.Rights{Licensor: &contract.Licensor{Name: "图片部"}, Location: &contract.Location{City: "北京"}},
			notes: []string{`WebStatement "javascript:alert(1)" is not an http(s) URL`, `LicensorURL "ftp://example.org/" is not`, `country code "China" is not ISO 3166`}},
		{name: "none", want: nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := rightsJPEG(t, c.exif)
			if len(c.args) > 0 {
				b = exiftoolWrite(t, b, c.args...)
			}
			x := mustExtract(t, b)
			if !reflect.DeepEqual(x.Rights, c.want) {
				got, _ := json.Marshal(x.Rights)
				want, _ := json.Marshal(c.want)
				t.Errorf("rights\n %s\nwant\n %s\nnotes %q", got, want, x.Notes)
			}
			for _, n := range c.notes {
				wantNote(t, x, n)
			}
			if len(c.notes) == 0 && len(x.Notes) > 0 {
				t.Errorf("notes %q", x.Notes)
			}
		})
	}
}

// TestRightsHostile: rights fields of a hostile file (ExifTool's, with
// values far over every limit, markup, control characters and invalid
// UTF-8; and IIM of thousands of keywords) are cleaned as captions are and
// bounded, with notes, and keep the event small.
func TestRightsHostile(t *testing.T) {
	// Each is over its limit, and together they still fit the standard
	// XMP packet of one APP1 segment (ExifTool moves what does not into
	// Extended XMP, which is not read).
	line, text := strings.Repeat("长", gallery.MaxRightsLine+50), strings.Repeat("长", gallery.MaxRightsText+100)
	var kws, names []string
	for i := range 80 {
		kws = append(kws, fmt.Sprintf("keyword %02d %s", i, strings.Repeat("x", 60)))
	}
	for i := range 25 {
		names = append(names, fmt.Sprintf("王%s%02d", strings.Repeat("n", gallery.MaxCreatorName), i))
	}
	iimKeywords := []fixture.IPTCRecord{{Record: 2, Dataset: 110, Value: []byte("社\x1b[31m<script>alert(1)</script>\x07\xff\xfe")}}
	for i := range 4000 {
		iimKeywords = append(iimKeywords, fixture.IPTCRecord{Record: 2, Dataset: 25, Value: fmt.Appendf(nil, "词%d", i/2)})
	}
	for _, c := range []struct {
		name string
		b    func() []byte
		want func(t *testing.T, x *Exif, r *contract.Rights)
	}{
		{"ExifTool: over every limit", func() []byte {
			return exiftoolWrite(t, rightsJPEG(t, nil), "-XMP-dc:Creator="+strings.Join(names, "|"), "-XMP-dc:Subject="+strings.Join(kws, "|"),
				"-XMP-photoshop:Credit="+line, "-XMP-xmpRights:UsageTerms="+text, "-XMP-dc:Rights="+text, "-XMP-iptcCore:AltTextAccessibility="+text,
				"-XMP-plus:LicensorName="+line, "-XMP-plus:LicensorURL=https://example.org/"+strings.Repeat("a", gallery.MaxURL),
				"-XMP-iptcExt:LocationShownCity="+line, "-XMP-plus:CopyrightOwnerName="+line)
		}, func(t *testing.T, x *Exif, r *contract.Rights) {
			for _, n := range []string{"embedded creators: only the first 20 kept", "embedded creators: 20 cut to 100 characters", "embedded keywords: only the first 64 kept",
				"embedded credit of 250 characters cut to 200", "embedded usage terms of 2100 characters cut to 2000", "LicensorURL", "embedded city of 250"} {
				wantNote(t, x, n)
			}
			if len(r.Creator) != gallery.MaxCreators || len(r.Keywords) != gallery.MaxKeywords || r.Licensor == nil || r.Licensor.URL != "" ||
				utf8.RuneCountInString(r.Credit) != gallery.MaxRightsLine || utf8.RuneCountInString(r.CopyrightHolder) != gallery.MaxRightsLine ||
				utf8.RuneCountInString(r.UsageTerms) != gallery.MaxRightsText || utf8.RuneCountInString(r.Creator[0]) != gallery.MaxCreatorName {
				t.Errorf("rights %+v", r)
			}
		}},
		{"ExifTool: markup, control characters, invalid UTF-8 in IPTC", func() []byte {
			return exiftoolWrite(t, rightsJPEG(t, nil), "-IPTC:CodedCharacterSet=UTF8", "-charset", "iptc=UTF8",
				"-IPTC:Credit=工人\x1b[31m<b>日报</b>\x07", "-IPTC:Source=新华\xff社", "-IPTC:By-line=王建国\x1f\t李华")
		}, func(t *testing.T, x *Exif, r *contract.Rights) {
			if r.Credit != "工人[31m<b>日报</b>" || r.Source != "新华\uFFFD社" || !reflect.DeepEqual(r.Creator, contract.Names{"王建国 李华"}) {
				t.Errorf("credit %q, source %q, creator %q", r.Credit, r.Source, r.Creator)
			}
		}},
		{"IIM: thousands of keywords", func() []byte {
			return captionJPEG(t, app13(fixture.IPTCSegment(iimKeywords, true)))
		}, func(t *testing.T, x *Exif, r *contract.Rights) {
			wantNote(t, x, "embedded keywords: only the first 64 kept")
			if len(r.Keywords) != gallery.MaxKeywords || r.Keywords[63] != "词63" || r.Credit != "社[31m<script>alert(1)</script>\uFFFD" {
				t.Errorf("keywords %q, credit %q", r.Keywords, r.Credit)
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			x := mustExtract(t, c.b())
			if x.Rights == nil {
				t.Fatalf("no rights; notes %q", x.Notes)
			}
			checkRights(t, x.Rights)
			c.want(t, x, x.Rights)
			if j, _ := json.Marshal(x); len(j) > 64<<10 {
				t.Errorf("the result is %d bytes of JSON", len(j))
			}
		})
	}
}

// checkRights fails t unless every field is clean (valid UTF-8, no control
// characters but a usage terms' line breaks, trimmed) and within its limit.
func checkRights(t *testing.T, r *contract.Rights) {
	t.Helper()
	if r == nil {
		return
	}
	check := func(what, v string, limit int, block bool) {
		if !utf8.ValidString(v) || utf8.RuneCountInString(v) > limit || strings.TrimSpace(v) != v ||
			strings.ContainsFunc(v, func(c rune) bool { return unicode.IsControl(c) && (c != '\n' || !block) }) {
			t.Errorf("%s %q: not clean or over %d characters", what, v, limit)
		}
	}
	if len(r.Creator) > gallery.MaxCreators || len(r.Keywords) > gallery.MaxKeywords {
		t.Errorf("%d creators, %d keywords", len(r.Creator), len(r.Keywords))
	}
	for _, n := range r.Creator {
		check("creator", n, gallery.MaxCreatorName, false)
	}
	for _, k := range r.Keywords {
		check("keyword", k, gallery.MaxKeyword, false)
	}
	for _, f := range []struct {
		what, v string
		limit   int
	}{{"credit", r.Credit, gallery.MaxRightsLine}, {"source", r.Source, gallery.MaxRightsLine}, {"holder", r.CopyrightHolder, gallery.MaxRightsLine},
		{"notice", r.CopyrightNotice, gallery.MaxRightsText}, {"alt text", r.AltText, gallery.MaxRightsText}, {"web statement", r.WebStatement, gallery.MaxURL}} {
		check(f.what, f.v, f.limit, false)
	}
	check("usage terms", r.UsageTerms, gallery.MaxRightsText, true)
	if l := r.Licensor; l != nil {
		check("licensor name", l.Name, gallery.MaxRightsLine, false)
		check("licensor URL", l.URL, gallery.MaxURL, false)
	}
	if l := r.Location; l != nil {
		for _, v := range []string{l.City, l.ProvinceState, l.Country, l.CountryCode} {
			check("location", v, gallery.MaxRightsLine, false)
		}
	}
}
