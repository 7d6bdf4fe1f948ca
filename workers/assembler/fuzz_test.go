package assembler

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
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

// FuzzCaption: the date prefix goes on at most once (a prefixed caption is
// left alone the second time), it is exactly FormatDate's text, and the
// caption is kept whole after it.
func FuzzCaption(f *testing.F) {
	for _, s := range []string{"观众参观展品。", "7月30日,闭幕式结束。", "2026-07-30 closing.", "28日", " 7 月 1 日", "", "\xff\xfe", "<b>x</b>"} {
		f.Add(s, int64(1785262200), DefaultDateFormat)
	}
	f.Add("x", int64(0), "{YYYY}-{MM}-{DD} ")
	sh, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, text string, unix int64, pattern string) {
		at := time.Unix(unix%(1<<40), 0)
		out, prefixed := Caption(text, &at, sh, pattern)
		if !strings.HasSuffix(out, text) {
			t.Fatalf("caption %q lost its text %q", out, text)
		}
		if !prefixed {
			if out != text {
				t.Fatalf("unprefixed caption changed: %q -> %q", text, out)
			}
			return
		}
		if want := FormatDate(pattern, at.In(sh)) + text; out != want {
			t.Fatalf("caption %q, want %q", out, want)
		}
		if pattern == DefaultDateFormat {
			if again, twice := Caption(out, &at, sh, pattern); twice || again != out {
				t.Fatalf("prefixed twice: %q -> %q", out, again)
			}
		}
		if none, p := Caption(text, nil, sh, pattern); p || none != text {
			t.Fatalf("prefixed without a capture date: %q", none)
		}
	})
}
