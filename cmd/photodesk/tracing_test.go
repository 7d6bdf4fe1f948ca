package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
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

	"github.com/photodesk/photodesk/internal/fixture"
	"github.com/photodesk/photodesk/pipeline"
	"github.com/photodesk/photodesk/pipeline/contract"
	"github.com/photodesk/photodesk/pipeline/devstack"
)

// spanOf reads the span context an event's headers carry.
func spanOf(h nats.Header) trace.SpanContext {
	return trace.SpanContextFromContext(pipeline.ExtractHeader(context.Background(), h))
}

// TestTraceFromUploadToArticle: each photo's trace starts at its PUT, by
// `photodesk upload` (a separate process) or the API (continuing the
// caller's traceparent), which publish the photo.uploaded event themselves
// (MinIO's event, which carries the trace as user metadata, is then a
// duplicate), and is carried in the headers of every event for the photo; article.ready
// carries the trace of the upload that completed the gallery. The roles'
// spans, here in an in-memory exporter, chain from the upload span.
func TestTraceFromUploadToArticle(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	otel.SetTracerProvider(tp)
	t.Cleanup(func() { otel.SetTracerProvider(noop.NewTracerProvider()); _ = tp.Shutdown(context.Background()) })

	s := devstack.ForTest(t)
	startRoles(t, s, "ingest", "exif", "renditions", "watermark", "assembler")
	const gallery = "trace-1"

	// c.jpg through the API, from a client with a trace of its own.
	c := startAPI(t, s.Config, "alice:photographer:"+aliceToken, apiFlags{maxUpload: 2 << 20})
	if st, _, b := c.do("POST", "/v1/galleries", aliceToken, strings.NewReader(`{"id":"`+gallery+`"}`), -1, "application/json"); st != 201 {
		t.Fatalf("create: %d %s", st, b)
	}
	const clientTrace, clientSpan = "5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b174"
	img := photo(t, 3, &fixture.EXIF{DateTimeOriginal: "2026:07:30 08:00:00"})
	if st, b := c.putTraced("/v1/galleries/"+gallery+"/photos/c.jpg", aliceToken, img, "00-"+clientTrace+"-"+clientSpan+"-01"); st != 201 {
		t.Fatalf("API PUT: %d %s", st, b)
	}

	// a.jpg, b.jpg and the manifest with `photodesk upload`, in a process
	// of its own.
	dir := t.TempDir()
	for i, name := range []string{"a.jpg", "b.jpg"} {
		if err := os.WriteFile(filepath.Join(dir, name), photo(t, int64(i+1), &fixture.EXIF{DateTimeOriginal: "2026:07:28 09:30:00"}), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	manifest := `{"headline":"高清大图|追踪","photos":[{"file":"a.jpg","caption":"一"},{"file":"b.jpg","caption":"二"},{"file":"c.jpg","caption":"三"}]}`
	if err := os.WriteFile(filepath.Join(dir, "gallery.json"), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd, _ := child(t, nil, append(append([]string{"upload", "--gallery", gallery, "--progress", "lines"}, connFlags(s.Config)...), dir)...)
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	select {
	case err := <-waited:
		if err != nil {
			t.Fatalf("upload: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("photodesk upload still running after 60 s")
	}

	// Each object's traceparent, as its uploader set it.
	store, err := pipeline.NewStore(s.Config)
	if err != nil {
		t.Fatal(err)
	}
	uploads := map[string]trace.SpanContext{} // by file name
	for _, name := range []string{"a.jpg", "b.jpg", "c.jpg", "gallery.json"} {
		oi, err := store.StatObject(context.Background(), s.Config.OriginalsBucket, gallery+"/"+name, minio.StatObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		sc := trace.SpanContextFromContext(pipeline.ExtractMetadata(context.Background(), map[string]string{"traceparent": oi.UserMetadata["Traceparent"]}))
		if !sc.IsValid() {
			t.Fatalf("%s: no traceparent in its metadata %v", name, oi.UserMetadata)
		}
		uploads[name] = sc
	}
	if a, b := uploads["a.jpg"].TraceID(), uploads["b.jpg"].TraceID(); a == b {
		t.Errorf("a.jpg and b.jpg share trace %s; each PUT starts its own", a)
	}
	if got := uploads["c.jpg"]; got.TraceID().String() != clientTrace || got.SpanID().String() == clientSpan {
		t.Errorf("API PUT: trace %s span %s, want the client's trace %s in a span of the API's", got.TraceID(), got.SpanID(), clientTrace)
	}

	// Every event of the gallery (failures are photodesk.failed.<stage>.<gallery>)
	// carries its photo's trace.
	var article *jetstream.Msg
	seen := map[string]int{}
	created := map[string]trace.SpanContext{} // photo.uploaded's span, by photo
	follow(t, s.Config, []string{"photodesk.*.*." + gallery}, 60*time.Second, func(m jetstream.Msg) {
		kind := strings.TrimSuffix(m.Subject(), "."+gallery)
		sc := spanOf(m.Headers())
		if !sc.IsValid() {
			t.Errorf("%s has no traceparent: %v", m.Subject(), m.Headers())
			return
		}
		var ref contract.Ref
		mustDecode(t, m, &ref)
		switch {
		case strings.HasPrefix(kind, contract.SubjectFailed):
			t.Errorf("%s: %s", m.Subject(), m.Data())
		case kind == contract.SubjectArticleReady:
			article = &m
		case ref.Photo != "":
			if want := uploads[ref.Photo].TraceID(); sc.TraceID() != want {
				t.Errorf("%s for %s: trace %s, want the upload's %s", kind, ref.Photo, sc.TraceID(), want)
			}
			if kind == contract.SubjectPhotoUploaded {
				created[ref.Photo] = sc
			}
			seen[kind]++
		case kind == contract.SubjectGallerySubmitted:
			if want := uploads["gallery.json"].TraceID(); sc.TraceID() != want {
				t.Errorf("%s: trace %s, want the manifest upload's %s", kind, sc.TraceID(), want)
			}
			seen[kind]++
		}
	}, func() bool { return article != nil })
	if article == nil {
		t.Fatalf("no article.ready; events seen %v", seen)
	}
	for _, kind := range []string{contract.SubjectPhotoUploaded, contract.SubjectPhotoExif, contract.SubjectPhotoRenditions, contract.SubjectPhotoWatermarked} {
		if seen[kind] != 3 {
			t.Errorf("%d %s events checked, want 3", seen[kind], kind)
		}
	}
	asc := spanOf((*article).Headers())
	completed := ""
	for name, u := range uploads {
		if u.TraceID() == asc.TraceID() {
			completed = name
		}
	}
	if completed == "" {
		t.Fatalf("article.ready trace %s is none of the uploads' %v", asc.TraceID(), uploads)
	}

	// The spans: article.ready came from an assembler job span, and a.jpg's
	// trace runs upload -> create photo.uploaded -> each role, parent to
	// child.
	byID := map[trace.SpanID]tracetest.SpanStub{}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		for _, sp := range exp.GetSpans() {
			byID[sp.SpanContext.SpanID()] = sp
		}
		if _, ok := byID[asc.SpanID()]; ok {
			break
		}
	}
	if sp, ok := byID[asc.SpanID()]; !ok || !strings.HasPrefix(sp.Name, "assembler ") || sp.SpanKind != trace.SpanKindConsumer {
		t.Errorf("article.ready's span %s (%q, found %v), want an assembler job span", asc.SpanID(), sp.Name, ok)
	}
	// photodesk upload published a.jpg's photo.uploaded in a create span of
	// its own process (not recorded here): the span in the event's
	// headers, in the upload's trace, is the roles' parent.
	cs := created["a.jpg"]
	if !cs.IsValid() || cs.SpanID() == uploads["a.jpg"].SpanID() {
		t.Fatalf("a.jpg's photo.uploaded carries span %v, want a create span under the upload span %s", cs, uploads["a.jpg"].SpanID())
	}
	for _, role := range []string{"exif", "renditions", "watermark", "assembler"} {
		found := false
		for _, sp := range byID {
			found = found || (sp.Name == role+" photodesk.photo.uploaded" && sp.Parent.SpanID() == cs.SpanID())
		}
		if !found {
			t.Errorf("no %s span for a.jpg's photo.uploaded under its create span", role)
		}
	}
	// The API's announcement of c.jpg is recorded here: a producer span
	// under the API's upload span, in the client's trace.
	cc := created["c.jpg"]
	if sp, ok := byID[cc.SpanID()]; !ok || sp.Name != "create photodesk.photo.uploaded" || sp.SpanKind != trace.SpanKindProducer ||
		sp.Parent.SpanID() != uploads["c.jpg"].SpanID() || sp.SpanContext.TraceID().String() != clientTrace {
		t.Errorf("c.jpg's photo.uploaded span %s: %q kind %v parent %s (found %v); want a create span under the API's upload span %s",
			cc.SpanID(), sp.Name, sp.SpanKind, sp.Parent.SpanID(), ok, uploads["c.jpg"].SpanID())
	}
	t.Logf("article.ready in the trace of %s's upload; %d spans recorded", completed, len(byID))
}

// putTraced PUTs body as a traced client does: with a traceparent header.
func (c apiClient) putTraced(path, token string, body []byte, traceparent string) (int, []byte) {
	c.t.Helper()
	req, err := http.NewRequest("PUT", c.base+path, bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Traceparent", traceparent)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}
