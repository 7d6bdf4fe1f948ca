package pipeline

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"os"
	"strings"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/photodesk/photodesk/pipeline/config"
	"github.com/photodesk/photodesk/pipeline/contract"
)

// Tracing. A gallery's trace starts at the uploader (photodesk upload, the
// API), which stores its W3C traceparent as the object's user metadata; MinIO
// hands that to ingest inside the S3 event, and from there every event
// carries traceparent in its NATS headers, through every role, to
// article.ready. Each job is a consumer span. Spans leave the process only
// when an OTLP endpoint is configured; without one the SDK still makes span
// ids (a few allocations per job) so the context passes on to processes
// that do export.

// ServiceName is the OpenTelemetry service.name of every photodesk process.
const ServiceName = "photodesk"

const tracerName = "github.com/photodesk/photodesk/pipeline"

// Propagator reads and writes the trace context of events: W3C traceparent
// and tracestate, and W3C baggage. The runtime uses it whatever the global
// propagator is.
var Propagator propagation.TextMapPropagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

// Tracer is photodesk's tracer on the global provider (SetupTracing
// installs it; before that, spans pass the incoming context through).
func Tracer() trace.Tracer { return otel.Tracer(tracerName) }

// TracingConfig says where spans go.
type TracingConfig struct {
	// OTLPEndpoint is the base URL of an OTLP receiver: over HTTP (a
	// collector's port 4318; /v1/traces is added), or over gRPC (port
	// 4317) when OTEL_EXPORTER_OTLP_PROTOCOL is grpc. Empty: the standard
	// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT, and
	// without those nothing is exported.
	OTLPEndpoint string
}

// RegisterFlags binds c to --otlp-endpoint and PHOTODESK_OTLP_ENDPOINT.
func (c *TracingConfig) RegisterFlags(fs *flag.FlagSet) {
	config.StringVar(fs, &c.OTLPEndpoint, "otlp-endpoint", "PHOTODESK_OTLP_ENDPOINT",
		"OTLP endpoint for traces, e.g. http://collector:4318 (gRPC, port 4317, with OTEL_EXPORTER_OTLP_PROTOCOL=grpc); empty: OTEL_EXPORTER_OTLP_ENDPOINT, else spans are not exported (traceparent is still passed on)")
}

// Validate checks the endpoint.
func (c *TracingConfig) Validate() error {
	if c.OTLPEndpoint == "" {
		return nil
	}
	_, err := tracesURL(c.OTLPEndpoint)
	return err
}

// Exporting reports whether spans will be sent anywhere.
func (c *TracingConfig) Exporting() bool {
	if v, _ := os.LookupEnv("OTEL_TRACES_EXPORTER"); strings.EqualFold(strings.TrimSpace(v), "none") {
		return false
	}
	return c.OTLPEndpoint != "" || os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != ""
}

// tracesURL makes the receiver's traces URL from a base URL, as the
// OTEL_EXPORTER_OTLP_ENDPOINT variable is read; a URL that already ends in
// /v1/traces is kept, and a bare host:port means http.
func tracesURL(endpoint string) (string, error) {
	if !strings.Contains(endpoint, "://") {
		endpoint = "http://" + endpoint
	}
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("otlp-endpoint %q: want an http(s) URL such as http://collector:4318", endpoint)
	}
	if !strings.HasSuffix(u.Path, "/v1/traces") {
		u.Path = strings.TrimSuffix(u.Path, "/") + "/v1/traces"
	}
	return u.String(), nil
}

// SetupTracing installs the global tracer provider and propagator for a
// process running roles (or a command: "upload", "api"): service.name
// photodesk, photodesk.role the roles, and an OTLP exporter when c says
// so. shutdown flushes what is buffered and puts back the provider
// that was installed before.
func SetupTracing(ctx context.Context, c TracingConfig, log *slog.Logger, roles ...string) (shutdown func(context.Context) error, err error) {
	if log == nil {
		log = slog.Default()
	}
	if v := os.Getenv("OTEL_SDK_DISABLED"); strings.EqualFold(strings.TrimSpace(v), "true") {
		log.Info("tracing disabled by OTEL_SDK_DISABLED")
		return func(context.Context) error { return nil }, nil
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	// Later options win: OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES
	// override ours.
	res, err := resource.New(ctx,
		resource.WithSchemaURL(semconv.SchemaURL),
		resource.WithAttributes(semconv.ServiceName(ServiceName), attribute.String("photodesk.role", strings.Join(roles, ","))),
		resource.WithTelemetrySDK(), resource.WithHost(), resource.WithProcessPID(), resource.WithFromEnv())
	if err != nil {
		if res == nil {
			return nil, fmt.Errorf("tracing resource: %w", err)
		}
		log.Warn("tracing resource is partial", "err", err)
	}
	opts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	if c.Exporting() {
		exp, target, err := c.exporter(ctx)
		if err != nil {
			return nil, err
		}
		opts = append(opts, sdktrace.WithBatcher(exp))
		log.Info("exporting traces over OTLP", "endpoint", target)
	}
	tp := sdktrace.NewTracerProvider(opts...)
	prev := otel.GetTracerProvider()
	if prev == defaultProvider {
		prev = noop.NewTracerProvider() // the same pass-through behaviour
	}
	prevProp := otel.GetTextMapPropagator()
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(Propagator)
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { log.Warn("tracing", "err", err) }))
	return func(ctx context.Context) error {
		otel.SetTracerProvider(prev)
		otel.SetTextMapPropagator(prevProp)
		if err := tp.Shutdown(ctx); err != nil {
			return fmt.Errorf("flush traces: %w", err)
		}
		return nil
	}, nil
}

