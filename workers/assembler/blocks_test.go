package assembler

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/photodesk/photodesk/internal/schematest"
	"github.com/photodesk/photodesk/pipeline/contract"
	"github.com/photodesk/photodesk/pipeline/gallery"
)

// TestArticleFollowsTheManifestsBlocks: the lead, then photos and text
// blocks as gallery.json lists them, in the record's body and the
// preview; the lead is the record's description; a file photo is
// labelled and undated; date false keeps a caption as written; an empty
// caption gets no date; a photo taken long before the others is noted,
// not relabelled.
func TestArticleFollowsTheManifestsBlocks(t *testing.T) {
	sh, _ := time.LoadLocation("Asia/Shanghai")
	r := &Role{Zone: sh, Cfg: DefaultConfig()}
	day := func(y, m, d int) *time.Time { x := time.Date(y, time.Month(m), d, 2, 0, 0, 0, time.UTC); return &x }
	doc := `{"headline":"高清大图|大国工匠","lead":["7月30日,大会在北京展览馆闭幕。"],"photos":[
		{"file":"file.jpg","file_photo":true},
		{"text":"在为期3天的活动中,大会搭建了交流互鉴平台。"},
		{"file":"a.jpg","caption":"由中华全国总工会共同主办的大会开幕。"},
		{"file":"b.jpg","caption":"大会以“匠心筑梦 技能报国”为主题。","date":false},
		{"text":["大会期间,多场直播活动同时举行。","第二段。"]},
		{"file":"c.jpg"},
		{"file":"old.jpg","caption":"旧照。"}]}`
	m, err := gallery.ParseManifest([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	taken := map[string]*time.Time{"file.jpg": day(2019, 5, 1), "a.jpg": day(2023, 7, 28), "b.jpg": day(2023, 7, 28), "c.jpg": day(2023, 7, 29), "old.jpg": day(2021, 3, 2)}
	var entries []gallery.Entry
	for _, p := range m.Pictures() {
		entries = append(entries, gallery.Entry{Name: p.File, Listed: p, Photo: &gallery.Photo{ETag: "e"},
			Current: &gallery.Result{Exif: &contract.ExifData{CapturedAt: taken[p.File], DateSource: "DateTimeOriginal", ZoneSource: "exif"}}})
	}
	a := &Article{Gallery: "g", Headline: m.Headline, Source: "工人日报", Language: "zh-CN", Lead: m.Lead,
		FirstCreated: *day(2023, 7, 31), VersionCreated: *day(2023, 7, 31), PublishTime: "2023-07-31 16:31:13", Version: 1}
	for _, e := range entries {
		f, _ := r.figure(m, e, a.Headline, 2023)
		f.Display = Rendition{Name: "large-watermarked-jpeg", Href: "http://127.0.0.1:9000/d/" + e.Name, ContentType: "image/jpeg", Width: 2, Height: 1, SizeInBytes: 1}
		a.Figures = append(a.Figures, f)
	}
	noteFilePhotos(a.Figures, r.Cfg.FilePhotoAge)
	a.Blocks = blocks(m, entries)

	captions := []string{"(资料图)", "7月28日,由中华全国总工会共同主办的大会开幕。", "大会以“匠心筑梦 技能报国”为主题。", "", "3月2日,旧照。"}
	for i, want := range captions {
		if a.Figures[i].Caption != want {
			t.Errorf("%s: caption %q, want %q", a.Figures[i].Name, a.Figures[i].Caption, want)
		}
	}
	for i, f := range a.Figures {
		likely := strings.Contains(f.DateSource, "likely a file photo")
		if likely != (f.Name == "old.jpg") {
			t.Errorf("%s: ednote %q (only old.jpg is likely a file photo; file.jpg is marked already)", f.Name, f.DateSource)
		}
		if i == 4 && !strings.Contains(f.DateSource, "taken 2021-03-02, 878 days before") {
			t.Errorf("old.jpg's note does not say when: %q", f.DateSource)
		}
	}

	record, preview, err := a.Render()
	if err != nil {
		t.Fatal(err)
	}
	if err := schematest.Validate(t, schematest.Ninjs22(t), record); err != nil {
		t.Fatalf("record is not ninjs 2.2: %v\n%s", err, record)
	}
	var back Ninjs
	if err := json.Unmarshal(record, &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Descriptions) != 1 || back.Descriptions[0] != (Text{Role: "lead", ContentType: "text/plain", Value: "7月30日,大会在北京展览馆闭幕。"}) {
		t.Errorf("record's descriptions %+v, want the lead", back.Descriptions)
	}
	// The page's order, block by block, in both.
	want := []string{
		`p lead: 7月30日,大会在北京展览馆闭幕。`,
		`figure file.jpg: (资料图)`,
		`p text: 在为期3天的活动中,大会搭建了交流互鉴平台。`,
		`figure a.jpg: 7月28日,由中华全国总工会共同主办的大会开幕。`,
		`figure b.jpg: 大会以“匠心筑梦 技能报国”为主题。`,
		`p text: 大会期间,多场直播活动同时举行。`,
		`p text: 第二段。`,
		`figure c.jpg: `,
		`figure old.jpg: 3月2日,旧照。`,
		`p credits: 来源:工人日报`,
	}
	for name, doc := range map[string]string{"body": back.Bodies[0].Value, "preview": string(preview)} {
		if got := outline(doc); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s's blocks:\n%s\nwant:\n%s", name, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	if i, j := strings.Index(string(preview), "2023-07-31 16:31:13"), strings.Index(string(preview), `class="lead"`); i < 0 || j < i {
		t.Errorf("the preview does not open with the time and source line before the lead")
	}
	if n := back.Bodies[0].CharCount; n != len([]rune("7月30日,大会在北京展览馆闭幕。在为期3天的活动中,大会搭建了交流互鉴平台。大会期间,多场直播活动同时举行。第二段。来源:工人日报")) {
		t.Errorf("charcount %d counts captions (ninjs: without them)", n)
	}
}

// outline is a page's blocks: each paragraph with its class, each figure
// with its picture and caption.
func outline(doc string) []string {
	re := regexp.MustCompile(`<p class="(lead|text|credits)">([^<]*)</p>|<figure><img src="[^"]*/d/([^"]+)"[^>]*><figcaption>([^<]*)</figcaption>`)
	var out []string
	for _, m := range re.FindAllStringSubmatch(doc, -1) {
		if m[1] != "" {
			out = append(out, "p "+m[1]+": "+m[2])
		} else {
			out = append(out, "figure "+m[3]+": "+m[4])
		}
	}
	return out
}

// TestBlocksWithoutListedPhotos: with no photo listed, every photo in
// turn, then the manifest's text blocks; a listed photo that is not
// published is left out.
func TestBlocksWithoutListedPhotos(t *testing.T) {
	entries := []gallery.Entry{{Name: "a.jpg"}, {Name: "b.jpg"}}
	m := &gallery.Manifest{Photos: []gallery.MPhoto{{Text: gallery.Paragraphs{"t"}}}}
	if got := blocks(m, entries); len(got) != 3 || got[0].Figure != 0 || got[1].Figure != 1 || got[2].Figure != -1 {
		t.Errorf("no photo listed: %+v", got)
	}
	m.Photos = append(m.Photos, gallery.MPhoto{File: "gone.jpg"}, gallery.MPhoto{File: "b.jpg"})
	if got := blocks(m, entries[1:]); len(got) != 2 || got[0].Figure != -1 || got[1].Figure != 0 {
		t.Errorf("listed: %+v", got)
	}
	if got := blocks(nil, entries); len(got) != 2 {
		t.Errorf("no manifest: %+v", got)
	}
}
