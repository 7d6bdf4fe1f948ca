package contract

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Ref names the photo (or manifest) an event is about. Every photodesk event
// embeds it, so logs and failure events can always say which photo.
type Ref struct {
	Gallery string `json:"gallery"`
	Photo   string `json:"photo,omitempty"`
	Bucket  string `json:"bucket,omitempty"`
	Key     string `json:"key,omitempty"`
	ETag    string `json:"etag,omitempty"`
}

// PhotoUploaded says an original landed in the originals bucket.
type PhotoUploaded struct {
	Ref
	Size        int64             `json:"size"`
	ContentType string            `json:"content_type,omitempty"`
	VersionID   string            `json:"version_id,omitempty"`
	Metadata    map[string]string `json:"metadata,omitempty"` // S3 user metadata, lower-case names without x-amz-meta-
	UploadedAt  time.Time         `json:"uploaded_at"`
	// Reprocess is set when `photodesk reprocess` announced the original
	// again, rather than an upload.
	Reprocess *Reprocess `json:"reprocess,omitempty"`
	// Refocus is set when the assembler announced the original again
	// because its crops were made around another focal point than its
	// gallery.json now gives: that focal point, "x,y", or "-" for none
	// (FocusKey). It is addressed (RolesHeader) to the roles whose crops
	// are stale; they make the crops again and reuse the rest.
	Refocus string `json:"refocus,omitempty"`
}

// Reprocess marks the photo.uploaded events of one `photodesk reprocess`
// run. The roles copy Run into their results, and the assembler waits until
// every photo of the run has its results before it publishes, so a run makes
// at most one new record version, not one per photo.
type Reprocess struct {
	// Run identifies the run; run ids sort in the order the runs started.
	Run string `json:"run"`
	// Photos is how many photos of the gallery the run announces.
	Photos int `json:"photos"`
}

// Original is one object of the originals bucket, as a bucket notification
// (ingest) or a listing (`photodesk reprocess`) tells it.
type Original struct {
	Bucket, Key, ETag string
	Size              int64
	ContentType       string
	VersionID         string
	Metadata          map[string]string // user metadata: lower-case names without x-amz-meta-
	At                time.Time         // when it was written
	Reprocess         *Reprocess
}

// OriginalEvent is the event that announces an original to the roles:
// gallery.submitted for a gallery's manifest, photo.uploaded for a photo,
// with a Nats-Msg-Id from its key and ETag. Ingest and reprocess both build
// it here, so a reprocessed photo reaches the roles as its upload did.
func OriginalEvent(o Original) (Output, error) {
	gallery, name, err := SplitKey(o.Key)
	if err != nil {
		return Output{}, err
	}
	ref := Ref{Gallery: gallery, Bucket: o.Bucket, Key: o.Key, ETag: strings.Trim(o.ETag, `"`)}
	if ref.ETag == "" {
		return Output{}, fmt.Errorf("object %q: event has no ETag", o.Key)
	}
	if name == ManifestName {
		return JSONOutput(GallerySubject(SubjectGallerySubmitted, gallery), MsgID("submitted", ref),
			GallerySubmitted{Ref: ref, Size: o.Size, SubmittedAt: o.At})
	}
	ref.Photo = name
	return JSONOutput(GallerySubject(SubjectPhotoUploaded, gallery), MsgID("uploaded", ref),
		PhotoUploaded{
			Ref: ref, Size: o.Size, ContentType: o.ContentType, VersionID: o.VersionID,
			Metadata: o.Metadata, UploadedAt: o.At, Reprocess: o.Reprocess,
		})
}

// GallerySubmitted says a gallery's manifest landed (or was replaced).
type GallerySubmitted struct {
	Ref
	Size        int64     `json:"size"`
	SubmittedAt time.Time `json:"submitted_at"`
}

