package assembler

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/photodesk/photodesk/internal/schematest"
	"github.com/photodesk/photodesk/pipeline/contract"
	"github.com/photodesk/photodesk/pipeline/gallery"
)

// TestRecordIsNinjs22AndEscaped: a record validates against IPTC's ninjs
// 2.2 schema; captions with markup are escaped in body and preview.
func TestRecordIsNinjs22AndEscaped(t *testing.T) {
	schema := schematest.Ninjs22(t)
	at := time.Date(2026, 7, 28, 9, 30, 0, 0, time.FixedZone("CST", 8*3600))
	a := &Article{
		Gallery: "expo", Headline: "高清大图|巧手逐梦 <b>创新</b>", By: []string{"张三", "李四"}, Source: "工人日报", Language: "zh-CN",
		Located: "北京", Version: 2,
		Rights:       contract.Rights{CopyrightNotice: "© 2026 工人日报", CopyrightHolder: "工人日报社", UsageTerms: "u", WebStatement: "https://example.org/rights"},
		FirstCreated: at, VersionCreated: at.Add(time.Hour), PublishTime: "2026-07-28 10:30:00",
		Figures: []Figure{{
			Name: "01.jpg", Caption: `7月28日,<script>alert("x")</script> & 朋友们`, By: "张三", CapturedAt: &at, ETag: "e1",
			Rights: contract.Rights{Creator: contract.Names{"张三"}, Credit: "工人日报", Source: "工人日报社", CopyrightNotice: "© 2026 张三", CopyrightHolder: "张三",
				UsageTerms: "仅限新闻报道", WebStatement: "https://example.org/rights/01", Licensor: &contract.Licensor{Name: "工人日报图片部", URL: "https://example.org/licence"},
				AltText: `观众<"在">展台前`},
			DateSource: "capture date from EXIF DateTimeOriginal (zone: newsroom-zone)",
			Display:    Rendition{Name: "large-watermarked-jpeg", Href: "http://127.0.0.1:9000/derivatives/expo/01.jpg/large.wm.jpg?X-Amz-Signature=a&b=c", ContentType: "image/jpeg", Width: 2048, Height: 1365, SizeInBytes: 1},
			Renditions: []Rendition{{Name: "thumb-jpeg", Href: "http://127.0.0.1:9000/derivatives/expo/01.jpg/thumb.jpg", ContentType: "image/jpeg", Width: 320, Height: 213, SizeInBytes: 100}},
		}},
	}
	record, preview, err := a.Render()
	if err != nil {
		t.Fatal(err)
	}
	if err := schematest.Validate(t, schema, record); err != nil {
		t.Fatalf("record is not ninjs 2.2: %v\n%s", err, record)
	}
	var back Ninjs
	if err := json.Unmarshal(record, &back); err != nil {
		t.Fatal(err)
	}
	body := back.Bodies[0].Value
	for name, doc := range map[string]string{"body": body, "preview": string(preview)} {
		if strings.Contains(doc, "<script>") || !strings.Contains(doc, "&lt;script&gt;") || !strings.Contains(doc, "&amp; 朋友们") {
			t.Errorf("%s does not escape the caption:\n%s", name, doc)
		}
	}
	if strings.Contains(string(preview), "<b>创新") || !strings.Contains(string(preview), "来源:工人日报") {
		t.Errorf("preview: headline not escaped or source line missing:\n%s", preview)
	}
	if back.Version != "2" || back.Type != "composite" || len(back.Associations) != 1 || back.Associations[0].Descriptions[0].Value != a.Figures[0].Caption {
		t.Errorf("record: %+v", back)
	}
	if back.CopyrightNotice != "© 2026 工人日报" || back.CopyrightHolder != "工人日报社" || back.UsageTerms != "u" || back.RightsInfo.LinkedRights != "https://example.org/rights" {
		t.Errorf("record's rights: %+v", back)
	}
	p := back.Associations[0]
	want := []InfoSource{{Name: "工人日报", Role: "credit"}, {Name: "工人日报社", Role: "source"}, {Name: "工人日报图片部", Role: "licensor", URI: "https://example.org/licence"}}
	if p.By != "张三" || p.CopyrightNotice != "© 2026 张三" || p.CopyrightHolder != "张三" || p.UsageTerms != "仅限新闻报道" ||
		p.RightsInfo == nil || p.RightsInfo.LinkedRights != "https://example.org/rights/01" || fmt.Sprint(p.InfoSources) != fmt.Sprint(want) ||
		len(p.Descriptions) != 2 || p.Descriptions[1] != (Text{Role: "alt", ContentType: "text/plain", Value: `观众<"在">展台前`}) {
		t.Errorf("photo's rights: %+v", p.Ninjs)
	}
	if !strings.Contains(string(preview), `alt="观众&lt;&#34;在&#34;&gt;展台前"`) {
		t.Errorf("preview's alt is not the alt text:\n%s", preview)
	}
}

