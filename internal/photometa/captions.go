package photometa

import (
	"fmt"
	"strings"

	"github.com/photodesk/photodesk/pipeline/contract"
)

// Where Caption and Byline came from (Exif.CaptionSource, BylineSource).
const (
	SourceXMP  = "xmp"
	SourceIPTC = "iptc"
	SourceEXIF = "exif"
)

// BylineSeparator joins the names of a byline with several (dc:creator
// entries, repeated IPTC By-line datasets): the enumeration comma of Chinese
// text, whatever the script of the names.
const BylineSeparator = "、"

// Limits on the caption metadata. An XMP packet or Photoshop resource block
// over its limit is not read at all; a caption or byline over its limit is
// cut, at a character boundary, with a note. The event carrying them must
// stay well under NATS's 1 MB message limit.
const (
	maxXMP         = 1 << 20 // an XMP packet; a JPEG's standard XMP is under 64 KiB
	maxPhotoshop   = 1 << 20 // a JPEG's APP13 resources, all segments together; a TIFF's IPTC block
	maxCaption     = 16 << 10
	maxByline      = 1 << 10
	maxBylineNames = 64
)

// captionText is what one metadata block says.
type captionText struct {
	caption string
	names   []string        // byline names, cleaned, non-empty, without repeats
	dates   []statedDate    // capture dates, as written
	rights  contract.Rights // cleaned, not yet bounded (boundRights)
}

// readCaptions sets Caption, Byline, their sources and Rights from what the
// container reader found and the EXIF read before: the first block that
// has a non-empty value wins, in the order XMP, IPTC IIM, EXIF, for each
// field separately. Nothing here fails the photo: damage is a note, and the
// block it is in gives what could be read before it, or nothing.
func readCaptions(c container, x *Exif) (dates []statedDate) {
	var xm, ip captionText
	if c.xmp != nil {
		xm = readXMP(c.xmp, x)
	}
	iim := c.iim
	if c.photoshop != nil {
		iim = photoshopIPTC(c.photoshop, x)
	}
	if iim != nil {
		ip = readIIM(iim, x)
	}
	ex := captionText{caption: cleanCaption(x.imageDescription)}
	if ex.caption != "" && isCameraDefault(ex.caption, x.Make, x.Model) {
		if xm.caption == "" && ip.caption == "" {
			x.note("EXIF: ImageDescription %q is a camera's default text, not a caption; ignored", clip(ex.caption, 64))
		}
		ex.caption = ""
	}
	if a := cleanName(x.Artist); a != "" {
		ex.names = []string{a}
	}
	x.Rights = boundRights(xm.rights.Or(ip.rights).Or(exifRights(x)), x)

	for _, b := range []struct {
		t      captionText
		source string
	}{{xm, SourceXMP}, {ip, SourceIPTC}, {ex, SourceEXIF}} {
		if x.CaptionSource == "" && b.t.caption != "" {
			x.Caption, x.CaptionSource = b.t.caption, b.source
		}
		if x.BylineSource == "" && len(b.t.names) > 0 {
			x.Byline, x.BylineSource = strings.Join(b.t.names, BylineSeparator), b.source
		}
	}
	if len(x.Caption) > maxCaption {
		x.Caption = strings.TrimSpace(cut(x.Caption, maxCaption))
		x.note("%s caption cut to its first %d KiB", x.CaptionSource, maxCaption>>10)
	}
	if len(x.Byline) > maxByline {
		x.Byline = strings.TrimSpace(cut(x.Byline, maxByline))
		x.note("%s byline cut to its first %d KiB", x.BylineSource, maxByline>>10)
	}
	return append(xm.dates, ip.dates...)
}

// cleanCaption is a caption as valid UTF-8 without NULs, with its line
// breaks as "\n" (IPTC writers use "\r") and no surrounding white space.
// Line breaks inside it stay: captions can have paragraphs.
func cleanCaption(s string) string {
	s = strings.ReplaceAll(s, "\x00", "")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	return strings.TrimSpace(strings.ToValidUTF8(s, "\uFFFD"))
}

// cleanName is a name on one line: runs of white space (line breaks too)
// become one space, and none surround it.
func cleanName(s string) string {
	s = strings.ReplaceAll(s, "\x00", "")
	return strings.Join(strings.Fields(strings.ToValidUTF8(s, "\uFFFD")), " ")
}

// addName appends a byline name, cleaned, unless it is empty, already there
// or one too many.
func (t *captionText) addName(s string) {
	s = cleanName(s)
	if s == "" || len(t.names) == maxBylineNames {
		return
	}
	for _, n := range t.names {
		if n == s {
			return
		}
	}
	t.names = append(t.names, s)
}

// isCameraDefault reports an ImageDescription that is the text a camera
// writes into every photo ("OLYMPUS DIGITAL CAMERA", "SANYO DIGITAL
// CAMERA", ...), or its make or model, rather than a caption.
func isCameraDefault(s, make, model string) bool {
	u := strings.Join(strings.Fields(s), " ")
	if len(u) <= 48 && strings.HasSuffix(strings.ToUpper(u), "DIGITAL CAMERA") {
		return true
	}
	return make != "" && strings.EqualFold(u, strings.TrimSpace(make)) ||
		model != "" && strings.EqualFold(u, strings.TrimSpace(model))
}

// cut is contract.Cut.
var cut = contract.Cut

// clip is s cut to n bytes with "…" when longer, for notes.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return cut(s, n) + "…"
}

// quoteBytes shows a few bytes of a value in a note.
func quoteBytes(b []byte) string {
	if len(b) > 8 {
		return fmt.Sprintf("% X …", b[:8])
	}
	return fmt.Sprintf("% X", b)
}
