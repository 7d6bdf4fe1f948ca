package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"math/rand"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/photodesk/photodesk/internal/fixture"
	"github.com/photodesk/photodesk/internal/schematest"
	"github.com/photodesk/photodesk/pipeline"
	"github.com/photodesk/photodesk/pipeline/config"
	"github.com/photodesk/photodesk/pipeline/contract"
	"github.com/photodesk/photodesk/pipeline/devstack"
	"github.com/photodesk/photodesk/workers/assembler"
)

// articleEvents reads a gallery's article events until want have come,
// then waits a little longer for any unwanted extra.
func articleEvents(t *testing.T, cfg config.Config, gallery string, want int, d time.Duration) []contract.ArticleEvent {
	t.Helper()
	schema := schematest.Repo(t, "schemas/events/article.schema.json")
	var evs []contract.ArticleEvent
	var extra time.Time
	follow(t, cfg, []string{"photodesk.article.*." + gallery}, d, func(m jetstream.Msg) {
		var ev contract.ArticleEvent
		mustDecode(t, m, &ev)
		if err := schematest.Validate(t, schema, m.Data()); err != nil {
			t.Errorf("%s does not match schemas/events/article.schema.json: %v", m.Subject(), err)
		}
		evs = append(evs, ev)
	}, func() bool {
		if len(evs) >= want && extra.IsZero() {
			extra = time.Now().Add(2 * time.Second)
		}
		return !extra.IsZero() && time.Now().After(extra)
	})
	if len(evs) < want {
		t.Fatalf("after %s: %d article events for %s, want %d", d, len(evs), gallery, want)
	}
	return evs
}

// subjectRegionXMP is an XMP packet with an IPTC subject-area region,
// centred on 0.7,0.45 of the picture.
const subjectRegionXMP = `<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" xmlns:xmp="http://ns.adobe.com/xap/1.0/">` +
	`<Iptc4xmpExt:ImageRegion><rdf:Bag><rdf:li rdf:parseType="Resource"><Iptc4xmpExt:RegionBoundary rdf:parseType="Resource"><Iptc4xmpExt:rbShape>rectangle</Iptc4xmpExt:rbShape><Iptc4xmpExt:rbUnit>relative</Iptc4xmpExt:rbUnit>` +
	`<Iptc4xmpExt:rbX>0.6</Iptc4xmpExt:rbX><Iptc4xmpExt:rbY>0.3</Iptc4xmpExt:rbY><Iptc4xmpExt:rbW>0.2</Iptc4xmpExt:rbW><Iptc4xmpExt:rbH>0.3</Iptc4xmpExt:rbH></Iptc4xmpExt:RegionBoundary>` +
	`<Iptc4xmpExt:rRole><rdf:Bag><rdf:li rdf:parseType="Resource"><xmp:Identifier><rdf:Bag><rdf:li>http://cv.iptc.org/newscodes/imageregionrole/subjectArea</rdf:li></rdf:Bag></xmp:Identifier></rdf:li></rdf:Bag></Iptc4xmpExt:rRole>` +
	`</rdf:li></rdf:Bag></Iptc4xmpExt:ImageRegion></rdf:Description></rdf:RDF></x:xmpmeta>`