// Failure says a stage gave up on a photo, and why.
type Failure struct {
	Ref
	Stage     string `json:"stage"`
	Reason    string `json:"reason"`
	Permanent bool   `json:"permanent"` // false: gave up after MaxDeliver transient failures
	Attempts  int    `json:"attempts"`
	// Event names the event that failed: its subject and stream sequence.
	EventSubject string    `json:"event_subject"`
	EventSeq     uint64    `json:"event_seq"`
	FailedAt     time.Time `json:"failed_at"`
}

// PhotoResult is what every photo stage's result event holds at least:
// which original it answers, and the reprocess run. The gallery model
// records a stage's answer from it when it needs nothing more of the
// result (a stage added to the table with no field of its own).
type PhotoResult struct {
	Ref
	Run string `json:"run,omitempty"`
}

// PhotoExif is the exif role's result for one photo.
type PhotoExif struct {
	Ref
	Exif ExifData `json:"exif"`
	// BytesRead is how much of the original was fetched to read it.
	BytesRead int64 `json:"bytes_read"`
	// Run is the reprocess run this result answers (Reprocess.Run).
	Run string `json:"run,omitempty"`
}

// ExifData are the facts read from a photo's header and EXIF block.
type ExifData struct {
	Format  string `json:"format"`  // sniffed from the bytes: jpeg, png, webp, tiff, heif, gif
	Present bool   `json:"present"` // an EXIF block was found and read
	// CapturedAt is when the photo was taken; absent when nothing says.
	CapturedAt *time.Time `json:"captured_at,omitempty"`
	// DateSource is where CapturedAt came from, the first usable of:
	// DateTimeOriginal, XMP exif:DateTimeOriginal, XMP
	// photoshop:DateCreated, IPTC DateCreated, DateTimeDigitized, DateTime,
	// GPSDateTime.
	DateSource string `json:"date_source,omitempty"`
	// ZoneSource is where its UTC offset came from: an OffsetTime* tag,
	// the XMP date itself, IPTC TimeCreated, newsroom-zone (no offset in
	// the file), or utc-gps.
	ZoneSource  string   `json:"zone_source,omitempty"`
	Make        string   `json:"make,omitempty"`
	Model       string   `json:"model,omitempty"`
	Artist      string   `json:"artist,omitempty"`    // EXIF Artist
	Copyright   string   `json:"copyright,omitempty"` // EXIF Copyright
	Orientation int      `json:"orientation,omitempty"`
	Width       int      `json:"width,omitempty"`
	Height      int      `json:"height,omitempty"`
	GPS         *GPS     `json:"gps,omitempty"`
	Notes       []string `json:"notes,omitempty"`

	// Caption is the photo's embedded caption: XMP dc:description, else
	// IPTC Caption-Abstract, else EXIF ImageDescription; line breaks kept.
	Caption string `json:"caption,omitempty"`
	// CaptionSource is where Caption came from: xmp, iptc or exif.
	CaptionSource string `json:"caption_source,omitempty"`
	// Byline is the photo's embedded byline: XMP dc:creator, else IPTC
	// By-line, else EXIF Artist; one line, several names joined with "、".
	Byline string `json:"byline,omitempty"`
	// BylineSource is where Byline came from: xmp, iptc or exif.
	BylineSource string `json:"byline_source,omitempty"`
	// Rights are the credit and rights fields the original embeds (XMP,
	// IPTC, EXIF); nil when it embeds none.
	Rights *Rights `json:"rights,omitempty"`
	// Provenance is what the original's C2PA manifest says, validated on
	// arrival; nil when the format is not one C2PA is read from.
	Provenance *Provenance `json:"provenance,omitempty"`
}

// Provenance states of an original's Content Credentials.
const (
	ProvenanceNone    = "none"    // no C2PA manifest
	ProvenanceValid   = "valid"   // intact and signed, by a signer not on the trust list
	ProvenanceTrusted = "trusted" // intact and signed by a trusted signer
	ProvenanceInvalid = "invalid" // a check failed: Codes and Reason say which
)

