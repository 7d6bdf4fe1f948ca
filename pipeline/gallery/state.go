package gallery

import (
	"strings"
	"time"

	"github.com/photodesk/photodesk/pipeline/contract"
)

// State is one gallery as the assembler knows it, kept in the KV bucket.
// Every event is folded in by Apply; the order of events does not matter,
// and applying one twice changes nothing.
type State struct {
	Gallery string `json:"gallery"`
	// The current manifest: the newest by submission time.
	Manifest      *Manifest `json:"manifest,omitempty"`
	ManifestETag  string    `json:"manifest_etag,omitempty"`
	ManifestAt    time.Time `json:"manifest_at,omitempty"`
	ManifestError string    `json:"manifest_error,omitempty"`

	Photos map[string]*Photo `json:"photos"`

	Published *Publication `json:"published,omitempty"`
	// Scheduled is when a ready gallery's unpublished inputs go out (its
	// manifest's publish_at), while it waits for it.
	Scheduled *time.Time `json:"scheduled,omitempty"`
	// HeldFor is the fingerprint of the failures last reported by a held
	// event, so each set of failures is reported once.
	HeldFor string `json:"held_for,omitempty"`

	// Rerun is the reprocess run the record waits for, if any; LastRerun
	// the id of the last one finished.
	Rerun     *Rerun `json:"rerun,omitempty"`
	LastRerun string `json:"last_rerun,omitempty"`
}

// Photo is one photo name of the gallery: its current original (the newest
// upload) and every stage's result, by the original's ETag.
type Photo struct {
	ETag       string             `json:"etag,omitempty"`
	UploadedAt time.Time          `json:"uploaded_at,omitempty"`
	Caption    string             `json:"caption,omitempty"` // S3 user metadata "caption"
	Results    map[string]*Result `json:"results,omitempty"`
}

// Result is what the stages said about one version of a photo.
type Result struct {
	Exif        *contract.ExifData          `json:"exif,omitempty"`
	Renditions  []contract.Derivative       `json:"renditions,omitempty"`
	Watermarked []contract.Derivative       `json:"watermarked,omitempty"`
	Source      *contract.ImageSource       `json:"source,omitempty"`
	Failures    map[string]contract.Failure `json:"failures,omitempty"`
	// Answered are the other photo stages that answered this version
	// (ApplyResult): a stage added to the table needs no field here.
	Answered map[string]bool `json:"answered,omitempty"`
	// Seen orders results for pruning.
	Seen time.Time `json:"seen"`
}

// Publication is the last version published.
type Publication struct {
	Version        int       `json:"version"`
	Fingerprint    string    `json:"fingerprint"`
	FirstCreated   time.Time `json:"firstcreated"`
	VersionCreated time.Time `json:"versioncreated"`
}

// maxResults bounds the versions kept per photo name.
const maxResults = 4

// New is the state of a gallery no event has reached yet.
func New(gallery string) *State {
	return &State{Gallery: gallery, Photos: map[string]*Photo{}}
}

func (s *State) photo(name string) *Photo {
	p := s.Photos[name]
	if p == nil {
		p = &Photo{Results: map[string]*Result{}}
		s.Photos[name] = p
	}
	if p.Results == nil {
		p.Results = map[string]*Result{}
	}
	return p
}

func (p *Photo) result(etag string, now time.Time) *Result {
	r := p.Results[etag]
	if r == nil {
		r = &Result{Seen: now}
		p.Results[etag] = r
		if len(p.Results) > maxResults {
			// Forget the oldest version that is not the current one.
			var oldest string
			for e, x := range p.Results {
				if e != p.ETag && e != etag && (oldest == "" || x.Seen.Before(p.Results[oldest].Seen)) {
					oldest = e
				}
			}
			delete(p.Results, oldest)
		}
	}
	return r
}

func etagOf(e string) string { return strings.Trim(e, `"`) }

// ApplyUploaded records a new original; the newest upload of a name wins.
func (s *State) ApplyUploaded(ev contract.PhotoUploaded, now time.Time) {
	p := s.photo(ev.Photo)
	etag := etagOf(ev.ETag)
	if p.ETag == "" || ev.UploadedAt.After(p.UploadedAt) || (ev.UploadedAt.Equal(p.UploadedAt) && etag > p.ETag) {
		p.ETag, p.UploadedAt = etag, ev.UploadedAt
		p.Caption = strings.TrimSpace(ev.Metadata["caption"])
	}
	p.result(etag, now)
	s.settleRerun() // a replaced photo needs no answer to a run
}

