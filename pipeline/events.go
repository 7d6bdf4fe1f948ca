package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Streams. S3Events holds MinIO's bucket notifications as MinIO wrote them;
// Events holds everything photodesk itself publishes. Both keep history so
// a new consumer, or a newsroom system, can replay it.
const (
	S3EventsStream = "S3_EVENTS"
	EventsStream   = "PHOTODESK"

	// S3EventsSubject is where MinIO publishes notifications for the
	// originals bucket.
	S3EventsSubject = "photodesk.s3.originals"
)

// Subjects photodesk publishes. The last token is the gallery id (a slug, so
// always a valid token), letting a subscriber follow one gallery.
const (
	SubjectPhotoUploaded    = "photodesk.photo.uploaded"
	SubjectGallerySubmitted = "photodesk.gallery.submitted"
	SubjectPhotoExif        = "photodesk.photo.exif"
	SubjectPhotoRenditions  = "photodesk.photo.renditions"
	SubjectPhotoWatermarked = "photodesk.photo.watermarked"
	SubjectFailed           = "photodesk.failed" // photodesk.failed.<stage>.<gallery>
)

// EventsSubjects are the subjects of EventsStream.
var EventsSubjects = []string{"photodesk.photo.>", "photodesk.gallery.>", "photodesk.article.>", "photodesk.failed.>"}

// ReservedPrefix starts the originals keys photodesk writes for itself
// (the notification canary); ingest ignores them.
const ReservedPrefix = ".photodesk/"

// ManifestName is the gallery manifest's object name inside a gallery.
const ManifestName = "gallery.json"

// GallerySubject is subject prefix + "." + gallery.
func GallerySubject(prefix, gallery string) string {
	if gallery == "" {
		gallery = "_"
	}
	return prefix + "." + gallery
}

// FailedSubject is the subject of a failure event for stage and gallery.
func FailedSubject(stage, gallery string) string {
	return GallerySubject(SubjectFailed+"."+stage, gallery)
}

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

// AnnounceUpload publishes the event of an upload just stored at bucket/key: the
// event ingest makes of MinIO's notification, with the same Nats-Msg-Id,
// so the notification (MinIO's queue store sends it up to 3 s later) is
// dropped as a duplicate and the pipeline starts that much sooner. The
// notification stays the durable path: an upload whose announcement fails
// only waits for it; so while NATS is away it does not try (the uploader
// would wait for nothing), and returns nil. Its producer span is a child of
// ctx's (the upload's).
func AnnounceUpload(ctx context.Context, js jetstream.JetStream, store *Store, bucket, key string) error {
	if js.Conn().Status() != nats.CONNECTED {
		return nil
	}
	o, err := store.Original(ctx, bucket, key)
	if err != nil {
		return fmt.Errorf("announce %s: %w", key, err)
	}
	out, err := OriginalEvent(o)
	if err != nil {
		return err
	}
	sctx, span := StartCreateSpan(ctx, out, bucket, key)
	_, err = js.PublishMsg(sctx, &nats.Msg{Subject: out.Subject, Data: out.Data, Header: InjectHeader(sctx, out.Header)},
		jetstream.WithMsgID(out.MsgID))
	EndSpan(span, err)
	return err
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

// MsgID is the Nats-Msg-Id of an event derived from one object version, so
// that a redelivered or duplicated input publishes no second event.
func MsgID(kind string, r Ref) string {
	return kind + ":" + r.Bucket + "/" + r.Key + "@" + r.ETag
}

// ResultMsgID is the Nats-Msg-Id of a role's result for one object version:
// MsgID followed by a short hash of the reprocess run it answers (if any)
// and of what the result says (content: derivative keys and ETags, the EXIF
// facts). A redelivered input that finds the same result publishes nothing
// twice; a reprocess run's result, or a changed one (new watermark text, new
// presets), is published even within the duplicate window.
func ResultMsgID(kind string, r Ref, run string, content ...string) string {
	h := sha256.New()
	io.WriteString(h, run)
	for _, c := range content {
		io.WriteString(h, "\x00"+c)
	}
	return MsgID(kind, r) + "#" + hex.EncodeToString(h.Sum(nil)[:8])
}

var (
	gallerySlug = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$`)
	photoName   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)
)

// ValidGalleryID checks a gallery id: 1-64 lower-case letters, digits and
// inner hyphens, so it is safe as a path segment and a subject token.
func ValidGalleryID(id string) error {
	if !gallerySlug.MatchString(id) || strings.Contains(id, "--") {
		return fmt.Errorf("gallery id %q is not a slug (1-64 of a-z, 0-9 and single inner hyphens)", clip(id, 80))
	}
	return nil
}

// ValidPhotoName checks a photo's file name inside a gallery: 1-128 of
// letters, digits, '.', '_' and '-', starting with a letter or digit, no "..".
func ValidPhotoName(name string) error {
	if !photoName.MatchString(name) || strings.Contains(name, "..") {
		return fmt.Errorf("photo name %q is not safe (1-128 of A-Z, a-z, 0-9, '.', '_', '-', starting with a letter or digit, no \"..\")", clip(name, 80))
	}
	return nil
}

// SplitKey splits an originals key "<gallery>/<name>" and checks both parts.
func SplitKey(key string) (gallery, name string, err error) {
	gallery, name, ok := strings.Cut(key, "/")
	if !ok || gallery == "" || name == "" {
		return "", "", fmt.Errorf("object %q is not of the form <gallery-id>/<file>", clip(key, 120))
	}
	if strings.Contains(name, "/") {
		return "", "", fmt.Errorf("object %q is nested: a gallery holds files, not folders", clip(key, 120))
	}
	if err := ValidGalleryID(gallery); err != nil {
		return "", "", err
	}
	if err := ValidPhotoName(name); err != nil {
		return "", "", err
	}
	return gallery, name, nil
}

// Decode unmarshals an event, with an error that names the subject.
func Decode(subject string, data []byte, v any) error {
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("decode %s: %w", subject, err)
	}
	return nil
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
	// DateSource is the tag CapturedAt came from: DateTimeOriginal,
	// DateTimeDigitized, DateTime or GPSDateTime.
	DateSource string `json:"date_source,omitempty"`
	// ZoneSource is where its UTC offset came from: an OffsetTime* tag,
	// newsroom-zone (no offset in the file), or utc-gps.
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
}
