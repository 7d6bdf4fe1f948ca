package pipeline_test

import (
	"context"
	"log/slog"
	"net"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"

	"github.com/photodesk/photodesk/internal/otlptest"
	"github.com/photodesk/photodesk/pipeline"
	"github.com/photodesk/photodesk/pipeline/contract"
)

// inMemoryTracing installs an SDK tracer provider that keeps every ended
// span, for the rest of the test.
func inMemoryTracing(t *testing.T) *tracetest.InMemoryExporter {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	otel.SetTracerProvider(tp)
	t.Cleanup(func() { otel.SetTracerProvider(noop.NewTracerProvider()); _ = tp.Shutdown(context.Background()) })
	return exp
}

// parseTraceParent splits a W3C traceparent header.
func parseTraceParent(t *testing.T, v string) (trace.TraceID, trace.SpanID) {
	t.Helper()
	sc := trace.SpanContextFromContext(pipeline.ExtractHeader(context.Background(), nats.Header{"traceparent": {v}}))
	if !sc.IsValid() {
		t.Fatalf("traceparent %q is not valid", v)
	}
	return sc.TraceID(), sc.SpanID()
}

func TestHeaderCarrierRoundTrip(t *testing.T) {
	tp := sdktrace.NewTracerProvider()
	defer tp.Shutdown(context.Background())
	ctx, span := tp.Tracer("test").Start(context.Background(), "upload")
	defer span.End()
	ts, err := trace.ParseTraceState("photodesk=abc,other=1")
	if err != nil {
		t.Fatal(err)
	}
	want := span.SpanContext().WithTraceState(ts)
	ctx = trace.ContextWithSpanContext(ctx, want)

	shared := nats.Header{contract.RolesHeader: {"exif"}}
	h := pipeline.InjectHeader(ctx, shared)
	if got := h.Get("traceparent"); got != "00-"+want.TraceID().String()+"-"+want.SpanID().String()+"-01" {
		t.Errorf("traceparent = %q", got)
	}
	if h.Get("tracestate") != "photodesk=abc,other=1" || h.Get(contract.RolesHeader) != "exif" {
		t.Errorf("header = %v", h)
	}
	if len(shared) != 1 {
		t.Errorf("InjectHeader changed the header it was given: %v", shared)
	}
	got := trace.SpanContextFromContext(pipeline.ExtractHeader(context.Background(), h))
	if !got.IsRemote() || got.TraceID() != want.TraceID() || got.SpanID() != want.SpanID() || !got.IsSampled() || got.TraceState().String() != ts.String() {
		t.Errorf("extracted %+v, want %+v", got, want)
	}
	// A writer that capitalised the name is still understood.
	cap := nats.Header{"Traceparent": h["traceparent"]}
	if got := trace.SpanContextFromContext(pipeline.ExtractHeader(context.Background(), cap)); got.TraceID() != want.TraceID() {
		t.Errorf("Traceparent not read: %v", got)
	}
	keys := pipeline.HeaderCarrier(h).Keys()
	if strings.Join(keys, ",") == "" || len(keys) != 3 {
		t.Errorf("Keys = %v", keys)
	}
	// No span, no header: nothing is added, not even an empty map.
	if h := pipeline.InjectHeader(context.Background(), nil); h != nil {
		t.Errorf("InjectHeader without a span = %v, want nil", h)
	}

	// The same context through S3 user metadata, as ingest reads it.
	md := pipeline.TraceMetadata(ctx)
	if md["traceparent"] != h.Get("traceparent") || md["tracestate"] != "photodesk=abc,other=1" {
		t.Errorf("metadata = %v", md)
	}
	if got := trace.SpanContextFromContext(pipeline.ExtractMetadata(context.Background(), md)); got.SpanID() != want.SpanID() {
		t.Errorf("from metadata: %v", got)
	}
	if pipeline.TraceMetadata(context.Background()) != nil {
		t.Error("metadata without a span")
	}
}

