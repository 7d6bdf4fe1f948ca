package gallery

import (
	"fmt"
	"sort"
	"strings"

	"github.com/photodesk/photodesk/pipeline/contract"
)

// Rerun is a `photodesk reprocess` run of the gallery that has not finished.
// The record waits for it, so that a run makes at most one new version
// rather than one per photo as each photo's new results come in. A run is
// finished when every photo it announced has, for the original it
// announced, an answer from every stage it re-runs: a result that names the
// run, or a failure of the run's event. A photo replaced since needs no
// answer (its new upload goes through every stage anyway). A newer run
// replaces an unfinished older one, so an interrupted run is finished by
// running reprocess again.
type Rerun struct {
	ID string `json:"id"`
	// Photos is how many photos the run announces; 0 until one of its
	// photo.uploaded events is folded in (a result may come first).
	Photos int `json:"photos,omitempty"`
	// Stages are the stages the run re-runs.
	Stages []string `json:"stages,omitempty"`
	// Announced is each photo the run announced.
	Announced map[string]RerunPhoto `json:"announced,omitempty"`
	// Answered is, by "<photo> <stage>", the ETag of the original a stage
	// answered the run for.
	Answered map[string]string `json:"answered,omitempty"`
}

// RerunPhoto is one photo a run announced: the original's ETag, and the
// stream sequence of the run's event, which a failure of it names.
type RerunPhoto struct {
	ETag string `json:"etag"`
	Seq  uint64 `json:"seq"`
}

// rerun returns the unfinished run id, starting it when id is newer than
// the current one; nil when id is older, or finished already (a late
// redelivery of a finished run's event must not start it again).
func (s *State) rerun(id string) *Rerun {
	if id == "" || id <= s.LastRerun || (s.Rerun != nil && id < s.Rerun.ID) {
		return nil
	}
	if s.Rerun == nil || id > s.Rerun.ID {
		s.Rerun = &Rerun{ID: id}
	}
	return s.Rerun
}

// ApplyRerun records that a reprocess run announced a photo (a
// photo.uploaded event with Reprocess set, at stream sequence seq) to
// stages. ApplyUploaded has folded the event in first.
func (s *State) ApplyRerun(ev contract.PhotoUploaded, stages []string, seq uint64) {
	if ev.Reprocess == nil {
		return
	}
	run := s.rerun(ev.Reprocess.Run)
	if run == nil {
		return
	}
	run.Photos, run.Stages = ev.Reprocess.Photos, stages
	if run.Announced == nil {
		run.Announced = map[string]RerunPhoto{}
	}
	etag := etagOf(ev.ETag)
	run.Announced[ev.Photo] = RerunPhoto{ETag: etag, Seq: seq}
	// A stage may have failed the event before this was folded in.
	if p := s.Photos[ev.Photo]; p != nil && p.Results[etag] != nil {
		for st, f := range p.Results[etag].Failures {
			if f.EventSeq == seq {
				run.answer(ev.Photo, st, etag)
			}
		}
	}
	s.settleRerun()
}

// answered folds a stage's result for run into the run.
func (s *State) answered(run, photo, stage, etag string) {
	if r := s.rerun(run); r != nil {
		r.answer(photo, stage, etag)
	}
	s.settleRerun()
}

// failedRerun folds a stage's failure into the run, when it is the failure
// of the run's own event for the photo.
func (s *State) failedRerun(f contract.Failure) {
	if s.Rerun == nil {
		return
	}
	if a, ok := s.Rerun.Announced[f.Photo]; ok && a.Seq == f.EventSeq {
		s.Rerun.answer(f.Photo, f.Stage, etagOf(f.ETag))
	}
	s.settleRerun()
}

func (r *Rerun) answer(photo, stage, etag string) {
	if r.Answered == nil {
		r.Answered = map[string]string{}
	}
	r.Answered[photo+" "+stage] = etag
}

// settleRerun ends the run once it has every answer it waits for.
func (s *State) settleRerun() {
	r := s.Rerun
	if r == nil || r.Photos == 0 || len(r.Announced) < r.Photos || len(r.pending(s)) > 0 {
		return
	}
	s.LastRerun, s.Rerun = r.ID, nil
}

// pending lists "<photo>: <stage>, …" for the answers the run still waits
// for, by photo name.
func (r *Rerun) pending(s *State) []string {
	names := make([]string, 0, len(r.Announced))
	for name := range r.Announced {
		names = append(names, name)
	}
	sort.Strings(names)
	var out []string
	for _, name := range names {
		a := r.Announced[name]
		if p := s.Photos[name]; p == nil || p.ETag != a.ETag {
			continue // replaced since: the new upload is waited for as usual
		}
		var missing []string
		for _, st := range r.Stages {
			if r.Answered[name+" "+st] != a.ETag {
				missing = append(missing, st)
			}
		}
		if len(missing) > 0 {
			out = append(out, name+": "+strings.Join(missing, ", "))
		}
	}
	return out
}

// waiting says what the unfinished run waits for, for Readiness.Waiting.
func (r *Rerun) waiting(s *State) []string {
	prefix := "reprocess " + r.ID
	switch {
	case r.Photos == 0:
		return []string{prefix + ": its photo events"}
	case len(r.Announced) < r.Photos:
		return []string{fmt.Sprintf("%s: %d of %d photo events", prefix, len(r.Announced), r.Photos)}
	}
	out := r.pending(s)
	for i := range out {
		out[i] = prefix + ": " + out[i]
	}
	if len(out) == 0 {
		out = []string{prefix}
	}
	return out
}
