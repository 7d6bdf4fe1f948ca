package stamp

import (
	"encoding/xml"
	"strings"
)

// xmpOpen starts the packet: one rdf:Description declaring every
// namespace the properties below use.
const xmpOpen = `<?xpacket begin="` + "\uFEFF" + `" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/"
    xmlns:xmpRights="http://ns.adobe.com/xap/1.0/rights/"
    xmlns:Iptc4xmpCore="http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/"
    xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
    xmlns:plus="http://ns.useplus.org/ldf/xmp/1.0/">
`

const xmpClose = `  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>`

// xmpPacket is m as an XMP packet, every text whole; nil when m has
// nothing for XMP.
func xmpPacket(m Metadata) []byte {
	var w xmpWriter
	w.list("dc:creator", "rdf:Seq", m.Creator)
	w.alt("dc:rights", m.CopyrightNotice)
	w.alt("dc:description", m.Caption)
	w.list("dc:subject", "rdf:Bag", m.Keywords)
	w.simple("photoshop:Headline", m.Headline)
	w.simple("photoshop:Credit", m.Credit)
	w.simple("photoshop:Source", m.Source)
	w.simple("photoshop:DateCreated", created(m, "2006-01-02T15:04:05-07:00"))
	if l := m.Location; l != nil {
		w.simple("photoshop:City", l.City)
		w.simple("photoshop:State", l.ProvinceState)
		w.simple("photoshop:Country", l.Country)
		w.simple("Iptc4xmpCore:CountryCode", l.CountryCode)
		w.structs("Iptc4xmpExt:LocationShown", "rdf:Bag", "Iptc4xmpExt:City", l.City,
			"Iptc4xmpExt:ProvinceState", l.ProvinceState, "Iptc4xmpExt:CountryName", l.Country,
			"Iptc4xmpExt:CountryCode", l.CountryCode)
	}
	w.alt("Iptc4xmpCore:AltTextAccessibility", m.AltText)
	if m.CopyrightNotice != "" {
		w.simple("xmpRights:Marked", "True")
	}
	w.simple("xmpRights:WebStatement", m.WebStatement)
	w.alt("xmpRights:UsageTerms", m.UsageTerms)
	w.structs("plus:CopyrightOwner", "rdf:Seq", "plus:CopyrightOwnerName", m.CopyrightHolder)
	if l := m.Licensor; l != nil {
		w.structs("plus:Licensor", "rdf:Seq", "plus:LicensorName", l.Name, "plus:LicensorURL", l.URL)
	}
	if w.Len() == 0 {
		return nil
	}
	return []byte(xmpOpen + w.String() + xmpClose + "\n")
}

// xmpWriter writes properties of the one rdf:Description, or of a struct
// (indented deeper).
type xmpWriter struct {
	strings.Builder
	indent string
}

func (w *xmpWriter) text(s string) {
	_ = xml.EscapeText(w, []byte(s)) // a strings.Builder does not fail
}

func (w *xmpWriter) simple(name, v string) {
	if v == "" {
		return
	}
	w.WriteString(w.indent + "   <" + name + ">")
	w.text(v)
	w.WriteString("</" + name + ">\n")
}

// alt is a language alternative with the x-default entry only.
func (w *xmpWriter) alt(name, v string) {
	if v == "" {
		return
	}
	w.WriteString("   <" + name + "><rdf:Alt><rdf:li xml:lang=\"x-default\">")
	w.text(v)
	w.WriteString("</rdf:li></rdf:Alt></" + name + ">\n")
}

// list is an rdf:Seq (ordered) or rdf:Bag of texts.
func (w *xmpWriter) list(name, kind string, vs []string) {
	if len(vs) == 0 {
		return
	}
	w.WriteString("   <" + name + "><" + kind + ">\n")
	for _, v := range vs {
		w.WriteString("    <rdf:li>")
		w.text(v)
		w.WriteString("</rdf:li>\n")
	}
	w.WriteString("   </" + kind + "></" + name + ">\n")
}

// structs is a list of kind holding one struct of the given field name,
// value pairs; empty fields are left out, and the property when all are.
func (w *xmpWriter) structs(name, kind string, fields ...string) {
	b := xmpWriter{indent: "  "}
	for i := 0; i+1 < len(fields); i += 2 {
		b.simple(fields[i], fields[i+1])
	}
	if b.Len() == 0 {
		return
	}
	w.WriteString("   <" + name + "><" + kind + "><rdf:li rdf:parseType=\"Resource\">\n")
	w.WriteString(b.String())
	w.WriteString("   </rdf:li></" + kind + "></" + name + ">\n")
}
