package gallery

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/photodesk/photodesk/pipeline/contract"
)

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
	// Refocus are the photos whose crops the manifest's focal points have
	// made stale (also in Waiting).
	Refocus []Refocus
}

// Evaluate decides whether the gallery is complete: a valid manifest, and
// for every photo it lists (every uploaded photo when it lists none) the
// current original has the result of every photo stage. A failure of a
// stage that holds the gallery (contract.Stage.HoldsGallery) holds it: without
// its images a photo cannot be shown. Any other failure (exif) does not:
// the photo goes out without a date prefix, and the record says the date
// is unknown.
func (s *State) Evaluate() Readiness {
	var rd Readiness
	if s.Manifest == nil {
		rd.Waiting = append(rd.Waiting, contract.ManifestName)
		if s.ManifestError != "" {
			rd.Failed = append(rd.Failed, contract.HeldPhoto{Photo: contract.ManifestName, Stage: contract.StageAssembler, Reason: s.ManifestError})
		}
		return rd
	}
	if s.ManifestError != "" {
		rd.Failed = append(rd.Failed, contract.HeldPhoto{Photo: contract.ManifestName, Stage: contract.StageAssembler, Reason: s.ManifestError})
		return rd
	}
	for _, pp := range s.Progress() {
		if !pp.Uploaded() {
			rd.Waiting = append(rd.Waiting, pp.Name+": "+Upload)
			continue
		}
		if held := pp.Held(); len(held) > 0 {
			rd.Failed = append(rd.Failed, held...)
			continue
		}
		// One stage at a time is enough for the log and the status.
		if p := pp.Pending(); len(p) > 0 {
			rd.Waiting = append(rd.Waiting, pp.Name+": "+p[0])
			continue
		}
		if rd.refocus(s.Manifest, pp) {
			continue
		}
		if reason := pp.Result.regionRefused(); reason != "" {
			rd.Failed = append(rd.Failed, contract.HeldPhoto{Photo: pp.Name, Stage: StageCrops, Reason: reason})
			continue
		}
		rd.Entries = append(rd.Entries, Entry{Name: pp.Name, Listed: pp.Listed, Photo: pp.Photo, Current: pp.Result})
	}
	if s.Rerun != nil {
		// One new version when the run is done, not one per photo.
		rd.Waiting = append(rd.Waiting, s.Rerun.waiting(s)...)
	}
	if len(s.Manifest.Pictures()) == 0 {
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

// RequireProvenance holds every ready photo whose original carries no
// intact Content Credentials when the gallery requires them (its
// require_provenance, else def), each with the reason. An invalid or
// missing manifest never fails a photo otherwise.
func (rd *Readiness) RequireProvenance(m *Manifest, def bool) {
	if m == nil {
		return
	}
	if m.RequireProvenance != nil {
		def = *m.RequireProvenance
	}
	if !def {
		return
	}
	kept := rd.Entries[:0]
	for _, e := range rd.Entries {
		var p *contract.Provenance
		if e.Current != nil && e.Current.Exif != nil {
			p = e.Current.Exif.Provenance
		}
		if p.Proven() {
			kept = append(kept, e)
			continue
		}
		reason := "the gallery requires Content Credentials (C2PA) and "
		switch {
		case p == nil:
			reason += "the original's could not be read"
		case p.State == contract.ProvenanceNone:
			reason += "the original is unsigned"
		default:
			reason += "the original's are invalid: " + strings.Join(p.Codes, ", ")
			if p.Reason != "" {
				reason += " (" + p.Reason + ")"
			}
		}
		rd.Failed = append(rd.Failed, contract.HeldPhoto{Photo: e.Name, Stage: StageProvenance, Reason: reason})
	}
	rd.Entries = kept
	rd.Ready = rd.Ready && len(rd.Failed) == 0
}

// StageProvenance names a photo held for its Content Credentials.
const StageProvenance = "provenance"

// HeldByRule says a hold comes from a rule of the gallery's (provenance,
// crops) rather than a stage's failure, which the photo's progress shows.
func HeldByRule(f contract.HeldPhoto) bool {
	return f.Stage == StageProvenance || f.Stage == StageCrops
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
