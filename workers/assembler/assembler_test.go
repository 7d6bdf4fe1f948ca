package assembler

import (
	"encoding/json"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/photodesk/photodesk/internal/schematest"
	"github.com/photodesk/photodesk/pipeline/contract"
)

// TestManifestRulesMatchSchema: ParseManifest and schemas/gallery.schema.json
// agree on what is a valid manifest, and the errors name the problem.
func TestManifestRulesMatchSchema(t *testing.T) {
	schema := schematest.Repo(t, "schemas/gallery.schema.json")
	for _, c := range []struct {
		doc  string
		want string // "" valid; else part of ParseManifest's error
	}{
		{`{"headline":"高清大图|展会","byline":["张三","李四"],"source":"工人日报","language":"zh-CN","dateline":"北京","photos":[{"file":"01.jpg","caption":"开幕。"},{"file":"02.jpg"}]}`, ""},
		{`{"headline":"h","byline":"张三"}`, ""},
		{`{"byline":"张三"}`, `"headline" is missing`},
		{`{"headline":"   "}`, `"headline" is missing`},
		{`{"headline":"h","title":"x"}`, `unknown field "title"`},
		{`{"headline":"h","photos":[{"file":"../etc/passwd"}]}`, `not safe`},
		{`{"headline":"h","photos":[{"file":"a.jpg"},{"file":"a.jpg"}]}`, `listed twice`},
		{`{"headline":"h","photos":[{"caption":"no file"}]}`, `photo 1`},
		{`{"headline":"h","language":"中文"}`, `not a language tag`},
		{`{"headline":"h","photos":"a.jpg"}`, `"photos" must be a list`},
		{`{"headline": 3}`, `"headline" must be a string`},
		{`{"headline":"h",}`, `not valid JSON: line 1`},
		{"{\"headline\":\"h\xff\"}", `not valid UTF-8`},
		{`{"headline":"` + strings.Repeat("长", 201) + `"}`, `limit is 200`},
	} {
		_, err := ParseManifest([]byte(c.doc))
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.doc, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: error %v, want one containing %q", c.doc, err, c.want)
		}
		// JSON Schema cannot say "no file twice" or "not only spaces" the
		// way the parser does; those cases are the parser's alone.
		if json.Valid([]byte(c.doc)) && c.want != `not valid UTF-8` && c.want != `listed twice` {
			verr := schematest.Validate(t, schema, []byte(c.doc))
			if (verr == nil) != (c.want == "") && c.want != `"headline" is missing` {
				t.Errorf("%s: schema says %v, ParseManifest says %v", c.doc, verr, err)
			}
		}
	}
}

