package assembler

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/photodesk/photodesk/internal/stamp"
	"github.com/photodesk/photodesk/pipeline/contract"
	"github.com/photodesk/photodesk/pipeline/gallery"
)

// Keys of a gallery's record in the articles bucket.
func recordKey(id string) string  { return id + "/article.json" }
func previewKey(id string) string { return id + "/index.html" }

// publish writes the record and the preview, and returns the event that
// announces them (article.ready for version 1, article.updated after).
func (r *Role) publish(ctx context.Context, st *gallery.State, rd gallery.Readiness, pub *gallery.Publication) (contract.Output, error) {
	a, err := r.article(ctx, st, rd, pub)
	if err != nil {
		return contract.Output{}, err
	}
	record, preview, err := a.Render()
	if err != nil {
		return contract.Output{}, fmt.Errorf("render record: %w", err)
	}
	// Each version is kept under its own name; the plain names are the
	// current version, unless a newer one got there first.
	vdir := fmt.Sprintf("%s/v%d/", st.Gallery, pub.Version)
	for _, o := range []struct {
		key, ctype string
		body       []byte
	}{
		{vdir + "article.json", "application/json", record},
		{vdir + "index.html", "text/html; charset=utf-8", preview},
	} {
		if err := r.put(ctx, o.key, o.ctype, o.body); err != nil {
			return contract.Output{}, err
		}
	}
	if cur, _, err := r.load(ctx, st.Gallery); err != nil {
		return contract.Output{}, err
	} else if cur.Published == nil || cur.Published.Version <= pub.Version {
		if err := r.put(ctx, recordKey(st.Gallery), "application/json", record); err != nil {
			return contract.Output{}, err
		}
		if err := r.put(ctx, previewKey(st.Gallery), "text/html; charset=utf-8", preview); err != nil {
			return contract.Output{}, err
		}
	}
	ev := contract.ArticleEvent{
		Gallery: st.Gallery, Version: pub.Version, FirstCreated: pub.FirstCreated, VersionCreated: pub.VersionCreated,
		Bucket: r.ArticlesBucket, Key: recordKey(st.Gallery), PreviewKey: previewKey(st.Gallery),
		Photos: len(a.Figures), Record: json.RawMessage(record),
	}
	subject := contract.SubjectArticleReady
	if pub.Version > 1 {
		subject = contract.SubjectArticleUpdated
	}
	return contract.JSONOutput(contract.GallerySubject(subject, st.Gallery), fmt.Sprintf("article:%s:v%d", st.Gallery, pub.Version), ev)
}

func (r *Role) put(ctx context.Context, key, ctype string, body []byte) error {
	_, err := r.Store.PutObject(ctx, r.ArticlesBucket, key, bytes.NewReader(body), int64(len(body)), minio.PutObjectOptions{
		ContentType: ctype, CacheControl: "no-cache",
	})
	if err != nil {
		return fmt.Errorf("store %s: %w", key, err)
	}
	return nil
}

