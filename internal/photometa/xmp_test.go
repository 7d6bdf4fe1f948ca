package photometa

import (
	"strings"
	"testing"
)

// TestScanXMPStructs: a struct's fields are read in each form RDF allows
// (rdf:parseType="Resource", a nested rdf:Description with elements or
// attributes, attributes of the rdf:li or of the property itself), and a
// field's nested values are its text, not entries of the property.
func TestScanXMPStructs(t *testing.T) {
	const plus = `xmlns:plus="http://ns.useplus.org/ldf/xmp/1.0/"`
	for _, c := range []struct{ name, value string }{
		{"parseType Resource", `<rdf:Seq><rdf:li rdf:parseType="Resource"><plus:LicensorName>甲</plus:LicensorName><plus:LicensorURL>u</plus:LicensorURL></rdf:li></rdf:Seq>`},
		{"nested Description", `<rdf:Seq><rdf:li><rdf:Description><plus:LicensorName>甲</plus:LicensorName><plus:LicensorURL>u</plus:LicensorURL></rdf:Description></rdf:li></rdf:Seq>`},
		{"Description attributes", `<rdf:Seq><rdf:li><rdf:Description plus:LicensorName="甲" plus:LicensorURL="u"/></rdf:li></rdf:Seq>`},
		{"li attributes", `<rdf:Seq><rdf:li plus:LicensorName="甲" plus:LicensorURL="u"/></rdf:Seq>`},
		{"no array", `<rdf:Description plus:LicensorName="甲"><plus:LicensorURL>u</plus:LicensorURL></rdf:Description>`},
		{"field with nested values", `<rdf:Seq><rdf:li rdf:parseType="Resource"><plus:LicensorName><rdf:Alt><rdf:li xml:lang="x-default">甲</rdf:li></rdf:Alt></plus:LicensorName><plus:LicensorURL>u</plus:LicensorURL></rdf:li></rdf:Seq>`},
	} {
		t.Run(c.name, func(t *testing.T) {
			packet := `<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description ` + plus + `>` +
				`<plus:Licensor>` + c.value + `</plus:Licensor><plus:LicensorName>not a field</plus:LicensorName></rdf:Description></rdf:RDF></x:xmpmeta>`
			var p xmpProp
			if err := scanXMP([]byte(packet), xmpWant{nsPLUS, "plus", "Licensor", &p}); err != nil {
				t.Fatal(err)
			}
			s := p.structs()
			if len(s) != 1 || strings.TrimSpace(fieldText(s[0], nsPLUS, "plus", "LicensorName")) != "甲" || fieldText(s[0], nsPLUS, "plus", "LicensorURL") != "u" {
				t.Errorf("structs %+v", s)
			}
		})
	}
}
