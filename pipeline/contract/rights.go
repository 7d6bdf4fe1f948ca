package contract

import (
	"encoding/json"
	"reflect"
)

// Rights are a photo's credit and rights fields, as IPTC Photo Metadata
// names them. gallery.json gives them for the gallery and per photo, the
// configuration gives the newsroom's defaults, and the exif role reports
// what an original already embeds; the assembler takes, field by field,
// the first of those that says something, and writes the result into every
// published file (IPTC IIM, XMP, EXIF) and into the record.
type Rights struct {
	// Creator is the byline: IPTC Creator (XMP dc:creator, IIM By-line,
	// EXIF Artist).
	Creator Names `json:"creator,omitempty"`
	// Credit is the credit line (photoshop:Credit, IIM 2:110).
	Credit string `json:"credit,omitempty"`
	// Source is who holds the original (photoshop:Source, IIM 2:115).
	Source string `json:"source,omitempty"`
	// CopyrightNotice is dc:rights, IIM 2:116 and EXIF Copyright. In
	// gallery.json and the configuration it is a template: {YYYY} is the
	// year the photo was taken (the publishing year when that is unknown),
	// {creator} and {holder} the resolved fields.
	CopyrightNotice string `json:"copyright_notice,omitempty"`
	// CopyrightHolder is plus:CopyrightOwner.
	CopyrightHolder string `json:"copyright_holder,omitempty"`
	// UsageTerms is xmpRights:UsageTerms.
	UsageTerms string `json:"usage_terms,omitempty"`
	// WebStatement is xmpRights:WebStatement: an http(s) URL saying how
	// the picture may be licensed.
	WebStatement string `json:"web_statement,omitempty"`
	// Licensor is plus:Licensor: who to ask for a licence.
	Licensor *Licensor `json:"licensor,omitempty"`
	// Keywords are dc:subject and IIM 2:25.
	Keywords []string `json:"keywords,omitempty"`
	// Location is the location shown (Iptc4xmpExt:LocationShown, and the
	// legacy photoshop:City/State/Country and IIM 2:90-2:101).
	Location *Location `json:"location,omitempty"`
	// AltText is Iptc4xmpCore:AltTextAccessibility, and the preview's alt.
	AltText string `json:"alt_text,omitempty"`
}

// Licensor is who licenses the picture.
type Licensor struct {
	Name string `json:"name,omitempty"`
	URL  string `json:"url,omitempty"`
}

// Location is a place shown in the picture.
type Location struct {
	City          string `json:"city,omitempty"`
	ProvinceState string `json:"province_state,omitempty"`
	Country       string `json:"country,omitempty"`
	// CountryCode is ISO 3166 (two or three letters).
	CountryCode string `json:"country_code,omitempty"`
}

// Or is r with each empty field taken from fallback.
func (r Rights) Or(fallback Rights) Rights {
	if len(r.Creator) == 0 {
		r.Creator = fallback.Creator
	}
	str := func(v *string, f string) {
		if *v == "" {
			*v = f
		}
	}
	str(&r.Credit, fallback.Credit)
	str(&r.Source, fallback.Source)
	str(&r.CopyrightNotice, fallback.CopyrightNotice)
	str(&r.CopyrightHolder, fallback.CopyrightHolder)
	str(&r.UsageTerms, fallback.UsageTerms)
	str(&r.WebStatement, fallback.WebStatement)
	str(&r.AltText, fallback.AltText)
	if r.Licensor == nil || *r.Licensor == (Licensor{}) {
		r.Licensor = fallback.Licensor
	}
	if len(r.Keywords) == 0 {
		r.Keywords = fallback.Keywords
	}
	if r.Location == nil || *r.Location == (Location{}) {
		r.Location = fallback.Location
	}
	return r
}

// Names is one name or a list of names; JSON takes either.
type Names []string

// UnmarshalJSON takes "name" or ["name", ...].
func (n *Names) UnmarshalJSON(data []byte) error {
	var one string
	if err := json.Unmarshal(data, &one); err == nil {
		*n = Names{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(data, &many); err != nil {
		// A type error, so that encoding/json adds the field's name.
		return &json.UnmarshalTypeError{Value: "value", Type: reflect.TypeFor[Names]()}
	}
	*n = many
	return nil
}