// article gathers what the record says, in order, and publishes each
// photo's files with what it says about them.
func (r *Role) article(ctx context.Context, st *gallery.State, rd gallery.Readiness, pub *gallery.Publication) (*Article, error) {
	m := st.Manifest
	var by []string
	for _, b := range m.Byline {
		if b = gallery.TextLine(b); b != "" {
			by = append(by, b)
		}
	}
	year := pub.FirstCreated.In(r.Zone).Year()
	a := &Article{
		Gallery: st.Gallery, Headline: gallery.TextLine(m.Headline), By: by,
		Source: gallery.TextLine(firstOf(m.Source, r.Cfg.Source)), Language: firstOf(m.Language, r.Cfg.Language),
		Located: gallery.TextLine(m.Dateline), Rights: r.galleryRights(m, year),
		Version: pub.Version, FirstCreated: pub.FirstCreated, VersionCreated: pub.VersionCreated,
		PublishTime: pub.VersionCreated.In(r.Zone).Format("2006-01-02 15:04:05"),
	}
	a.PubStatus = gallery.PubUsable
	if m != nil {
		a.Lead = m.Lead
		if m.PubStatus != "" {
			a.PubStatus = m.PubStatus
		}
		if m.Embargo {
			a.Embargoed = m.PublishAt
		}
	}
	files := make([]stamped, len(rd.Entries))
	for i, e := range rd.Entries {
		f, meta := r.figure(m, e, a.Headline, year)
		if r.Signer != nil {
			f.SignedBy = r.Signer.Name()
		}
		files[i] = r.toStamp(e, f, meta, a)
		a.Figures = append(a.Figures, f)
	}
	noteFilePhotos(a.Figures, r.Cfg.FilePhotoAge)
	a.Blocks = blocks(m, rd.Entries)
	if err := r.stampAll(ctx, files); err != nil {
		return nil, err
	}
	for i := range a.Figures {
		if err := r.link(ctx, &a.Figures[i], files[i].derivs); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// figure is one photo: its caption with its date, its credit and rights,
// and the metadata its files carry (the same, and the caption as
// published).
func (r *Role) figure(m *gallery.Manifest, e gallery.Entry, headline string, year int) (Figure, stamp.Metadata) {
	x := e.Current.Exif
	if x == nil {
		x = &contract.ExifData{}
	}
	caption := firstOf(gallery.TextBlock(e.Listed.Caption), gallery.TextBlock(x.Caption), gallery.TextBlock(e.Photo.Caption))
	if e.Listed.Dated() {
		caption, _ = Caption(caption, x.CapturedAt, r.Zone, r.Cfg.DateFormat)
	}
	if e.Listed.FilePhoto {
		caption += r.Cfg.FilePhotoLabel
	}
	if x.CapturedAt != nil {
		year = x.CapturedAt.Year() // in the photo's own zone, as its date says
	}
	rights := r.photoRights(m, e, x, year)
	f := Figure{
		Name: e.Name, Caption: caption, By: strings.Join(rights.Creator, "、"), Rights: rights,
		CapturedAt: x.CapturedAt, ETag: e.Photo.ETag, DateSource: dateNote(e, x),
		Provenance: x.Provenance, FilePhoto: e.Listed.FilePhoto,
	}
	meta := stamp.Metadata{Rights: rights, Headline: headline, Caption: caption, Created: x.CapturedAt}
	if r.Cfg.KeepGPS {
		meta.GPS = x.GPS
	}
	return f, meta
}

// link lists the figure's published files with where to fetch each.
func (r *Role) link(ctx context.Context, f *Figure, derivs []contract.Derivative) error {
	var whole Rendition // the last that shows the whole picture
	for _, d := range derivs {
		href, err := r.href(ctx, d)
		if err != nil {
			return err
		}
		rd := Rendition{Name: renditionName(d), Href: href, ContentType: d.ContentType, Width: d.Width, Height: d.Height, SizeInBytes: d.Size}
		var title []string
		if d.Aspect != "" {
			title = append(title, cropTitle(d))
		} else {
			whole = rd
		}
		if f.SignedBy != "" && stamp.Writes(d.Format) {
			title = append(title, "Content Credentials (C2PA) signed by "+f.SignedBy)
		}
		rd.Title = strings.Join(title, "; ")
		f.Renditions = append(f.Renditions, rd)
		if d.Watermarked && d.Preset == r.Cfg.DisplayPreset && d.Format == "jpeg" {
			f.Display = rd
		}
	}
	if f.Display.Href == "" {
		f.Display = whole
	}
	return nil
}

// blocks is the article's order: the manifest's photos and text blocks
// as it lists them, or, when it lists no photo, every figure (in
// entries' order) and then its text blocks.
func blocks(m *gallery.Manifest, entries []gallery.Entry) []Block {
	fig := make(map[string]int, len(entries))
	for i, e := range entries {
		fig[e.Name] = i
	}
	var out []Block
	listed := m != nil && len(m.Pictures()) > 0
	if !listed {
		for i := range entries {
			out = append(out, Block{Figure: i})
		}
	}
	if m == nil {
		return out
	}
	for _, p := range m.Photos {
		switch i, ok := fig[p.File]; {
		case p.IsText():
			out = append(out, Block{Figure: -1, Text: p.Text})
		case listed && ok:
			out = append(out, Block{Figure: i})
		}
	}
	return out
}

// noteFilePhotos adds to the ednote of each photo taken more than age
// before the median of the gallery's other photos that it is likely a
// file photo. It is not relabelled: that is the editor's call.
func noteFilePhotos(figs []Figure, age time.Duration) {
	for i := range figs {
		f := &figs[i]
		if f.CapturedAt == nil || f.FilePhoto {
			continue
		}
		var others []time.Time
		for j, g := range figs {
			if j != i && g.CapturedAt != nil {
				others = append(others, *g.CapturedAt)
			}
		}
		if len(others) == 0 {
			continue
		}
		slices.SortFunc(others, time.Time.Compare)
		median := others[len(others)/2]
		if gap := median.Sub(*f.CapturedAt); gap > age {
			f.DateSource += fmt.Sprintf("; likely a file photo: taken %s, %d days before the gallery's other photos (mark it file_photo in gallery.json to label it and drop the date)",
				f.CapturedAt.Format("2006-01-02"), int(gap.Hours()/24))
		}
	}
}

// cropTitle says what a crop is and what it keeps in frame: "16:9 crop
// centred on 0.25,0.4 (focal point in gallery.json)". ninjs 2.2 allows a
// rendition no property of its own, so the title carries it; the crop's
// event (photo.renditions) has it as fields.
func cropTitle(d contract.Derivative) string {
	t := d.Aspect + " crop"
	if f := d.Focus; f != nil {
		t += fmt.Sprintf(" centred on %s,%s (%s)", strconv.FormatFloat(f.X, 'f', -1, 64), strconv.FormatFloat(f.Y, 'f', -1, 64), focusSources[f.Source])
	}
	return t
}

// focusSources say where a crop's focus came from, in words.
var focusSources = map[string]string{
	contract.FocusGallery:   "focal point in gallery.json",
	contract.FocusRegion:    "image region embedded in the photo",
	contract.FocusAttention: "libvips attention: the crop's centre",
}

// dateNote says where the caption's date came from, for editors.
func dateNote(e gallery.Entry, x *contract.ExifData) string {
	if _, failed := e.Current.Failed(contract.StageExif); failed {
		return "capture date unknown: EXIF could not be read"
	}
	if x.CapturedAt == nil {
		return "capture date unknown: no date in the photo"
	}
	source := x.DateSource
	if !strings.HasPrefix(source, "XMP ") && !strings.HasPrefix(source, "IPTC ") {
		source = "EXIF " + source // the EXIF tags go by their bare names
	}
	return fmt.Sprintf("capture date from %s (zone: %s)", source, x.ZoneSource)
}

// href is where a newsroom system fetches a derivative.
func (r *Role) href(ctx context.Context, d contract.Derivative) (string, error) {
	if r.Cfg.PublicBaseURL != "" {
		parts := strings.Split(d.Key, "/")
		for i, p := range parts {
			parts[i] = url.PathEscape(p)
		}
		u := strings.TrimRight(r.Cfg.PublicBaseURL, "/") + "/" + strings.Join(parts, "/")
		if d.ETag != "" {
			// Derivatives are served as immutable, but reprocessing writes
			// new bytes under the same key: the version in the URL keeps
			// caches from serving the old ones.
			u += "?v=" + url.QueryEscape(d.ETag)
		}
		return u, nil
	}
	u, err := r.Store.PresignedGetObject(ctx, d.Bucket, d.Key, r.Cfg.PresignTTL, url.Values{})
	if err != nil {
		return "", fmt.Errorf("presign %s: %w", d.Key, err)
	}
	return u.String(), nil
}

func firstOf(vals ...string) string {
	for _, v := range vals {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	return ""
}
