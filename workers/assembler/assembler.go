// Package assembler is the assembler role: it folds every event of a
// gallery into the gallery's state (a JetStream KeyValue entry, updated
// with revision checks so several assemblers can run), and when the
// manifest and every photo's results are in, it writes the publish-ready
// record (IPTC ninjs 2.2) and its HTML preview, and announces it.
package assembler

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/photodesk/photodesk/internal/c2pa"
	"github.com/photodesk/photodesk/pipeline"
	"github.com/photodesk/photodesk/pipeline/config"
	"github.com/photodesk/photodesk/pipeline/contract"
	"github.com/photodesk/photodesk/pipeline/gallery"
)

// Config is how records are written.
type Config struct {
	// DateFormat is the caption's date prefix; see FormatDate.
	DateFormat string
	// Source is the source line when the manifest gives none (来源:<Source>).
	Source   string
	Language string
	// Rights are the newsroom's defaults for every photo's rights fields
	// (Creator stays empty: a byline is never guessed); CopyrightNotice is
	// a template (gallery.Notice).
	Rights contract.Rights
	// KeepGPS writes the original's GPS position into published files;
	// by default positions stay out (a source's location can be
	// sensitive).
	KeepGPS bool
	// PublicBaseURL, when set, makes rendition hrefs <base>/<key>?v=<etag> (the
	// derivatives bucket served by a CDN or a public bucket policy);
	// otherwise they are presigned GET URLs valid for PresignTTL.
	PublicBaseURL string
	PresignTTL    time.Duration
	// DisplayPreset is the watermarked preset the article shows.
	DisplayPreset string
	// RequireProvenance holds a gallery until every original carries
	// intact Content Credentials (C2PA), unless its gallery.json says
	// otherwise (require_provenance).
	RequireProvenance bool
	// SigningKey and SigningChain are the PEM files Content Credentials
	// are signed with (ES256 or PS256; the chain signing certificate
	// first); empty: published files go out unsigned.
	SigningKey, SigningChain string
	// TSAURL is the RFC 3161 time-stamp authority every signature is
	// time-stamped by; empty: none.
	TSAURL string
	// FilePhotoLabel follows the caption of a photo gallery.json marks as
	// a file photo (file_photo).
	FilePhotoLabel string
	// FilePhotoAge: a photo taken more than this before the gallery's
	// other photos is noted in its ednote as a likely file photo.
	FilePhotoAge time.Duration
}

// DefaultConfig is the newsroom's conventions.
func DefaultConfig() Config {
	return Config{
		DateFormat: DefaultDateFormat,
		Source:     "工人日报",
		Language:   "zh-CN",
		Rights: contract.Rights{
			Credit:          "工人日报",
			CopyrightNotice: "© {YYYY} 工人日报",
			CopyrightHolder: "工人日报社",
			UsageTerms:      "版权归工人日报所有，未经授权不得转载。",
		},
		PresignTTL:     7 * 24 * time.Hour,
		DisplayPreset:  "large",
		FilePhotoLabel: "(资料图)",
		FilePhotoAge:   30 * 24 * time.Hour,
	}
}

