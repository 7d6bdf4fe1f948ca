package assembler

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/photodesk/photodesk/pipeline/contract"
)

// Ninjs is the subset of an IPTC ninjs 2.2 item photodesk writes: the
// gallery is a composite item, each photo a picture association.
type Ninjs struct {
	URI             string           `json:"uri"`
	Type            string           `json:"type"`
	Version         string           `json:"version,omitempty"`
	FirstCreated    string           `json:"firstcreated,omitempty"`
	VersionCreated  string           `json:"versioncreated,omitempty"`
	ContentCreated  string           `json:"contentcreated,omitempty"`
	PubStatus       string           `json:"pubstatus,omitempty"`
	Embargoed       string           `json:"embargoed,omitempty"`
	CopyrightHolder string           `json:"copyrightholder,omitempty"`
	CopyrightNotice string           `json:"copyrightnotice,omitempty"`
	UsageTerms      string           `json:"usageterms,omitempty"`
	EdNote          string           `json:"ednote,omitempty"`
	Language        string           `json:"language,omitempty"`
	Descriptions    []Text           `json:"descriptions,omitempty"`
	Bodies          []Body           `json:"bodies,omitempty"`
	Headlines       []Text           `json:"headlines,omitempty"`
	InfoSources     []InfoSource     `json:"infosources,omitempty"`
	By              string           `json:"by,omitempty"`
	Located         string           `json:"located,omitempty"`
	Renditions      []Rendition      `json:"renditions,omitempty"`
	Associations    []Association    `json:"associations,omitempty"`
	AltIDs          []AltID          `json:"altids,omitempty"`
	RightsInfo      *RightsInfo      `json:"rightsinfo,omitempty"`
	TrustIndicators []TrustIndicator `json:"trustindicators,omitempty"`
}

// TrustIndicator is ninjs 2.2's pointer to what supports trust in an
// item: photodesk's say whether a picture's files carry Content
// Credentials and what the original's said (role names the fact).
type TrustIndicator struct {
	Role  string `json:"role"`
	Title string `json:"title,omitempty"`
	Href  string `json:"href,omitempty"`
}

// Trust indicator roles: the files are signed, and the original's
// Content Credentials were <state> (contract.Provenance states).
const (
	RoleSigned         = "urn:photodesk:c2pa:signed"
	RoleOriginalPrefix = "urn:photodesk:c2pa:original:"
	// verifyURL is where a reader checks a file's Content Credentials.
	verifyURL = "https://contentcredentials.org/verify"
)

// RightsInfo links to the rights statement (the web statement of rights).
type RightsInfo struct {
	LinkedRights string `json:"linkedrights"`
}

// Association is an associated item; ninjs requires its name.
type Association struct {
	Name string `json:"name"`
	Ninjs
}

// MarshalJSON flattens the embedded item next to the name.
func (a Association) MarshalJSON() ([]byte, error) {
	b, err := json.Marshal(a.Ninjs)
	if err != nil {
		return nil, err
	}
	name, _ := json.Marshal(a.Name)
	return append(append([]byte(`{"name":`), name...), append([]byte(","), b[1:]...)...), nil
}

// Text is a headline or description.
type Text struct {
	Role        string `json:"role,omitempty"`
	ContentType string `json:"contenttype,omitempty"`
	Value       string `json:"value"`
}

// Body is the article body.
type Body struct {
	Role        string `json:"role,omitempty"`
	ContentType string `json:"contenttype,omitempty"`
	CharCount   int    `json:"charcount,omitempty"`
	Value       string `json:"value"`
}

// InfoSource is a party that supplied the content.
type InfoSource struct {
	Name string `json:"name"`
	Role string `json:"role,omitempty"`
	URI  string `json:"uri,omitempty"`
}

// Rendition is one derivative of a picture.
type Rendition struct {
	Name        string `json:"name"`
	Href        string `json:"href"`
	ContentType string `json:"contenttype"`
	Width       int    `json:"width"`
	Height      int    `json:"height"`
	SizeInBytes int64  `json:"sizeinbytes"`
	// Title says the file is signed and by whom.
	Title string `json:"title,omitempty"`
}

// AltID is an alternative identifier.
type AltID struct {
	Role  string `json:"role"`
	Value string `json:"value"`
}

// Figure is one photo as the article shows it.
type Figure struct {
	Name    string
	Caption string
	By      string
	// Rights are the photo's resolved credit and rights fields.
	Rights      contract.Rights
	Display     Rendition // the watermarked display image
	DateSource  string
	CapturedAt  *time.Time
	Renditions  []Rendition
	ETag        string
	ContentDate string
	// SignedBy is who signed the files' Content Credentials ("": unsigned);
	// Provenance is what the original's said.
	SignedBy   string
	Provenance *contract.Provenance
	// FilePhoto: an archive picture, labelled so in its caption.
	FilePhoto bool
}

// Block is one part of the article after the lead: a figure (an index
// into Figures) or, when Figure is -1, a text block's paragraphs.
type Block struct {
	Figure int
	Text   []string
}

