package assembler

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
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

func newState(gallery string) *State {
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
	r.succeeded("exif")
	s.answered(ev.Run, ev.Photo, "exif", etagOf(ev.ETag))
}

// ApplyDerivatives records a renditions or watermark result.
func (s *State) ApplyDerivatives(ev contract.PhotoDerivatives, now time.Time) {
	r := s.photo(ev.Photo).result(etagOf(ev.ETag), now)
	src := ev.Source
	r.Source = &src
	if ev.Role == "watermark" {
		r.Watermarked = ev.Derivatives
	} else {
		r.Renditions = ev.Derivatives
	}
	r.succeeded(ev.Role)
	s.answered(ev.Run, ev.Photo, ev.Role, etagOf(ev.ETag))
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

// Entry is a photo of the record, in order, with its current result.
type Entry struct {
	Name    string
	Listed  MPhoto
	Photo   *Photo
	Current *Result
}

// Readiness says whether the gallery can be published, and if not, why.
type Readiness struct {
	Ready   bool
	Entries []Entry
	Waiting []string // "01.jpg: renditions", for logs and status
	Failed  []contract.HeldPhoto
}

// holdingStages are the stages whose failure holds a gallery: without its
// images a photo cannot be shown. An exif failure does not: the photo goes
// out without a date prefix, and the record says the date is unknown.
var holdingStages = []string{"renditions", "watermark"}

// Evaluate decides whether the gallery is complete: a valid manifest, and
// for every photo it lists (every uploaded photo when it lists none) the
// current original has its EXIF result, renditions and watermarked copy.
func (s *State) Evaluate() Readiness {
	var rd Readiness
	if s.Manifest == nil {
		rd.Waiting = append(rd.Waiting, "gallery.json")
		if s.ManifestError != "" {
			rd.Failed = append(rd.Failed, contract.HeldPhoto{Photo: contract.ManifestName, Stage: "assembler", Reason: s.ManifestError})
		}
		return rd
	}
	if s.ManifestError != "" {
		rd.Failed = append(rd.Failed, contract.HeldPhoto{Photo: contract.ManifestName, Stage: "assembler", Reason: s.ManifestError})
		return rd
	}
	listed := s.Manifest.Photos
	if len(listed) == 0 {
		for name := range s.Photos {
			listed = append(listed, MPhoto{File: name})
		}
	}
	for _, mp := range listed {
		p := s.Photos[mp.File]
		if p == nil || p.ETag == "" {
			rd.Waiting = append(rd.Waiting, mp.File+": upload")
			continue
		}
		r := p.Results[p.ETag]
		e := Entry{Name: mp.File, Listed: mp, Photo: p, Current: r}
		failed := false
		for _, st := range holdingStages {
			if f, ok := r.Failures[st]; ok {
				rd.Failed = append(rd.Failed, contract.HeldPhoto{Photo: mp.File, Stage: st, Reason: f.Reason})
				failed = true
			}
		}
		if failed {
			continue
		}
		_, exifFailed := r.Failures["exif"]
		switch {
		case r.Exif == nil && !exifFailed:
			rd.Waiting = append(rd.Waiting, mp.File+": exif")
		case r.Renditions == nil:
			rd.Waiting = append(rd.Waiting, mp.File+": renditions")
		case r.Watermarked == nil:
			rd.Waiting = append(rd.Waiting, mp.File+": watermark")
		default:
			rd.Entries = append(rd.Entries, e)
		}
	}
	if s.Rerun != nil {
		// One new version when the run is done, not one per photo.
		rd.Waiting = append(rd.Waiting, s.Rerun.waiting(s)...)
	}
	if len(s.Manifest.Photos) == 0 {
		// No order given: by capture time, then file name.
		sort.SliceStable(rd.Entries, func(i, j int) bool {
			a, b := captured(rd.Entries[i]), captured(rd.Entries[j])
			switch {
			case a != nil && b != nil && !a.Equal(*b):
				return a.Before(*b)
			case (a == nil) != (b == nil):
				return a != nil
			}
			return rd.Entries[i].Name < rd.Entries[j].Name
		})
	}
	rd.Ready = len(rd.Waiting) == 0 && len(rd.Failed) == 0 && len(rd.Entries) > 0
	return rd
}

func captured(e Entry) *time.Time {
	if e.Current == nil || e.Current.Exif == nil {
		return nil
	}
	return e.Current.Exif.CapturedAt
}

// Fingerprint identifies the record's inputs: the manifest and, for each
// photo in order, its original and every derivative. The same inputs make
// the same record, so a redelivered event publishes no new version.
func (s *State) Fingerprint(rd Readiness) string {
	h := sha256.New()
	fmt.Fprintf(h, "manifest %s\n", s.ManifestETag)
	for _, e := range rd.Entries {
		fmt.Fprintf(h, "photo %s %s\n", e.Name, e.Photo.ETag)
		for _, d := range append(append([]contract.Derivative(nil), e.Current.Renditions...), e.Current.Watermarked...) {
			fmt.Fprintf(h, " %s %s\n", d.Key, d.ETag)
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// FailureFingerprint identifies a set of failures, so each is reported once.
func FailureFingerprint(failed []contract.HeldPhoto) string {
	h := sha256.New()
	for _, f := range failed {
		fmt.Fprintf(h, "%s|%s|%s\n", f.Photo, f.Stage, f.Reason)
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}