// RegisterFlags binds c to flags and PHOTODESK_* variables.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	config.StringVar(fs, &c.DateFormat, "caption-date-format", "PHOTODESK_CAPTION_DATE_FORMAT", "caption date prefix: {YYYY} {M} {MM} {D} {DD}")
	config.StringVar(fs, &c.Source, "source", "PHOTODESK_SOURCE", "source line when the manifest gives none")
	config.StringVar(fs, &c.Language, "language", "PHOTODESK_LANGUAGE", "language when the manifest gives none")
	rt := &c.Rights
	config.StringVar(fs, &rt.CopyrightNotice, "copyright-notice", "PHOTODESK_COPYRIGHT_NOTICE", "default copyright notice; {YYYY} is the year the photo was taken, {creator} and {holder} the fields")
	config.StringVar(fs, &rt.CopyrightHolder, "copyright-holder", "PHOTODESK_COPYRIGHT_HOLDER", "default copyright holder")
	config.StringVar(fs, &rt.UsageTerms, "usage-terms", "PHOTODESK_USAGE_TERMS", "default usage terms")
	config.StringVar(fs, &rt.Credit, "credit-line", "PHOTODESK_CREDIT_LINE", "default credit line")
	config.StringVar(fs, &rt.WebStatement, "web-statement", "PHOTODESK_WEB_STATEMENT", "default web statement of rights (an http(s) URL)")
	rt.Licensor = &contract.Licensor{}
	config.StringVar(fs, &rt.Licensor.Name, "licensor-name", "PHOTODESK_LICENSOR_NAME", "default licensor")
	config.StringVar(fs, &rt.Licensor.URL, "licensor-url", "PHOTODESK_LICENSOR_URL", "default licensor URL (http(s))")
	config.BoolVar(fs, &c.KeepGPS, "keep-gps", "PHOTODESK_KEEP_GPS", "write the original's GPS position into published files")
	config.StringVar(fs, &c.PublicBaseURL, "public-base-url", "PHOTODESK_PUBLIC_BASE_URL", "base URL serving the derivatives bucket; empty: presigned URLs")
	config.DurationVar(fs, &c.PresignTTL, "presign-ttl", "PHOTODESK_PRESIGN_TTL", "lifetime of presigned rendition URLs (at most 168h)")
	config.StringVar(fs, &c.DisplayPreset, "display-preset", "PHOTODESK_DISPLAY_PRESET", "the watermarked preset the article shows")
	config.BoolVar(fs, &c.RequireProvenance, "require-provenance", "PHOTODESK_REQUIRE_PROVENANCE", "hold galleries whose originals carry no intact Content Credentials (C2PA), unless gallery.json says otherwise")
	config.StringVar(fs, &c.SigningKey, "c2pa-key", "PHOTODESK_C2PA_KEY", "PEM private key that signs published files' Content Credentials (C2PA; ES256 or PS256)")
	config.StringVar(fs, &c.SigningChain, "c2pa-chain", "PHOTODESK_C2PA_CHAIN", "PEM certificate chain of --c2pa-key, signing certificate first")
	config.StringVar(fs, &c.FilePhotoLabel, "file-photo-label", "PHOTODESK_FILE_PHOTO_LABEL", "label after the caption of a photo marked file_photo in gallery.json")
	config.DurationVar(fs, &c.FilePhotoAge, "file-photo-age", "PHOTODESK_FILE_PHOTO_AGE", "a photo taken this long before the gallery's others is noted (ednote) as a likely file photo")
	config.StringVar(fs, &c.TSAURL, "c2pa-tsa-url", "PHOTODESK_C2PA_TSA_URL", "RFC 3161 time-stamp authority URL for Content Credentials; empty: none")
}

// Validate checks c.
func (c *Config) Validate() error {
	if c.PublicBaseURL != "" {
		u, err := url.Parse(c.PublicBaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("public-base-url %q: want an http(s) URL", c.PublicBaseURL)
		}
	} else if c.PresignTTL < time.Minute || c.PresignTTL > 7*24*time.Hour {
		return fmt.Errorf("presign-ttl must be between 1m and 168h (S3's limit), got %s", c.PresignTTL)
	}
	if err := gallery.CheckRights(&c.Rights); err != nil {
		return fmt.Errorf("default rights: %w", err)
	}
	if (c.SigningKey == "") != (c.SigningChain == "") {
		return errors.New("c2pa-key and c2pa-chain go together")
	}
	if c.TSAURL != "" {
		u, err := url.Parse(c.TSAURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("c2pa-tsa-url %q: want an http(s) URL", c.TSAURL)
		}
		if c.SigningKey == "" {
			return errors.New("c2pa-tsa-url time-stamps signatures: it needs c2pa-key and c2pa-chain")
		}
	}
	if c.FilePhotoAge <= 0 {
		return fmt.Errorf("file-photo-age must be positive, got %s", c.FilePhotoAge)
	}
	if c.Source == "" || c.DisplayPreset == "" || !strings.Contains(c.DateFormat, "{D") {
		return errors.New("source, display-preset and a caption-date-format with a day ({D} or {DD}) are required")
	}
	return nil
}