// exporter makes the OTLP exporter: over HTTP (http/protobuf, the
// standard's default, or http/json), or gRPC when
// OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL says grpc. The other OTEL_EXPORTER_OTLP_*
// variables (headers, certificates, timeout, compression) apply as usual.
func (c *TracingConfig) exporter(ctx context.Context) (sdktrace.SpanExporter, string, error) {
	protocol := os.Getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
	if protocol == "" {
		protocol = os.Getenv("OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	target := "from OTEL_EXPORTER_OTLP_* variables"
	switch protocol {
	case "grpc":
		var opts []otlptracegrpc.Option
		if c.OTLPEndpoint != "" {
			target = c.OTLPEndpoint
			if !strings.Contains(target, "://") {
				target = "http://" + target
			}
			opts = append(opts, otlptracegrpc.WithEndpointURL(target))
		}
		exp, err := otlptracegrpc.New(ctx, opts...)
		if err != nil {
			return nil, "", fmt.Errorf("OTLP/gRPC trace exporter: %w", err)
		}
		return exp, target + " (grpc)", nil
	case "", "http/protobuf", "http/json":
		var opts []otlptracehttp.Option
		if c.OTLPEndpoint != "" {
			target, _ = tracesURL(c.OTLPEndpoint)
			opts = append(opts, otlptracehttp.WithEndpointURL(target))
		}
		exp, err := otlptracehttp.New(ctx, opts...)
		if err != nil {
			return nil, "", fmt.Errorf("OTLP/HTTP trace exporter: %w", err)
		}
		return exp, target, nil
	}
	return nil, "", fmt.Errorf("OTLP protocol %q: want grpc, http/protobuf or http/json", protocol)
}

// defaultProvider is OpenTelemetry's own global provider, which cannot be
// installed again.
var defaultProvider = otel.GetTracerProvider()

// HeaderCarrier lets a propagator read and write NATS headers.
type HeaderCarrier nats.Header

// Get returns the first value of key; NATS headers are case-sensitive,
// but a writer that changed the case is still understood.
func (c HeaderCarrier) Get(key string) string {
	if v := nats.Header(c).Get(key); v != "" {
		return v
	}
	for k, vs := range c {
		if len(vs) > 0 && strings.EqualFold(k, key) {
			return vs[0]
		}
	}
	return ""
}

// Set replaces key's values with value.
func (c HeaderCarrier) Set(key, value string) { nats.Header(c).Set(key, value) }

// Keys lists the header names.
func (c HeaderCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}

// InjectHeader returns h with ctx's trace context added: a copy, so a
// header shared by several events is left alone, or h itself when ctx
// carries none.
func InjectHeader(ctx context.Context, h nats.Header) nats.Header {
	tc := nats.Header{}
	Propagator.Inject(ctx, HeaderCarrier(tc))
	if len(tc) == 0 {
		return h
	}
	maps.Copy(tc, h)
	return tc
}

// ExtractHeader returns ctx with the trace context h carries, if any.
func ExtractHeader(ctx context.Context, h nats.Header) context.Context {
	if len(h) == 0 {
		return ctx
	}
	return Propagator.Extract(ctx, HeaderCarrier(h))
}

// HasTraceParent reports whether h carries a trace context already.
func HasTraceParent(h nats.Header) bool {
	return HeaderCarrier(h).Get("traceparent") != ""
}

// TraceMetadata is S3 user metadata carrying ctx's trace context
// (traceparent, and tracestate when there is one), for an uploader to set
// on its PUT so that ingest continues its trace; nil without a span.
func TraceMetadata(ctx context.Context) map[string]string {
	md := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, md)
	if len(md) == 0 {
		return nil
	}
	return md
}

// ExtractMetadata returns ctx with the trace context in an object's user
// metadata (names lower-cased without x-amz-meta-), if any.
func ExtractMetadata(ctx context.Context, md map[string]string) context.Context {
	if md["traceparent"] == "" {
		return ctx
	}
	return propagation.TraceContext{}.Extract(ctx, propagation.MapCarrier(md))
}

// StartUploadSpan starts the span of one PUT into bucket, the root of the
// object's trace (or a child of ctx's span, an API request's say). Set
// TraceMetadata of the returned context on the PUT.
func StartUploadSpan(ctx context.Context, bucket, key string) (context.Context, trace.Span) {
	attrs := []attribute.KeyValue{semconv.AWSS3Bucket(bucket), semconv.AWSS3Key(key)}
	if g, name, ok := strings.Cut(key, "/"); ok {
		attrs = append(attrs, attribute.String("photodesk.gallery", g), attribute.String("photodesk.photo", name))
	}
	return Tracer().Start(ctx, "upload "+bucket, trace.WithSpanKind(trace.SpanKindProducer), trace.WithAttributes(attrs...))
}

// EndSpan records err, if any, on span and ends it.
func EndSpan(span trace.Span, err error) {
	SpanError(span, err)
	span.End()
}

// SpanError records err, if any, on span and marks it failed.
func SpanError(span trace.Span, err error) {
	if err == nil {
		return
	}
	span.RecordError(err)
	span.SetStatus(codes.Error, contract.Clip(err.Error(), 300))
}

// endJobSpan ends a job's span with its outcome (done, retry, failed,
// released) and, unless done, the error.
func endJobSpan(span trace.Span, outcome string, err error) {
	span.SetAttributes(attribute.String("photodesk.outcome", outcome))
	if outcome != "done" {
		SpanError(span, err)
	}
	span.End()
}

// startJobSpan starts the consumer span of one delivery, continuing the
// trace the event's headers carry (or starting one).
func startJobSpan(ctx context.Context, role string, m *Message) (context.Context, trace.Span) {
	ctx = ExtractHeader(ctx, m.Header)
	dest := m.Subject
	if g := m.Ref.Gallery; g != "" {
		dest = strings.TrimSuffix(dest, "."+g)
	}
	attrs := []attribute.KeyValue{
		semconv.MessagingSystemKey.String("nats"),
		semconv.MessagingOperationTypeProcess,
		semconv.MessagingOperationName("process"),
		semconv.MessagingDestinationName(m.Subject),
		semconv.MessagingConsumerGroupName(role),
		semconv.MessagingMessageBodySize(len(m.Data)),
		attribute.Int64("messaging.nats.stream_sequence", int64(m.StreamSeq)),
		attribute.Int("photodesk.attempt", m.Attempt),
	}
	if dest != m.Subject {
		attrs = append(attrs, semconv.MessagingDestinationTemplate(dest+".{gallery}"))
	}
	if id := m.Header.Get(nats.MsgIdHdr); id != "" {
		attrs = append(attrs, semconv.MessagingMessageID(id))
	}
	if m.Ref.Gallery != "" {
		attrs = append(attrs, attribute.String("photodesk.gallery", m.Ref.Gallery))
	}
	if m.Ref.Photo != "" {
		attrs = append(attrs, attribute.String("photodesk.photo", m.Ref.Photo))
	}
	return Tracer().Start(ctx, role+" "+dest, trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(attrs...))
}

// StartCreateSpan starts the producer span of an original's event (out,
// from OriginalEvent) for the object bucket/key: "create <subject>" without
// the gallery, as ingest and AnnounceUpload both make it, so an upload's
// trace has the same shape whichever of them published the event.
func StartCreateSpan(ctx context.Context, out contract.Output, bucket, key string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	attrs := []attribute.KeyValue{
		semconv.MessagingSystemKey.String("nats"),
		semconv.MessagingOperationTypeCreate,
		semconv.MessagingOperationName("create"),
		semconv.MessagingDestinationName(out.Subject),
		semconv.MessagingMessageID(out.MsgID),
		semconv.AWSS3Bucket(bucket),
		semconv.AWSS3Key(key),
	}
	dest := out.Subject
	if g, name, ok := strings.Cut(key, "/"); ok {
		attrs = append(attrs, attribute.String("photodesk.gallery", g), attribute.String("photodesk.photo", name))
		dest = strings.TrimSuffix(dest, "."+g)
	}
	opts = append(opts, trace.WithSpanKind(trace.SpanKindProducer), trace.WithAttributes(attrs...))
	return Tracer().Start(ctx, "create "+dest, opts...)
}
