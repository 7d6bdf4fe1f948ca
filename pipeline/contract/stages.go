package contract

import "time"

// Stage is one step of the pipeline: a role, the durable consumer that
// every process of the role shares, what it consumes and what it answers
// with. Stages is the one table of them; consumers, the role registry,
// watch, status, the API, the gallery model, reprocess and the chaos
// verifier all read it, so adding a stage is a row here and its package.
type Stage struct {
	// Name is the role, its durable consumer, and the <stage> token of its
	// failure events' subject.
	Name string
	// Stream and Inputs are what its consumer reads.
	Stream string
	Inputs []string
	// Result is the subject prefix of its answer to each photo.uploaded
	// (the gallery model waits for one per photo); "" when it has none.
	Result string
	// HoldsGallery says a failure of a photo the manifest lists holds the
	// gallery: the record cannot go out without it. A photo stage that
	// does not hold (exif) lets the photo go out without its result.
	HoldsGallery bool
	// Reprocess says `photodesk reprocess --role` can re-run it.
	Reprocess bool
	// Concurrency is how many jobs a process runs at once by default.
	Concurrency int
	// Deadline is how long one job may take by default before the runtime
	// abandons it (--deadline-<stage>): several times the stage's slowest
	// real jobs, so that only a job that is stuck reaches it.
	Deadline time.Duration
}

// Stage names.
const (
	StageIngest     = "ingest"
	StageExif       = "exif"
	StageRenditions = "renditions"
	StageWatermark  = "watermark"
	StageAssembler  = "assembler"
)

// Stages is every stage, in pipeline order.
var Stages = stages()

func stages() []Stage {
	uploaded := []string{SubjectPhotoUploaded + ".>"}
	// Deadlines: ingest and exif take milliseconds (exif reads 64 KiB
	// heads), so a minute is only ever reached by a stuck job or a store
	// that stopped answering. An image job takes 1-3 s for a 24 MP photo
	// on 2 cores and several times that for 100 MP, the limit, on a busy
	// machine, and may wait up to a minute for the other image role's
	// decode: 3 minutes. The assembler's publish reads, stamps and writes
	// every derivative of a gallery, up to 500 photos' worth: 3 minutes,
	// and a retry resumes where it stopped (stamped copies are kept).
	photo := []Stage{
		{Name: StageExif, Stream: EventsStream, Inputs: uploaded, Result: SubjectPhotoExif, Reprocess: true, Concurrency: 2, Deadline: time.Minute},
		{Name: StageRenditions, Stream: EventsStream, Inputs: uploaded, Result: SubjectPhotoRenditions, HoldsGallery: true, Reprocess: true, Concurrency: 2, Deadline: 3 * time.Minute},
		{Name: StageWatermark, Stream: EventsStream, Inputs: uploaded, Result: SubjectPhotoWatermarked, HoldsGallery: true, Reprocess: true, Concurrency: 2, Deadline: 3 * time.Minute},
	}
	ingest := Stage{Name: StageIngest, Stream: S3EventsStream, Inputs: []string{S3EventsSubject}, Concurrency: 2, Deadline: time.Minute}
	// The assembler reads every event of a gallery's photos: the uploads,
	// the manifest, each photo stage's result, every earlier stage's
	// failures, and its own schedules coming due.
	asm := Stage{Name: StageAssembler, Stream: EventsStream, Reprocess: true, Concurrency: 2, Deadline: 3 * time.Minute,
		Inputs: []string{SubjectPhotoUploaded + ".>", SubjectGallerySubmitted + ".>", SubjectGalleryDue + ".>"}}
	for _, s := range photo {
		asm.Inputs = append(asm.Inputs, s.Result+".>")
	}
	for _, s := range append([]Stage{ingest}, photo...) {
		asm.Inputs = append(asm.Inputs, SubjectFailed+"."+s.Name+".>")
	}
	return append(append([]Stage{ingest}, photo...), asm)
}

// StageNamed returns the stage called name.
func StageNamed(name string) (Stage, bool) {
	for _, s := range Stages {
		if s.Name == name {
			return s, true
		}
	}
	return Stage{}, false
}

// PhotoStages are the stages that answer each photo with a result, in
// pipeline order: what a photo waits for before its gallery can go out.
func PhotoStages() []Stage {
	var out []Stage
	for _, s := range Stages {
		if s.Result != "" {
			out = append(out, s)
		}
	}
	return out
}

// StageNames are the names of stages, in their order.
func StageNames(stages []Stage) []string {
	out := make([]string, len(stages))
	for i, s := range stages {
		out[i] = s.Name
	}
	return out
}

// ReprocessStages are the stages `photodesk reprocess` can re-run.
func ReprocessStages() []Stage {
	var out []Stage
	for _, s := range Stages {
		if s.Reprocess {
			out = append(out, s)
		}
	}
	return out
}