// TestFigureSources: the caption comes from the manifest, else the photo's
// own embedded caption, else the upload's caption metadata; bylines
// likewise; hrefs under a public base URL are escaped paths.
func TestFigureSources(t *testing.T) {
	sh, _ := time.LoadLocation("Asia/Shanghai")
	r := &Role{Zone: sh, Cfg: DefaultConfig()}
	r.Cfg.PublicBaseURL = "https://img.example.com/d/"
	at := time.Date(2026, 7, 28, 2, 0, 0, 0, time.UTC)
	res := &gallery.Result{
		Exif:        &contract.ExifData{CapturedAt: &at, DateSource: "DateTimeOriginal", ZoneSource: "newsroom-zone", Caption: "嵌入的说明", Byline: "王伟伟", Artist: "CAMERA OWNER"},
		Renditions:  []contract.Derivative{{Preset: "thumb", Format: "jpeg", Key: "g/a b.jpg/thumb.jpg", ContentType: "image/jpeg", Width: 320, Height: 213, Size: 9}},
		Watermarked: []contract.Derivative{{Preset: "large", Format: "jpeg", Key: "g/a b.jpg/large.wm.jpg", ContentType: "image/jpeg", Width: 2048, Height: 1365, Size: 99, Watermarked: true}},
	}
	photo := &gallery.Photo{ETag: "e", Caption: "元数据说明"}
	for _, c := range []struct {
		listed      gallery.MPhoto
		exif        contract.ExifData
		caption, by string
	}{
		{gallery.MPhoto{File: "a b.jpg", Caption: "清单说明", Byline: "张三"}, *res.Exif, "7月28日,清单说明", "张三"},
		{gallery.MPhoto{File: "a b.jpg"}, *res.Exif, "7月28日,嵌入的说明", "王伟伟"},
		{gallery.MPhoto{File: "a b.jpg"}, contract.ExifData{CapturedAt: &at, Artist: "李四"}, "7月28日,元数据说明", "李四"},
		{gallery.MPhoto{File: "a b.jpg", Byline: "张三", Rights: &contract.Rights{Creator: contract.Names{"赵六", "钱七"}}}, *res.Exif, "7月28日,嵌入的说明", "赵六、钱七"},
	} {
		x := c.exif
		rr := *res
		rr.Exif = &x
		f, meta := r.figure(&gallery.Manifest{Headline: "h"}, gallery.Entry{Name: "a b.jpg", Listed: c.listed, Photo: photo, Current: &rr}, "h", 2025)
		if f.Caption != c.caption || f.By != c.by {
			t.Errorf("caption %q by %q, want %q by %q", f.Caption, f.By, c.caption, c.by)
		}
		if meta.Caption != f.Caption || strings.Join(meta.Creator, "、") != f.By || meta.Headline != "h" || !meta.Created.Equal(at) {
			t.Errorf("the files would say %+v, the record %q by %q", meta, f.Caption, f.By)
		}
		if err := r.link(t.Context(), &f, append(rr.Renditions, rr.Watermarked...)); err != nil {
			t.Fatal(err)
		}
		if f.Display.Name != "large-watermarked-jpeg" || f.Display.Href != "https://img.example.com/d/g/a%20b.jpg/large.wm.jpg" || len(f.Renditions) != 2 {
			t.Errorf("display %+v, renditions %d", f.Display, len(f.Renditions))
		}
	}
}

