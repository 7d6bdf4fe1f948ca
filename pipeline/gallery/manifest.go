package gallery

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/photodesk/photodesk/pipeline/contract"
)

// Manifest is a gallery's gallery.json (schemas/gallery.schema.json).
type Manifest struct {
	Headline string  `json:"headline"`
	Byline   Bylines `json:"byline,omitempty"`
	Source   string  `json:"source,omitempty"`
	Language string  `json:"language,omitempty"`
	Dateline string  `json:"dateline,omitempty"`
	// Rights are the gallery's credit and rights fields; each photo's
	// override them field by field.
	Rights *contract.Rights `json:"rights,omitempty"`
	// RequireProvenance holds the gallery until every original carries
	// intact Content Credentials (C2PA); absent: the assembler's setting.
	RequireProvenance *bool `json:"require_provenance,omitempty"`
	// PublishAt holds article.ready until then (RFC 3339; absent: as soon
	// as the gallery is ready). Embargo also keeps every file and the
	// preview unreachable from outside until then.
	PublishAt *time.Time `json:"publish_at,omitempty"`
	Embargo   bool       `json:"embargo,omitempty"`
	// PubStatus withheld or canceled un-publishes: a scheduled gallery is
	// not published, a published one gets a version saying so.
	PubStatus string `json:"pubstatus,omitempty"`
	// Lead is the article's opening paragraphs, before the first block.
	Lead Paragraphs `json:"lead,omitempty"`
	// Photos are the article's blocks in order: photos, and text blocks
	// between them (Text set, File empty).
	Photos []MPhoto `json:"photos,omitempty"`
}

// MPhoto is one block of the manifest, in publication order: a photo, or
// a text block when Text is set.
type MPhoto struct {
	File    string `json:"file,omitempty"`
	Caption string `json:"caption,omitempty"`
	Byline  string `json:"byline,omitempty"`
	// Rights override the gallery's for this photo.
	Rights *contract.Rights `json:"rights,omitempty"`
	// FilePhoto marks an archive picture: labelled (资料图), and its
	// caption does not open with the day it was taken.
	FilePhoto bool `json:"file_photo,omitempty"`
	// Date false keeps the caption as written, with no date in front.
	Date *bool `json:"date,omitempty"`
	// Text is a text block's paragraphs.
	Text Paragraphs `json:"text,omitempty"`
	// Focus is the photo's centre of interest, which its crops keep in
	// frame.
	Focus *Focus `json:"focus,omitempty"`
}

// Publication statuses (ninjs pubstatus).
const (
	PubUsable   = "usable"
	PubWithheld = "withheld"
	PubCanceled = "canceled"
)

// Withdrawn says the manifest un-publishes the gallery.
func (m *Manifest) Withdrawn() bool {
	return m != nil && (m.PubStatus == PubWithheld || m.PubStatus == PubCanceled)
}

// Notes are what a photographer should know of a valid manifest at now:
// a publish_at already past publishes as soon as the gallery is complete.
func (m *Manifest) Notes(now time.Time) []string {
	if m.PublishAt != nil && !m.PublishAt.After(now) && !m.Withdrawn() {
		return []string{fmt.Sprintf(`gallery.json: "publish_at" %s has passed: the article is published as soon as the gallery is complete`, m.PublishAt.Format(time.RFC3339))}
	}
	return nil
}

// IsText says the block is a text block, not a photo.
func (p MPhoto) IsText() bool { return p.File == "" && len(p.Text) > 0 }

// Dated says the caption gets the day the photo was taken in front.
func (p MPhoto) Dated() bool { return !p.FilePhoto && (p.Date == nil || *p.Date) }

// Pictures are the photos the manifest lists, in order, without the text
// blocks between them.
func (m *Manifest) Pictures() []MPhoto {
	var out []MPhoto
	for _, p := range m.Photos {
		if !p.IsText() {
			out = append(out, p)
		}
	}
	return out
}

// Paragraphs accepts one paragraph or a list of paragraphs.
type Paragraphs []string

