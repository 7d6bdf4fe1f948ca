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

	nsXMPRights = "http://ns.adobe.com/xap/1.0/rights/"
	nsPLUS      = "http://ns.useplus.org/ldf/xmp/1.0/"
	nsIPTCCore  = "http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/"
	nsIPTCExt   = "http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
)

// maxXMPDepth bounds element nesting: real packets nest under ten deep.
const maxXMPDepth = 256

// xmpProp collects one property's values while the packet is read.
type xmpProp struct {
	seen   bool
	items  []xmpItem       // rdf:li entries of its rdf:Alt, rdf:Seq or rdf:Bag
	text   strings.Builder // text directly inside it (a simple value)
	fields []xmpField      // its fields, when its value is a struct itself
}

// xmpItem is one rdf:li: its text, and its fields when it is a struct
// (plus:Licensor, Iptc4xmpExt:LocationShown).
type xmpItem struct {
	lang, text string
	fields     []xmpField
}

// xmpField is one field of a struct, its nested values as plain text.
type xmpField struct {
	name xml.Name
	text string
}

// structs are the property's struct values: each entry's fields, or its
// own.
func (p *xmpProp) structs() [][]xmpField {
	var out [][]xmpField
	for _, it := range p.items {
		if len(it.fields) > 0 {
			out = append(out, it.fields)
		}
	}
	if len(p.fields) > 0 {
		out = append(out, p.fields)
	}
	return out
}

// fieldText is the text of the first field of fs named ns:local.
func fieldText(fs []xmpField, ns, prefix, local string) string {
	for _, f := range fs {
		if isName(f.name, ns, prefix, local) {
			return f.text
		}
	}
	return ""
}

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
// the first non-empty one), dc:creator (every entry of its rdf:Seq), the
// capture dates exif:DateTimeOriginal and photoshop:DateCreated and the
// rights fields (xmpRights) from an XMP packet, in element form or as
// attributes of rdf:Description.
// Invalid UTF-8 is replaced with U+FFFD first, with a note; a packet that is
// not well-formed XML gives nothing, with a note. encoding/xml never
// fetches external entities or expands user-defined ones, and the packet is
// at most maxXMP bytes, so reading it is bounded in time and memory.
func readXMP(b []byte, x *Exif) captionText {
	if !utf8.Valid(b) {
		b = bytes.ToValidUTF8(b, []byte("\uFFFD"))
		x.note("XMP: invalid UTF-8 replaced with U+FFFD")
	}
	var (
		desc, creator, original, created xmpProp
		rt                               xmpRights
	)
	if err := scanXMP(b, append([]xmpWant{
		{nsDC, "dc", "description", &desc}, {nsDC, "dc", "creator", &creator},
		{nsEXIF, "exif", "DateTimeOriginal", &original}, {nsPS, "photoshop", "DateCreated", &created},
	}, rt.wants()...)...); err != nil {
		x.note("XMP: %s; ignored", oneLine(err.Error()))
		return captionText{}
	}
	x.Region, x.RegionProblem = readRegion(b)
	var t captionText
	t.caption = cleanCaption(langDefault(&desc))
	for _, n := range values(&creator) {
		t.addName(n)
	}
	t.rights = rt.rights(&creator, x)
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
// of each wanted property it finds. A struct's fields are read in each of
// RDF's forms: rdf:parseType="Resource", a nested rdf:Description, or
// attributes.
func scanXMP(b []byte, wants ...xmpWant) error {
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = true
	var (
		prop      *xmpProp // the property being read
		propDepth int
		item      *xmpItem         // the rdf:li being read
		itemText  *strings.Builder // its text
		itemDepth int
		field     *strings.Builder // the struct field being read
		fieldName xml.Name
		fieldAt   int
		depth     int
		sawRoot   bool
	)
	// addFields gives the struct being read (the entry's, else the
	// property's own) its fields.
	addFields := func(fs ...xmpField) {
		if item != nil {
			item.fields = append(item.fields, fs...)
		} else {
			prop.fields = append(prop.fields, fs...)
		}
	}
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
				w.fields = attrFields(t.Attr) // <plus:Licensor plus:LicensorName="…"/>
			case prop == nil && isName(t.Name, nsRDF, "rdf", "Description"):
				// Attribute shorthand: <rdf:Description dc:creator="…">.
				for _, a := range t.Attr {
					if w := wanted(a.Name, wants); w != nil {
						w.seen = true
						w.text.WriteString(a.Value)
					}
				}
			case prop == nil || field != nil:
				// Outside the wanted properties, or inside a field: its
				// nested values are its text.
			case item == nil && isName(t.Name, nsRDF, "rdf", "li"):
				item, itemText, itemDepth = &xmpItem{}, &strings.Builder{}, depth
				for _, a := range t.Attr {
					if isName(a.Name, nsXML, "xml", "lang") {
						item.lang = a.Value
					}
				}
				item.fields = attrFields(t.Attr)
			case t.Name.Space == nsRDF || t.Name.Space == "rdf":
				// rdf:Seq, rdf:Bag, rdf:Alt, or a struct's rdf:Description.
				if t.Name.Local == "Description" {
					addFields(attrFields(t.Attr)...)
				}
			default:
				field, fieldName, fieldAt = &strings.Builder{}, t.Name, depth
			}
		case xml.EndElement:
			if field != nil && depth == fieldAt {
				addFields(xmpField{name: fieldName, text: field.String()})
				field = nil
			}
			if item != nil && depth == itemDepth {
				item.text = itemText.String()
				prop.items = append(prop.items, *item)
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
			if field != nil {
				field.Write(t)
			}
			switch {
			case item != nil:
				itemText.Write(t)
			case prop != nil && depth == propDepth:
				prop.text.Write(t)
			}
		}
	}
}

// attrFields are the struct fields an element gives as attributes: all
// but RDF's, XML's and namespace declarations.
func attrFields(attrs []xml.Attr) []xmpField {
	var fs []xmpField
	for _, a := range attrs {
		switch a.Name.Space {
		case nsRDF, "rdf", nsXML, "xml", "xmlns", "":
			continue
		}
		fs = append(fs, xmpField{name: a.Name, text: a.Value})
	}
	return fs
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