// Provenance is an original's C2PA manifest as validated: its state, who
// signed it with what, and what it says was done.
type Provenance struct {
	State string `json:"state"`
	// Codes are the C2PA validation status codes that failed (for valid:
	// signingCredential.untrusted); Reason says them in words.
	Codes  []string `json:"codes,omitempty"`
	Reason string   `json:"reason,omitempty"`
	// Passed are the checks that passed, carried into the renditions'
	// ingredient as its validation results.
	Passed    []string   `json:"passed,omitempty"`
	Signer    string     `json:"signer,omitempty"`
	Issuer    string     `json:"issuer,omitempty"`
	Generator string     `json:"generator,omitempty"`
	Manifest  string     `json:"manifest,omitempty"` // the active manifest's label
	Actions   []string   `json:"actions,omitempty"`
	SignedAt  *time.Time `json:"signed_at,omitempty"`
	// GenerativeAI says an action declares a generative-AI source
	// (digitalSourceType trainedAlgorithmicMedia or a composite with it).
	GenerativeAI      bool   `json:"generative_ai,omitempty"`
	DigitalSourceType string `json:"digital_source_type,omitempty"`
	// StoreStart and StoreLength are where the manifest store sits in the
	// original (APP11 segments or the C2PA chunk), so the assembler reads
	// only them to carry the store into the renditions' manifests.
	StoreStart  int64 `json:"store_start,omitempty"`
	StoreLength int64 `json:"store_length,omitempty"`
}

// Line says in one line what an original's Content Credentials are: for
// the record and `photodesk status`.
func (p *Provenance) Line() string {
	var b strings.Builder
	switch p.State {
	case ProvenanceNone:
		return "Original: no Content Credentials"
	case ProvenanceTrusted:
		b.WriteString("Original: Content Credentials intact, signed by a trusted signer")
	case ProvenanceValid:
		b.WriteString("Original: Content Credentials intact, signer not on the trust list")
	default:
		b.WriteString("Original: Content Credentials INVALID")
		if len(p.Codes) > 0 {
			b.WriteString(" (" + strings.Join(p.Codes, ", ") + ")")
		}
		if p.Reason != "" {
			b.WriteString(": " + p.Reason)
		}
	}
	if p.Signer != "" {
		b.WriteString("; signer " + p.Signer)
	}
	if p.Generator != "" {
		b.WriteString("; made with " + p.Generator)
	}
	if len(p.Actions) > 0 {
		b.WriteString("; actions " + strings.Join(p.Actions, ", "))
	}
	if p.GenerativeAI {
		b.WriteString("; declares a generative-AI source (" + p.DigitalSourceType + ")")
	}
	return b.String()
}

// Proven says the original carries intact Content Credentials.
func (p *Provenance) Proven() bool {
	return p != nil && (p.State == ProvenanceValid || p.State == ProvenanceTrusted)
}

// GPS is a position in degrees (south and west negative), altitude in metres.
type GPS struct {
	Lat float64  `json:"lat"`
	Lon float64  `json:"lon"`
	Alt *float64 `json:"alt,omitempty"`
}

// PhotoDerivatives says what an image role (renditions or watermark) wrote
// for one original: every derivative, where it is, and its size.
type PhotoDerivatives struct {
	Ref
	Role   string      `json:"role"`
	Source ImageSource `json:"source"`
	// Derivatives are in preset order, then format order, as configured.
	Derivatives []Derivative `json:"derivatives"`
	// Run is the reprocess run this result answers (Reprocess.Run).
	Run string `json:"run,omitempty"`
}

// ImageSource describes the original as the image roles saw it.
type ImageSource struct {
	// Format is sniffed from the bytes: jpeg, png, webp, tiff, heif or gif.
	Format string `json:"format"`
	// Width and Height are upright (EXIF orientation applied).
	Width  int   `json:"width"`
	Height int   `json:"height"`
	Size   int64 `json:"size"`
	// SHA256 is the original's hash (hex), named in its renditions' C2PA
	// manifests as their parent's.
	SHA256 string `json:"sha256,omitempty"`
}