// Article is everything the record and the preview are made from.
type Article struct {
	Gallery  string
	Headline string
	By       []string
	Source   string
	Language string
	Located  string
	// Rights are the gallery's own fields over the newsroom's defaults.
	Rights         contract.Rights
	Version        int
	FirstCreated   time.Time
	VersionCreated time.Time
	PublishTime    string // in the newsroom's zone, for the page
	// PubStatus is ninjs pubstatus (usable, withheld, canceled);
	// Embargoed the end of the gallery's embargo, if it had one.
	PubStatus string
	Embargoed *time.Time
	// Lead is the opening paragraphs; Blocks the figures and text blocks
	// after it, in the page's order.
	Lead    []string
	Figures []Figure
	Blocks  []Block
}

// Order is the blocks after the lead: Blocks, or every figure in turn
// when there are none.
func (a *Article) Order() []Block {
	if a.Blocks != nil {
		return a.Blocks
	}
	out := make([]Block, len(a.Figures))
	for i := range out {
		out[i].Figure = i
	}
	return out
}

// Credits is the line at the end: 来源:工人日报 and the names.
func (a *Article) Credits() string {
	c := "来源:" + a.Source
	if len(a.By) > 0 {
		c += " " + strings.Join(a.By, " ")
	}
	return c
}

// SourceLine is the line under the headline.
func (a *Article) SourceLine() string { return "来源:" + a.Source }

// bodyTemplate is the article body; html/template escapes every caption,
// name and URL.
var bodyTemplate = template.Must(template.New("body").Parse(
	`{{range .Lead}}<p class="lead">{{.}}</p>
{{end}}{{range .Order}}{{if lt .Figure 0}}{{range .Text}}<p class="text">{{.}}</p>
{{end}}{{else}}{{with index $.Figures .Figure}}<figure><img src="{{.Display.Href}}" width="{{.Display.Width}}" height="{{.Display.Height}}" alt="{{.Alt}}"><figcaption>{{.Caption}}</figcaption>{{if $.Preview}}{{with .Credentials}}<p class="c2pa">{{.}}</p>{{end}}{{end}}</figure>
{{end}}{{end}}{{end}}<p class="credits">{{.Credits}}</p>
`))

// previewTemplate is the page a reader would see; no script at all.
var previewTemplate = template.Must(template.New("preview").Parse(`<!DOCTYPE html>
<html lang="{{.Article.Language}}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src http: https:; style-src 'unsafe-inline'">
<title>{{.Article.Headline}}</title>
<style>
body{font-family:"Noto Sans CJK SC","Source Han Sans SC","PingFang SC","Microsoft YaHei",sans-serif;max-width:960px;margin:2em auto;padding:0 1em;color:#222;line-height:1.7}
h1{font-size:1.6em;line-height:1.3}.meta{color:#666;margin-bottom:2em}.meta span{margin-right:2em}
.lead,.text{text-indent:2em}figure{margin:0 0 2em}.c2pa{color:#777;font-size:.85em;margin:.2em 0 0}img{max-width:100%;height:auto;display:block}figcaption{margin-top:.6em;text-indent:2em}.credits{color:#555;margin-top:3em}
</style>
</head>
<body>
<article>
<h1>{{.Article.Headline}}</h1>
<p class="meta"><span>{{.Article.PublishTime}}</span><span>{{.Article.SourceLine}}</span></p>
{{.Body}}</article>
</body>
</html>
`))

