package photometa

import "testing"

func TestParseDateTime(t *testing.T) {
	for in, want := range map[string]*civil{
		"2026:07:28 09:30:05":          {2026, 7, 28, 9, 30, 5},
		"2026-07-28 09:30:05":          {2026, 7, 28, 9, 30, 5},
		"2026:07:28T09:30:05":          {2026, 7, 28, 9, 30, 5},
		"2026:07:28 09:30:05+02:00":    {2026, 7, 28, 9, 30, 5}, // the tail is ignored
		"2024:02:29 23:59:60":          {2024, 2, 29, 23, 59, 60},
		"1998:01:01 00:00:00":          {1998, 1, 1, 0, 0, 0},
		"0000:00:00 00:00:00":          nil,
		"    :  :     :  :  ":          nil,
		"2026:00:10 09:30:05":          nil,
		"2026:02:30 09:30:05":          nil,
		"2025:02:29 09:30:05":          nil,
		"2026:07:28 24:00:00":          nil,
		"2026:07:28 09:60:00":          nil,
		"2026:07-28 09:30:05":          nil,
		"2026:07:28 09:30":             nil,
		"2026:07:28 09:3a:05":          nil,
		"+026:07:28 09:30:05":          nil,
		"2026/07/28 09:30:05":          nil,
		"\x00\x00\x00\x00\x00\x00\x00": nil,
	} {
		got, ok := parseDateTime(in)
		if ok != (want != nil) || (ok && got != *want) {
			t.Errorf("parseDateTime(%q) = %v, %v; want %v", in, got, ok, want)
		}
	}
}

func TestParseOffset(t *testing.T) {
	for in, want := range map[string]int{
		"+03:00": 3 * 3600, "-05:30": -(5*3600 + 30*60), "+00:00": 0, "+14:00": 14 * 3600,
		"+05:45": 5*3600 + 45*60,
		"+15:00": -1, "+03:60": -1, "03:00": -1, "+3:00": -1, "+03:00 ": -1, "Z": -1, "": -1, "+0300": -1,
	} {
		got, ok := parseOffset(in)
		if ok != (want != -1) || (ok && got != want) {
			t.Errorf("parseOffset(%q) = %d, %v; want %d", in, got, ok, want)
		}
	}
}

func TestParseSubSec(t *testing.T) {
	for in, want := range map[string]int{
		"0": 0, "00": 0, "5": 500_000_000, "016": 16_000_000, "550": 550_000_000,
		"123456789": 123_456_789, "1234567891": 123_456_789,
		"": -1, "1.5": -1, "-1": -1, "12a": -1,
	} {
		got, ok := parseSubSec(in)
		if ok != (want != -1) || (ok && got != want) {
			t.Errorf("parseSubSec(%q) = %d, %v; want %d", in, got, ok, want)
		}
	}
}

func TestIsPlaceholder(t *testing.T) {
	for in, want := range map[string]bool{
		"0000:00:00 00:00:00": true, ":  :     :  :": true, "0000-00-00": true,
		"2026:07:28 09:30:05": false, "1970:01:01 00:00:00": false,
	} {
		if got := isPlaceholder(in); got != want {
			t.Errorf("isPlaceholder(%q) = %v", in, got)
		}
	}
}
