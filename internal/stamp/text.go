package stamp

import (
	"strings"
	"unicode"

	"github.com/photodesk/photodesk/pipeline/contract"
)

// clean returns m with every text made safe for every format: valid UTF-8
// (U+FFFD for bad bytes) and no control characters but line feeds (a NUL
// ends an EXIF or IIM string, and XML forbids most controls). Callers have
// cleaned the texts already; this is so that no input makes a malformed
// file. Lists lose their empty entries, empty structs become nil, and a
// Created that no format can write (year outside 1-9999) is dropped.
func clean(m Metadata) Metadata {
	r := &m.Rights
	r.Creator = cleanList(r.Creator)
	r.Keywords = cleanList(r.Keywords)
	for _, s := range []*string{&m.Headline, &m.Caption, &r.Credit, &r.Source, &r.CopyrightNotice,
		&r.CopyrightHolder, &r.UsageTerms, &r.WebStatement, &r.AltText} {
		*s = cleanText(*s)
	}
	if l := r.Licensor; l != nil {
		c := *l
		c.Name, c.URL = cleanText(c.Name), cleanText(c.URL)
		r.Licensor = &c
		if c.Name == "" && c.URL == "" {
			r.Licensor = nil
		}
	}
	if l := r.Location; l != nil {
		c := *l
		for _, s := range []*string{&c.City, &c.ProvinceState, &c.Country, &c.CountryCode} {
			*s = cleanText(*s)
		}
		r.Location = &c
		if c == (contract.Location{}) {
			r.Location = nil
		}
	}
	if t := m.Created; t != nil && (t.Year() < 1 || t.Year() > 9999) {
		m.Created = nil
	}
	return m
}

func cleanList(in []string) []string {
	var out []string
	for _, s := range in {
		if s = cleanText(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func cleanText(s string) string {
	return strings.Map(func(r rune) rune {
		if r != '\n' && unicode.IsControl(r) {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
}

// cut is contract.Cut.
var cut = contract.Cut

// created is m.Created in layout, or "" when unset.
func created(m Metadata, layout string) string {
	if m.Created == nil {
		return ""
	}
	return m.Created.Format(layout)
}
