package ingest_test

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/photodesk/photodesk/pipeline"
	"github.com/photodesk/photodesk/pipeline/contract"
	"github.com/photodesk/photodesk/pipeline/devstack"
	"github.com/photodesk/photodesk/workers/ingest"
)

// TestIngestContinuesUploadTrace: an uploader's traceparent, set as user
// metadata on a PUT to a real MinIO, comes back in MinIO's event, and
// ingest publishes the photo's event in that trace; an object without one
// gets no trace context from ingest (the runtime's job span is used).
func TestIngestContinuesUploadTrace(t *testing.T) {
	s := devstack.ForTest(t)
	ctx := context.Background()
	store, err := pipeline.NewStore(s.Config)
	if err != nil {
		t.Fatal(err)
	}
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer tp.Shutdown(ctx)
	otel.SetTracerProvider(tp) // as pipeline.SetupTracing does
	defer otel.SetTracerProvider(noop.NewTracerProvider())

	uctx, upload := tp.Tracer("uploader").Start(ctx, "upload originals")
	md := pipeline.TraceMetadata(uctx)
	upload.End()
	for key, meta := range map[string]map[string]string{"tr-1/a.jpg": md, "tr-1/plain.jpg": nil} {
		if _, err := store.PutObject(ctx, s.Config.OriginalsBucket, key, bytes.NewReader([]byte("x")), 1, minio.PutObjectOptions{UserMetadata: meta}); err != nil {
			t.Fatal(err)
		}
	}

	nc, js, err := pipeline.Connect(s.Config, t.Name())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	cons, err := js.OrderedConsumer(ctx, contract.S3EventsStream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	outs := map[string]contract.Output{}
	var jobSpans []trace.SpanContext
	for deadline := time.Now().Add(20 * time.Second); len(outs) < 2 && time.Now().Before(deadline); {
		b, err := cons.Fetch(2, jetstream.FetchMaxWait(500*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		for jm := range b.Messages() {
			m := &pipeline.Message{Subject: jm.Subject(), Data: jm.Data(), Log: slog.New(slog.DiscardHandler)}
			jctx, job := tp.Tracer("runtime").Start(ctx, "ingest photodesk.s3.originals")
			os, err := (&ingest.Role{Bucket: s.Config.OriginalsBucket}).Handle(jctx, m)
			job.End()
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range os {
				var r contract.Ref
				_ = contract.Decode(o.Subject, o.Data, &r)
				outs[r.Photo] = o
				jobSpans = append(jobSpans, job.SpanContext())
			}
		}
	}
	a, ok := outs["a.jpg"]
	if !ok {
		t.Fatalf("no event for tr-1/a.jpg; got %d", len(outs))
	}
	// MinIO's event has X-Amz-Meta-Traceparent; the photo's event is in
	// the upload's trace, in a span of ingest's own.
	sc := trace.SpanContextFromContext(pipeline.ExtractHeader(ctx, a.Header))
	if sc.TraceID() != upload.SpanContext().TraceID() || sc.SpanID() == upload.SpanContext().SpanID() {
		t.Fatalf("a.jpg event traceparent %q, want trace %s in a new span", nats.Header(a.Header).Get("traceparent"), upload.SpanContext().TraceID())
	}
	spans := map[trace.SpanID]tracetest.SpanStub{}
	for _, st := range exp.GetSpans() {
		spans[st.SpanContext.SpanID()] = st
	}
	create := spans[sc.SpanID()]
	if create.Name != "create photodesk.photo.uploaded" || create.Parent.SpanID() != upload.SpanContext().SpanID() || len(create.Links) != 1 {
		t.Errorf("ingest's span %q, parent %s, links %d", create.Name, create.Parent.SpanID(), len(create.Links))
	}
	linked := false
	for _, js := range jobSpans {
		for _, l := range spans[js.SpanID()].Links {
			linked = linked || l.SpanContext.SpanID() == upload.SpanContext().SpanID()
		}
	}
	if !linked {
		t.Error("the job's span has no link to the upload")
	}
	if p, ok := outs["plain.jpg"]; !ok || nats.Header(p.Header).Get("traceparent") != "" {
		t.Errorf("plain.jpg: event %v with header %v, want no trace context from ingest", ok, p.Header)
	}
}
