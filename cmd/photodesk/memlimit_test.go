package main

import (
	"testing"

	"github.com/photodesk/photodesk/internal/imaging"
)

func TestGoMemoryLimit(t *testing.T) {
	none := func(string) string { return "" }
	set := func(k string) string {
		if k == "GOMEMLIMIT" {
			return "1GiB"
		}
		return ""
	}
	for _, tc := range []struct {
		name        string
		roles       []string
		concurrency int
		getenv      func(string) string
		want        int64
	}{
		{"renditions", []string{"renditions"}, 2, none, imaging.GoMemoryLimit(2)},
		{"both image roles", []string{"renditions", "watermark", "exif"}, 3, none, imaging.GoMemoryLimit(6)},
		{"no image role", []string{"ingest", "assembler"}, 4, none, 0},
		{"operator's GOMEMLIMIT", []string{"watermark"}, 2, set, 0},
	} {
		if got := goMemoryLimit(tc.roles, tc.concurrency, tc.getenv); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
	if a, b := imaging.GoMemoryLimit(2), imaging.GoMemoryLimit(4); !(b > a && a >= 32<<20) {
		t.Errorf("GoMemoryLimit(2)=%d, (4)=%d: want at least 32 MiB, growing with jobs", a, b)
	}
}
