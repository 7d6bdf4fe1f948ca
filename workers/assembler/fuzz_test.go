package assembler

import (
	"strings"
	"testing"
	"time"
)

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