// ApplyExif records the exif role's result.
func (s *State) ApplyExif(ev contract.PhotoExif, now time.Time) {
	x := ev.Exif
	r := s.photo(ev.Photo).result(etagOf(ev.ETag), now)
	r.Exif = &x
	r.succeeded(contract.StageExif)
	s.answered(ev.Run, ev.Photo, contract.StageExif, etagOf(ev.ETag))
}

// ApplyDerivatives records a renditions or watermark result.
func (s *State) ApplyDerivatives(ev contract.PhotoDerivatives, now time.Time) {
	r := s.photo(ev.Photo).result(etagOf(ev.ETag), now)
	src := ev.Source
	r.Source = &src
	if _, derivs := r.slot(ev.Role); derivs != nil {
		*derivs = ev.Derivatives
	}
	r.succeeded(ev.Role)
	s.answered(ev.Run, ev.Photo, ev.Role, etagOf(ev.ETag))
}

// ApplyResult records that stage answered a photo version, for a photo
// stage whose result the record does not read (see Result.Answered).
func (s *State) ApplyResult(stage string, ev contract.PhotoResult, now time.Time) {
	r := s.photo(ev.Photo).result(etagOf(ev.ETag), now)
	if r.Answered == nil {
		r.Answered = map[string]bool{}
	}
	r.Answered[stage] = true
	r.succeeded(stage)
	s.answered(ev.Run, ev.Photo, stage, etagOf(ev.ETag))
}

// ApplyFailure records a stage's failure of one photo version.
func (s *State) ApplyFailure(f contract.Failure, now time.Time) {
	if f.Photo == "" {
		return // not a photo of this gallery's shape
	}
	r := s.photo(f.Photo).result(etagOf(f.ETag), now)
	if r.Failures == nil {
		r.Failures = map[string]contract.Failure{}
	}
	r.Failures[f.Stage] = f
	s.failedRerun(f)
}

// slot is where stage's result lives in a Result: the one place a stage
// name meets a field. A photo stage without a case here is recorded in
// Answered, so a new stage needs a case only when the record reads its
// result.
func (r *Result) slot(stage string) (exif **contract.ExifData, derivs *[]contract.Derivative) {
	switch stage {
	case contract.StageExif:
		return &r.Exif, nil
	case contract.StageRenditions:
		return nil, &r.Renditions
	case contract.StageWatermark:
		return nil, &r.Watermarked
	}
	return nil, nil
}

// Has says whether stage has answered this version with its result.
func (r *Result) Has(stage string) bool {
	if r == nil {
		return false
	}
	exif, derivs := r.slot(stage)
	if exif == nil && derivs == nil {
		return r.Answered[stage]
	}
	return (exif != nil && *exif != nil) || (derivs != nil && *derivs != nil)
}

// Failed returns stage's failure of this version, if any.
func (r *Result) Failed(stage string) (contract.Failure, bool) {
	if r == nil {
		return contract.Failure{}, false
	}
	f, ok := r.Failures[stage]
	return f, ok
}

// succeeded drops the stage's earlier giving up (a failure that is not
// permanent), which a result has since answered: a process that stalled
// holding an event's last delivery may finish it after JetStream gave up
// on it, and `photodesk reprocess` is the remedy for a stage that gave up.
// A permanent failure stays.
func (r *Result) succeeded(stage string) {
	if f, ok := r.Failures[stage]; ok && !f.Permanent {
		delete(r.Failures, stage)
	}
}

// ApplyManifest records a manifest (or why it is unusable); the newest
// submission wins.
func (s *State) ApplyManifest(etag string, at time.Time, m *Manifest, problem string) {
	etag = etagOf(etag)
	if s.ManifestETag != "" && (at.Before(s.ManifestAt) || (at.Equal(s.ManifestAt) && etag <= s.ManifestETag)) {
		return
	}
	s.Manifest, s.ManifestETag, s.ManifestAt, s.ManifestError = m, etag, at, problem
}