// UnmarshalJSON takes "text" or ["text", ...].
func (p *Paragraphs) UnmarshalJSON(data []byte) error {
	var n contract.Names
	if err := n.UnmarshalJSON(data); err != nil {
		return &json.UnmarshalTypeError{Value: "value", Type: reflect.TypeFor[Paragraphs]()}
	}
	*p = Paragraphs(n)
	return nil
}

// Focus is a point of the picture, x and y as fractions (0..1) of its
// upright width and height from the top left. Both are required: pointers
// tell a missing one from 0.
type Focus struct {
	X *float64 `json:"x"`
	Y *float64 `json:"y"`
}

// FocusOf is the focal point the manifest gives photo; nil when none.
func (m *Manifest) FocusOf(photo string) *contract.Focus {
	for _, p := range m.Photos {
		if p.File == photo && p.Focus != nil && p.Focus.X != nil && p.Focus.Y != nil {
			return &contract.Focus{X: *p.Focus.X, Y: *p.Focus.Y, Source: contract.FocusGallery}
		}
	}
	return nil
}

// check says what is wrong with a focal point, for the photographer.
func (f *Focus) check() error {
	for _, c := range []struct {
		name, side string
		v          *float64
	}{{"x", "width, from the left", f.X}, {"y", "height, from the top", f.Y}} {
		switch {
		case c.v == nil:
			return fmt.Errorf(`"focus" needs "x" and "y", e.g. {"x": 0.3, "y": 0.6}; %q is missing`, c.name)
		case *c.v < 0 || *c.v > 1:
			return fmt.Errorf(`focus %q is %g; it must be 0 to 1 (a fraction of the picture's %s)`, c.name, *c.v, c.side)
		}
	}
	return nil
}

// Bylines accepts one name or a list of names.
type Bylines = contract.Names

// Limits a photographer can read in an error message.
const (
	MaxManifestBytes = 1 << 20
	maxHeadline      = 200
	maxCaption       = 2000
	maxPhotos        = 500
	maxName          = 100
	// A paragraph holds what the page's longest do several times over; a
	// longer one is refused, never cut.
	maxParagraph  = 5000
	maxParagraphs = 50 // in the lead, or in one text block
	maxTextBlocks = 500
)

var langTag = regexp.MustCompile(`^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$`)

// ParseManifest reads and checks a gallery.json. Its errors are written
// for the photographer who made the file.
func ParseManifest(data []byte) (*Manifest, error) {
	if len(data) > MaxManifestBytes {
		return nil, fmt.Errorf("gallery.json is %d bytes; the limit is 1 MiB", len(data))
	}
	if !utf8.Valid(data) {
		return nil, errors.New("gallery.json is not valid UTF-8 text; save it as UTF-8")
	}
	// Windows editors start UTF-8 files with a byte order mark, which JSON
	// parsers may ignore (RFC 8259, 8.1).
	data = bytes.TrimPrefix(data, []byte("\uFEFF"))
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("gallery.json is empty")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		var pe *time.ParseError
		switch {
		case errors.As(err, &se):
			line, col := position(data, max(se.Offset-1, 0)) // the offending character, the last one read
			return nil, fmt.Errorf("gallery.json is not valid JSON: line %d, column %d: %v", line, col, se)
		case errors.Is(err, io.ErrUnexpectedEOF):
			line, col := position(data, int64(len(data)))
			return nil, fmt.Errorf("gallery.json is not valid JSON: it ends at line %d, column %d before the JSON does (a missing \"]\" or \"}\"?)", line, col)
		case errors.As(err, &te) && te.Field == "":
			return nil, fmt.Errorf(`gallery.json must be a JSON object such as {"headline": "…", "photos": […]}, not %s`, aKind(te.Value))
		case errors.As(err, &te) && te.Type == reflect.TypeFor[MPhoto]():
			return nil, fmt.Errorf(`gallery.json: each of "photos" must be an object such as {"file": "01.jpg", "caption": "…"} or {"text": "…"}, not %s`, aKind(te.Value))
		case errors.As(err, &te) && te.Type == reflect.TypeFor[contract.Names]():
			return nil, fmt.Errorf("gallery.json: %q must be a name or a list of names", te.Field)
		case errors.As(err, &pe):
			return nil, fmt.Errorf(`gallery.json: "publish_at" must be an RFC 3339 time such as 2026-07-31T16:30:00+08:00, not %q`, pe.Value)
		case errors.As(err, &te) && te.Type == reflect.TypeFor[Paragraphs]():
			return nil, fmt.Errorf("gallery.json: %q must be a paragraph or a list of paragraphs", te.Field)
		case errors.As(err, &te):
			return nil, fmt.Errorf("gallery.json: %q must be %s", te.Field, aKind(kind(te.Type.Kind().String())))
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return nil, fmt.Errorf("gallery.json: unknown field %s (known: headline, byline, source, language, dateline, rights, require_provenance, publish_at, embargo, pubstatus, lead, photos; in a photo: file, caption, byline, rights, file_photo, date, focus; in focus: x, y; a text block: text; in rights: creator, credit, source, copyright_notice, copyright_holder, usage_terms, web_statement, licensor, keywords, location, alt_text)", strings.TrimPrefix(err.Error(), "json: unknown field "))
		}
		return nil, fmt.Errorf("gallery.json: %v", err)
	}
	if dec.More() {
		return nil, errors.New("gallery.json holds more than one JSON value")
	}
	return &m, m.check()
}