// publishTraced publishes a photo.uploaded event with header h.
func (e *env) publishTraced(t *testing.T, gallery, photo string, h nats.Header) {
	t.Helper()
	ev := contract.PhotoUploaded{Ref: contract.Ref{Gallery: gallery, Photo: photo, Bucket: "originals", Key: gallery + "/" + photo, ETag: "e1"}}
	out, err := contract.JSONOutput(contract.GallerySubject(contract.SubjectPhotoUploaded, gallery), contract.MsgID("uploaded", ev.Ref), ev)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.js.PublishMsg(context.Background(), &nats.Msg{Subject: out.Subject, Data: out.Data, Header: h}, jetstream.WithMsgID(out.MsgID)); err != nil {
		t.Fatal(err)
	}
}

// exifEcho is an exif worker whose handler notes the trace it ran in and
// publishes one result; bad.jpg fails for good, kept.jpg brings its own
// trace context.
func exifEcho(seen *sync.Map, own string) pipeline.Worker {
	return pipeline.Worker{Role: "exif", Handler: func(ctx context.Context, m *pipeline.Message) ([]contract.Output, error) {
		seen.Store(m.Ref.Photo, trace.SpanContextFromContext(ctx))
		if m.Ref.Photo == "bad.jpg" {
			return nil, pipeline.Permanentf("not an image")
		}
		out, err := contract.JSONOutput(contract.GallerySubject(contract.SubjectPhotoExif, m.Ref.Gallery), contract.MsgID("exif", m.Ref), contract.PhotoExif{Ref: m.Ref})
		if m.Ref.Photo == "kept.jpg" {
			out.Header = nats.Header{"traceparent": {own}}
		}
		return []contract.Output{out}, err
	}}
}

