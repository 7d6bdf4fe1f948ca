package ingest

import (
	"context"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/photodesk/photodesk/pipeline"
)

// continueUpload puts out in the uploader's trace when the object's user
// metadata carries one (photodesk upload and the API set traceparent on
// their PUTs; MinIO passes it on as X-Amz-Meta-Traceparent): a span for
// making the event, a child of the upload span and linked both ways with
// this job's span, which MinIO's event could not parent. Without one, out
// stays in the job's own trace, as the runtime publishes it.
func continueUpload(ctx context.Context, u Upload, out *pipeline.Output) {
	up := trace.SpanContextFromContext(pipeline.ExtractMetadata(context.Background(), u.Metadata))
	if !up.IsValid() {
		return
	}
	job := trace.SpanFromContext(ctx)
	job.AddLink(trace.Link{SpanContext: up})
	attrs := []attribute.KeyValue{
		semconv.MessagingSystemKey.String("nats"),
		semconv.MessagingOperationTypeCreate,
		semconv.MessagingOperationName("create"),
		semconv.MessagingDestinationName(out.Subject),
		semconv.MessagingMessageID(out.MsgID),
		semconv.AWSS3Bucket(u.Bucket),
		semconv.AWSS3Key(u.Key),
	}
	dest := out.Subject
	if g, name, ok := strings.Cut(u.Key, "/"); ok {
		attrs = append(attrs, attribute.String("photodesk.gallery", g), attribute.String("photodesk.photo", name))
		dest = strings.TrimSuffix(dest, "."+g)
	}
	sctx, span := pipeline.Tracer().Start(trace.ContextWithRemoteSpanContext(ctx, up), "create "+dest,
		trace.WithSpanKind(trace.SpanKindProducer), trace.WithLinks(trace.Link{SpanContext: job.SpanContext()}), trace.WithAttributes(attrs...))
	out.Header = pipeline.InjectHeader(sctx, out.Header)
	span.End()
}
