package stamp

import (
	"bytes"
	"encoding/xml"
	"io"
	"testing"
	"unicode/utf8"

	"github.com/photodesk/photodesk/pipeline/contract"
)

func TestCut(t *testing.T) {
	for _, c := range []struct {
		s    string
		n    int
		want string
	}{
		{"abc", 3, "abc"},
		{"abc", 2, "ab"},
		{"中文", 5, "中"},
		{"中文", 3, "中"},
		{"中文", 2, ""},
		{"a😀b", 4, "a"},
		{"a😀b", 5, "a😀"},
	} {
		if got := cut(c.s, c.n); got != c.want {
			t.Errorf("cut(%q, %d) = %q, want %q", c.s, c.n, got, c.want)
		}
	}
}

func TestClean(t *testing.T) {
	m := clean(Metadata{
		Caption: "a\x00b\r\nc\x1b[0m\u0085\xff",
		Rights: contract.Rights{
			Creator:  contract.Names{"\x00", "名"},
			Licensor: &contract.Licensor{Name: "\x01"},
			Location: &contract.Location{City: "\t"},
		},
	})
	if m.Caption != "ab\nc[0m\uFFFD" || len(m.Creator) != 1 || m.Licensor != nil || m.Location != nil {
		t.Errorf("clean: %+v", m)
	}
}

// TestDMS: seconds round in whole units, carrying into the minute and
// degree rather than writing 60 s.
func TestDMS(t *testing.T) {
	for _, c := range []struct {
		deg  float64
		want [6]uint32
	}{
		{39.9042, [6]uint32{39, 1, 54, 1, 151200, 10000}},
		{-0.5, [6]uint32{0, 1, 30, 1, 0, 10000}},
		{10.99999999999, [6]uint32{11, 1, 0, 1, 0, 10000}},
	} {
		f := dms(2, c.deg)
		var got [6]uint32
		for i := range got {
			got[i] = le.Uint32(f.value[4*i:])
		}
		if got != c.want {
			t.Errorf("dms(%v) = %v, want %v", c.deg, got, c.want)
		}
	}
}

// TestXMPWellFormed: the packet parses as XML and every text reads back
// as given, whatever characters it holds.
func TestXMPWellFormed(t *testing.T) {
	nasty := "<a href=\"x\">&amp;</a> ]]> \uFFFE \U0001F600 中\n'"
	p := xmpPacket(clean(Metadata{Caption: nasty, Headline: nasty, Rights: contract.Rights{
		Creator: contract.Names{nasty}, Location: &contract.Location{City: nasty}}}))
	texts := xmlTexts(t, p)
	want := "<a href=\"x\">&amp;</a> ]]> \uFFFD \U0001F600 中\n'"
	n := 0
	for _, s := range texts {
		if s == want {
			n++
		}
	}
	if n != 5 { // description, headline, creator, photoshop:City, LocationShown City
		t.Errorf("%d texts read back whole in %q", n, texts)
	}
}

// xmlTexts parses b as XML and returns its non-blank character data.
func xmlTexts(t testing.TB, b []byte) []string {
	t.Helper()
	if !utf8.Valid(b) {
		t.Fatalf("XMP is not UTF-8")
	}
	d := xml.NewDecoder(bytes.NewReader(b))
	var texts []string
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return texts
		}
		if err != nil {
			t.Fatalf("XMP is not well-formed: %v\n%s", err, b)
		}
		if c, ok := tok.(xml.CharData); ok && len(bytes.TrimSpace(c)) > 0 {
			texts = append(texts, string(c))
		}
	}
}
