package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"math"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/davidbyttow/govips/v2/vips"
	"github.com/minio/minio-go/v7"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/photodesk/photodesk/internal/c2pa"
	"github.com/photodesk/photodesk/internal/c2pa/c2patest"
	"github.com/photodesk/photodesk/internal/fixture"
	"github.com/photodesk/photodesk/internal/imaging"
	"github.com/photodesk/photodesk/pipeline"
	"github.com/photodesk/photodesk/pipeline/config"
	"github.com/photodesk/photodesk/pipeline/contract"
	"github.com/photodesk/photodesk/pipeline/devstack"
	"github.com/photodesk/photodesk/workers/assembler"
)

// The hostile-input corpus. Every case is made here (internal/fixture, and
// libvips for CMYK and HEIC), uploaded to MinIO like any photo, and run
// through MinIO's notification and the real roles. Each has the outcome it
// must have, stage by stage; and whatever the inputs, the good photos beside
// them and a good gallery uploaded at the same time are processed and
// published, nothing panics, and the roles go on working.

// outcome is what the pipeline must make of one object. The zero value is
// "processed": an EXIF result, and derivatives from both image roles.
type outcome struct {
	// Put: MinIO refuses the upload itself with an error containing this;
	// nothing reaches the pipeline.
	Put string
	// Ignored: ingest takes the notification and announces nothing, and
	// reports no failure.
	Ignored bool
	// Ingest: the ingest role fails the object with a reason containing
	// this, and no other stage hears of it.
	Ingest string
	// Exif: the exif role fails the photo with a reason containing this.
	Exif string
	// Images: the renditions and watermark roles both fail the photo with
	// a reason containing this.
	Images string
	// Provenance: the photo is processed, and the exif role reads its
	// Content Credentials as invalid with a reason containing this.
	Provenance string
}

var processed = outcome{}

// reachesRoles says the photo gets to the exif and image roles.
func (o outcome) reachesRoles() bool { return o.Put == "" && !o.Ignored && o.Ingest == "" }

func (o outcome) String() string {
	switch {
	case o.Put != "":
		return "refused by MinIO: " + o.Put
	case o.Ignored:
		return "ignored by ingest (no event, no failure)"
	case o.Ingest != "":
		return "failed in ingest: " + o.Ingest
	case o == processed:
		return "processed"
	case o.Provenance != "":
		return "processed; its Content Credentials read as invalid: " + o.Provenance
	}
	s := "EXIF read"
	if o.Exif != "" {
		s = "failed in exif: " + o.Exif
	}
	if o.Images != "" {
		return s + "; failed in renditions and watermark: " + o.Images
	}
	return s + "; derivatives made"
}

// hostileCase is one object of the corpus.
type hostileCase struct {
	name string
	key  string
	body func(t *testing.T) []byte
	meta map[string]string // S3 user metadata
	want outcome
	// thumb checks a processed photo's JPEG thumbnail.
	thumb func(t *testing.T, img image.Image)
}

// manifestCase is a gallery whose gallery.json is the hostile part.
type manifestCase struct {
	name     string
	gallery  string
	manifest func() []byte
	photos   []string // good photos uploaded with it
	// fail: the assembler fails the manifest with a reason containing it.
	// Otherwise the gallery is published, or waits for waiting.
	fail, waiting string
}

const (
	hostileGallery = "hostile-photos"
	goodGallery    = "good-alongside"
)

// hostileManifests are photos whose C2PA manifest stores are broken on
// purpose (c2patest.HostileJPEGs): each is processed and published like
// any photo, its Content Credentials read as invalid with the reason.
func hostileManifests(t *testing.T, g string) []hostileCase {
	d, err := c2pa.DevIdentity(filepath.Join(t.TempDir(), "c2pa"))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := c2pa.LoadSigner(d.Key, d.Chain, "photodesk", "test")
	if err != nil {
		t.Fatal(err)
	}
	signed, err := signer.Sign(t.Context(), photo(t, 60, nil), "jpeg", c2pa.Work{Title: "c2pa.jpg", Format: "image/jpeg"})
	if err != nil {
		t.Fatal(err)
	}
	files, err := c2patest.HostileJPEGs(signed)
	if err != nil {
		t.Fatal(err)
	}
	var out []hostileCase
	for i, f := range files {
		out = append(out, hostileCase{name: "C2PA: " + f.Name, key: fmt.Sprintf("%sc2pa-%02d.jpg", g, i),
			body: func(*testing.T) []byte { return f.File }, want: outcome{Provenance: f.Why}})
	}
	return out
}

