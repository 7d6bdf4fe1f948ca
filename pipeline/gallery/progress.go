package gallery

import (
	"slices"
	"sort"

	"github.com/photodesk/photodesk/pipeline/contract"
)

// What a stage has done for a photo's current original.
const (
	Pending = "pending"
	Done    = "done"
	Failed  = "failed"
)

// Upload is what a photo the manifest lists waits for before any stage.
const Upload = "upload"

// StageProgress is one stage's answer to a photo's current original.
type StageProgress struct {
	Stage  contract.Stage
	State  string // Pending, Done or Failed
	Reason string // why it failed
}

// PhotoProgress is one photo's way through the photo stages: the one
// reading of a photo's results that the assembler's Evaluate, the API's
// status and `photodesk status` share.
type PhotoProgress struct {
	Name   string
	Listed MPhoto  // as the manifest lists it; {File: Name} when it lists none
	Photo  *Photo  // nil when no event has named the photo
	Result *Result // the current original's results; nil when none
	// Stages is every photo stage (contract.PhotoStages), in pipeline order.
	Stages []StageProgress
	// Other is the failures of stages that are not photo stages (ingest),
	// by stage name.
	Other []StageProgress
}

// Uploaded says the photo has an original.
func (pp PhotoProgress) Uploaded() bool { return pp.Photo != nil && pp.Photo.ETag != "" }

// Pending names the photo stages that have neither answered nor failed.
func (pp PhotoProgress) Pending() []string {
	var out []string
	for _, sp := range pp.Stages {
		if sp.State == Pending {
			out = append(out, sp.Stage.Name)
		}
	}
	return out
}

// Failures are the photo stages' failures of the photo, in pipeline order.
func (pp PhotoProgress) Failures() []contract.HeldPhoto { return pp.failures(false) }

// Held are the failures that hold the gallery (Stage.HoldsGallery).
func (pp PhotoProgress) Held() []contract.HeldPhoto { return pp.failures(true) }

func (pp PhotoProgress) failures(holding bool) []contract.HeldPhoto {
	var out []contract.HeldPhoto
	for _, sp := range pp.Stages {
		if sp.State == Failed && (sp.Stage.HoldsGallery || !holding) {
			out = append(out, contract.HeldPhoto{Photo: pp.Name, Stage: sp.Stage.Name, Reason: sp.Reason})
		}
	}
	return out
}

// Progress is the progress of the photos that make the record: those the
// manifest lists, in its order, or, when it lists none (or there is no
// manifest yet), every photo of the gallery by name.
func (s *State) Progress() []PhotoProgress {
	var listed []MPhoto
	if s.Manifest != nil {
		listed = s.Manifest.Pictures()
	}
	if len(listed) == 0 {
		for _, name := range s.PhotoNames() {
			listed = append(listed, MPhoto{File: name})
		}
	}
	stages := contract.PhotoStages()
	out := make([]PhotoProgress, len(listed))
	for i, mp := range listed {
		out[i] = s.photoProgress(mp, stages)
	}
	return out
}

// PhotoNames are the names of every photo an event has named, sorted.
func (s *State) PhotoNames() []string {
	names := make([]string, 0, len(s.Photos))
	for name := range s.Photos {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// PhotoProgress is the progress of one photo, as the manifest lists it.
func (s *State) PhotoProgress(listed MPhoto) PhotoProgress {
	return s.photoProgress(listed, contract.PhotoStages())
}

// photoProgress is PhotoProgress over the photo stages, which Progress
// reads off the table once for every photo.
func (s *State) photoProgress(listed MPhoto, stages []contract.Stage) PhotoProgress {
	pp := PhotoProgress{Name: listed.File, Listed: listed, Photo: s.Photos[listed.File]}
	if pp.Photo != nil {
		pp.Result = pp.Photo.Results[pp.Photo.ETag]
	}
	for _, st := range stages {
		sp := StageProgress{Stage: st, State: Pending}
		// A failure wins over a result: a permanent one stays when a late
		// result comes in.
		if f, failed := pp.Result.Failed(st.Name); failed {
			sp.State, sp.Reason = Failed, f.Reason
		} else if pp.Result.Has(st.Name) {
			sp.State = Done
		}
		pp.Stages = append(pp.Stages, sp)
	}
	if pp.Result != nil {
		for name, f := range pp.Result.Failures {
			if !slices.ContainsFunc(stages, func(st contract.Stage) bool { return st.Name == name }) {
				st, ok := contract.StageNamed(name)
				if !ok {
					st = contract.Stage{Name: name}
				}
				pp.Other = append(pp.Other, StageProgress{Stage: st, State: Failed, Reason: f.Reason})
			}
		}
		sort.Slice(pp.Other, func(i, j int) bool { return pp.Other[i].Stage.Name < pp.Other[j].Stage.Name })
	}
	return pp
}
