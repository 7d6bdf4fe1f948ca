package imaging

import (
	"cmp"
	"context"
	"math"
	"slices"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/photodesk/photodesk/pipeline"
)

// Job is one preset to render in some of its formats.
type Job struct {
	Preset  Preset
	Formats []Format
}

// RenderSet renders jobs from src, largest preset first (size 0, the
// original's, before all), so that each smaller preset resizes the decode
// kept from a larger one instead of decoding the original again. Each
// job's results go to done before the next job starts, so only one
// preset's encodings are held at a time. It releases the kept decode
// (src.Close) when it returns.
func RenderSet(ctx context.Context, src *Source, jobs []Job, opts Options, done func(Job, []Result) error) error {
	defer src.Close()
	long := func(j Job) int {
		e := j.Preset.decodeEdge(src.Width, src.Height)
		if e <= 0 {
			return math.MaxInt
		}
		return e
	}
	jobs = slices.Clone(jobs)
	slices.SortStableFunc(jobs, func(a, b Job) int { return cmp.Compare(long(b), long(a)) })
	for n, j := range jobs {
		o := opts
		o.KeepDecode = n < len(jobs)-1
		_, span := StepSpan(ctx, "image.render", attribute.String("photodesk.preset", j.Preset.Name))
		out, err := src.Render(ctx, j.Preset, j.Formats, o)
		pipeline.EndSpan(span, err)
		if err != nil {
			return err
		}
		if err := done(j, out); err != nil {
			return err
		}
	}
	return nil
}

// StepSpan starts the span of one step of a job: "download", "store", or
// image work ("image.open", "image.render"), which the benchmarks subtract
// from a photo's time in the pipeline to find the pipeline's own share.
func StepSpan(ctx context.Context, name string, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	return pipeline.Tracer().Start(ctx, name, trace.WithAttributes(attrs...))
}