// TestRuntimeCarriesTraceContext: a job continues the trace of its event's
// traceparent (or starts one), its handler runs in the job's span, and
// every event it publishes, failure events too, carries that span.
func TestRuntimeCarriesTraceContext(t *testing.T) {
	exp := inMemoryTracing(t)
	e := newEnv(t)
	const upstream = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	const own = "00-11111111111111111111111111111111-2222222222222222-01"
	upTrace, upSpan := parseTraceParent(t, upstream)
	var seen sync.Map
	stop := start(t, e.runtime(t), exifEcho(&seen, own))
	defer stop()
	e.publishTraced(t, "tr-1", "a.jpg", nats.Header{"traceparent": {upstream}})
	e.publishTraced(t, "tr-1", "b.jpg", nil)
	e.publishTraced(t, "tr-1", "bad.jpg", nats.Header{"traceparent": {upstream}})
	e.publishTraced(t, "tr-1", "kept.jpg", nats.Header{"traceparent": {upstream}})

	msgs := e.collect(t, "photodesk.>", 8, 5*time.Second) // 4 uploads, 3 results, 1 failure
	out := map[string]jetstream.Msg{}
	for _, m := range msgs {
		var r contract.Ref
		_ = contract.Decode(m.Subject(), m.Data(), &r)
		if !strings.HasPrefix(m.Subject(), contract.SubjectPhotoUploaded) {
			out[r.Photo] = m
		}
	}
	if len(out) != 4 {
		t.Fatalf("got results for %d photos, want a.jpg, b.jpg, bad.jpg, kept.jpg", len(out))
	}
	e.settle(t, "exif")
	spans := map[trace.SpanID]tracetest.SpanStub{}
	for _, s := range exp.GetSpans() {
		spans[s.SpanContext.SpanID()] = s
	}

	// a.jpg: the handler and the result are in the upstream trace, in a
	// new span: the job's consumer span, a child of the upstream one.
	sc, _ := seen.Load("a.jpg")
	if got := sc.(trace.SpanContext); got.TraceID() != upTrace || got.SpanID() == upSpan {
		t.Errorf("a.jpg handler ran in trace %s span %s, want trace %s and a new span", got.TraceID(), got.SpanID(), upTrace)
	}
	tid, sid := parseTraceParent(t, out["a.jpg"].Headers().Get("traceparent"))
	if tid != upTrace || sid == upSpan || sid != sc.(trace.SpanContext).SpanID() {
		t.Errorf("a.jpg result traceparent %s/%s, want trace %s, the job's span", tid, sid, upTrace)
	}
	s, ok := spans[sid]
	if !ok {
		t.Fatalf("no span %s exported; have %d spans", sid, len(spans))
	}
	attrs := map[string]string{}
	for _, kv := range s.Attributes {
		attrs[string(kv.Key)] = kv.Value.Emit()
	}
	if s.Name != "exif photodesk.photo.uploaded" || s.SpanKind != trace.SpanKindConsumer || s.Parent.SpanID() != upSpan || !s.Parent.IsRemote() {
		t.Errorf("job span %q kind %v parent %s", s.Name, s.SpanKind, s.Parent.SpanID())
	}
	for k, v := range map[string]string{
		"messaging.system": "nats", "messaging.destination.name": "photodesk.photo.uploaded.tr-1",
		"messaging.message.id": "uploaded:originals/tr-1/a.jpg@e1", "messaging.consumer.group.name": "exif",
		"photodesk.gallery": "tr-1", "photodesk.photo": "a.jpg", "photodesk.attempt": "1", "photodesk.outcome": "done",
	} {
		if attrs[k] != v {
			t.Errorf("span attribute %s = %q, want %q", k, attrs[k], v)
		}
	}

	// b.jpg came without one: a fresh trace, still passed on.
	sc, _ = seen.Load("b.jpg")
	bsc := sc.(trace.SpanContext)
	if !bsc.IsValid() || bsc.TraceID() == upTrace {
		t.Errorf("b.jpg handler trace %s, want a new valid one", bsc.TraceID())
	}
	if tid, sid := parseTraceParent(t, out["b.jpg"].Headers().Get("traceparent")); tid != bsc.TraceID() || sid != bsc.SpanID() {
		t.Errorf("b.jpg result traceparent %s/%s, want %s/%s", tid, sid, bsc.TraceID(), bsc.SpanID())
	}
	if s := spans[bsc.SpanID()]; s.Parent.IsValid() {
		t.Errorf("b.jpg span has parent %s, want a root", s.Parent.SpanID())
	}

	// bad.jpg: the failure event carries the trace; the span says failed.
	tid, sid = parseTraceParent(t, out["bad.jpg"].Headers().Get("traceparent"))
	if tid != upTrace || !strings.HasPrefix(out["bad.jpg"].Subject(), contract.SubjectFailed) {
		t.Errorf("failure %s traceparent trace %s, want %s", out["bad.jpg"].Subject(), tid, upTrace)
	}
	if s := spans[sid]; s.Status.Code.String() != "Error" || !strings.Contains(s.Status.Description, "not an image") || len(s.Events) == 0 {
		t.Errorf("failed job's span status %v %q, events %d", s.Status.Code, s.Status.Description, len(s.Events))
	}

	// kept.jpg: a handler's own trace context is not overwritten.
	if got := out["kept.jpg"].Headers().Get("traceparent"); got != own {
		t.Errorf("kept.jpg traceparent = %q, want the handler's %q", got, own)
	}
}

// otlpReceiver is an OTLP/HTTP trace receiver on loopback.
type otlpReceiver struct {
	mu   sync.Mutex
	reqs []*coltracepb.ExportTraceServiceRequest
}

// take keeps one export request.
func (o *otlpReceiver) take(req *coltracepb.ExportTraceServiceRequest) {
	o.mu.Lock()
	o.reqs = append(o.reqs, req)
	o.mu.Unlock()
}

// exported is one span as the receiver got it, with its resource.
type exported struct {
	name, traceID string
	resource      map[string]string
}

func (o *otlpReceiver) spans() []exported {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []exported
	for _, req := range o.reqs {
		for _, rs := range req.ResourceSpans {
			res := map[string]string{}
			for _, kv := range rs.GetResource().GetAttributes() {
				res[kv.Key] = kv.GetValue().GetStringValue()
			}
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					out = append(out, exported{name: s.Name, traceID: trace.TraceID(s.TraceId).String(), resource: res})
				}
			}
		}
	}
	return out
}

// clearOTelEnv keeps the machine's OTEL_* settings out of a test.
func clearOTelEnv(t *testing.T) {
	for _, v := range []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_TRACES_EXPORTER", "OTEL_SDK_DISABLED",
		"OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES", "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_TRACES_SAMPLER"} {
		t.Setenv(v, "")
	}
}

// grpcReceiver is the same receiver over OTLP/gRPC.
type grpcReceiver struct {
	coltracepb.UnimplementedTraceServiceServer
	o *otlpReceiver
}