// TestPhotoRightsResolveFieldByField: each field comes from the photo's
// entry, else the gallery's, else the original, else the newsroom's
// defaults; the notice's {YYYY} is the year the photo was taken, in its
// own zone; GPS reaches the files only with KeepGPS.
func TestPhotoRightsResolveFieldByField(t *testing.T) {
	r := &Role{Zone: time.UTC, Cfg: DefaultConfig()}
	east := time.FixedZone("", 8*3600)
	taken := time.Date(2024, 1, 1, 1, 0, 0, 0, east) // still 2023 in UTC
	m := &gallery.Manifest{Headline: "h", Source: "本报", Rights: &contract.Rights{Credit: "工人日报 图片", Keywords: []string{"工匠"}}}
	e := gallery.Entry{Name: "a.jpg", Listed: gallery.MPhoto{File: "a.jpg", Rights: &contract.Rights{AltText: "展台\u0000前", CopyrightNotice: "© {YYYY} {creator}"}},
		Photo: &gallery.Photo{ETag: "e"}, Current: &gallery.Result{Exif: &contract.ExifData{CapturedAt: &taken,
			GPS:    &contract.GPS{Lat: 39.9, Lon: 116.4},
			Rights: &contract.Rights{Creator: contract.Names{"Jane Doe", "李四"}, Credit: "Agency", WebStatement: "https://agency.example/rights"}}}}
	f, meta := r.figure(m, e, "h", 2026)
	got := f.Rights
	if strings.Join(got.Creator, "|") != "Jane Doe|李四" || got.Credit != "工人日报 图片" || got.Source != "本报" || got.Keywords[0] != "工匠" ||
		got.CopyrightNotice != "© 2024 Jane Doe、李四" || got.CopyrightHolder != "工人日报社" || got.WebStatement != "https://agency.example/rights" ||
		got.UsageTerms != DefaultConfig().Rights.UsageTerms || got.AltText != "展台前" {
		t.Errorf("resolved %+v", got)
	}
	if meta.GPS != nil {
		t.Errorf("GPS reaches the files without KeepGPS")
	}
	r.Cfg.KeepGPS = true
	if _, meta = r.figure(m, e, "h", 2026); meta.GPS == nil || meta.GPS.Lat != 39.9 {
		t.Errorf("KeepGPS: files get %+v", meta.GPS)
	}
}

// TestCropsInTheRecord: each crop is a rendition named for its preset and
// format whose title gives its aspect and the focal point it was made
// around, with where that came from (ninjs 2.2 allows a rendition no other
// property); the display image is never a crop; the record stays valid ninjs 2.2.
func TestCropsInTheRecord(t *testing.T) {
	r := &Role{Zone: time.UTC, Cfg: DefaultConfig()}
	r.Cfg.PublicBaseURL = "https://img.example.com/"
	r.Cfg.DisplayPreset = "none" // so the display falls back
	at := time.Date(2026, 7, 28, 2, 0, 0, 0, time.UTC)
	crop := func(preset, aspect string, w, h int, f *contract.Focus) contract.Derivative {
		return contract.Derivative{Preset: preset, Format: "jpeg", Key: "g/a.jpg/" + preset + ".jpg", ContentType: "image/jpeg", Width: w, Height: h, Size: 9,
			Aspect: aspect, Focus: f}
	}
	res := &gallery.Result{
		Exif: &contract.ExifData{CapturedAt: &at, DateSource: "DateTimeOriginal", ZoneSource: "newsroom-zone"},
		Renditions: []contract.Derivative{
			{Preset: "large", Format: "jpeg", Key: "g/a.jpg/large.jpg", ContentType: "image/jpeg", Width: 2048, Height: 1365, Size: 9},
			crop("crop16x9", "16:9", 1280, 720, &contract.Focus{X: 0.3, Y: 0.6, Source: contract.FocusGallery}),
			crop("crop1x1", "1:1", 1080, 1080, &contract.Focus{X: 0.512, Y: 0.25, Source: contract.FocusAttention}),
		},
	}
	f, _ := r.figure(&gallery.Manifest{Headline: "h"}, gallery.Entry{Name: "a.jpg", Listed: gallery.MPhoto{File: "a.jpg"}, Photo: &gallery.Photo{ETag: "e"}, Current: res}, "h", 2026)
	if err := r.link(t.Context(), &f, res.Renditions); err != nil {
		t.Fatal(err)
	}
	if f.Display.Name != "large-jpeg" {
		t.Errorf("display %q, want the large rendition, not a crop", f.Display.Name)
	}
	want := map[string]string{
		"large-jpeg":    "",
		"crop16x9-jpeg": "16:9 crop centred on 0.3,0.6 (focal point in gallery.json)",
		"crop1x1-jpeg":  "1:1 crop centred on 0.512,0.25 (libvips attention: the crop's centre)",
	}
	for _, rd := range f.Renditions {
		if rd.Title != want[rd.Name] {
			t.Errorf("%s: title %q, want %q", rd.Name, rd.Title, want[rd.Name])
		}
	}
	a := &Article{Gallery: "g", Headline: "h", Source: "工人日报", Language: "zh-CN", FirstCreated: at, VersionCreated: at, Version: 1, Figures: []Figure{f}}
	record, _, err := a.Render()
	if err != nil {
		t.Fatal(err)
	}
	var back Ninjs
	if err := json.Unmarshal(record, &back); err != nil {
		t.Fatal(err)
	}
	if err := schematest.Validate(t, schematest.Ninjs22(t), record); err != nil {
		t.Errorf("record with crops is not ninjs 2.2: %v\n%s", err, record)
	}
}