// Store is what the assembler needs of the object store (*pipeline.Store):
// the manifest's and derivatives' bytes, somewhere to write the record and
// the published (stamped) files, marked as published (the only
// derivatives anyone may read when they are public), and links to them.
type Store interface {
	Get(ctx context.Context, bucket, key, etag string, max int64) ([]byte, error)
	ReadRange(ctx context.Context, bucket, key, etag string, off, length int64) ([]byte, error)
	Meta(ctx context.Context, bucket, key string) (meta map[string]string, etag string, size int64, ok bool, err error)
	PutPublished(ctx context.Context, bucket, key string, data []byte, contentType string, meta map[string]string) (string, error)
	MarkPublished(ctx context.Context, bucket, key string) error
	PutObject(ctx context.Context, bucket, key string, r io.Reader, size int64, opts minio.PutObjectOptions) (minio.UploadInfo, error)
	PresignedGetObject(ctx context.Context, bucket, key string, expires time.Duration, params url.Values) (*url.URL, error)
}

// KV is what the assembler needs of the galleries bucket
// (jetstream.KeyValue): read a gallery's state, and write it back only over
// the revision it read.
type KV interface {
	Get(ctx context.Context, key string) (jetstream.KeyValueEntry, error)
	Create(ctx context.Context, key string, value []byte, opts ...jetstream.KVCreateOpt) (uint64, error)
	Update(ctx context.Context, key string, value []byte, revision uint64) (uint64, error)
}

// Role is the assembler.
type Role struct {
	KV                KV
	Store             Store
	ArticlesBucket    string
	DerivativesBucket string
	OriginalsBucket   string
	// Signer signs published files' Content Credentials; nil: unsigned.
	Signer *c2pa.Signer
	Zone   *time.Location
	Cfg    Config
	// Now is the clock (tests pin it).
	Now func() time.Time
}

// Worker is the role as the runtime runs it.
func (r *Role) Worker(concurrency int) pipeline.Worker {
	return pipeline.Worker{Role: contract.StageAssembler, Handler: r.Handle, Concurrency: concurrency}
}

