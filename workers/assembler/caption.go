package assembler

import (
	"regexp"
	"strconv"
	"strings"
	"time"
)

// DefaultDateFormat gives "7月28日," — how the newsroom opens a caption.
const DefaultDateFormat = "{M}月{D}日,"

// FormatDate writes t by pattern: {YYYY} year, {M} month, {MM} two-digit
// month, {D} day, {DD} two-digit day; anything else is copied.
func FormatDate(pattern string, t time.Time) string {
	r := strings.NewReplacer(
		"{YYYY}", strconv.Itoa(t.Year()),
		"{MM}", pad2(int(t.Month())), "{M}", strconv.Itoa(int(t.Month())),
		"{DD}", pad2(t.Day()), "{D}", strconv.Itoa(t.Day()),
	)
	return r.Replace(pattern)
}

func pad2(n int) string {
	if n < 10 {
		return "0" + strconv.Itoa(n)
	}
	return strconv.Itoa(n)
}

// opensWithDate spots captions that already say when: "7月28日", "2026年7月28日",
// "2026-07-28", "7/28", "28日".
var opensWithDate = regexp.MustCompile(`^\s*(\d{4}\s*年\s*)?\d{1,2}\s*月\s*\d{1,2}\s*日|^\s*\d{1,2}\s*日|^\s*\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|^\s*\d{1,2}/\d{1,2}\b`)

// Caption is a photo's caption with the day it was taken in front, unless
// it already opens with a date, no capture date is known, or there is no
// caption (a date alone, "7月28日,", is no caption).
func Caption(text string, captured *time.Time, zone *time.Location, pattern string) (string, bool) {
	if captured == nil || strings.TrimSpace(text) == "" || opensWithDate.MatchString(text) {
		return text, false
	}
	return FormatDate(pattern, captured.In(zone)) + text, true
}
