package photometa

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// XMP namespaces. Properties are matched by namespace, whatever prefix the
// packet gives them; a packet that uses the usual prefix without declaring
// it (some writers do) is matched by the prefix.
const (
	nsRDF  = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
	nsDC   = "http://purl.org/dc/elements/1.1/"
	nsEXIF = "http://ns.adobe.com/exif/1.0/"
	nsPS   = "http://ns.adobe.com/photoshop/1.0/"
	nsXML  = "http://www.w3.org/XML/1998/namespace"
)

// maxXMPDepth bounds element nesting: real packets nest under ten deep.
const maxXMPDepth = 256

// xmpProp collects one property's values while the packet is read.
type xmpProp struct {
	seen  bool
	items []xmpItem       // rdf:li entries of its rdf:Alt, rdf:Seq or rdf:Bag
	text  strings.Builder // text directly inside it (a simple value)
}

type xmpItem struct{ lang, text string }

// xmpWant is a property scanXMP is to fill: its namespace, usual prefix and
// local name.
type xmpWant struct {
	ns, prefix, local string
	p                 *xmpProp
}

func isName(n xml.Name, ns, prefix, local string) bool {
	return n.Local == local && (n.Space == ns || n.Space == prefix)
}

// readXMP reads dc:description (the x-default entry of its rdf:Alt, else
// the first non-empty one), dc:creator (every entry of its rdf:Seq) and the
// capture dates exif:DateTimeOriginal and photoshop:DateCreated from an XMP
// packet, in element form or as attributes of rdf:Description.
// Invalid UTF-8 is replaced with U+FFFD first, with a note; a packet that is
// not well-formed XML gives nothing, with a note. encoding/xml never
// fetches external entities or expands user-defined ones, and the packet is
// at most maxXMP bytes, so reading it is bounded in time and memory.
func readXMP(b []byte, x *Exif) captionText {
	if !utf8.Valid(b) {
		b = bytes.ToValidUTF8(b, []byte("\uFFFD"))
		x.note("XMP: invalid UTF-8 replaced with U+FFFD")
	}
	var desc, creator, original, created xmpProp
	if err := scanXMP(b,
		xmpWant{nsDC, "dc", "description", &desc}, xmpWant{nsDC, "dc", "creator", &creator},
		xmpWant{nsEXIF, "exif", "DateTimeOriginal", &original}, xmpWant{nsPS, "photoshop", "DateCreated", &created},
	); err != nil {
		x.note("XMP: %s; ignored", oneLine(err.Error()))
		return captionText{}
	}
	var t captionText
	t.caption = cleanCaption(langDefault(&desc))
	for _, it := range creator.items {
		t.addName(it.text)
	}
	if len(creator.items) == 0 {
		t.addName(creator.text.String())
	}
	for _, d := range []struct {
		source string
		p      *xmpProp
	}{{SourceXMPDateTimeOriginal, &original}, {SourceXMPDateCreated, &created}} {
		if v := strings.TrimSpace(d.p.text.String()); v != "" {
			t.dates = append(t.dates, statedDate{source: d.source, date: v})
		}
	}
	return t
}

// langDefault is the x-default entry of a language alternative, else its
// first non-empty entry, else the property's own text.
func langDefault(p *xmpProp) string {
	for _, it := range p.items {
		if strings.EqualFold(it.lang, "x-default") && strings.TrimSpace(it.text) != "" {
			return it.text
		}
	}
	for _, it := range p.items {
		if strings.TrimSpace(it.text) != "" {
			return it.text
		}
	}
	if len(p.items) == 0 {
		return p.text.String()
	}
	return ""
}

// scanXMP walks the packet's elements until its root element closes (what
// follows, the xpacket trailer or padding, is not read) and fills the first
// of each wanted property it finds.
func scanXMP(b []byte, wants ...xmpWant) error {
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = true
	var (
		prop      *xmpProp // the property being read
		propDepth int
		item      *strings.Builder // the rdf:li being read
		itemLang  string
		itemDepth int
		depth     int
		sawRoot   bool
	)
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			if !sawRoot {
				return errors.New("no XML element in the packet")
			}
			return nil
		}
		if err != nil {
			var se *xml.SyntaxError
			if errors.As(err, &se) {
				return fmt.Errorf("not well-formed XML: line %d: %s", se.Line, se.Msg)
			}
			return fmt.Errorf("not well-formed XML: %v", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			sawRoot = true
			if depth > maxXMPDepth {
				return fmt.Errorf("elements nested over %d deep", maxXMPDepth)
			}
			switch w := wanted(t.Name, wants); {
			case prop == nil && w != nil:
				prop, propDepth = w, depth
				w.seen = true
			case prop == nil && isName(t.Name, nsRDF, "rdf", "Description"):
				// Attribute shorthand: <rdf:Description dc:creator="…">.
				for _, a := range t.Attr {
					if w := wanted(a.Name, wants); w != nil {
						w.seen = true
						w.text.WriteString(a.Value)
					}
				}
			case prop != nil && item == nil && isName(t.Name, nsRDF, "rdf", "li"):
				item, itemDepth, itemLang = &strings.Builder{}, depth, ""
				for _, a := range t.Attr {
					if isName(a.Name, nsXML, "xml", "lang") {
						itemLang = a.Value
					}
				}
			}
		case xml.EndElement:
			if item != nil && depth == itemDepth {
				prop.items = append(prop.items, xmpItem{lang: itemLang, text: item.String()})
				item = nil
			}
			if prop != nil && depth == propDepth {
				prop = nil
			}
			depth--
			if depth == 0 {
				return nil // the root element is closed
			}
		case xml.CharData:
			switch {
			case item != nil:
				item.Write(t)
			case prop != nil && depth == propDepth:
				prop.text.Write(t)
			}
		}
	}
}

// wanted is the property of wants that n names and that is not filled yet.
func wanted(n xml.Name, wants []xmpWant) *xmpProp {
	for _, w := range wants {
		if isName(n, w.ns, w.prefix, w.local) && !w.p.seen {
			return w.p
		}
	}
	return nil
}
