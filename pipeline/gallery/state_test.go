package gallery

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
		{`{"headline":"h","photos":[{"caption":"no file"}]}`, `entry 1 of "photos" is neither a photo`},
		{`{"headline":"h","lead":["在为期3天的活动中……","第二段。"],"photos":[{"file":"01.jpg","file_photo":true},{"text":"大会期间,多场直播活动同时举行。"},{"file":"02.jpg","caption":"观众合影。","date":false}]}`, ""},
		{`{"headline":"h","lead":"一段导语。"}`, ""},
		{`{"headline":"h","lead":3}`, `"lead" must be a paragraph or a list of paragraphs`},
		{`{"headline":"h","lead":["` + strings.Repeat("段", 5001) + `"]}`, `paragraph 1 of the lead is 5001 characters; the limit is 5000`},
		{`{"headline":"h","photos":[{"text":["` + strings.Repeat("段", 5001) + `"]}]}`, `is 5001 characters`},
		{`{"headline":"h","photos":[{"text":"x","caption":"y"}]}`, `is a text block ("text"), which has no caption`},
		{`{"headline":"h","photos":[{"file":"01.jpg","text":"x"}]}`, `01.jpg has "text"`},
		{`{"headline":"h","photos":[{"text":"  "}]}`, `empty text block`},
		{`{"headline":"h","photos":[{"file":"01.jpg","file_photo":"yes"}]}`, `"photos.file_photo" must be a bool`},
		{`{"headline":"h","photos":[{"file":"01.jpg","date":1}]}`, `"photos.date" must be a bool`},
		{`{"headline":"h","photos":[{"video":"01.mp4"}]}`, `unknown field "video"`},
		{`{"headline":"h","publish_at":"2026-07-31T16:31:13+08:00","embargo":true,"pubstatus":"usable"}`, ""},
		{`{"headline":"h","publish_at":"2026-07-31T16:31:13Z","pubstatus":"canceled"}`, ""},
		{`{"headline":"h","publish_at":"明天"}`, `"publish_at" must be an RFC 3339 time such as 2026-07-31T16:30:00+08:00`},
		{`{"headline":"h","publish_at":"2026-07-31 16:31"}`, `"publish_at" must be an RFC 3339 time`},
		{`{"headline":"h","embargo":true}`, `"embargo" needs "publish_at"`},
		{`{"headline":"h","embargo":false}`, ""},
		{`{"headline":"h","pubstatus":"killed"}`, `"pubstatus" "killed" is not usable, withheld or canceled`},
		{`{"headline":"h","language":"中文"}`, `not a language tag`},
		{`{"headline":"h","photos":"a.jpg"}`, `"photos" must be a list`},
		{`{"headline": 3}`, `"headline" must be a string`},
		{`{"headline":"h",}`, `not valid JSON: line 1`},
		{"{\"headline\":\"h\xff\"}", `not valid UTF-8`},
		{`{"headline":"` + strings.Repeat("长", 201) + `"}`, `limit is 200`},
		{`{"headline":"h","byline":3}`, `"byline" must be a name or a list of names`},
		{`{"headline":"h","rights":{"creator":["张三","李四"],"credit":"工人日报","source":"工人日报社","copyright_notice":"© {YYYY} {holder}","copyright_holder":"工人日报社","usage_terms":"未经授权不得转载。","web_statement":"https://example.org/rights","licensor":{"name":"工人日报图片部","url":"https://example.org/licence"},"keywords":["大国工匠","展会"],"location":{"city":"北京","province_state":"北京","country":"中国","country_code":"CN"}},"photos":[{"file":"01.jpg","rights":{"creator":"王五","alt_text":"观众在展台前观看展品"}}]}`, ""},
		{`{"headline":"h","rights":{"creator":7}}`, `"rights.creator" must be a name or a list of names`},
		{`{"headline":"h","rights":{"copyright_notice":"© {year} 工人日报"}}`, `unknown field {year}`},
		{`{"headline":"h","rights":{"web_statement":"ftp://example.org/x"}}`, `not an http(s) URL`},
		{`{"headline":"h","photos":[{"file":"01.jpg","rights":{"licensor":{"name":"x","url":"javascript:alert(1)"}}}]}`, `rights of 01.jpg: "licensor" url`},
		{`{"headline":"h","rights":{"location":{"country_code":"China"}}}`, `not an ISO 3166 code`},
		{`{"headline":"h","rights":{"licence":"x"}}`, `unknown field "licence"`},
		{`{"headline":"h","rights":{"usage_terms":"` + strings.Repeat("条", 2001) + `"}}`, `"usage_terms" is 2001 characters`},
		{overPacket(), `limit is 60000`},
		{`{"headline":"h","rights":{"copyright_notice":"© {YYYY"}}`, `unknown field {YYYY`},
		{`{"headline":"h","rights":{"copyright_notice":"{holder} {YYYY} {creator} }"}}`, ""},
		{`{"headline":"h","photos":[{"file":"01.jpg","focus":{"x":0.3,"y":0.6}},{"file":"02.jpg","focus":{"x":0,"y":1}}]}`, ""},
		{`{"headline":"h","photos":[{"file":"01.jpg","focus":{"x":1.2,"y":0.6}}]}`, `gallery.json: 01.jpg: focus "x" is 1.2; it must be 0 to 1 (a fraction of the picture's width, from the left)`},
		{`{"headline":"h","photos":[{"file":"01.jpg","focus":{"x":0.5,"y":-0.1}}]}`, `focus "y" is -0.1; it must be 0 to 1`},
		{`{"headline":"h","photos":[{"file":"01.jpg","focus":{"x":0.5}}]}`, `"focus" needs "x" and "y", e.g. {"x": 0.3, "y": 0.6}; "y" is missing`},
		{`{"headline":"h","photos":[{"file":"01.jpg","focus":{"x":0.5,"y":0.5,"z":1}}]}`, `unknown field "z"`},
		{`{"headline":"h","photos":[{"file":"01.jpg","focus":{"x":"left","y":0.5}}]}`, `"photos.focus.x" must be a number`},
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
		if json.Valid([]byte(c.doc)) && c.want != `not valid UTF-8` && c.want != `listed twice` && c.want != `limit is 60000` {
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
		s := New("g")
		for _, i := range order {
			evs[i](s, now)
			// A round trip through JSON, as the KV bucket does.
			b, _ := json.Marshal(s)
			s = New("g")
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
	s := New("g")
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

// TestStateOrderWithoutList: a manifest that lists no photos publishes
// every uploaded one, by capture time, then file name (unknown dates last).
func TestStateOrderWithoutList(t *testing.T) {
	now := time.Now()
	s := New("g")
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

// overPacket is a gallery.json whose one photo's fields are each within
// their limits but together, XML-escaped, over one XMP packet.
func overPacket() string {
	kw := make([]string, 64)
	for i := range kw {
		kw[i] = strings.Repeat("&", 64)
	}
	r := contract.Rights{Keywords: kw, UsageTerms: strings.Repeat(`"`, 2000), AltText: strings.Repeat("'", 2000), CopyrightNotice: strings.Repeat("&", 2000)}
	b, _ := json.Marshal(Manifest{Headline: "h", Photos: []MPhoto{{File: "a.jpg", Caption: strings.Repeat("<", 2000), Rights: &r}}})
	return string(b)
}