func kind(k string) string {
	switch k {
	case "slice":
		return "list"
	case "struct", "map":
		return "object"
	case "float64", "float32", "int", "int64":
		return "number"
	}
	return k
}

// aKind is a JSON or Go kind with its article: "a list", "an object",
// "an array", "a number".
func aKind(k string) string {
	switch {
	case k == "":
		return "a value"
	case strings.ContainsRune("aeiou", rune(k[0])):
		return "an " + k
	}
	return "a " + k
}

// position is the line and column (in characters, as editors count them)
// of byte offset off.
func position(data []byte, off int64) (line, col int) {
	line, col = 1, 1
	for _, c := range string(data[:min(int(off), len(data))]) {
		if c == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return line, col
}

func (m *Manifest) check() error {
	m.Headline = strings.TrimSpace(m.Headline)
	switch n := utf8.RuneCountInString(m.Headline); {
	case n == 0 || TextLine(m.Headline) == "": // nothing printable
		return errors.New(`gallery.json: "headline" is missing or empty`)
	case n > maxHeadline:
		return fmt.Errorf(`gallery.json: "headline" is %d characters; the limit is %d`, n, maxHeadline)
	}
	for i, b := range m.Byline {
		if b = strings.TrimSpace(b); b == "" || utf8.RuneCountInString(b) > maxName {
			return fmt.Errorf(`gallery.json: byline %d must be a name of 1 to %d characters`, i+1, maxName)
		}
		m.Byline[i] = b
	}
	switch m.PubStatus {
	case "", PubUsable, PubWithheld, PubCanceled:
	default:
		return fmt.Errorf(`gallery.json: "pubstatus" %q is not usable, withheld or canceled`, m.PubStatus)
	}
	if m.Embargo && m.PublishAt == nil {
		return errors.New(`gallery.json: "embargo" needs "publish_at", the time it ends`)
	}
	if m.Language != "" && !langTag.MatchString(m.Language) {
		return fmt.Errorf(`gallery.json: "language" %q is not a language tag such as zh-CN`, m.Language)
	}
	if utf8.RuneCountInString(m.Source) > maxName || utf8.RuneCountInString(m.Dateline) > maxName {
		return fmt.Errorf(`gallery.json: "source" and "dateline" are limited to %d characters`, maxName)
	}
	var err error
	if m.Lead, err = cleanParagraphs("the lead", m.Lead); err != nil {
		return err
	}
	if n := len(m.Pictures()); n > maxPhotos {
		return fmt.Errorf("gallery.json lists %d photos; the limit is %d", n, maxPhotos)
	}
	if n := len(m.Photos) - len(m.Pictures()); n > maxTextBlocks {
		return fmt.Errorf("gallery.json has %d text blocks; the limit is %d", n, maxTextBlocks)
	}
	seen := map[string]int{}
	for i, p := range m.Photos {
		if p.File == "" && p.Text != nil {
			if p.Caption != "" || p.Byline != "" || p.Rights != nil || p.FilePhoto || p.Date != nil {
				return fmt.Errorf(`gallery.json: entry %d of "photos" is a text block ("text"), which has no caption, byline, rights, file_photo or date; is its "file" missing?`, i+1)
			}
			if m.Photos[i].Text, err = cleanParagraphs(fmt.Sprintf(`entry %d of "photos" (a text block)`, i+1), p.Text); err != nil {
				return err
			}
			if !m.Photos[i].IsText() {
				return fmt.Errorf(`gallery.json: entry %d of "photos" is an empty text block`, i+1)
			}
			continue
		}
		if p.Text != nil {
			return fmt.Errorf(`gallery.json: %s has "text": a photo's words go in "caption", a text block is an entry of its own`, p.File)
		}
		if p.File == "" {
			return fmt.Errorf(`gallery.json: entry %d of "photos" is neither a photo ("file") nor a text block ("text")`, i+1)
		}
		if err := contract.ValidPhotoName(p.File); err != nil {
			return fmt.Errorf(`gallery.json: entry %d of "photos": %v`, i+1, err) // err names the file
		}
		if j, dup := seen[p.File]; dup {
			return fmt.Errorf("gallery.json: %s is listed twice (photos %d and %d)", p.File, j+1, i+1)
		}
		seen[p.File] = i
		if n := utf8.RuneCountInString(p.Caption); n > maxCaption {
			return fmt.Errorf("gallery.json: the caption of %s is %d characters; the limit is %d", p.File, n, maxCaption)
		}
		if utf8.RuneCountInString(p.Byline) > maxName {
			return fmt.Errorf("gallery.json: the byline of %s is longer than %d characters", p.File, maxName)
		}
		if p.Focus != nil {
			if err := p.Focus.check(); err != nil {
				return fmt.Errorf("gallery.json: %s: %w", p.File, err)
			}
		}
		m.Photos[i].Caption = strings.TrimSpace(p.Caption)
		m.Photos[i].Byline = strings.TrimSpace(p.Byline)
	}
	return m.checkRights()
}

// cleanParagraphs cleans each paragraph (TextBlock) and drops empty ones;
// a paragraph over the limit is refused, not cut.
func cleanParagraphs(what string, ps Paragraphs) (Paragraphs, error) {
	if len(ps) > maxParagraphs {
		return nil, fmt.Errorf("gallery.json: %s has %d paragraphs; the limit is %d", what, len(ps), maxParagraphs)
	}
	var kept Paragraphs
	for i, p := range ps {
		if n := utf8.RuneCountInString(p); n > maxParagraph {
			return nil, fmt.Errorf("gallery.json: paragraph %d of %s is %d characters; the limit is %d (split it into paragraphs)", i+1, what, n, maxParagraph)
		}
		if p = TextBlock(p); p != "" {
			kept = append(kept, p)
		}
	}
	return kept, nil
}

// checkRights checks the gallery's rights and each photo's, and that each
// photo's metadata fits one XMP packet.
func (m *Manifest) checkRights() error {
	var all contract.Rights
	if m.Rights != nil {
		if err := CheckRights(m.Rights); err != nil {
			return fmt.Errorf("gallery.json: rights of the gallery: %w", err)
		}
		all = *m.Rights
	}
	for _, p := range m.Pictures() {
		r := all
		if p.Rights != nil {
			if err := CheckRights(p.Rights); err != nil {
				return fmt.Errorf("gallery.json: rights of %s: %w", p.File, err)
			}
			r = p.Rights.Or(all)
		}
		text := append(rightsText(r), m.Headline, p.Caption, p.Byline, m.Source)
		if n := xmlSize(text...); n > maxPacketBytes {
			return fmt.Errorf("gallery.json: the caption and rights of %s come to %d bytes of XMP; the limit is %d (an XMP packet must fit in 64 KiB)", p.File, n, maxPacketBytes)
		}
	}
	return nil
}
