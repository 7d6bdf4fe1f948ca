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
	nsRDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
	nsDC  = "http://purl.org/dc/elements/1.1/"
	nsXML = "http://www.w3.org/XML/1998/namespace"
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

func isName(n xml.Name, ns, prefix, local string) bool {
	return n.Local == local && (n.Space == ns || n.Space == prefix)
}

// readXMP reads dc:description (the x-default entry of its rdf:Alt, else
// the first non-empty one) and dc:creator (every entry of its rdf:Seq) from
// an XMP packet, in element form or as attributes of rdf:Description.
// Invalid UTF-8 is replaced with U+FFFD first, with a note; a packet that is
// not well-formed XML gives nothing, with a note. encoding/xml never
// fetches external entities or expands user-defined ones, and the packet is
// at most maxXMP bytes, so reading it is bounded in time and memory.
func readXMP(b []byte, x *Exif) captionText {
	if !utf8.Valid(b) {
		b = bytes.ToValidUTF8(b, []byte("\uFFFD"))
		x.note("XMP: invalid UTF-8 replaced with U+FFFD")
	}
	var desc, creator xmpProp
	if err := scanXMP(b, &desc, &creator); err != nil {
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
// dc:description and dc:creator it finds.
func scanXMP(b []byte, desc, creator *xmpProp) error {
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
			switch {
			case prop == nil && isName(t.Name, nsDC, "dc", "description") && !desc.seen:
				prop, propDepth = desc, depth
				desc.seen = true
			case prop == nil && isName(t.Name, nsDC, "dc", "creator") && !creator.seen:
				prop, propDepth = creator, depth
				creator.seen = true
			case prop == nil && isName(t.Name, nsRDF, "rdf", "Description"):
				// Attribute shorthand: <rdf:Description dc:creator="…">.
				for _, a := range t.Attr {
					switch {
					case isName(a.Name, nsDC, "dc", "description") && !desc.seen:
						desc.seen = true
						desc.text.WriteString(a.Value)
					case isName(a.Name, nsDC, "dc", "creator") && !creator.seen:
						creator.seen = true
						creator.text.WriteString(a.Value)
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