// Render makes the ninjs record and the HTML preview.
func (a *Article) Render() (record []byte, preview []byte, err error) {
	// The record's body is the article; the preview's also says what each
	// picture's Content Credentials are, as a reader's page would.
	var body, shown bytes.Buffer
	if err := bodyTemplate.Execute(&body, bodyData{a, false}); err != nil {
		return nil, nil, err
	}
	if err := bodyTemplate.Execute(&shown, bodyData{a, true}); err != nil {
		return nil, nil, err
	}
	item := Ninjs{
		URI:            "urn:photodesk:gallery:" + a.Gallery,
		Type:           "composite",
		Version:        fmt.Sprint(a.Version),
		FirstCreated:   a.FirstCreated.Format(time.RFC3339),
		VersionCreated: a.VersionCreated.Format(time.RFC3339),
		PubStatus:      firstOf(a.PubStatus, "usable"),
		Language:       a.Language,
		Headlines:      []Text{{Role: "main", ContentType: "text/plain", Value: a.Headline}},
		InfoSources:    []InfoSource{{Name: a.Source, Role: "source"}},
		By:             strings.Join(a.By, " "),
		Located:        a.Located,
		Bodies: []Body{{Role: "main", ContentType: "text/html", Value: body.String(),
			CharCount: utf8.RuneCountInString(plainText(a))}},
		AltIDs: []AltID{{Role: "photodesk:gallery", Value: a.Gallery}},
	}
	if a.Embargoed != nil {
		item.Embargoed = a.Embargoed.UTC().Format(time.RFC3339)
	}
	if len(a.Lead) > 0 {
		item.Descriptions = []Text{{Role: "lead", ContentType: "text/plain", Value: strings.Join(a.Lead, "\n\n")}}
	}
	item.withRights(a.Rights)
	for i, f := range a.Figures {
		p := Ninjs{
			URI:          "urn:photodesk:photo:" + a.Gallery + "/" + f.Name + "@" + f.ETag,
			Type:         "picture",
			Descriptions: []Text{{Role: "caption", ContentType: "text/plain", Value: f.Caption}},
			By:           f.By,
			Renditions:   f.Renditions,
			EdNote:       f.DateSource,
		}
		if f.Rights.AltText != "" {
			p.Descriptions = append(p.Descriptions, Text{Role: "alt", ContentType: "text/plain", Value: f.Rights.AltText})
		}
		p.withRights(f.Rights)
		p.InfoSources = infoSources(f.Rights)
		p.TrustIndicators = f.trust()
		if f.CapturedAt != nil {
			p.ContentCreated = f.CapturedAt.Format(time.RFC3339Nano)
		}
		item.Associations = append(item.Associations, Association{Name: fmt.Sprintf("photo%d", i+1), Ninjs: p})
	}
	record, err = json.MarshalIndent(item, "", "  ")
	if err != nil {
		return nil, nil, err
	}
	var page bytes.Buffer
	err = previewTemplate.Execute(&page, struct {
		Article *Article
		Body    template.HTML
	}{a, template.HTML(shown.String())}) // built by html/template above
	return record, page.Bytes(), err
}

// withRights sets the item's copyright and usage fields, and links its web
// statement of rights.
func (n *Ninjs) withRights(r contract.Rights) {
	n.CopyrightHolder, n.CopyrightNotice, n.UsageTerms = r.CopyrightHolder, r.CopyrightNotice, r.UsageTerms
	if r.WebStatement != "" {
		n.RightsInfo = &RightsInfo{LinkedRights: r.WebStatement}
	}
}

// infoSources are a picture's credit, source and licensor, those it has.
func infoSources(r contract.Rights) []InfoSource {
	var out []InfoSource
	for _, s := range []InfoSource{{Name: r.Credit, Role: "credit"}, {Name: r.Source, Role: "source"}} {
		if s.Name != "" {
			out = append(out, s)
		}
	}
	if l := r.Licensor; l != nil && (l.Name != "" || l.URL != "") {
		out = append(out, InfoSource{Name: l.Name, Role: "licensor", URI: l.URL})
	}
	return out
}

// bodyData is the body template's input: the article, and whether the
// page is the preview.
type bodyData struct {
	*Article
	Preview bool
}

// Credentials is the preview's line under a picture: whether its files
// are signed, and what the original's Content Credentials said.
func (f Figure) Credentials() string {
	var parts []string
	if f.SignedBy != "" {
		parts = append(parts, "本图文件带有内容凭证(C2PA),签名方:"+f.SignedBy)
	}
	if p := f.Provenance; p != nil {
		switch p.State {
		case contract.ProvenanceTrusted:
			parts = append(parts, "原图内容凭证有效,签名方:"+p.Signer)
		case contract.ProvenanceValid:
			parts = append(parts, "原图内容凭证完整,签名方("+p.Signer+")不在信任列表")
		case contract.ProvenanceInvalid:
			parts = append(parts, "原图内容凭证无效("+strings.Join(p.Codes, ", ")+")")
		default:
			parts = append(parts, "原图无内容凭证")
		}
		if p.GenerativeAI {
			parts = append(parts, "原图声明含生成式人工智能内容")
		}
	}
	return strings.Join(parts, ";")
}

// trust is the picture's trust indicators.
func (f Figure) trust() []TrustIndicator {
	var out []TrustIndicator
	if f.SignedBy != "" {
		out = append(out, TrustIndicator{Role: RoleSigned, Title: "Every file carries Content Credentials (C2PA) signed by " + f.SignedBy, Href: verifyURL})
	}
	if p := f.Provenance; p != nil {
		out = append(out, TrustIndicator{Role: RoleOriginalPrefix + p.State, Title: p.Line()})
	}
	return out
}

// Alt is the image's alternative text: its alt text, else its caption.
func (f Figure) Alt() string { return firstOf(f.Rights.AltText, f.Caption) }

// plainText is the body's text as ninjs counts it: without figure
// captions.
func plainText(a *Article) string {
	var b strings.Builder
	for _, p := range a.Lead {
		b.WriteString(p)
	}
	for _, bl := range a.Order() {
		for _, p := range bl.Text {
			b.WriteString(p)
		}
	}
	b.WriteString(a.Credits())
	return b.String()
}

// renditionName is "<preset>-<format>", "-watermarked" for marked copies.
func renditionName(d contract.Derivative) string {
	if d.Watermarked {
		return d.Preset + "-watermarked-" + d.Format
	}
	return d.Preset + "-" + d.Format
}