func hostileCorpus(t *testing.T) []hostileCase {
	g := hostileGallery + "/"
	good := func(seed int64) func(t *testing.T) []byte {
		return func(t *testing.T) []byte {
			return photo(t, seed, &fixture.EXIF{DateTimeOriginal: "2026:07:28 10:00:00", Make: "Canon"})
		}
	}
	static := func(b []byte) func(*testing.T) []byte { return func(*testing.T) []byte { return b } }
	const notImage = "not an image: unrecognised file signature"
	badEXIF := func(reason string) outcome { return outcome{Exif: "corrupt EXIF: " + reason} }
	long := func(n int) string { return strings.Repeat("x", n-len(".jpg")) + ".jpg" }

	// HEIC: this libvips (libheif) makes one; photodesk promises to read
	// HEIF where libvips has a loader, and to say so where it has none.
	heic := heicPhoto(t)
	heicCases := []hostileCase{
		{name: "HEIC", key: g + "phone.heic", body: static(heic), want: processed, thumb: notFlat},
		{name: "HEIC cut in half", key: g + "half.heic", body: static(heic[:len(heic)/2]), want: outcome{Images: "unreadable heif"}},
	}
	if !imaging.CanRead("heif") {
		stub := []byte("\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic")
		heicCases = []hostileCase{{name: "HEIC without a HEIF loader", key: g + "phone.heic", body: static(append(stub, heic...)),
			want: outcome{Images: "heif images are not supported by this server's libvips"}}}
	}

	cases := []hostileCase{
		{name: "good photo", key: g + "good-1.jpg", body: good(1), want: processed, thumb: notFlat},
		{name: "another good photo", key: g + "good-2.jpg", body: good(2), want: processed},

		// Empty and cut-off uploads.
		{name: "zero bytes", key: g + "empty.jpg", body: static(nil),
			want: outcome{Exif: "empty file", Images: "the file is empty"}},
		{name: "JPEG cut in half", key: g + "half.jpg", body: func(t *testing.T) []byte { b := good(3)(t); return b[:len(b)/2] },
			want: outcome{Images: "cannot decode the jpeg: VipsJpeg: Premature end of input file"}},
		{name: "JPEG cut inside its EXIF", key: g + "cut-exif.jpg", body: static(fixture.TruncatedEXIFJPEG()),
			want: outcome{Exif: "truncated EXIF: APP1 segment at offset 2 claims", Images: "unreadable jpeg: VipsJpeg: Premature end of input file"}},
		{name: "JPEG headers only (300 bytes)", key: g + "header-only.jpg", body: func(t *testing.T) []byte { return good(4)(t)[:300] },
			want: outcome{Images: "unreadable jpeg: VipsJpeg: Premature end of input file"}},

		// Not images, whatever the name says.
		{name: "text named .jpg", key: g + "notes.jpg", body: static(fixture.NotAnImage("text")),
			want: outcome{Exif: notImage, Images: "not an image photodesk reads (JPEG, PNG, WebP, TIFF, HEIF, GIF): the bytes look like text/plain"}},
		{name: "PDF named .jpg", key: g + "doc.jpg", body: static(fixture.NotAnImage("pdf")),
			want: outcome{Exif: notImage, Images: "the bytes look like application/pdf"}},
		{name: "HTML with script named .jpg", key: g + "page.jpg", body: static(fixture.NotAnImage("html")),
			want: outcome{Exif: notImage, Images: "the bytes look like text/html"}},
		{name: "SVG with script named .jpg", key: g + "vector.jpg", body: static(fixture.NotAnImage("svg")),
			want: outcome{Exif: notImage, Images: "the bytes look like text/xml"}},

		// Decompression bombs: refused from the header, before decoding.
		{name: "PNG bomb: 30000×30000, 900 MB of real pixel data in 0.9 MB", key: g + "bomb.png", body: static(fixture.PNGBomb(30000, 30000)),
			want: outcome{Images: "the image is 30000×30000 (900.0 MP), over the 100.0 MP limit"}},
		{name: "JPEG header claiming 65500×65500", key: g + "bomb.jpg", body: static(fixture.JPEGClaiming(65500, 65500)),
			want: outcome{Images: "the image is 65500×65500 (4290.2 MP), over the 100.0 MP limit"}},
		{name: "JPEG header claiming 9000×9000 (within the limit), data for 64×48", key: g + "claims-9000.jpg", body: static(fixture.JPEGClaiming(9000, 9000)),
			want: outcome{Images: "cannot decode the jpeg: VipsJpeg: Corrupt JPEG data"}},
		{name: "TIFF header claiming 100000×100000", key: g + "bomb.tif", body: static(fixture.TIFFClaiming(100000, 100000)),
			want: outcome{Images: "the image is 100000×100000 (10000.0 MP), over the 100.0 MP limit"}},
		// libnsgif sizes the canvas from the frames, so this is the 16×16 it
		// holds; exif reports the screen size the header claims.
		{name: "GIF screen claiming 65535×65535, one 16×16 frame", key: g + "screen.gif", body: static(fixture.GIFClaiming(65535, 65535)),
			want: processed},
		// A decode that would not end: libvips takes every scan over the
		// whole 24 MP (10,000 such scans took 24 CPU-s here), so 200,000
		// would hold a slot for about 8 minutes. Refused from the count.
		{name: "progressive JPEG, 24 MP, 200,000 scans in 10 MB", key: g + "scans.jpg",
			body: static(fixture.ScanBombJPEG(6000, 4000, 200_000, &fixture.EXIF{DateTimeOriginal: "2026:07:28 10:00:00", Make: "Canon"})),
			want: outcome{Images: "the JPEG has 200000 scans, over the 500-scan limit"}},
		{name: "PNG with an XMP chunk inflating to 64 MiB", key: g + "xmp-bomb.png", body: static(fixture.PNGXMPBomb(320, 213, 64<<20)),
			want: processed, thumb: notFlat},

		// Hostile EXIF: the exif role refuses it; the pixels are fine, so
		// the photo is published without a capture date.
		{name: "EXIF IFD0 claiming 65535 entries and a count of 2³¹", key: g + "exif-huge-count.jpg", body: static(fixture.HugeCountEXIFJPEG()),
			want: badEXIF("IFD at offset 8 (IFD0) claims 65535 entries but only 236 bytes remain")},
		{name: "EXIF IFD chain looping to itself", key: g + "exif-loop.jpg", body: static(fixture.LoopEXIFJPEG()),
			want: badEXIF("IFD loop: IFD1 at offset 8 was already read as IFD0")},
		{name: "EXIF offsets outside the block", key: g + "exif-outside.jpg", body: static(fixture.OutsideOffsetEXIFJPEG()),
			want: badEXIF("IFD0 entry 0x010F claims 6 values of type 2 (6 bytes) at offset 4294967040, past the end of the 244-byte block")},

		// Unusual but valid images.
		{name: "16-bit PNG", key: g + "deep.png", body: static(fixture.PNG16(320, 213, 5)), want: processed, thumb: notFlat},
		{name: "CMYK JPEG (red)", key: g + "cmyk.jpg", body: cmykJPEG, want: processed, thumb: near(color.RGBA{200, 40, 40, 255})},
		{name: "animated GIF, 12 frames", key: g + "anim.gif", body: static(fixture.AnimatedGIF(320, 200, 12)), want: processed,
			thumb: near(color.RGBA{220, 30, 30, 255})}, // the first frame
		{name: "caption metadata with invalid UTF-8 and markup", key: g + "meta-caption.jpg", body: good(11),
			meta: map[string]string{"caption": "闭幕\xff<script>"}, want: processed},
	}
	cases = append(cases, heicCases...)
	cases = append(cases, hostileManifests(t, g)...)
	return append(cases,
		// Object keys photodesk does not take.
		hostileCase{name: "key with ../", key: g + "../escape.jpg", body: good(5), want: outcome{Put: `Resource name contains bad components such as ".."`}},
		hostileCase{name: "name with ..", key: g + "a..b.jpg", body: good(5), want: outcome{Ingest: `photo name "a..b.jpg" is not safe`}},
		hostileCase{name: "name with a space", key: g + "my photo.jpg", body: good(6), want: outcome{Ingest: `photo name "my photo.jpg" is not safe`}},
		hostileCase{name: "unicode name", key: g + "开幕式.jpg", body: good(7), want: outcome{Ingest: `photo name "开幕式.jpg" is not safe`}},
		hostileCase{name: "name of 200 bytes", key: g + long(200), body: good(8), want: outcome{Ingest: "is not safe (1-128 of"}},
		hostileCase{name: "name of 300 bytes", key: g + long(300), body: good(8), want: outcome{Put: "Object name contains unsupported characters"}},
		hostileCase{name: "nested", key: g + "sub/x.jpg", body: good(9), want: outcome{Ingest: "is nested: a gallery holds files, not folders"}},
		hostileCase{name: "no gallery", key: "loose.jpg", body: good(9), want: outcome{Ingest: "is not of the form <gallery-id>/<file>"}},
		hostileCase{name: "the gallery's folder marker", key: g, body: static(nil), want: outcome{Ignored: true}},
		hostileCase{name: "a sub-folder marker", key: g + "folder/", body: static(nil), want: outcome{Ignored: true}},

		// Gallery ids that are not slugs: the failure goes to
		// photodesk.failed.ingest._ (no gallery to name).
		hostileCase{name: "gallery id in upper case", key: "Summer-Expo/a.jpg", body: good(10), want: outcome{Ingest: `gallery id "Summer-Expo" is not a slug`}},
		hostileCase{name: "gallery id with an underscore", key: "summer_expo/a.jpg", body: good(10), want: outcome{Ingest: `gallery id "summer_expo" is not a slug`}},
		hostileCase{name: "gallery id of 65 characters", key: strings.Repeat("g", 65) + "/a.jpg", body: good(10), want: outcome{Ingest: "is not a slug (1-64 of"}},
		hostileCase{name: "unicode gallery id", key: "画廊/a.jpg", body: good(10), want: outcome{Ingest: `gallery id "画廊" is not a slug`}},
		hostileCase{name: "gallery id with NATS wildcards", key: "a.*.>/a.jpg", body: good(10), want: outcome{Ingest: `gallery id "a.*.>" is not a slug`}},
	)
}

