package gallery

import (
	"encoding/json"
	"os"
	"testing"
	"unicode/utf8"

	"github.com/photodesk/photodesk/pipeline/contract"
)

// FuzzParseManifest: no input panics the parser; what it accepts is
// within its limits and reads back the same after a round trip.
func FuzzParseManifest(f *testing.F) {
	if b, err := os.ReadFile("../../samples/gallery/gallery.json"); err == nil {
		f.Add(b)
	}
	for _, s := range []string{
		`{"headline":"高清大图|工人们的夏天","byline":["张三","李四"],"source":"工人日报","language":"zh-CN","photos":[{"file":"a.jpg","caption":"观众参观。"}]}`,
		`{"headline":"x","byline":"one","photos":[{"file":"a.jpg"},{"file":"a.jpg"}]}`,
		`{"headline":"<script>alert(1)</script>","photos":[{"file":"../x.jpg"}]}`,
		`{"headline":"x"} {"headline":"y"}`,
		"{\"headline\":\"\xff\"}",
		`{"headline": 7}`, `[]`, `null`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseManifest(data)
		if err != nil {
			if m != nil && err.Error() == "" {
				t.Fatal("an error without a message")
			}
			return
		}
		if m.Headline == "" || utf8.RuneCountInString(m.Headline) > maxHeadline || len(m.Photos) > maxPhotos {
			t.Fatalf("accepted out of limits: %+v", m)
		}
		seen := map[string]bool{}
		for _, p := range m.Photos {
			if seen[p.File] {
				t.Fatalf("accepted %q twice", p.File)
			}
			seen[p.File] = true
			if err := contract.ValidPhotoName(p.File); err != nil {
				t.Fatalf("accepted photo name %q: %v", p.File, err)
			}
		}
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseManifest(b)
		if err != nil {
			t.Fatalf("round trip refused: %v\n%s", err, b)
		}
		b2, _ := json.Marshal(again)
		if string(b) != string(b2) {
			t.Fatalf("round trip changed the manifest:\n%s\n%s", b, b2)
		}
	})
}
