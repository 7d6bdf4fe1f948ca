package photometa

import (
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/photodesk/photodesk/pipeline/contract"
	"github.com/photodesk/photodesk/pipeline/gallery"
)

// The rights fields an original embeds (Exif.Rights) are what the assembler
// falls back to where gallery.json says nothing. Each field comes from the
// first of XMP, IPTC IIM and EXIF that has it, as captions do. Values are
// cleaned as the record cleans captions (gallery.TextLine, TextBlock), so
// the event carries no control characters; markup stays text, escaped
// where it is shown.

// The embedded rights fields are bounded by gallery.json's limits
// (gallery.MaxRightsLine and the rest): a value over its limit is cut at a
// character boundary, and a list keeps its first entries, with a note; a
// URL over its limit is dropped.

// xmpRights are the XMP properties the rights fields come from (creators
// are dc:creator, read for the byline).
type xmpRights struct {
	credit, source, notice, owner, usage, web, licensor, subject xmpProp
	shown, city, state, country, code, alt                       xmpProp
}

func (p *xmpRights) wants() []xmpWant {
	return []xmpWant{
		{nsPS, "photoshop", "Credit", &p.credit}, {nsPS, "photoshop", "Source", &p.source},
		{nsDC, "dc", "rights", &p.notice}, {nsPLUS, "plus", "CopyrightOwner", &p.owner},
		{nsXMPRights, "xmpRights", "UsageTerms", &p.usage}, {nsXMPRights, "xmpRights", "WebStatement", &p.web},
		{nsPLUS, "plus", "Licensor", &p.licensor}, {nsDC, "dc", "subject", &p.subject},
		{nsIPTCExt, "Iptc4xmpExt", "LocationShown", &p.shown},
		{nsPS, "photoshop", "City", &p.city}, {nsPS, "photoshop", "State", &p.state}, {nsPS, "photoshop", "Country", &p.country},
		{nsIPTCCore, "Iptc4xmpCore", "CountryCode", &p.code}, {nsIPTCCore, "Iptc4xmpCore", "AltTextAccessibility", &p.alt},
	}
}

// rights are the fields the packet gives.
func (p *xmpRights) rights(creator *xmpProp, x *Exif) contract.Rights {
	r := contract.Rights{
		Creator:         list(gallery.MaxCreators, values(creator)...),
		Credit:          gallery.TextLine(langDefault(&p.credit)),
		Source:          gallery.TextLine(langDefault(&p.source)),
		CopyrightNotice: gallery.TextLine(langDefault(&p.notice)),
		UsageTerms:      gallery.TextBlock(langDefault(&p.usage)),
		WebStatement:    webURL("XMP xmpRights:WebStatement", langDefault(&p.web), x),
		Keywords:        list(gallery.MaxKeywords, values(&p.subject)...),
		AltText:         gallery.TextLine(langDefault(&p.alt)),
	}
	for _, s := range p.owner.structs() {
		if r.CopyrightHolder = gallery.TextLine(fieldText(s, nsPLUS, "plus", "CopyrightOwnerName")); r.CopyrightHolder != "" {
			break
		}
	}
	for _, s := range p.licensor.structs() {
		l := contract.Licensor{Name: gallery.TextLine(fieldText(s, nsPLUS, "plus", "LicensorName")),
			URL: webURL("XMP plus:LicensorURL", fieldText(s, nsPLUS, "plus", "LicensorURL"), x)}
		if l != (contract.Licensor{}) {
			r.Licensor = &l
			break
		}
	}
	ext := func(s []xmpField, local string) string { return fieldText(s, nsIPTCExt, "Iptc4xmpExt", local) }
	for _, s := range p.shown.structs() {
		if r.Location = place("XMP", ext(s, "City"), ext(s, "ProvinceState"), ext(s, "CountryName"), ext(s, "CountryCode"), x); r.Location != nil {
			break
		}
	}
	if r.Location == nil {
		r.Location = place("XMP", langDefault(&p.city), langDefault(&p.state), langDefault(&p.country), langDefault(&p.code), x)
	}
	return r
}

// values are the texts of a property's entries, else its own text.
func values(p *xmpProp) []string {
	if len(p.items) == 0 {
		return []string{p.text.String()}
	}
	out := make([]string, 0, len(p.items))
	for _, it := range p.items {
		out = append(out, it.text)
	}
	return out
}

// list is vs cleaned, without empty values and repeats, and with at most
// one entry over limit: boundRights drops that one, with a note.
func list(limit int, vs ...string) []string {
	var out []string
	for _, v := range vs {
		if v = gallery.TextLine(v); v != "" && !contains(out, v) {
			if out = append(out, v); len(out) > limit {
				break
			}
		}
	}
	return out
}

