package gallery

import (
	"strings"
	"testing"
)

// TestManifestReasonsForThePhotographer: manifests that are not what the
// schema says fail with a reason that says what to fix, not a decoder's
// words ("unexpected EOF", `"" must be a object`); a byte order mark, as
// Windows editors write, is no fault.
func TestManifestReasonsForThePhotographer(t *testing.T) {
	for _, c := range []struct{ doc, want string }{
		{"", "gallery.json is empty"},
		{" \n\t", "gallery.json is empty"},
		{"\uFEFF", "gallery.json is empty"},
		{`{"headline": "开幕", "photos": [`, `gallery.json is not valid JSON: it ends at line 1, column 31 before the JSON does (a missing "]" or "}"?)`},
		{"{\n\"headline\": \"x\"", "it ends at line 2, column 16"},
		{`["a.jpg", "b.jpg"]`, `gallery.json must be a JSON object such as {"headline": "…", "photos": […]}, not an array`},
		{`"开幕"`, "must be a JSON object such as"},
		{`{"headline": "开幕",}`, "not valid JSON: line 1, column 19: invalid character '}'"},
		{`{"headline": "h", "photos": ["a.jpg"]}`, `each of "photos" must be an object such as {"file": "01.jpg", "caption": "…"} or {"text": "…"}, not a string`},
		{`{"headline": "h", "photos": {"file": "a.jpg"}}`, `"photos" must be a list`},
		{`{"headline": "h", "source": 3}`, `"source" must be a string`},
		{`{"headline": "\u0000\u001b\u0007 "}`, `"headline" is missing or empty`},
	} {
		_, err := ParseManifest([]byte(c.doc))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want an error containing %q", c.doc, err, c.want)
		}
	}
	m, err := ParseManifest([]byte("\uFEFF{\"headline\": \"开幕\"}"))
	if err != nil || m.Headline != "开幕" {
		t.Errorf("manifest with a byte order mark: %+v, %v", m, err)
	}
}