// Handle folds one event into its gallery and publishes what follows.
func (r *Role) Handle(ctx context.Context, m *pipeline.Message) ([]contract.Output, error) {
	now := r.now()
	var apply func(*gallery.State)
	var manifestProblem string
	var fired *time.Time // a schedule's time, when it fired
	switch {
	case strings.HasPrefix(m.Subject, contract.SubjectPhotoUploaded+"."):
		ev, err := decode[contract.PhotoUploaded](m)
		if err != nil {
			return nil, err
		}
		stages := rerunStages(m.Header)
		apply = func(s *gallery.State) { s.ApplyUploaded(ev, now); s.ApplyRerun(ev, stages, m.StreamSeq) }
	case strings.HasPrefix(m.Subject, contract.SubjectPhotoExif+"."):
		ev, err := decode[contract.PhotoExif](m)
		if err != nil {
			return nil, err
		}
		apply = func(s *gallery.State) { s.ApplyExif(ev, now) }
	case strings.HasPrefix(m.Subject, contract.SubjectPhotoRenditions+"."), strings.HasPrefix(m.Subject, contract.SubjectPhotoWatermarked+"."):
		ev, err := decode[contract.PhotoDerivatives](m)
		if err != nil {
			return nil, err
		}
		apply = func(s *gallery.State) { s.ApplyDerivatives(ev, now) }
	case strings.HasPrefix(m.Subject, contract.SubjectFailed+"."):
		ev, err := decode[contract.Failure](m)
		if err != nil {
			return nil, err
		}
		apply = func(s *gallery.State) { s.ApplyFailure(ev, now) }
	case strings.HasPrefix(m.Subject, contract.SubjectGallerySubmitted+"."):
		ev, err := decode[contract.GallerySubmitted](m)
		if err != nil {
			return nil, err
		}
		data, err := r.Store.Get(ctx, ev.Bucket, ev.Key, ev.ETag, gallery.MaxManifestBytes)
		if m.Superseded(err) {
			return nil, nil
		}
		var man *gallery.Manifest
		switch {
		case errors.Is(err, pipeline.ErrTooLarge):
			manifestProblem = "gallery.json is over the 1 MiB limit"
		case err != nil:
			return nil, err
		default:
			if man, err = gallery.ParseManifest(data); err != nil {
				manifestProblem, man = err.Error(), nil
			}
		}
		apply = func(s *gallery.State) { s.ApplyManifest(ev.ETag, ev.SubmittedAt, man, manifestProblem) }
	case strings.HasPrefix(m.Subject, contract.SubjectGalleryDue+"."):
		ev, err := decode[contract.GalleryDue](m)
		if err != nil {
			return nil, err
		}
		fired = &ev.PublishAt
		apply = func(*gallery.State) {}
	case resultStage(m.Subject) != "":
		// A photo stage the record reads nothing of: only that it answered.
		ev, err := decode[contract.PhotoResult](m)
		if err != nil {
			return nil, err
		}
		stage := resultStage(m.Subject)
		apply = func(s *gallery.State) { s.ApplyResult(stage, ev, now) }
	default:
		return nil, pipeline.Permanentf("assembler: unexpected subject %s", m.Subject)
	}
	if m.Ref.Gallery == "" || contract.ValidGalleryID(m.Ref.Gallery) != nil {
		return nil, nil // not a gallery: ingest already reported it
	}

	st, rd, pub, republish, held, err := r.update(ctx, m.Ref.Gallery, apply, m.Attempt > 1, fired)
	if err != nil {
		return nil, err
	}
	var outs []contract.Output
	if held != nil && manifestProblem == "" {
		o, err := contract.JSONOutput(contract.GallerySubject(contract.SubjectGalleryHeld, st.Gallery), "held:"+st.Gallery+":"+st.HeldFor, held)
		if err != nil {
			return nil, err
		}
		outs = append(outs, o)
		m.Log.Warn("gallery held: photos failed", "failed", held.Failed)
	}
	if manifestProblem != "" {
		return nil, pipeline.Permanentf("%s", manifestProblem)
	}
	if st.Scheduled != nil {
		o, err := scheduleOutput(st.Gallery, *st.Scheduled)
		if err != nil {
			return nil, err
		}
		outs = append(outs, o)
		m.Log.Debug("gallery ready, scheduled", "publish_at", *st.Scheduled)
	}
	for _, rf := range rd.Refocus {
		o, err := r.refocus(st.Gallery, rf)
		if err != nil {
			return nil, err
		}
		outs = append(outs, o)
		m.Log.Info("crops made around another focal point: asked again", "photo", rf.Name, "focus", contract.FocusKey(rf.Focus), "roles", rf.Stages)
	}
	if pub != nil || republish {
		if pub == nil {
			pub = st.Published
		}
		o, err := r.publish(ctx, st, rd, pub)
		if err != nil {
			return nil, err
		}
		outs = append(outs, o)
		m.Log.Info("article published", "version", pub.Version, "photos", len(rd.Entries))
		if at := manifestPublishAt(st); !republish && at != nil && fired == nil && pub.VersionCreated.Sub(*at) > 5*time.Second {
			m.Log.Warn("gallery.json's publish_at had passed when the gallery was ready: published at once", "publish_at", *at)
		}
	} else if !rd.Ready {
		m.Log.Debug("gallery waiting", "waiting", rd.Waiting)
	}
	return outs, nil
}

// manifestPublishAt is the gallery's publish_at, if it has one.
func manifestPublishAt(st *gallery.State) *time.Time {
	if st.Manifest == nil {
		return nil
	}
	return st.Manifest.PublishAt
}

// decode reads the message as a T; an event that does not decode fails
// for good.
func decode[T any](m *pipeline.Message) (T, error) {
	var v T
	if err := contract.Decode(m.Subject, m.Data, &v); err != nil {
		return v, pipeline.Permanent(err)
	}
	return v, nil
}