func contains(ss []string, s string) bool {
	for _, v := range ss {
		if v == s {
			return true
		}
	}
	return false
}

// webURL is s if it is an absolute http(s) URL, else "" with a note.
func webURL(what, s string, x *Exif) string {
	if s = gallery.TextLine(s); s == "" {
		return ""
	}
	if gallery.CheckURL(s) != nil || len(s) > gallery.MaxURL {
		x.note("%s %q is not an http(s) URL of at most %d bytes; ignored", what, clip(s, 64), gallery.MaxURL)
		return ""
	}
	return s
}

// place is a location, nil when it says nothing. A country code that is
// not ISO 3166's two or three letters is dropped, with a note.
func place(what, city, state, country, code string, x *Exif) *contract.Location {
	l := contract.Location{City: gallery.TextLine(city), ProvinceState: gallery.TextLine(state),
		Country: gallery.TextLine(country), CountryCode: gallery.TextLine(code)}
	if c := l.CountryCode; c != "" && !gallery.ValidCountryCode(c) {
		x.note("%s: country code %q is not ISO 3166; ignored", what, clip(c, 16))
		l.CountryCode = ""
	}
	if l == (contract.Location{}) {
		return nil
	}
	return &l
}

// exifRights are the fields EXIF gives: Artist (several names separated by
// ";", as exiftool and MWG write them) and Copyright.
func exifRights(x *Exif) contract.Rights {
	return contract.Rights{Creator: list(gallery.MaxCreators, strings.Split(x.Artist, ";")...), CopyrightNotice: gallery.TextLine(x.Copyright)}
}

// boundRights bounds each field of r; nil when r says nothing.
func boundRights(r contract.Rights, x *Exif) *contract.Rights {
	cut := func(what string, v *string, limit int) {
		if n := utf8.RuneCountInString(*v); n > limit {
			*v = strings.TrimSpace(string([]rune(*v)[:limit]))
			x.note("embedded %s of %d characters cut to %d", what, n, limit)
		}
	}
	r.Creator = boundList(r.Creator, "creators", gallery.MaxCreators, gallery.MaxCreatorName, x)
	r.Keywords = boundList(r.Keywords, "keywords", gallery.MaxKeywords, gallery.MaxKeyword, x)
	cut("credit", &r.Credit, gallery.MaxRightsLine)
	cut("source", &r.Source, gallery.MaxRightsLine)
	cut("copyright holder", &r.CopyrightHolder, gallery.MaxRightsLine)
	cut("copyright notice", &r.CopyrightNotice, gallery.MaxRightsText)
	cut("usage terms", &r.UsageTerms, gallery.MaxRightsText)
	cut("alt text", &r.AltText, gallery.MaxRightsText)
	if l := r.Licensor; l != nil {
		cut("licensor name", &l.Name, gallery.MaxRightsLine)
	}
	if l := r.Location; l != nil {
		cut("city", &l.City, gallery.MaxRightsLine)
		cut("province or state", &l.ProvinceState, gallery.MaxRightsLine)
		cut("country", &l.Country, gallery.MaxRightsLine)
	}
	if reflect.ValueOf(r).IsZero() {
		return nil
	}
	return &r
}

// boundList keeps the first n entries of vs, each cut to limit characters,
// with a note for each kind of cut.
func boundList(vs []string, what string, n, limit int, x *Exif) []string {
	if len(vs) > n {
		vs = vs[:n]
		x.note("embedded %s: only the first %d kept", what, n)
	}
	long := 0
	for i, v := range vs {
		if utf8.RuneCountInString(v) > limit {
			vs[i] = strings.TrimSpace(string([]rune(v)[:limit]))
			long++
		}
	}
	if long > 0 {
		x.note("embedded %s: %d cut to %d characters", what, long, limit)
	}
	return vs
}

// iimRights are the fields IPTC IIM gives: 2:80 By-line (every one), 2:110
// Credit, 2:115 Source, 2:116 Copyright Notice, 2:25 Keywords (every one),
// 2:90 City, 2:95 Province/State, 2:101 Country and 2:100 its code.
// first(ds) is the first 2:ds dataset, decoded.
func iimRights(creators, keywords []string, first func(ds byte) string, x *Exif) contract.Rights {
	return contract.Rights{
		Creator: list(gallery.MaxCreators, creators...), Keywords: list(gallery.MaxKeywords, keywords...),
		Credit: gallery.TextLine(first(110)), Source: gallery.TextLine(first(115)), CopyrightNotice: gallery.TextLine(first(116)),
		Location: place("IPTC", first(90), first(95), first(101), first(100), x),
	}
}
