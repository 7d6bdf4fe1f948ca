package assembler

import (
	"testing"
	"time"

	"github.com/photodesk/photodesk/pipeline/contract"
	"github.com/photodesk/photodesk/pipeline/gallery"
)

func TestCaptionDatePrefix(t *testing.T) {
	sh, _ := time.LoadLocation("Asia/Shanghai")
	// 2026-07-27 18:30 UTC is 7月28日 02:30 in Beijing: the newsroom's day.
	at := time.Date(2026, 7, 27, 18, 30, 0, 0, time.UTC)
	for _, c := range []struct {
		text, pattern, want string
		prefixed            bool
	}{
		{"观众参观展品。", DefaultDateFormat, "7月28日,观众参观展品。", true},
		{"7月30日,闭幕式结束。", DefaultDateFormat, "7月30日,闭幕式结束。", false},
		{"2026年7月30日，闭幕。", DefaultDateFormat, "2026年7月30日，闭幕。", false},
		{"2026-07-30 closing.", DefaultDateFormat, "2026-07-30 closing.", false},
		{"观众参观展品。", "{YYYY}-{MM}-{DD} ", "2026-07-28 观众参观展品。", true},
		{"", DefaultDateFormat, "", false},
		{" ", DefaultDateFormat, " ", false},
	} {
		got, p := Caption(c.text, &at, sh, c.pattern)
		if got != c.want || p != c.prefixed {
			t.Errorf("Caption(%q, %q) = %q, %v; want %q, %v", c.text, c.pattern, got, p, c.want, c.prefixed)
		}
	}
	if got, p := Caption("无日期。", nil, sh, DefaultDateFormat); got != "无日期。" || p {
		t.Errorf("no capture date: %q %v", got, p)
	}
}

// TestDateNoteNamesTheSource: the record's ednote says which date the
// caption's day came from, EXIF tag, XMP property or IPTC dataset.
func TestDateNoteNamesTheSource(t *testing.T) {
	at := time.Date(2026, 7, 28, 9, 30, 0, 0, time.UTC)
	e := gallery.Entry{Current: &gallery.Result{}}
	for source, want := range map[string]string{
		"DateTimeOriginal":          "capture date from EXIF DateTimeOriginal (zone: newsroom-zone)",
		"XMP photoshop:DateCreated": "capture date from XMP photoshop:DateCreated (zone: newsroom-zone)",
		"IPTC DateCreated":          "capture date from IPTC DateCreated (zone: newsroom-zone)",
	} {
		if got := dateNote(e, &contract.ExifData{CapturedAt: &at, DateSource: source, ZoneSource: "newsroom-zone"}); got != want {
			t.Errorf("dateNote for %s = %q, want %q", source, got, want)
		}
	}
}