func (g grpcReceiver) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	g.o.take(req)
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

// exportOne sets tracing up with cfg, runs one exif job, shuts tracing
// down, and returns the trace its result carries.
func exportOne(t *testing.T, e *env, cfg pipeline.TracingConfig, gallery string) trace.TraceID {
	t.Helper()
	shutdown, err := pipeline.SetupTracing(context.Background(), cfg, slog.New(slog.NewTextHandler(testWriter{t}, nil)), "exif")
	if err != nil {
		t.Fatal(err)
	}
	var seen sync.Map
	stop := start(t, e.runtime(t), exifEcho(&seen, ""))
	e.publishTraced(t, gallery, "a.jpg", nil)
	msgs := e.collect(t, contract.SubjectPhotoExif+"."+gallery, 1, 5*time.Second)
	e.settle(t, "exif")
	stop()
	if err := shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 {
		t.Fatalf("got %d results", len(msgs))
	}
	tid, _ := parseTraceParent(t, msgs[0].Headers().Get("traceparent"))
	return tid
}

// assertExported checks that the job's span of trace tid reached recv as
// service photodesk with its role.
func assertExported(t *testing.T, recv *otlpReceiver, tid trace.TraceID) {
	t.Helper()
	for _, s := range recv.spans() {
		if s.name == "exif photodesk.photo.uploaded" && s.traceID == tid.String() {
			if s.resource["service.name"] != "photodesk" || s.resource["photodesk.role"] != "exif" {
				t.Errorf("resource = %v", s.resource)
			}
			return
		}
	}
	t.Errorf("the job's span (trace %s) did not reach the receiver; got %v", tid, recv.spans())
}

// TestTracesExportedOverOTLP: with an endpoint configured, the runtime's
// spans reach an OTLP receiver (HTTP, or gRPC when the standard variable
// says so), as service photodesk with its role, in the trace the
// published events carry; without one, nothing is exported but the
// context is still passed on.
func TestTracesExportedOverOTLP(t *testing.T) {
	clearOTelEnv(t)
	e := newEnv(t)
	if (&pipeline.TracingConfig{}).Exporting() {
		t.Fatal("exporting with no endpoint configured")
	}
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")
	if !(&pipeline.TracingConfig{}).Exporting() {
		t.Error("OTEL_EXPORTER_OTLP_ENDPOINT is not honoured")
	}
	t.Setenv("OTEL_TRACES_EXPORTER", "none")
	if (&pipeline.TracingConfig{}).Exporting() {
		t.Error("OTEL_TRACES_EXPORTER=none is not honoured")
	}
	t.Setenv("OTEL_TRACES_EXPORTER", "")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	if err := (&pipeline.TracingConfig{OTLPEndpoint: "ftp://x"}).Validate(); err == nil {
		t.Error("an ftp endpoint is accepted")
	}

	t.Run("http", func(t *testing.T) {
		recv := &otlpReceiver{}
		srv := httptest.NewServer(otlptest.Handler(recv.take))
		defer srv.Close()
		// As ops would write it: host:port, no scheme, no path.
		tid := exportOne(t, e, pipeline.TracingConfig{OTLPEndpoint: strings.TrimPrefix(srv.URL, "http://")}, "otlp-1")
		assertExported(t, recv, tid)

		// No endpoint: the SDK still makes spans, so results carry a
		// traceparent (exportOne checks), and the receiver hears nothing more.
		before := len(recv.spans())
		exportOne(t, e, pipeline.TracingConfig{}, "otlp-2")
		if n := len(recv.spans()); n != before {
			t.Errorf("%d spans exported with no endpoint configured", n-before)
		}
	})

	t.Run("grpc", func(t *testing.T) {
		recv := &otlpReceiver{}
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		gs := grpc.NewServer()
		coltracepb.RegisterTraceServiceServer(gs, grpcReceiver{o: recv})
		go func() { _ = gs.Serve(lis) }()
		defer gs.Stop()
		t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
		t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+lis.Addr().String())
		tid := exportOne(t, e, pipeline.TracingConfig{}, "otlp-3")
		assertExported(t, recv, tid)
	})
}