// events is a small gallery's whole history: manifest, two photos through
// every stage, one photo replaced.
func events(t *testing.T) []func(*State, time.Time) {
	t0 := time.Date(2026, 7, 28, 1, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	day := func(d int) *time.Time { x := time.Date(2026, 7, d, 9, 0, 0, 0, time.UTC); return &x }
	m := &Manifest{Headline: "h", Photos: []MPhoto{{File: "b.jpg", Caption: "B"}, {File: "a.jpg", Caption: "A"}}}
	ref := func(p, etag string) contract.Ref {
		return contract.Ref{Gallery: "g", Photo: p, Bucket: "originals", Key: "g/" + p, ETag: etag}
	}
	derivs := func(p, etag, role string) contract.PhotoDerivatives {
		return contract.PhotoDerivatives{Ref: ref(p, etag), Role: role, Derivatives: []contract.Derivative{{Preset: "large", Format: "jpeg", Key: "g/" + p + "/large.jpg", ETag: etag + role}}}
	}
	var evs []func(*State, time.Time)
	evs = append(evs, func(s *State, now time.Time) { s.ApplyManifest("m1", at(0), m, "") })
	for _, p := range []struct {
		name, etag string
		up         time.Duration
		day        int
	}{{"a.jpg", "a1", 1, 28}, {"b.jpg", "b1", 2, 29}, {"b.jpg", "b2", 5, 30}} {
		p := p
		evs = append(evs,
			func(s *State, now time.Time) {
				s.ApplyUploaded(contract.PhotoUploaded{Ref: ref(p.name, p.etag), UploadedAt: at(p.up)}, now)
			},
			func(s *State, now time.Time) {
				s.ApplyExif(contract.PhotoExif{Ref: ref(p.name, p.etag), Exif: contract.ExifData{CapturedAt: day(p.day)}}, now)
			},
			func(s *State, now time.Time) { s.ApplyDerivatives(derivs(p.name, p.etag, "renditions"), now) },
			func(s *State, now time.Time) { s.ApplyDerivatives(derivs(p.name, p.etag, "watermark"), now) },
		)
	}
	return evs
}

// TestStateOrderDoesNotMatter: any order of the events, with repeats,
// gives the same ready gallery, the newest upload of b.jpg, the manifest's
// order, and the same fingerprint.
func TestStateOrderDoesNotMatter(t *testing.T) {
	evs := events(t)
	now := time.Date(2026, 7, 28, 2, 0, 0, 0, time.UTC)
	var want string
	rng := rand.New(rand.NewSource(1))
	for trial := range 200 {
		order := rng.Perm(len(evs))
		order = append(order, order[:rng.Intn(len(order))]...) // redeliveries
		s := newState("g")
		for _, i := range order {
			evs[i](s, now)
			// A round trip through JSON, as the KV bucket does.
			b, _ := json.Marshal(s)
			s = newState("g")
			if err := json.Unmarshal(b, s); err != nil {
				t.Fatal(err)
			}
		}
		rd := s.Evaluate()
		if !rd.Ready || len(rd.Entries) != 2 || rd.Entries[0].Name != "b.jpg" || rd.Entries[0].Photo.ETag != "b2" || rd.Entries[1].Name != "a.jpg" {
			t.Fatalf("trial %d (order %v): ready %v, waiting %v, entries %+v", trial, order, rd.Ready, rd.Waiting, rd.Entries)
		}
		fp := s.Fingerprint(rd)
		if want == "" {
			want = fp
		} else if fp != want {
			t.Fatalf("trial %d: fingerprint %s, want %s", trial, fp, want)
		}
	}
}

// TestStateHoldsOnFailure: a listed photo whose renditions failed holds
// the gallery and says why; an exif failure does not.
func TestStateHoldsOnFailure(t *testing.T) {
	now := time.Now()
	s := newState("g")
	for _, ev := range events(t) {
		ev(s, now)
	}
	s.ApplyFailure(contract.Failure{Ref: contract.Ref{Gallery: "g", Photo: "a.jpg", ETag: "a1"}, Stage: "exif", Reason: "corrupt EXIF"}, now)
	if rd := s.Evaluate(); !rd.Ready {
		t.Fatalf("an exif failure held the gallery: %+v", rd)
	}
	s.ApplyFailure(contract.Failure{Ref: contract.Ref{Gallery: "g", Photo: "a.jpg", ETag: "a1"}, Stage: "renditions", Reason: "bad input: cannot decode the jpeg"}, now)
	rd := s.Evaluate()
	if rd.Ready || len(rd.Failed) != 1 || rd.Failed[0].Photo != "a.jpg" || rd.Failed[0].Stage != "renditions" || !strings.Contains(rd.Failed[0].Reason, "cannot decode") {
		t.Fatalf("after a renditions failure: %+v", rd)
	}
	// A replacement upload releases it once processed.
	s.ApplyUploaded(contract.PhotoUploaded{Ref: contract.Ref{Gallery: "g", Photo: "a.jpg", ETag: "a2"}, UploadedAt: time.Date(2026, 7, 29, 0, 0, 0, 0, time.UTC)}, now)
	if rd := s.Evaluate(); len(rd.Failed) != 0 || rd.Ready {
		t.Fatalf("after a replacement: %+v", rd)
	}
}

// TestRecordIsNinjs22AndEscaped: a record validates against IPTC's ninjs
// 2.2 schema; captions with markup are escaped in body and preview.
func TestRecordIsNinjs22AndEscaped(t *testing.T) {
	schema := schematest.Ninjs22(t)
	at := time.Date(2026, 7, 28, 9, 30, 0, 0, time.FixedZone("CST", 8*3600))
	a := &Article{
		Gallery: "expo", Headline: "高清大图|巧手逐梦 <b>创新</b>", By: []string{"张三", "李四"}, Source: "工人日报", Language: "zh-CN",
		Located: "北京", Copyright: "© 工人日报", UsageTerms: "u", Version: 2,
		FirstCreated: at, VersionCreated: at.Add(time.Hour), PublishTime: "2026-07-28 10:30:00",
		Figures: []Figure{{
			Name: "01.jpg", Caption: `7月28日,<script>alert("x")</script> & 朋友们`, By: "张三", CapturedAt: &at, ETag: "e1",
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
}

// TestStateOrderWithoutList: a manifest that lists no photos publishes
// every uploaded one, by capture time, then file name (unknown dates last).
func TestStateOrderWithoutList(t *testing.T) {
	now := time.Now()
	s := newState("g")
	s.ApplyManifest("m", now, &Manifest{Headline: "h"}, "")
	day := func(d int) *time.Time { x := time.Date(2026, 7, d, 9, 0, 0, 0, time.UTC); return &x }
	for _, p := range []struct {
		name string
		at   *time.Time
	}{{"z.jpg", day(28)}, {"b.jpg", day(29)}, {"a.jpg", day(29)}, {"c.jpg", nil}, {"y.jpg", day(27)}} {
		ref := contract.Ref{Gallery: "g", Photo: p.name, ETag: "e-" + p.name}
		s.ApplyUploaded(contract.PhotoUploaded{Ref: ref, UploadedAt: now}, now)
		s.ApplyExif(contract.PhotoExif{Ref: ref, Exif: contract.ExifData{CapturedAt: p.at}}, now)
		s.ApplyDerivatives(contract.PhotoDerivatives{Ref: ref, Role: "renditions", Derivatives: []contract.Derivative{}}, now)
		s.ApplyDerivatives(contract.PhotoDerivatives{Ref: ref, Role: "watermark", Derivatives: []contract.Derivative{}}, now)
	}
	rd := s.Evaluate()
	var got []string
	for _, e := range rd.Entries {
		got = append(got, e.Name)
	}
	if !rd.Ready || strings.Join(got, " ") != "y.jpg z.jpg a.jpg b.jpg c.jpg" {
		t.Fatalf("order %v (ready %v, waiting %v)", got, rd.Ready, rd.Waiting)
	}
	// A replaced photo changes the fingerprint: a new version follows.
	fp := s.Fingerprint(rd)
	ref := contract.Ref{Gallery: "g", Photo: "a.jpg", ETag: "e2"}
	s.ApplyUploaded(contract.PhotoUploaded{Ref: ref, UploadedAt: now.Add(time.Minute)}, now)
	if s.Evaluate().Ready {
		t.Fatal("ready before the replacement is processed")
	}
	s.ApplyExif(contract.PhotoExif{Ref: ref, Exif: contract.ExifData{CapturedAt: day(29)}}, now)
	s.ApplyDerivatives(contract.PhotoDerivatives{Ref: ref, Role: "renditions", Derivatives: []contract.Derivative{{Key: "k", ETag: "new"}}}, now)
	s.ApplyDerivatives(contract.PhotoDerivatives{Ref: ref, Role: "watermark", Derivatives: []contract.Derivative{}}, now)
	if rd := s.Evaluate(); !rd.Ready || s.Fingerprint(rd) == fp {
		t.Fatalf("after replacing a.jpg: ready %v, fingerprint unchanged %v", rd.Ready, s.Fingerprint(rd) == fp)
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
	res := &Result{
		Exif:        &contract.ExifData{CapturedAt: &at, DateSource: "DateTimeOriginal", ZoneSource: "newsroom-zone", Caption: "嵌入的说明", Byline: "王伟伟", Artist: "CAMERA OWNER"},
		Renditions:  []contract.Derivative{{Preset: "thumb", Format: "jpeg", Key: "g/a b.jpg/thumb.jpg", ContentType: "image/jpeg", Width: 320, Height: 213, Size: 9}},
		Watermarked: []contract.Derivative{{Preset: "large", Format: "jpeg", Key: "g/a b.jpg/large.wm.jpg", ContentType: "image/jpeg", Width: 2048, Height: 1365, Size: 99, Watermarked: true}},
	}
	photo := &Photo{ETag: "e", Caption: "元数据说明"}
	for _, c := range []struct {
		listed      MPhoto
		exif        contract.ExifData
		caption, by string
	}{
		{MPhoto{File: "a b.jpg", Caption: "清单说明", Byline: "张三"}, *res.Exif, "7月28日,清单说明", "张三"},
		{MPhoto{File: "a b.jpg"}, *res.Exif, "7月28日,嵌入的说明", "王伟伟"},
		{MPhoto{File: "a b.jpg"}, contract.ExifData{CapturedAt: &at, Artist: "李四"}, "7月28日,元数据说明", "李四"},
	} {
		x := c.exif
		rr := *res
		rr.Exif = &x
		f, err := r.figure(t.Context(), Entry{Name: "a b.jpg", Listed: c.listed, Photo: photo, Current: &rr})
		if err != nil {
			t.Fatal(err)
		}
		if f.Caption != c.caption || f.By != c.by {
			t.Errorf("caption %q by %q, want %q by %q", f.Caption, f.By, c.caption, c.by)
		}
		if f.Display.Name != "large-watermarked-jpeg" || f.Display.Href != "https://img.example.com/d/g/a%20b.jpg/large.wm.jpg" || len(f.Renditions) != 2 {
			t.Errorf("display %+v, renditions %d", f.Display, len(f.Renditions))
		}
	}
}