// hostileText is markup and script that the good gallery's words carry.
const hostileText = `<script>alert("x")</script><img src=x onerror=alert(1)>`

type object struct {
	body []byte
	meta map[string]string
}

// goodGalleryObjects is the gallery uploaded alongside the corpus: good
// photos whose words (manifest, embedded EXIF, upload metadata) carry
// markup, script, control characters and invalid UTF-8.
func goodGalleryObjects(t *testing.T) map[string]object {
	manifest, err := json.Marshal(map[string]any{
		"headline": "高清大图|" + hostileText + "\u001b]0;pwned\u0007",
		"byline":   []string{"张晓明", "</title><script>alert(3)</script>"},
		"dateline": "北京<b>",
		"photos": []map[string]string{
			{"file": "01-manifest.jpg", "caption": "开幕\u0000\u001b[2J" + hostileText},
			{"file": "02-exif.jpg"},
			{"file": "03-meta.jpg"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return map[string]object{
		"01-manifest.jpg": {body: photo(t, 21, &fixture.EXIF{DateTimeOriginal: "2026:07:28 09:00:00"})},
		"02-exif.jpg":     {body: fixture.EXIFCaptionJPEG("展台\xff\xfe"+hostileText, 22)},
		"03-meta.jpg":     {body: photo(t, 23, &fixture.EXIF{DateTimeOriginal: "2026:07:28 11:00:00"}), meta: map[string]string{"caption": "闭幕 " + hostileText}},
		"gallery.json":    {body: manifest},
	}
}

func manifestCorpus() []manifestCase {
	text := func(s string) func() []byte { return func() []byte { return []byte(s) } }
	return []manifestCase{
		{name: "not JSON (cut short)", gallery: "manifest-not-json", manifest: text(`{"headline": "开幕", "photos": [`),
			fail: `gallery.json is not valid JSON: it ends at line 1, column 31 before the JSON does (a missing "]" or "}"?)`},
		{name: "JSON, but an array", gallery: "manifest-array", manifest: text(`["a.jpg", "b.jpg"]`),
			fail: `gallery.json must be a JSON object such as {"headline": "…", "photos": […]}, not an array`},
		{name: "empty", gallery: "manifest-empty", manifest: text(""), fail: "gallery.json is empty"},
		{name: "a JPEG named gallery.json", gallery: "manifest-jpeg", manifest: fixture.HugeCountEXIFJPEG,
			fail: "gallery.json is not valid UTF-8 text; save it as UTF-8"},
		{name: "caption with invalid UTF-8", gallery: "manifest-bad-utf8", manifest: text(`{"headline": "开幕", "photos": [{"file": "a.jpg", "caption": "caf` + "\xe9" + `"}]}`),
			fail: "gallery.json is not valid UTF-8 text; save it as UTF-8"},
		{name: "a photo listed twice", gallery: "manifest-repeat", manifest: text(`{"headline": "开幕", "photos": [{"file": "a.jpg"}, {"file": "b.jpg"}, {"file": "a.jpg"}]}`),
			fail: "gallery.json: a.jpg is listed twice (photos 1 and 3)"},
		{name: "10,000 photos", gallery: "manifest-10000", manifest: func() []byte {
			var b strings.Builder
			b.WriteString(`{"headline": "开幕", "photos": [`)
			for i := range 10000 {
				if i > 0 {
					b.WriteString(",")
				}
				fmt.Fprintf(&b, `{"file": "p%05d.jpg"}`, i)
			}
			b.WriteString("]}")
			return []byte(b.String())
		}, fail: "gallery.json lists 10000 photos; the limit is 500"},
		{name: "over 1 MiB", gallery: "manifest-huge", manifest: func() []byte {
			return []byte(`{"headline": "开幕", "dateline": "` + strings.Repeat("北", 400_000) + `"}`)
		}, fail: "gallery.json is over the 1 MiB limit"},
		{name: "a path as a photo name", gallery: "manifest-path", manifest: text(`{"headline": "开幕", "photos": [{"file": "../../etc/passwd"}]}`),
			fail: `gallery.json: entry 1 of "photos": photo name "../../etc/passwd" is not safe`},
		{name: "an unknown photo", gallery: "manifest-unknown", photos: []string{"a.jpg"},
			manifest: text(`{"headline": "开幕", "photos": [{"file": "a.jpg"}, {"file": "missing.jpg"}]}`),
			waiting:  "missing.jpg: upload"},
		{name: "UTF-8 with a byte order mark (Windows Notepad)", gallery: "manifest-bom", photos: []string{"a.jpg"},
			manifest: text("\uFEFF{\"headline\": \"开幕\", \"photos\": [{\"file\": \"a.jpg\"}]}")},
	}
}

// hostileEvents is everything the pipeline said, by object key.
type hostileEvents struct {
	exif     map[string]contract.PhotoExif
	derivs   map[string]map[string]contract.PhotoDerivatives // role -> key
	failures map[string]map[string][]contract.Failure        // key -> stage
	uploaded map[string]int                                  // key -> photo.uploaded and gallery.submitted events
	articles map[string][]contract.ArticleEvent              // gallery
	held     map[string]contract.GalleryHeld
	all      []contract.Failure
}

func newHostileEvents() *hostileEvents {
	return &hostileEvents{
		exif:     map[string]contract.PhotoExif{},
		derivs:   map[string]map[string]contract.PhotoDerivatives{"renditions": {}, "watermark": {}},
		failures: map[string]map[string][]contract.Failure{},
		uploaded: map[string]int{},
		articles: map[string][]contract.ArticleEvent{},
		held:     map[string]contract.GalleryHeld{},
	}
}

func (ev *hostileEvents) take(t *testing.T, m jetstream.Msg) {
	subj := m.Subject()
	is := func(prefix string) bool { return strings.HasPrefix(subj, prefix+".") }
	switch {
	case is(contract.SubjectFailed):
		var f contract.Failure
		mustDecode(t, m, &f)
		if ev.failures[f.Key] == nil {
			ev.failures[f.Key] = map[string][]contract.Failure{}
		}
		ev.failures[f.Key][f.Stage] = append(ev.failures[f.Key][f.Stage], f)
		ev.all = append(ev.all, f)
	case is(contract.SubjectPhotoUploaded), is(contract.SubjectGallerySubmitted):
		var r contract.Ref
		mustDecode(t, m, &r)
		ev.uploaded[r.Key]++
	case is(contract.SubjectPhotoExif):
		var x contract.PhotoExif
		mustDecode(t, m, &x)
		ev.exif[x.Key] = x
	case is(contract.SubjectPhotoRenditions), is(contract.SubjectPhotoWatermarked):
		var d contract.PhotoDerivatives
		mustDecode(t, m, &d)
		ev.derivs[d.Role][d.Key] = d
	case is(contract.SubjectArticleReady), is(contract.SubjectArticleUpdated):
		var a contract.ArticleEvent
		mustDecode(t, m, &a)
		ev.articles[a.Gallery] = append(ev.articles[a.Gallery], a)
	case is(contract.SubjectGalleryHeld):
		var h contract.GalleryHeld
		mustDecode(t, m, &h)
		ev.held[h.Gallery] = h
	}
}

// has reports whether stage has said something (a result or a failure)
// about key.
func (ev *hostileEvents) has(key, stage string) bool {
	if len(ev.failures[key][stage]) > 0 {
		return true
	}
	switch stage {
	case "ingest":
		return ev.uploaded[key] > 0
	case "exif":
		_, ok := ev.exif[key]
		return ok
	case "renditions", "watermark":
		_, ok := ev.derivs[stage][key]
		return ok
	}
	return false
}

func (ev *hostileEvents) processedByAll(key string) bool {
	return ev.has(key, "exif") && ev.has(key, "renditions") && ev.has(key, "watermark")
}

// TestHostileInputs uploads the hostile corpus, galleries with hostile
// manifests and a good gallery, all at once, through MinIO's notification
// to the real roles, and checks every outcome; then that the same roles
// still publish a new gallery.
func TestHostileInputs(t *testing.T) {
	s := devstack.ForTest(t)
	startRoles(t, s, "ingest", "exif", "renditions", "watermark", "assembler")
	ctx := context.Background()
	store, err := pipeline.NewStore(s.Config)
	if err != nil {
		t.Fatal(err)
	}
	cases := hostileCorpus(t)
	manifests := manifestCorpus()
	goodObjs := goodGalleryObjects(t)

	// The hostile gallery's manifest lists the photos that can be shown:
	// the good ones, and those whose only fault is their EXIF.
	var listed []string
	for _, c := range cases {
		if c.want.reachesRoles() && c.want.Images == "" {
			listed = append(listed, strings.TrimPrefix(c.key, hostileGallery+"/"))
		}
	}
	type mphoto struct {
		File string `json:"file"`
	}
	var lp []mphoto
	for _, n := range listed {
		lp = append(lp, mphoto{n})
	}
	hostileManifest, err := json.Marshal(map[string]any{"headline": "hostile corpus", "photos": lp})
	if err != nil {
		t.Fatal(err)
	}

	// Everything goes up at once, four uploads at a time, the good gallery
	// among the rest; the manifests last.
	uploads := map[string]object{}
	var order []string
	add := func(key string, o object) { uploads[key] = o; order = append(order, key) }
	for i, c := range cases {
		add(c.key, object{body: c.body(t), meta: c.meta})
		if i%4 == 0 { // interleave the good gallery's photos
			for _, name := range []string{"01-manifest.jpg", "02-exif.jpg", "03-meta.jpg"} {
				if _, ok := uploads[goodGallery+"/"+name]; !ok {
					add(goodGallery+"/"+name, goodObjs[name])
					break
				}
			}
		}
	}
	for _, mc := range manifests {
		for i, p := range mc.photos {
			add(mc.gallery+"/"+p, object{body: photo(t, int64(40+i), nil)})
		}
	}
	add(hostileGallery+"/gallery.json", object{body: hostileManifest})
	add(goodGallery+"/gallery.json", goodObjs["gallery.json"])
	for _, mc := range manifests {
		add(mc.gallery+"/gallery.json", object{body: mc.manifest()})
	}
	putErrs := map[string]error{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for _, key := range order {
		o := uploads[key]
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			_, err := store.PutObject(ctx, s.Config.OriginalsBucket, key, bytes.NewReader(o.body), int64(len(o.body)),
				minio.PutObjectOptions{UserMetadata: o.meta})
			mu.Lock()
			putErrs[key] = err
			mu.Unlock()
		}()
	}
	wg.Wait()
	for _, key := range order {
		if err := putErrs[key]; err != nil && !isCaseKey(cases, key) {
			t.Fatalf("upload of %s: %v", key, err)
		}
	}
	for _, c := range cases {
		err := putErrs[c.key]
		switch {
		case c.want.Put == "" && err != nil:
			t.Fatalf("%s: upload of %q failed: %v", c.name, c.key, err)
		case c.want.Put != "" && (err == nil || !strings.Contains(err.Error(), c.want.Put)):
			t.Errorf("%s: MinIO's answer to %q was %v, want a refusal saying %q", c.name, c.key, err, c.want.Put)
		}
	}

	// Wait until every stage has said what it says of every case, and the
	// galleries are published or failed. A hang shows as a case that never
	// gets there.
	ev := newHostileEvents()
	done := func() bool {
		for _, c := range cases {
			switch {
			case c.want.Ingest != "" && !ev.has(c.key, "ingest"):
				return false
			case c.want.reachesRoles() && !ev.processedByAll(c.key):
				return false
			}
		}
		for _, mc := range manifests {
			if mc.fail != "" && !ev.has(mc.gallery+"/gallery.json", "assembler") {
				return false
			}
			for _, p := range mc.photos {
				if !ev.processedByAll(mc.gallery + "/" + p) {
					return false
				}
			}
			if mc.fail == "" && mc.waiting == "" && len(ev.articles[mc.gallery]) == 0 {
				return false
			}
		}
		return len(ev.articles[goodGallery]) > 0 && len(ev.articles[hostileGallery]) > 0
	}
	follow(t, s.Config, nil, 60*time.Second, func(m jetstream.Msg) { ev.take(t, m) }, done)
	if !done() {
		for _, c := range cases {
			if c.want.reachesRoles() && !ev.processedByAll(c.key) {
				t.Errorf("%s: no result or failure from every stage (exif %v, renditions %v, watermark %v)",
					c.name, ev.has(c.key, "exif"), ev.has(c.key, "renditions"), ev.has(c.key, "watermark"))
			}
		}
		t.Fatalf("the pipeline did not finish the corpus within 60s; published %v", keysOf(ev.articles))
	}

	// Every role settles: nothing pending, nothing unacked, nothing hung.
	// Then everything is read again: a late retry or a second result of
	// any case would show now.
	nc, js, err := pipeline.Connect(s.Config, t.Name())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	settle(t, js, contract.S3EventsStream, "ingest")
	for _, role := range []string{"exif", "renditions", "watermark", "assembler"} {
		settle(t, js, contract.EventsStream, role)
	}
	ev = newHostileEvents()
	readAllEvents(t, s.Config, js, func(m jetstream.Msg) { ev.take(t, m) })

	var table strings.Builder
	table.WriteString("| case | object key | outcome |\n| --- | --- | --- |\n")
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checkCase(t, ev, c)
			if c.want.reachesRoles() && c.want.Images == "" {
				checkCaseDerivatives(t, store, ev, c)
			}
		})
		key := c.key
		if len(key) > 60 {
			key = fmt.Sprintf("%s… (%d bytes)", key[:24], len(key))
		}
		fmt.Fprintf(&table, "| %s | `%s` | %s |\n", c.name, key, c.want)
	}
	for _, mc := range manifests {
		t.Run("manifest/"+mc.name, func(t *testing.T) { checkManifestCase(t, s.Config, ev, mc) })
		out := "failed in assembler: " + mc.fail
		switch {
		case mc.waiting != "":
			out = "not failed; the gallery waits for " + mc.waiting
		case mc.fail == "":
			out = "published"
		}
		fmt.Fprintf(&table, "| gallery.json: %s | `%s/gallery.json` | %s |\n", mc.name, mc.gallery, out)
	}

	// Every failure event of the run: of a case, for good, at once, with a
	// reason a photographer can read, and no handler panicked.
	for _, f := range ev.all {
		if strings.Contains(f.Reason, "panicked") {
			t.Errorf("%s %s: a handler panicked: %s", f.Stage, f.Key, f.Reason)
		}
		if !f.Permanent || f.Attempts != 1 {
			t.Errorf("%s %s: failed after %d attempts (permanent %v): a bad input must fail at once: %s", f.Stage, f.Key, f.Attempts, f.Permanent, f.Reason)
		}
		if strings.ContainsAny(f.Reason, "\n\r") || strings.Contains(f.Reason, "Stack") || strings.Contains(f.Reason, "goroutine") ||
			strings.Contains(f.Reason, ".go:") || len(f.Reason) > 400 || !utf8.ValidString(f.Reason) {
			t.Errorf("%s %s: reason is not one short line for a person: %q", f.Stage, f.Key, f.Reason)
		}
		if !isCaseKey(cases, f.Key) && !strings.HasSuffix(f.Key, "/gallery.json") {
			t.Errorf("%s failed %s, which is no hostile case: %s", f.Stage, f.Key, f.Reason)
		}
	}

	// The hostile gallery is published with the photos its manifest lists,
	// those with unreadable EXIF without a date; the good gallery uploaded
	// alongside is published with its words escaped.
	checkArticle(t, store, s.Config, ev, hostileGallery, len(listed), func(t *testing.T, record, _ []byte) {
		var rec assembler.Ninjs
		if err := json.Unmarshal(record, &rec); err != nil {
			t.Fatal(err)
		}
		for _, a := range rec.Associations {
			name := strings.TrimPrefix(strings.Split(a.URI, "@")[0], "urn:photodesk:photo:"+hostileGallery+"/")
			switch {
			case strings.HasPrefix(name, "exif-") && a.EdNote != "capture date unknown: EXIF could not be read":
				t.Errorf("%s: ednote %q", name, a.EdNote)
			case name == "meta-caption.jpg" && a.Descriptions[0].Value != "7月28日,闭幕\uFFFD<script>":
				t.Errorf("%s: caption %q", name, a.Descriptions[0].Value)
			}
		}
	})
	checkArticle(t, store, s.Config, ev, goodGallery, 3, checkEscaped)

	// Still alive: the same roles publish a new gallery.
	putObject(t, s.Config, "after-corpus/a.jpg", photo(t, 99, &fixture.EXIF{DateTimeOriginal: "2026:07:30 08:00:00"}))
	putObject(t, s.Config, "after-corpus/gallery.json", []byte(`{"headline": "之后"}`))
	var after []contract.ArticleEvent
	follow(t, s.Config, []string{contract.GallerySubject(contract.SubjectArticleReady, "after-corpus")}, 30*time.Second,
		func(m jetstream.Msg) {
			var a contract.ArticleEvent
			mustDecode(t, m, &a)
			after = append(after, a)
		}, func() bool { return len(after) > 0 })
	if len(after) != 1 || after[0].Photos != 1 {
		t.Errorf("after the corpus, a new gallery was not published: %+v", after)
	}
	t.Logf("%d objects, %d manifests, %d failure events:\n%s", len(cases), len(manifests), len(ev.all), table.String())
}

func isCaseKey(cases []hostileCase, key string) bool {
	for _, c := range cases {
		if c.key == key {
			return true
		}
	}
	return false
}

// readAllEvents reads the PHOTODESK stream from its start to its current end.
func readAllEvents(t *testing.T, cfg config.Config, js jetstream.JetStream, take func(jetstream.Msg)) {
	t.Helper()
	st, err := js.Stream(context.Background(), contract.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	last := info.State.LastSeq
	var seq uint64
	follow(t, cfg, nil, 30*time.Second, func(m jetstream.Msg) {
		take(m)
		if md, err := m.Metadata(); err == nil {
			seq = md.Sequence.Stream
		}
	}, func() bool { return seq >= last })
	if seq < last {
		t.Fatalf("read the events up to %d of %d", seq, last)
	}
}

// checkCase compares what every stage said about c with c.want.
func checkCase(t *testing.T, ev *hostileEvents, c hostileCase) {
	t.Helper()
	w := c.want
	if !w.reachesRoles() {
		// Refused by MinIO, ignored or failed by ingest: no role hears of it.
		for _, st := range []string{"exif", "renditions", "watermark"} {
			if ev.has(c.key, st) {
				t.Errorf("%s heard of an object that should not reach it", st)
			}
		}
		if w.Put != "" || w.Ignored {
			if ev.has(c.key, "ingest") {
				t.Errorf("ingest announced it or failed it: %+v", ev.failures[c.key])
			}
			return
		}
	}
	expect := map[string]string{"ingest": w.Ingest, "exif": w.Exif, "renditions": w.Images, "watermark": w.Images}
	for _, st := range []string{"ingest", "exif", "renditions", "watermark"} {
		if st != "ingest" && !w.reachesRoles() {
			continue
		}
		fs, want := ev.failures[c.key][st], expect[st]
		switch {
		case want == "" && len(fs) > 0:
			t.Errorf("%s failed it: %q; want it processed", st, fs[0].Reason)
		case want != "" && len(fs) != 1:
			t.Errorf("%s: %d failure events, want one saying %q", st, len(fs), want)
		case want != "" && !strings.Contains(fs[0].Reason, want):
			t.Errorf("%s failed it with %q, want a reason containing %q", st, fs[0].Reason, want)
		}
		for _, f := range fs {
			if f.Stage != st || f.Key != c.key {
				t.Errorf("failure event names stage %q and key %q", f.Stage, f.Key)
			}
			if c.want.Ingest == "" && f.Gallery != hostileGallery {
				t.Errorf("failure event names gallery %q", f.Gallery)
			}
		}
	}
	if !w.reachesRoles() {
		return
	}
	if ev.uploaded[c.key] != 1 {
		t.Errorf("%d photo.uploaded events, want 1", ev.uploaded[c.key])
	}
	if _, ok := ev.exif[c.key]; ok == (w.Exif != "") {
		t.Errorf("exif result published: %v; exif failure expected: %v", ok, w.Exif != "")
	}
	if x, ok := ev.exif[c.key]; ok && w.Provenance != "" {
		p := x.Exif.Provenance
		if p == nil || p.State != contract.ProvenanceInvalid || !strings.Contains(p.Reason, w.Provenance) {
			t.Errorf("Content Credentials read as %+v, want invalid saying %q", p, w.Provenance)
		}
	}
	for _, role := range []string{"renditions", "watermark"} {
		if _, ok := ev.derivs[role][c.key]; ok == (w.Images != "") {
			t.Errorf("%s derivatives published: %v; failure expected: %v", role, ok, w.Images != "")
		}
	}
}

// checkCaseDerivatives fetches a processed photo's JPEG derivatives and
// checks each is a JPEG of the size its event says, and the thumbnail is
// what c.thumb wants.
func checkCaseDerivatives(t *testing.T, store *pipeline.Store, ev *hostileEvents, c hostileCase) {
	t.Helper()
	r, w := ev.derivs["renditions"][c.key], ev.derivs["watermark"][c.key]
	if len(r.Derivatives) != 12 || len(w.Derivatives) != 2 {
		t.Fatalf("%d renditions and %d watermarked copies, want 12 (6 of them crops) and 2", len(r.Derivatives), len(w.Derivatives))
	}
	for _, d := range append(r.Derivatives, w.Derivatives...) {
		if d.Format != "jpeg" {
			continue
		}
		obj, err := store.GetObject(context.Background(), d.Bucket, d.Key, minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(obj)
		obj.Close()
		if err != nil {
			t.Fatalf("%s: %v", d.Key, err)
		}
		img, err := jpeg.Decode(bytes.NewReader(b))
		if err != nil {
			t.Errorf("%s: not a JPEG: %v", d.Key, err)
			continue
		}
		if sz := img.Bounds().Size(); sz.X != d.Width || sz.Y != d.Height || sz.X == 0 || int64(len(b)) != d.Size {
			t.Errorf("%s: %v in %d bytes; the event says %dx%d in %d", d.Key, sz, len(b), d.Width, d.Height, d.Size)
		}
		if d.Preset == "thumb" && c.thumb != nil {
			c.thumb(t, img)
		}
	}
}

// near checks the middle of a thumbnail is about colour c.
func near(c color.RGBA) func(*testing.T, image.Image) {
	return func(t *testing.T, img image.Image) {
		t.Helper()
		b := img.Bounds()
		r, g, bl, _ := img.At(b.Min.X+b.Dx()/2, b.Min.Y+b.Dy()/2).RGBA()
		got := [3]float64{float64(r >> 8), float64(g >> 8), float64(bl >> 8)}
		want := [3]float64{float64(c.R), float64(c.G), float64(c.B)}
		for i := range got {
			if math.Abs(got[i]-want[i]) > 45 {
				t.Errorf("middle pixel %v, want about %v", got, want)
				return
			}
		}
	}
}

// notFlat checks a thumbnail of a scene shows a scene, not one colour (the
// black or grey of a decode gone wrong).
func notFlat(t *testing.T, img image.Image) {
	t.Helper()
	b := img.Bounds()
	var sum, sq, n float64
	for y := b.Min.Y; y < b.Max.Y; y += 4 {
		for x := b.Min.X; x < b.Max.X; x += 4 {
			r, g, bl, _ := img.At(x, y).RGBA()
			l := float64(r+g+bl) / 3 / 257
			sum, sq, n = sum+l, sq+l*l, n+1
		}
	}
	mean := sum / n
	if sd := math.Sqrt(sq/n - mean*mean); sd < 10 {
		t.Errorf("thumbnail is flat: mean %.0f, sd %.1f", mean, sd)
	}
}

// checkManifestCase: a bad manifest fails in the assembler with its reason
// and nothing is published; an unknown photo leaves the gallery waiting,
// and says for what; a good one is published.
func checkManifestCase(t *testing.T, cfg config.Config, ev *hostileEvents, mc manifestCase) {
	t.Helper()
	fs := ev.failures[mc.gallery+"/"+contract.ManifestName]["assembler"]
	switch {
	case mc.fail != "" && (len(fs) != 1 || !strings.Contains(fs[0].Reason, mc.fail)):
		t.Errorf("assembler failures %+v, want one saying %q", fs, mc.fail)
	case mc.fail == "" && len(fs) != 0:
		t.Errorf("assembler failed the manifest: %q", fs[0].Reason)
	}
	published := len(ev.articles[mc.gallery])
	if want := mc.fail == "" && mc.waiting == ""; (published == 1) != want || published > 1 {
		t.Errorf("published %d versions; want published: %v", published, want)
	}
	if mc.waiting != "" {
		if got := waitingFor(context.Background(), cfg, mc.gallery); !strings.Contains(got, mc.waiting) {
			t.Errorf("the gallery says %q, want it waiting for %q", got, mc.waiting)
		}
	}
}

// checkArticle checks a gallery was published once, with photos photos,
// and passes its record and preview to check.
func checkArticle(t *testing.T, store *pipeline.Store, cfg config.Config, ev *hostileEvents, gallery string, photos int, check func(t *testing.T, record, preview []byte)) {
	t.Helper()
	as := ev.articles[gallery]
	if len(as) != 1 || as[0].Version != 1 || as[0].Photos != photos {
		t.Errorf("%s: %d article events (%+v), want one version of %d photos", gallery, len(as), as, photos)
		return
	}
	if h, ok := ev.held[gallery]; ok {
		t.Errorf("%s: held %+v", gallery, h)
	}
	get := func(key string) []byte {
		obj, err := store.GetObject(context.Background(), cfg.ArticlesBucket, key, minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer obj.Close()
		b, err := io.ReadAll(obj)
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		return b
	}
	record, preview := get(as[0].Key), get(as[0].PreviewKey)
	var rec assembler.Ninjs
	if err := json.Unmarshal(record, &rec); err != nil || len(rec.Associations) != photos {
		t.Errorf("%s: record with %d photos (%v)", gallery, len(rec.Associations), err)
	}
	check(t, record, preview)
}

// checkEscaped: the markup in the good gallery's words is text in the
// preview, never markup; the page has its CSP; control characters are gone
// and invalid UTF-8 became U+FFFD.
func checkEscaped(t *testing.T, record, preview []byte) {
	t.Helper()
	page := string(preview)
	if !utf8.Valid(preview) || !utf8.Valid(record) {
		t.Error("record or preview is not valid UTF-8")
	}
	if !strings.Contains(page, `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src http: https:; style-src 'unsafe-inline'">`) {
		t.Error("preview has no Content-Security-Policy")
	}
	low := strings.ToLower(page)
	for _, bad := range []string{"<script", "<img src=x", "</title><script", "<b>", "\x1b", "\x00", "\x07"} {
		if i := strings.Index(low, bad); i >= 0 {
			t.Errorf("preview holds %q unescaped: …%s…", bad, page[max(0, i-60):min(len(page), i+60)])
		}
	}
	// The headline (title and h1), the three captions (alt and figcaption)
	// and the byline (credits).
	if n := strings.Count(page, "&lt;script&gt;"); n != 9 {
		t.Errorf("preview shows the script text escaped %d times, want 9", n)
	}
	var rec assembler.Ninjs
	if err := json.Unmarshal(record, &rec); err != nil {
		t.Fatal(err)
	}
	if h := rec.Headlines[0].Value; h != "高清大图|"+hostileText+"]0;pwned" {
		t.Errorf("headline %q", h)
	}
	for i, want := range []string{
		"7月28日,开幕[2J" + hostileText,
		"7月28日,展台\uFFFD" + hostileText,
		"7月28日,闭幕 " + hostileText,
	} {
		if got := rec.Associations[i].Descriptions[0].Value; got != want {
			t.Errorf("photo %d caption %q, want %q", i+1, got, want)
		}
	}
	for _, b := range []string{string(record), page} {
		if i := strings.IndexFunc(b, func(r rune) bool { return unicode.IsControl(r) && r != '\n' }); i >= 0 {
			t.Errorf("control character %U in the record or preview", []rune(b[i:])[0])
		}
	}
}

// cmykJPEG is a flat red picture printed to CMYK through libvips's CMYK
// profile, which is embedded, as prepress sends them.
func cmykJPEG(t *testing.T) []byte {
	t.Helper()
	red := image.NewRGBA(image.Rect(0, 0, 320, 200))
	for i := 0; i < len(red.Pix); i += 4 {
		red.Pix[i], red.Pix[i+1], red.Pix[i+2], red.Pix[i+3] = 200, 40, 40, 255
	}
	src, err := fixture.JPEG(red, 95, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := withVips(src, func(img *vips.ImageRef) ([]byte, error) {
		if err := img.TransformICCProfile("cmyk"); err != nil {
			return nil, err
		}
		if img.Interpretation() != vips.InterpretationCMYK {
			return nil, fmt.Errorf("not CMYK after the transform: %v", img.Interpretation())
		}
		b, _, err := img.ExportJpeg(&vips.JpegExportParams{Quality: 95})
		return b, err
	})
	if err != nil {
		t.Fatalf("CMYK fixture: %v", err)
	}
	return b
}

// heicPhoto is a scene as HEIC (HEVC in HEIF), as phones write them, made
// by this machine's libvips through libheif; a JPEG where it has no HEIF
// writer (the case then only needs the HEIF signature in front).
func heicPhoto(t *testing.T) []byte {
	t.Helper()
	src := photo(t, 31, nil)
	b, err := withVips(src, func(img *vips.ImageRef) ([]byte, error) {
		b, _, err := img.ExportHeif(&vips.HeifExportParams{Quality: 80, Bitdepth: 8, Effort: 1})
		return b, err
	})
	if err != nil {
		if imaging.CanRead("heif") {
			t.Fatalf("libvips reads HEIF but cannot write the HEIC fixture: %v", err)
		}
		return src
	}
	return b
}

func withVips(src []byte, f func(*vips.ImageRef) ([]byte, error)) ([]byte, error) {
	imaging.Start(nil)
	img, err := vips.NewImageFromBuffer(src)
	if err != nil {
		return nil, err
	}
	defer img.Close()
	return f(img)
}
