package ingest

import (
	"context"

	"go.opentelemetry.io/otel/trace"

	"github.com/photodesk/photodesk/pipeline"
	"github.com/photodesk/photodesk/pipeline/contract"
)

// continueUpload puts out in the uploader's trace when the object's user
// metadata carries one (photodesk upload and the API set traceparent on
// their PUTs; MinIO passes it on as X-Amz-Meta-Traceparent): a span for
// making the event, a child of the upload span and linked both ways with
// this job's span, which MinIO's event could not parent. Without one, out
// stays in the job's own trace, as the runtime publishes it.
func continueUpload(ctx context.Context, u Upload, out *contract.Output) {
	up := trace.SpanContextFromContext(pipeline.ExtractMetadata(context.Background(), u.Metadata))
	if !up.IsValid() {
		return
	}
	job := trace.SpanFromContext(ctx)
	job.AddLink(trace.Link{SpanContext: up})
	sctx, span := pipeline.StartCreateSpan(trace.ContextWithRemoteSpanContext(ctx, up), *out, u.Bucket, u.Key,
		trace.WithLinks(trace.Link{SpanContext: job.SpanContext()}))
	out.Header = pipeline.InjectHeader(sctx, out.Header)
	span.End()
}
