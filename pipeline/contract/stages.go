package contract

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
	photo := []Stage{
		{Name: StageExif, Stream: EventsStream, Inputs: uploaded, Result: SubjectPhotoExif, Reprocess: true, Concurrency: 2},
		{Name: StageRenditions, Stream: EventsStream, Inputs: uploaded, Result: SubjectPhotoRenditions, HoldsGallery: true, Reprocess: true, Concurrency: 2},
		{Name: StageWatermark, Stream: EventsStream, Inputs: uploaded, Result: SubjectPhotoWatermarked, HoldsGallery: true, Reprocess: true, Concurrency: 2},
	}
	ingest := Stage{Name: StageIngest, Stream: S3EventsStream, Inputs: []string{S3EventsSubject}, Concurrency: 2}
	// The assembler reads every event of a gallery's photos: the uploads,
	// the manifest, each photo stage's result, every earlier stage's
	// failures, and its own schedules coming due.
	asm := Stage{Name: StageAssembler, Stream: EventsStream, Reprocess: true, Concurrency: 2,
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
