package assembler

import (
	"strings"

	"github.com/photodesk/photodesk/pipeline/contract"
	"github.com/photodesk/photodesk/pipeline/gallery"
)

// galleryRights are the gallery's own fields over the newsroom's
// defaults, for the record's composite item.
func (r *Role) galleryRights(m *gallery.Manifest, year int) contract.Rights {
	var g contract.Rights
	if m.Rights != nil {
		g = *m.Rights
	}
	return finish(g.Or(r.Cfg.Rights), year)
}

// photoRights resolves one photo's fields, each from the first that gives
// it: the photo's entry in gallery.json (its rights, then its byline), the
// gallery's (its rights, then its source line), what the original embeds,
// the newsroom's defaults. year fills the notice's {YYYY}.
func (r *Role) photoRights(m *gallery.Manifest, e gallery.Entry, x *contract.ExifData, year int) contract.Rights {
	var photo, gal, embedded contract.Rights
	if e.Listed.Rights != nil {
		photo = *e.Listed.Rights
	}
	if b := gallery.TextLine(e.Listed.Byline); b != "" && len(photo.Creator) == 0 {
		photo.Creator = contract.Names{b}
	}
	if m.Rights != nil {
		gal = *m.Rights
	}
	if gal.Source == "" {
		gal.Source = m.Source
	}
	switch {
	case x.Rights != nil:
		embedded = *x.Rights
	default:
		// An exif result from before embedded rights were reported.
		if b := firstOf(x.Byline, x.Artist); b != "" {
			embedded.Creator = contract.Names{b}
		}
		embedded.CopyrightNotice = x.Copyright
	}
	return finish(photo.Or(gal).Or(embedded).Or(r.Cfg.Rights), year)
}

// finish cleans every field as captions are cleaned and fills the
// notice's template.
func finish(rt contract.Rights, year int) contract.Rights {
	var names contract.Names
	for _, n := range rt.Creator {
		if n = gallery.TextLine(n); n != "" {
			names = append(names, n)
		}
	}
	rt.Creator = names
	for _, v := range []*string{&rt.Credit, &rt.Source, &rt.CopyrightHolder, &rt.WebStatement} {
		*v = gallery.TextLine(*v)
	}
	rt.CopyrightNotice = gallery.TextLine(gallery.Notice(rt.CopyrightNotice, year, rt))
	rt.UsageTerms = gallery.TextBlock(rt.UsageTerms)
	rt.AltText = gallery.TextLine(rt.AltText)
	if l := rt.Licensor; l != nil {
		rt.Licensor = &contract.Licensor{Name: gallery.TextLine(l.Name), URL: gallery.TextLine(l.URL)}
		if *rt.Licensor == (contract.Licensor{}) {
			rt.Licensor = nil
		}
	}
	var kws []string
	for _, k := range rt.Keywords {
		if k = gallery.TextLine(k); k != "" {
			kws = append(kws, k)
		}
	}
	rt.Keywords = kws
	if l := rt.Location; l != nil {
		rt.Location = &contract.Location{City: gallery.TextLine(l.City), ProvinceState: gallery.TextLine(l.ProvinceState),
			Country: gallery.TextLine(l.Country), CountryCode: strings.ToUpper(gallery.TextLine(l.CountryCode))}
		if *rt.Location == (contract.Location{}) {
			rt.Location = nil
		}
	}
	return rt
}
