package gallery

import (
	"strings"
	"unicode"
)

// Words reach the record from the manifest, from the photo's own metadata
// and from the upload's: any of them may hold control characters (a NUL, a
// terminal escape, a vertical tab pasted from a word processor). None
// belongs in a publish-ready record, and a terminal that prints one
// (`photodesk article`, `subscribe`) would obey it; so the record keeps
// printable text and line breaks only.

// lineBreaks are the characters that end a line in the texts photodesk
// reads: CR LF, CR, vertical tab and form feed (Word's manual line and page
// breaks), NEL, and Unicode's line and paragraph separators.
var lineBreaks = strings.NewReplacer("\r\n", "\n", "\r", "\n", "\v", "\n", "\f", "\n",
	"\u0085", "\n", "\u2028", "\n", "\u2029", "\n")

// TextBlock cleans a caption: valid UTF-8, line breaks as "\n", tabs as
// spaces, other control characters dropped, no white space around it.
func TextBlock(s string) string {
	s = lineBreaks.Replace(strings.ToValidUTF8(s, "\uFFFD"))
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '\n':
			return r
		case r == '\t':
			return ' '
		case unicode.IsControl(r):
			return -1
		}
		return r
	}, s)
	return strings.TrimSpace(s)
}

// TextLine cleans a headline, a name or a place: TextBlock on one line,
// runs of white space as one space.
func TextLine(s string) string {
	return strings.Join(strings.Fields(TextBlock(s)), " ")
}