func (r *Role) now() time.Time {
	if r.Now != nil {
		return r.Now().UTC()
	}
	return time.Now().UTC()
}

// update applies the event to the gallery's state under a revision check,
// retrying on conflict. It reserves a new version when the gallery is
// ready with inputs not yet published (pub), and says whether an already
// reserved version should be published again (a redelivery after a crash);
// held is the held event to publish, for a new set of failures and again
// on a redelivery.
func (r *Role) update(ctx context.Context, id string, apply func(*gallery.State), redelivered bool, fired *time.Time) (st *gallery.State, rd gallery.Readiness, pub *gallery.Publication, republish bool, held *contract.GalleryHeld, err error) {
	for attempt := 0; attempt < 50; attempt++ {
		st, rev, err := r.load(ctx, id)
		if err != nil {
			return nil, rd, nil, false, nil, err
		}
		before, _ := json.Marshal(st)
		apply(st)
		rd = st.Evaluate()
		rd.RequireProvenance(st.Manifest, r.Cfg.RequireProvenance)
		pub, republish, held = nil, false, nil
		if len(rd.Failed) > 0 {
			// A redelivery asks again: the held event may have been lost
			// after this state was saved (the same Msg-Id: JetStream drops a
			// repeat of one that got through).
			if fp := gallery.FailureFingerprint(rd.Failed); fp != st.HeldFor || redelivered {
				st.HeldFor = fp
				held = &contract.GalleryHeld{Gallery: id, Failed: rd.Failed, HeldAt: r.now()}
			}
		} else {
			st.HeldFor = ""
		}
		st.Scheduled = nil
		if rd.Ready {
			fp := st.Fingerprint(rd)
			timing, at := st.When(r.now(), fired)
			switch {
			case st.Published != nil && st.Published.Fingerprint == fp:
				republish = redelivered
			case timing == gallery.Withhold:
				// Withdrawn before it went out: nothing to publish.
			case timing == gallery.PublishLater:
				st.Scheduled = &at
			case st.Published == nil:
				now := r.now()
				pub = &gallery.Publication{Version: 1, Fingerprint: fp, FirstCreated: now, VersionCreated: now}
			default:
				pub = &gallery.Publication{Version: st.Published.Version + 1, Fingerprint: fp, FirstCreated: st.Published.FirstCreated, VersionCreated: r.now()}
			}
			if pub != nil {
				st.Published = pub
			}
		}
		after, err := json.Marshal(st)
		if err != nil {
			return nil, rd, nil, false, nil, err
		}
		if bytes.Equal(before, after) {
			return st, rd, nil, republish, held, nil
		}
		if rev == 0 {
			_, err = r.KV.Create(ctx, id, after)
		} else {
			_, err = r.KV.Update(ctx, id, after, rev)
		}
		if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			continue // another assembler changed it first: fold in again
		}
		if err != nil {
			return nil, rd, nil, false, nil, fmt.Errorf("save gallery %s: %w", id, err)
		}
		return st, rd, pub, republish, held, nil
	}
	return nil, rd, nil, false, nil, fmt.Errorf("gallery %s: too many concurrent updates", id)
}

// load returns the gallery's state and its revision (0: none yet).
func (r *Role) load(ctx context.Context, id string) (*gallery.State, uint64, error) {
	e, err := r.KV.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return gallery.New(id), 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	st := gallery.New(id)
	if err := json.Unmarshal(e.Value(), st); err != nil {
		return nil, 0, fmt.Errorf("gallery %s state: %w", id, err)
	}
	if st.Photos == nil {
		st.Photos = map[string]*gallery.Photo{}
	}
	return st, e.Revision(), nil
}

// resultStage names the photo stage whose result subject is subject's
// prefix, or "".
func resultStage(subject string) string {
	for _, st := range contract.PhotoStages() {
		if strings.HasPrefix(subject, st.Result+".") {
			return st.Name
		}
	}
	return ""
}
