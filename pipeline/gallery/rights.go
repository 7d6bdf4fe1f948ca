package gallery

import (
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/photodesk/photodesk/pipeline/contract"
)

// Limits on rights fields, in characters, so that every photo's metadata
// fits one XMP packet (64 KiB) and IIM's repeatable fields stay sane.
// photometa bounds what originals embed by the same limits.
const (
	MaxCreators    = 20
	MaxCreatorName = maxName
	MaxRightsLine  = 200  // credit, source, holder, licensor, places
	MaxRightsText  = 2000 // copyright notice, usage terms, alt text
	MaxURL         = 2000
	MaxKeywords    = 64
	MaxKeyword     = 64
	maxPacketBytes = 60000 // XML-escaped text of one photo's metadata; an APP1 holds 65502
)

// NoticeFields are the fields a copyright notice template may name.
var NoticeFields = []string{"{YYYY}", "{creator}", "{holder}"}

// CheckNoticeTemplate refuses a template with a "{" that does not open a
// field it can fill.
func CheckNoticeTemplate(tmpl string) error {
	rest := tmpl
	for _, k := range NoticeFields {
		rest = strings.ReplaceAll(rest, k, "")
	}
	if i := strings.IndexByte(rest, '{'); i >= 0 {
		f := rest[i:]
		if j := strings.IndexAny(f[1:], "{}"); j >= 0 && f[1+j] == '}' {
			f = f[:j+2]
		}
		return fmt.Errorf("copyright notice %q names an unknown field %s (known: %s)", tmpl, f, strings.Join(NoticeFields, ", "))
	}
	return nil
}

// Notice fills a copyright notice template: {YYYY} the year, {creator}
// the creators, {holder} the copyright holder.
func Notice(tmpl string, year int, r contract.Rights) string {
	return strings.NewReplacer("{YYYY}", strconv.Itoa(year), "{creator}", strings.Join(r.Creator, "、"), "{holder}", r.CopyrightHolder).Replace(tmpl)
}

// CheckRights applies gallery.json's rules to one set of rights fields,
// trimming them. Its errors name the field.
func CheckRights(r *contract.Rights) error {
	if len(r.Creator) > MaxCreators {
		return fmt.Errorf("%d creators; the limit is %d", len(r.Creator), MaxCreators)
	}
	for i, n := range r.Creator {
		if n = strings.TrimSpace(n); n == "" || utf8.RuneCountInString(n) > MaxCreatorName {
			return fmt.Errorf("creator %d must be a name of 1 to %d characters", i+1, MaxCreatorName)
		}
		r.Creator[i] = n
	}
	for _, f := range []struct {
		name string
		v    *string
		max  int
	}{
		{"credit", &r.Credit, MaxRightsLine}, {"source", &r.Source, MaxRightsLine},
		{"copyright_holder", &r.CopyrightHolder, MaxRightsLine}, {"copyright_notice", &r.CopyrightNotice, MaxRightsText},
		{"usage_terms", &r.UsageTerms, MaxRightsText}, {"alt_text", &r.AltText, MaxRightsText},
		{"web_statement", &r.WebStatement, MaxURL},
	} {
		*f.v = strings.TrimSpace(*f.v)
		if n := utf8.RuneCountInString(*f.v); n > f.max {
			return fmt.Errorf("%q is %d characters; the limit is %d", f.name, n, f.max)
		}
	}
	if err := CheckNoticeTemplate(r.CopyrightNotice); err != nil {
		return fmt.Errorf("%v", err)
	}
	if err := CheckURL(r.WebStatement); err != nil {
		return fmt.Errorf(`"web_statement": %v`, err)
	}
	if l := r.Licensor; l != nil {
		l.Name, l.URL = strings.TrimSpace(l.Name), strings.TrimSpace(l.URL)
		if utf8.RuneCountInString(l.Name) > MaxRightsLine || len(l.URL) > MaxURL {
			return fmt.Errorf(`"licensor" name or url is too long`)
		}
		if err := CheckURL(l.URL); err != nil {
			return fmt.Errorf(`"licensor" url: %v`, err)
		}
	}
	if len(r.Keywords) > MaxKeywords {
		return fmt.Errorf("%d keywords; the limit is %d", len(r.Keywords), MaxKeywords)
	}
	for i, k := range r.Keywords {
		if k = strings.TrimSpace(k); k == "" || utf8.RuneCountInString(k) > MaxKeyword {
			return fmt.Errorf("keyword %d must be 1 to %d characters", i+1, MaxKeyword)
		}
		r.Keywords[i] = k
	}
	if l := r.Location; l != nil {
		for _, v := range []*string{&l.City, &l.ProvinceState, &l.Country, &l.CountryCode} {
			if *v = strings.TrimSpace(*v); utf8.RuneCountInString(*v) > MaxRightsLine {
				return fmt.Errorf(`a "location" field is over %d characters`, MaxRightsLine)
			}
		}
		if l.CountryCode != "" && !ValidCountryCode(l.CountryCode) {
			return fmt.Errorf(`"country_code" %q is not an ISO 3166 code such as CN or CHN`, l.CountryCode)
		}
	}
	return nil
}

var countryCode = regexp.MustCompile(`^[A-Za-z]{2,3}$`)

// ValidCountryCode says whether s has the shape of an ISO 3166 code: two
// or three letters.
func ValidCountryCode(s string) bool { return countryCode.MatchString(s) }

// CheckURL accepts "" or an absolute http(s) URL.
func CheckURL(s string) error {
	if s == "" {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL", s)
	}
	return nil
}

// xmlSize is how many bytes the strings take once XML-escaped.
func xmlSize(ss ...string) int {
	n := 0
	for _, s := range ss {
		n += len(s) + 4*strings.Count(s, "<") + 4*strings.Count(s, ">") + 4*strings.Count(s, "&") + 5*strings.Count(s, `"`) + 5*strings.Count(s, "'")
	}
	return n
}

// rightsText is every text of r, for its size.
func rightsText(r contract.Rights) []string {
	out := append([]string{r.Credit, r.Source, r.CopyrightNotice, r.CopyrightHolder, r.UsageTerms, r.WebStatement, r.AltText}, r.Creator...)
	out = append(out, r.Keywords...)
	if l := r.Licensor; l != nil {
		out = append(out, l.Name, l.URL)
	}
	if l := r.Location; l != nil {
		out = append(out, l.City, l.ProvinceState, l.Country, l.CountryCode)
	}
	return out
}