// Derivative is one object in the derivatives bucket.
type Derivative struct {
	Preset      string `json:"preset"`
	Format      string `json:"format"` // jpeg, webp or avif
	Bucket      string `json:"bucket"`
	Key         string `json:"key"`
	ContentType string `json:"content_type"`
	Width       int    `json:"width"`
	Height      int    `json:"height"`
	Size        int64  `json:"size"`
	ETag        string `json:"etag"`
	Watermarked bool   `json:"watermarked,omitempty"`
	// Reused says the object was already there for this source ETag and
	// settings (a redelivery), so it was not made again.
	Reused bool `json:"reused,omitempty"`
	// Aspect is a crop's aspect ratio, "16:9"; empty for a rendition
	// that keeps the picture's.
	Aspect string `json:"aspect,omitempty"`
	// Focus is the centre of interest a crop was made around.
	Focus *Focus `json:"focus,omitempty"`
	// Note says why a crop could not use the image region embedded in
	// the original (outside the picture, unreadable): such a crop holds
	// its gallery until gallery.json gives the photo a focus.
	Note string `json:"note,omitempty"`
}

// Where a crop's focus came from, in the order they are tried.
const (
	FocusGallery   = "gallery"   // the photo's focus in gallery.json
	FocusRegion    = "region"    // an IPTC image region embedded in the original
	FocusAttention = "attention" // libvips' attention-based smart crop
)

// Focus is a point of a picture, x and y in 0..1 of its upright width and
// height from the top left: the centre of interest a crop keeps in frame.
type Focus struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
	// Source is FocusGallery, FocusRegion or FocusAttention (where the
	// smart crop put the crop's centre).
	Source string `json:"source,omitempty"`
}

// FocusKey names a focal point in fingerprints and Msg-Ids: "x,y", or "-"
// for none.
func FocusKey(f *Focus) string {
	if f == nil {
		return "-"
	}
	return strconv.FormatFloat(f.X, 'f', -1, 64) + "," + strconv.FormatFloat(f.Y, 'f', -1, 64)
}

// SameFocus says f and g are the same point from the same source, to
// within a thousandth (what survives a decimal round trip).
func SameFocus(f, g *Focus) bool {
	if f == nil || g == nil {
		return f == g
	}
	near := func(a, b float64) bool { return a-b < 1e-3 && b-a < 1e-3 }
	return f.Source == g.Source && near(f.X, g.X) && near(f.Y, g.Y)
}

// ArticleEvent announces one version of a gallery's publish-ready record.
type ArticleEvent struct {
	Gallery        string    `json:"gallery"`
	Version        int       `json:"version"`
	FirstCreated   time.Time `json:"firstcreated"`
	VersionCreated time.Time `json:"versioncreated"`
	// Bucket, Key and PreviewKey locate the record (ninjs JSON) and its
	// HTML preview in the articles bucket.
	Bucket     string `json:"bucket"`
	Key        string `json:"key"`
	PreviewKey string `json:"preview_key"`
	Photos     int    `json:"photos"`
	// Record is the ninjs 2.2 item itself, so a subscriber needs nothing
	// else.
	Record json.RawMessage `json:"record"`
}

// GalleryDue is a scheduled gallery's schedule, published again by
// JetStream at PublishAt on SubjectGalleryDue.
type GalleryDue struct {
	Gallery   string    `json:"gallery"`
	PublishAt time.Time `json:"publish_at"`
}

// GalleryHeld says why a gallery is not published.
type GalleryHeld struct {
	Gallery string      `json:"gallery"`
	Failed  []HeldPhoto `json:"failed"`
	HeldAt  time.Time   `json:"held_at"`
}

// HeldPhoto is one listed photo that failed, with the stage and reason.
type HeldPhoto struct {
	Photo  string `json:"photo"`
	Stage  string `json:"stage"`
	Reason string `json:"reason"`
}