// TestSeedShapedGallery is the seed article's shape end to end with the
// real servers and two assembler processes: a lead, a file photo, a body
// paragraph, photos taken on three days with a text block between them,
// uploaded in a shuffled order with the manifest in the middle, make one
// article.ready whose record is ninjs 2.2, whose body and preview follow
// the page block by block, in manifest order, every caption but the file
// photo's opening with its day, every rendition href fetchable with the
// stated size and type, markup escaped, each photo's crops (16:9, 1:1, 4:5) around the
// manifest's focal point, else the photo's embedded IPTC region, else
// libvips' attention; a new manifest makes version 2.
func TestSeedShapedGallery(t *testing.T) {
	s := devstack.ForTest(t)
	startRoles(t, s, "ingest", "exif", "renditions", "watermark", "assembler")
	child(t, nil, append([]string{"worker", "--role", "assembler"}, connFlags(s.Config)...)...)
	schema := schematest.Ninjs22(t)

	type shot struct {
		file, caption, taken string
		xmp                  string // embedded caption, used when the manifest has none
		archive              bool   // a file photo
	}
	// 01 has a focal point in the manifest (which may come after its
	// crops were made: then the assembler asks for them again), 03 an
	// embedded subject-area region; the others are cropped by attention.
	focus := map[string]map[string]float64{"01-opening.jpg": {"x": 0.3, "y": 0.6}}
	const regionPhoto = "03-booth.jpg"
	wantFocus := map[string]string{"01-opening.jpg": "centred on 0.3,0.6 (focal point in gallery.json)", regionPhoto: "centred on 0.7,0.45 (image region embedded in the photo)"}
	shots := []shot{
		{"00-archive.jpg", "", "2019:05:01 10:00:00", "", true},
		{"01-opening.jpg", "开幕式在北京展览馆举行。", "2026:07:28 09:12:00", "", false},
		{"02-wall.jpg", `照片墙 <script>alert("x")</script> & 观众`, "2026:07:28 15:40:00", "", false},
		{"03-booth.jpg", "观众在展台前观看展品。", "2026:07:29 10:05:00", "", false},
		{"04-kiln.jpg", "", "2026:07:29 16:20:00", "工匠指导观众制作陶瓷。", false},
		{"05-model.jpg", "7月30日,小朋友参观模型。", "2026:07:30 11:00:00", "", false},
		{"06-award.jpg", "获奖职工上台领奖。", "2026:07:30 17:45:00", "", false},
	}
	// The page's blocks: the lead, the file photo, a body paragraph, photos
	// with a text block between them.
	lead := "7月30日,第二届大国工匠创新交流大会暨大国工匠论坛在北京展览馆闭幕。"
	body1 := "在为期3天的活动中,大会搭建了大国工匠和高技能人才交流互鉴平台。"
	texts := map[int][]string{0: {body1}, 2: {"大会期间,多场直播活动同时举行。", "让此次活动有了更广泛的社会影响。"}}
	var listed []map[string]any
	for i, sh := range shots {
		if i == 0 {
			listed = append(listed, map[string]any{"file": sh.file, "file_photo": true})
		} else {
			entry := map[string]any{"file": sh.file, "caption": sh.caption}
			if f := focus[sh.file]; f != nil {
				entry["focus"] = f
			}
			listed = append(listed, entry)
		}
		if t, ok := texts[i]; ok {
			listed = append(listed, map[string]any{"text": t})
		}
	}
	manifest, _ := json.Marshal(map[string]any{
		"headline": "高清大图|第二届大国工匠创新交流大会精彩瞬间", "byline": []string{"杨登峰", "郑莉"},
		"source": "工人日报", "language": "zh-CN", "dateline": "北京", "lead": lead, "photos": listed,
	})
	type object struct {
		key  string
		body []byte
	}
	var objs []object
	for i, sh := range shots {
		b, err := fixture.JPEG(fixture.Scene(1200, 800, int64(i+1)), 85, &fixture.EXIF{DateTimeOriginal: sh.taken, Make: "Canon", Model: "Canon EOS R6"})
		if err != nil {
			t.Fatal(err)
		}
		if sh.xmp != "" {
			if b, err = fixture.WithAPP(b, 1, []byte(fixture.XMPHeader), fixture.XMPPacket(sh.xmp, "王伟伟")); err != nil {
				t.Fatal(err)
			}
		}
		if sh.file == regionPhoto {
			if b, err = fixture.WithAPP(b, 1, []byte(fixture.XMPHeader), []byte(subjectRegionXMP)); err != nil {
				t.Fatal(err)
			}
		}
		objs = append(objs, object{"seed-1/" + sh.file, b})
	}
	rand.New(rand.NewSource(7)).Shuffle(len(objs), func(i, j int) { objs[i], objs[j] = objs[j], objs[i] })
	objs = append(objs[:3], append([]object{{"seed-1/gallery.json", manifest}}, objs[3:]...)...)
	for _, o := range objs {
		putObject(t, s.Config, o.key, o.body)
	}

	evs := articleEvents(t, s.Config, "seed-1", 1, 90*time.Second)
	if len(evs) != 1 || evs[0].Version != 1 || evs[0].Photos != len(shots) {
		t.Fatalf("article events: %+v", evs)
	}
	ev := evs[0]
	if err := schematest.Validate(t, schema, ev.Record); err != nil {
		t.Fatalf("record is not ninjs 2.2: %v\n%s", err, ev.Record)
	}
	var rec assembler.Ninjs
	if err := json.Unmarshal(ev.Record, &rec); err != nil {
		t.Fatal(err)
	}
	if rec.Type != "composite" || rec.Headlines[0].Value != "高清大图|第二届大国工匠创新交流大会精彩瞬间" || rec.By != "杨登峰 郑莉" || rec.Located != "北京" || rec.Version != "1" {
		t.Errorf("record head: %+v", rec)
	}
	if len(rec.Descriptions) != 1 || rec.Descriptions[0].Role != "lead" || rec.Descriptions[0].Value != lead {
		t.Errorf("record's descriptions %+v, want the lead", rec.Descriptions)
	}
	wantDay := []string{"", "7月28日,", "7月28日,", "7月29日,", "7月29日,", "7月30日,", "7月30日,"}
	if len(rec.Associations) != len(shots) {
		t.Fatalf("%d associations, want %d", len(rec.Associations), len(shots))
	}
	for i, a := range rec.Associations {
		sh := shots[i]
		if !strings.Contains(a.URI, "/"+sh.file+"@") || a.Type != "picture" {
			t.Errorf("photo %d is %s, want %s (manifest order)", i+1, a.URI, sh.file)
		}
		caption := a.Descriptions[0].Value
		if sh.archive {
			if caption != "(资料图)" || strings.Contains(a.EdNote, "likely a file photo") {
				t.Errorf("%s: caption %q, ednote %q; want the file photo's label alone and no note", sh.file, caption, a.EdNote)
			}
		} else if !strings.HasPrefix(caption, wantDay[i]) || strings.Count(caption, "日,") != 1 {
			t.Errorf("%s: caption %q, want it to open with %s once", sh.file, caption, wantDay[i])
		}
		if sh.xmp != "" && (!strings.HasSuffix(caption, sh.xmp) || a.By != "王伟伟") {
			t.Errorf("%s: caption %q by %q, want the embedded XMP caption and creator", sh.file, caption, a.By)
		}
		if a.ContentCreated == "" || !strings.Contains(a.EdNote, "DateTimeOriginal") {
			t.Errorf("%s: contentcreated %q, ednote %q", sh.file, a.ContentCreated, a.EdNote)
		}
		if len(a.Renditions) != 14 {
			t.Errorf("%s: %d renditions, want 6, 6 crops and 2 watermarked", sh.file, len(a.Renditions))
		}
		crops := map[string]string{}
		for _, r := range a.Renditions {
			if strings.HasPrefix(r.Name, "crop") {
				crops[r.Name] = fmt.Sprintf("%dx%d %s", int(r.Width), int(r.Height), r.Title)
			}
		}
		want := wantFocus[sh.file]
		for name, size := range map[string]string{"crop16x9-jpeg": "1200x675 16:9", "crop1x1-jpeg": "800x800 1:1", "crop4x5-webp": "640x800 4:5"} {
			got := crops[name]
			if !strings.HasPrefix(got, size+" crop centred on ") || (want != "" && !strings.Contains(got, want)) ||
				(want == "" && !strings.Contains(got, "(libvips attention: the crop's centre)")) {
				t.Errorf("%s %s: %q, want %s crop %s", sh.file, name, got, size, cmp.Or(want, "by attention"))
			}
		}
		for _, r := range a.Renditions {
			resp, err := http.Get(r.Href)
			if err != nil {
				t.Fatalf("%s %s: %v", sh.file, r.Name, err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || int64(len(body)) != r.SizeInBytes || resp.Header.Get("Content-Type") != r.ContentType {
				t.Errorf("%s %s: GET %d, %d bytes of %s; record says %d bytes of %s", sh.file, r.Name, resp.StatusCode, len(body), resp.Header.Get("Content-Type"), r.SizeInBytes, r.ContentType)
			}
		}
	}
	body := rec.Bodies[0].Value
	var preview bytes.Buffer
	if err := printArticle(context.Background(), &preview, s.Config, "seed-1", true); err != nil {
		t.Fatal(err)
	}
	// Block by block, as the page: lead, file photo, body paragraph,
	// photos, a text block, photos, credits.
	want := []string{"lead " + lead, "figure (资料图)", "text " + body1}
	for i, a := range rec.Associations[1:] {
		want = append(want, "figure "+a.Descriptions[0].Value)
		if i == 1 {
			want = append(want, "text 大会期间,多场直播活动同时举行。", "text 让此次活动有了更广泛的社会影响。")
		}
	}
	want = append(want, "credits 来源:工人日报 杨登峰 郑莉")
	blockRE := regexp.MustCompile(`<p class="(lead|text|credits)">([^<]*)</p>|<figure><img [^>]*><figcaption>([^<]*)</figcaption>`)
	for name, doc := range map[string]string{"body": body, "preview": preview.String()} {
		var got []string
		for _, m := range blockRE.FindAllStringSubmatch(doc, -1) {
			if m[1] != "" {
				got = append(got, m[1]+" "+m[2])
			} else {
				got = append(got, "figure "+html.UnescapeString(m[3]))
			}
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s's blocks:\n%s\nwant the page's:\n%s", name, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	if i, j := strings.Index(preview.String(), "来源:工人日报</span>"), strings.Index(preview.String(), `class="lead"`); i < 0 || j < i {
		t.Errorf("preview: the time and source line does not come before the lead")
	}
	for name, doc := range map[string]string{"body": body, "preview": preview.String()} {
		if strings.Contains(doc, "<script>") || !strings.Contains(doc, "&lt;script&gt;") || !strings.Contains(doc, "&amp; 观众") {
			t.Errorf("%s does not escape the caption", name)
		}
		if !strings.Contains(doc, "来源:工人日报 杨登峰 郑莉") || !regexp.MustCompile(`large\.wm\.[0-9a-f]{16}\.jpg`).MatchString(doc) {
			t.Errorf("%s: no credits line or no watermarked image", name)
		}
	}

	// `photodesk article` prints the same record.
	var out bytes.Buffer
	if err := printArticle(context.Background(), &out, s.Config, "seed-1", false); err != nil || !sameJSON(out.Bytes(), ev.Record) {
		t.Errorf("photodesk article: %v\n%s", err, out.String())
	}
	if err := printArticle(context.Background(), &out, s.Config, "no-such-gallery", false); err == nil || !strings.Contains(err.Error(), "no record yet") {
		t.Errorf("article for an unknown gallery: %v", err)
	}

	// A new manifest after publication: version 2, article.updated.
	manifest2 := bytes.Replace(manifest, []byte("精彩瞬间"), []byte("精彩瞬间(更新)"), 1)
	putObject(t, s.Config, "seed-1/gallery.json", manifest2)
	evs = articleEvents(t, s.Config, "seed-1", 2, 60*time.Second)
	if len(evs) != 2 || evs[1].Version != 2 || !evs[1].VersionCreated.After(evs[0].VersionCreated) || !evs[1].FirstCreated.Equal(evs[0].FirstCreated) {
		t.Fatalf("after a new manifest: %+v", evs)
	}
	var rec2 assembler.Ninjs
	if err := json.Unmarshal(evs[1].Record, &rec2); err != nil || !strings.HasSuffix(rec2.Headlines[0].Value, "(更新)") || rec2.Version != "2" {
		t.Errorf("version 2 record: %v %+v", err, rec2.Headlines)
	}
	// The reference subscriber sees both versions, in order, and a restart
	// of the same durable subscription resumes after them.
	var sub bytes.Buffer
	if err := subscribe(context.Background(), &sub, s.Config, "newsroom-test", "seed-1", false, 2); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(strings.TrimSpace(sub.String()), "\n"); len(lines) != 2 ||
		!strings.Contains(lines[0], "ready   seed-1 v1  7 photos") || !strings.Contains(lines[1], "updated seed-1 v2  7 photos") {
		t.Errorf("subscribe printed:\n%s", sub.String())
	}
	sub.Reset()
	ctx2, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := subscribe(ctx2, &sub, s.Config, "newsroom-test", "seed-1", false, 0); err != nil || sub.Len() != 0 {
		t.Errorf("resumed subscription printed %q (%v), want nothing new", sub.String(), err)
	}

	store, _ := pipeline.NewStore(s.Config)
	for _, k := range []string{"seed-1/v1/article.json", "seed-1/v2/index.html", "seed-1/article.json"} {
		if _, err := store.StatObject(context.Background(), s.Config.ArticlesBucket, k, minio.StatObjectOptions{}); err != nil {
			t.Errorf("%s: %v", k, err)
		}
	}
}

func sameJSON(a, b []byte) bool {
	var x, y any
	return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && reflect.DeepEqual(x, y)
}

// TestUnusableRegionHoldsUntilAFocus: a photo whose embedded image region
// reaches outside the picture holds its gallery, with the reason, in the
// held event and in photodesk status, rather than going out cropped by a
// guess; a manifest that gives it a focus releases the gallery, with every
// crop made around that focus.
func TestUnusableRegionHoldsUntilAFocus(t *testing.T) {
	s := devstack.ForTest(t)
	startRoles(t, s, "ingest", "exif", "renditions", "watermark", "assembler")
	outside := strings.Replace(subjectRegionXMP, "<Iptc4xmpExt:rbX>0.6<", "<Iptc4xmpExt:rbX>0.9<", 1)
	b, err := fixture.JPEG(fixture.Scene(900, 600, 3), 85, nil)
	if err == nil {
		b, err = fixture.WithAPP(b, 1, []byte(fixture.XMPHeader), []byte(outside))
	}
	if err != nil {
		t.Fatal(err)
	}
	putObject(t, s.Config, "region-1/a.jpg", b)
	putObject(t, s.Config, "region-1/gallery.json", []byte(`{"headline": "区域越界", "photos": [{"file": "a.jpg", "caption": "观众参观。"}]}`))

	var held contract.GalleryHeld
	follow(t, s.Config, []string{contract.GallerySubject(contract.SubjectGalleryHeld, "region-1")}, 90*time.Second,
		func(msg jetstream.Msg) { mustDecode(t, msg, &held) },
		func() bool { return len(held.Failed) > 0 })
	const want = `its crops need a "focus" in gallery.json: embedded image region not used: its rectangle (relative units, 0.9,0.3 to 1.1,0.6)`
	if len(held.Failed) != 1 || held.Failed[0].Photo != "a.jpg" || held.Failed[0].Stage != "crops" ||
		!strings.HasPrefix(held.Failed[0].Reason, want) || !strings.Contains(held.Failed[0].Reason, "reaches outside the 900×600 picture") {
		t.Fatalf("held for %+v; want a.jpg's crops, with the region's reason", held.Failed)
	}
	nc, js, err := pipeline.Connect(s.Config, t.Name())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	rep := pollStatus(t, js, statusOptions{galleries: 20}, 10*time.Second, func(rep *statusReport) string {
		if g := findGallery(rep, "region-1"); g == nil || g.State != "held" || len(g.Held) != 1 {
			return "region-1 is not shown held for a.jpg"
		}
		return ""
	})
	var text bytes.Buffer
	if err := printStatus(&text, rep, time.Now()); err != nil || !strings.Contains(text.String(), `a.jpg held: its crops need a "focus" in gallery.json`) {
		t.Errorf("status text does not say why a.jpg is held:\n%s", text.String())
	}

	putObject(t, s.Config, "region-1/gallery.json", []byte(`{"headline": "区域越界", "photos": [{"file": "a.jpg", "caption": "观众参观。", "focus": {"x": 0.25, "y": 0.5}}]}`))
	evs := articleEvents(t, s.Config, "region-1", 1, 90*time.Second)
	var rec assembler.Ninjs
	if err := json.Unmarshal(evs[0].Record, &rec); err != nil {
		t.Fatal(err)
	}
	crops := 0
	for _, r := range rec.Associations[0].Renditions {
		if strings.HasPrefix(r.Name, "crop") {
			crops++
			if !strings.Contains(r.Title, "centred on 0.25,0.5 (focal point in gallery.json)") {
				t.Errorf("%s: %q, want it around the manifest's focus", r.Name, r.Title)
			}
		}
	}
	if crops != 6 || rec.Associations[0].EdNote == "" || strings.Contains(rec.Associations[0].EdNote, "region") {
		t.Errorf("%d crops, ednote %q; want 6, and no region note", crops, rec.Associations[0].EdNote)
	}
}
