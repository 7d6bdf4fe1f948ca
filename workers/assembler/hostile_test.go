package assembler

import (
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/photodesk/photodesk/pipeline/contract"
	"github.com/photodesk/photodesk/pipeline/gallery"
)

// TestRecordTextIsPrintable: control characters from the manifest, the
// photo's metadata or the upload's (a NUL, terminal escapes, Word's
// vertical tab) do not reach the record; line breaks in captions stay.
func TestRecordTextIsPrintable(t *testing.T) {
	sh, _ := time.LoadLocation("Asia/Shanghai")
	r := &Role{Zone: sh, Cfg: DefaultConfig()}
	r.Cfg.PublicBaseURL = "https://img.example.com/d"
	now := time.Date(2026, 7, 28, 2, 0, 0, 0, time.UTC)
	m, err := gallery.ParseManifest([]byte(`{"headline": "高清\u0000大图\u001b]0;pwned\u0007|展会", "byline": ["张\u001b[31m三", "\u0000"],
		"dateline": "北京\t\u000b朝阳", "source": "工人\u0085日报",
		"rights": {"credit": "工人\u001b日报", "keywords": ["\u0000展会"], "copyright_holder": "工人\u0007日报社", "usage_terms": "第一行\u0000\r\n第二行"},
		"photos": [{"file": "a.jpg", "caption": "开幕\u001b[2J式\u000b第二行\r\n第三行\u2028第四行\u0000", "byline": "李\u0007四"}, {"file": "b.jpg"}, {"file": "c.jpg"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	s := gallery.New("g")
	s.ApplyManifest("m", now, m, "")
	captions := map[string]contract.ExifData{
		"a.jpg": {CapturedAt: &now},
		"b.jpg": {CapturedAt: &now, Caption: "嵌入\u009b31m的\u0000说明", Byline: "\u001b王五"},
		"c.jpg": {CapturedAt: &now},
	}
	for _, name := range []string{"a.jpg", "b.jpg", "c.jpg"} {
		ref := contract.Ref{Gallery: "g", Photo: name, ETag: "e-" + name}
		s.ApplyUploaded(contract.PhotoUploaded{Ref: ref, UploadedAt: now, Metadata: map[string]string{"caption": "元数据\u001b[1m说明"}}, now)
		s.ApplyExif(contract.PhotoExif{Ref: ref, Exif: captions[name]}, now)
		s.ApplyDerivatives(contract.PhotoDerivatives{Ref: ref, Role: "renditions", Derivatives: []contract.Derivative{}}, now)
		s.ApplyDerivatives(contract.PhotoDerivatives{Ref: ref, Role: "watermark", Derivatives: []contract.Derivative{}}, now)
	}
	rd := s.Evaluate()
	if !rd.Ready {
		t.Fatalf("not ready: %v", rd.Waiting)
	}
	a, err := r.article(t.Context(), s, rd, &gallery.Publication{Version: 1, FirstCreated: now, VersionCreated: now})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ what, got, want string }{
		{"headline", a.Headline, "高清大图]0;pwned|展会"},
		{"byline", strings.Join(a.By, "/"), "张[31m三"},
		{"dateline", a.Located, "北京 朝阳"},
		{"source", a.Source, "工人 日报"},
		{"caption a", a.Figures[0].Caption, "7月28日,开幕[2J式\n第二行\n第三行\n第四行"},
		{"byline a", a.Figures[0].By, "李四"},
		{"caption b", a.Figures[1].Caption, "7月28日,嵌入31m的说明"},
		{"byline b", a.Figures[1].By, "王五"},
		{"caption c", a.Figures[2].Caption, "7月28日,元数据[1m说明"},
		{"credit a", a.Figures[0].Rights.Credit, "工人日报"},
		{"keyword a", a.Figures[0].Rights.Keywords[0], "展会"},
		{"holder", a.Rights.CopyrightHolder, "工人日报社"},
		{"usage terms", a.Rights.UsageTerms, "第一行\n第二行"},
	} {
		if c.got != c.want {
			t.Errorf("%s %q, want %q", c.what, c.got, c.want)
		}
	}
	record, preview, err := a.Render()
	if err != nil {
		t.Fatal(err)
	}
	for name, doc := range map[string]string{"record": string(record), "preview": string(preview)} {
		if i := strings.IndexFunc(doc, func(r rune) bool { return unicode.IsControl(r) && r != '\n' }); i >= 0 {
			t.Errorf("%s holds control character %U", name, []rune(doc[i:])[0])
		}
		if strings.Contains(doc, `\u001b`) || strings.Contains(doc, `\u0000`) || strings.Contains(doc, `\u0007`) {
			t.Errorf("%s holds an escaped control character", name)
		}
	}
}
