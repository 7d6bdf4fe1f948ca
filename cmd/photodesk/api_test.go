package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/photodesk/photodesk/api"
	"github.com/photodesk/photodesk/internal/fixture"
	"github.com/photodesk/photodesk/pipeline"
	"github.com/photodesk/photodesk/pipeline/config"
	"github.com/photodesk/photodesk/pipeline/devstack"
)

const (
	aliceToken = "alice-token-0123456789abcdef"
	bobToken   = "bob-token-0123456789abcdef"
	deskToken  = "desk-token-0123456789abcdef"
)

// apiClient calls the test API.
type apiClient struct {
	t    *testing.T
	base string
}

func (c apiClient) do(method, path, token string, body io.Reader, length int64, ctype string) (int, http.Header, []byte) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	req.ContentLength = length
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

// startAPI serves the API on a free loopback port until the test ends,
// with tokens ("name:role:token,...") and f's limits.
func startAPI(t *testing.T, cfg config.Config, tokens string, f apiFlags) apiClient {
	t.Helper()
	toks, err := api.ParseTokens(tokens)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f.addr = "127.0.0.1:0"
	addr, stop, err := serveAPI(ctx, f, toks, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { stop(); cancel() })
	return apiClient{t: t, base: "http://" + addr.String()}
}

// host is the API's host:port, for raw connections.
func (c apiClient) host() string { return strings.TrimPrefix(c.base, "http://") }

// refusal checks an error response: status, a JSON error with that code,
// a message.
func (c apiClient) refusal(method, path, token string, body []byte, wantStatus int, wantCode string) string {
	c.t.Helper()
	var r io.Reader
	n := int64(len(body))
	if body != nil {
		r = bytes.NewReader(body)
	}
	status, h, b := c.do(method, path, token, r, n, "")
	var e struct {
		Error struct{ Code, Message string }
	}
	if status != wantStatus || json.Unmarshal(b, &e) != nil || e.Error.Code != wantCode || e.Error.Message == "" || !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
		c.t.Errorf("%s %s: %d %s, want %d with error code %s", method, path, status, b, wantStatus, wantCode)
	}
	return e.Error.Message
}

// TestAPI: every endpoint and every refusal against the real servers, and
// a gallery made through the API followed to its article over SSE.
func TestAPI(t *testing.T) {
	s := devstack.ForTest(t)
	startRoles(t, s, "ingest", "exif", "renditions", "watermark", "assembler")
	c := startAPI(t, s.Config, "alice:photographer:"+aliceToken+",bob:photographer:"+bobToken+",desk:newsroom:"+deskToken, apiFlags{maxUpload: 2 << 20})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// The OpenAPI document is public and names every route.
	status, _, doc := c.do("GET", "/v1/openapi.json", "", nil, 0, "")
	var oa struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if status != 200 || json.Unmarshal(doc, &oa) != nil || oa.OpenAPI != "3.1.0" {
		t.Fatalf("openapi.json: %d %s", status, doc)
	}
	for _, r := range []string{"post /v1/galleries", "get /v1/galleries", "get /v1/galleries/{id}", "put /v1/galleries/{id}/photos/{name}",
		"put /v1/galleries/{id}/manifest", "get /v1/galleries/{id}/article", "get /v1/galleries/{id}/preview", "get /v1/galleries/{id}/events", "get /v1/scheduled"} {
		method, path, _ := strings.Cut(r, " ")
		if oa.Paths[path][method] == nil {
			t.Errorf("openapi.json lacks %s", r)
		}
	}

	// Authentication and roles.
	c.refusal("GET", "/v1/galleries", "", nil, 401, "unauthorized")
	c.refusal("GET", "/v1/galleries", "wrong-token-0123456789", nil, 401, "unauthorized")
	c.refusal("POST", "/v1/galleries", deskToken, []byte(`{"id":"x"}`), 403, "forbidden")
	c.refusal("GET", "/v1/nothing", aliceToken, nil, 404, "not_found")

	// Creating galleries.
	c.refusal("POST", "/v1/galleries", aliceToken, []byte(`{"id":"Not A Slug"}`), 400, "bad_gallery_id")
	c.refusal("POST", "/v1/galleries", aliceToken, []byte(`not json`), 400, "bad_request")
	if st, _, b := c.do("POST", "/v1/galleries", aliceToken, strings.NewReader(`{"id":"api-1"}`), -1, "application/json"); st != 201 {
		t.Fatalf("create: %d %s", st, b)
	}
	c.refusal("POST", "/v1/galleries", bobToken, []byte(`{"id":"api-1"}`), 409, "gallery_exists")

	// Only the owner and the newsroom see it.
	c.refusal("GET", "/v1/galleries/api-1", bobToken, nil, 404, "no_gallery")
	c.refusal("GET", "/v1/galleries/no-such", aliceToken, nil, 404, "no_gallery")
	c.refusal("GET", "/v1/galleries/BAD_ID", aliceToken, nil, 400, "bad_gallery_id")
	for token, want := range map[string]int{aliceToken: 1, bobToken: 0, deskToken: 1} {
		_, _, b := c.do("GET", "/v1/galleries", token, nil, 0, "")
		var l struct{ Galleries []struct{ ID string } }
		if json.Unmarshal(b, &l) != nil || len(l.Galleries) != want {
			t.Errorf("list as %s: %s", token[:5], b)
		}
	}

	// Uploads: every refusal, then two photos.
	onePhoto := photo(t, 1, nil)
	c.refusal("PUT", "/v1/galleries/api-1/photos/a.jpg", deskToken, onePhoto, 403, "forbidden")
	c.refusal("PUT", "/v1/galleries/api-1/photos/a.jpg", bobToken, onePhoto, 404, "no_gallery")
	c.refusal("PUT", "/v1/galleries/api-1/photos/..%2Fescape.jpg", aliceToken, onePhoto, 400, "bad_photo_name")
	c.refusal("PUT", "/v1/galleries/api-1/photos/gallery.json", aliceToken, onePhoto, 400, "bad_photo_name")
	c.refusal("PUT", "/v1/galleries/api-1/photos/a.jpg", aliceToken, []byte{}, 400, "empty_file")
	c.refusal("PUT", "/v1/galleries/api-1/photos/big.jpg", aliceToken, make([]byte, 3<<20), 413, "too_large")
	msg := c.refusal("PUT", "/v1/galleries/api-1/photos/doc.jpg", aliceToken, []byte("%PDF-1.7\n%%EOF\n"), 415, "not_an_image")
	if !strings.Contains(msg, "application/pdf") {
		t.Errorf("415 message %q", msg)
	}
	if st, _, b := c.do("PUT", "/v1/galleries/api-1/photos/a.jpg", aliceToken, bufio.NewReader(bytes.NewReader(onePhoto)), -1, ""); st != 411 {
		t.Errorf("upload without Content-Length: %d %s", st, b)
	}
	for i, name := range []string{"01-a.jpg", "02-b.jpg"} {
		p := photo(t, int64(i+1), &fixture.EXIF{DateTimeOriginal: "2026:07:28 10:00:00"})
		if st, _, b := c.do("PUT", "/v1/galleries/api-1/photos/"+name, aliceToken, bytes.NewReader(p), int64(len(p)), "application/octet-stream"); st != 201 {
			t.Fatalf("upload %s: %d %s", name, st, b)
		}
	}
	store, _ := pipeline.NewStore(s.Config)
	if info, err := store.StatObject(ctx, s.Config.OriginalsBucket, "api-1/01-a.jpg", minio.StatObjectOptions{}); err != nil || info.ContentType != "image/jpeg" {
		t.Errorf("stored upload: %+v %v", info, err)
	}
	// No article yet.
	c.refusal("GET", "/v1/galleries/api-1/article", aliceToken, nil, 404, "no_article")

	// The manifest: refused with the reason, then submitted.
	msg = c.refusal("PUT", "/v1/galleries/api-1/manifest", aliceToken, []byte(`{"headline":"h","photos":[{"file":"01-a.jpg"},{"file":"01-a.jpg"}]}`), 422, "bad_manifest")
	if !strings.Contains(msg, "listed twice") {
		t.Errorf("422 message %q", msg)
	}
	c.refusal("PUT", "/v1/galleries/api-1/manifest", aliceToken, []byte("{\"headline\":\"h\xff\"}"), 422, "bad_manifest")
	c.refusal("PUT", "/v1/galleries/api-1/manifest", aliceToken, bytes.Repeat([]byte(" "), 2<<20), 413, "too_large")

	// Live status over SSE, from before the manifest to the article.
	sse, err := http.NewRequestWithContext(ctx, "GET", c.base+"/v1/galleries/api-1/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	sse.Header.Set("Authorization", "Bearer "+deskToken)
	resp, err := http.DefaultClient.Do(sse)
	if err != nil || resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("events: %v %v", resp, err)
	}
	defer resp.Body.Close()
	manifest := `{"headline":"高清大图|接口","photos":[{"file":"02-b.jpg","caption":"<b>乙</b> & 丙"},{"file":"01-a.jpg","caption":"甲"}]}`
	if st, _, b := c.do("PUT", "/v1/galleries/api-1/manifest", aliceToken, strings.NewReader(manifest), int64(len(manifest)), "application/json"); st != 202 {
		t.Fatalf("manifest: %d %s", st, b)
	}
	seen := map[string]int{}
	lines := bufio.NewScanner(resp.Body)
	lines.Buffer(make([]byte, 1<<20), 4<<20)
	deadline := time.AfterFunc(60*time.Second, cancel)
	defer deadline.Stop()
	for seen["article.ready"] == 0 && lines.Scan() {
		if ev, ok := strings.CutPrefix(lines.Text(), "event: "); ok {
			seen[ev]++
		}
	}
	for _, ev := range []string{"photo.uploaded", "photo.exif", "photo.renditions", "photo.watermarked", "gallery.submitted", "article.ready"} {
		if seen[ev] == 0 {
			t.Errorf("no %s event over SSE (saw %v)", ev, seen)
		}
	}

	// Per-role authorization on every gallery endpoint: no token is 401;
	// another photographer sees nothing (404); a newsroom token reads
	// (2xx) but may not write (403).
	for _, ep := range []struct {
		method, path string
		write        bool
	}{
		{"GET", "/v1/galleries/api-1", false}, {"GET", "/v1/galleries/api-1/article", false},
		{"GET", "/v1/galleries/api-1/preview", false},
		{"PUT", "/v1/galleries/api-1/photos/x.jpg", true}, {"PUT", "/v1/galleries/api-1/manifest", true},
	} {
		var body []byte
		if ep.write {
			body = onePhoto
		}
		c.refusal(ep.method, ep.path, "", body, 401, "unauthorized")
		if ep.write {
			c.refusal(ep.method, ep.path, deskToken, body, 403, "forbidden")
			c.refusal(ep.method, ep.path, bobToken, body, 404, "no_gallery")
		} else {
			c.refusal(ep.method, ep.path, bobToken, nil, 404, "no_gallery")
			if st, _, b := c.do(ep.method, ep.path, deskToken, nil, 0, ""); st != 200 {
				t.Errorf("newsroom %s %s: %d %s", ep.method, ep.path, st, b)
			}
		}
	}

	// An upload cut off mid-body leaves no object behind.
	conn, err := net.Dial("tcp", c.host())
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "PUT /v1/galleries/api-1/photos/cut.jpg HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n\r\n", aliceToken, len(onePhoto))
	conn.Write(onePhoto[:len(onePhoto)/2])
	conn.Close()
	time.Sleep(500 * time.Millisecond)
	if _, err := store.StatObject(ctx, s.Config.OriginalsBucket, "api-1/cut.jpg", minio.StatObjectOptions{}); err == nil {
		t.Error("a cut-off upload left an object behind")
	}

	// Status, record and preview.
	_, _, b := c.do("GET", "/v1/galleries/api-1", deskToken, nil, 0, "")
	var gs api.GalleryStatus
	if err := json.Unmarshal(b, &gs); err != nil || !gs.Ready || gs.Manifest != "valid" || gs.Published == nil || len(gs.Photos) != 2 || gs.Photos[0].Stages["watermark"] != "done" {
		t.Errorf("status: %s", b)
	}
	st, h, rec := c.do("GET", "/v1/galleries/api-1/article", deskToken, nil, 0, "")
	if st != 200 || !strings.Contains(string(rec), `"type": "composite"`) || !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
		t.Errorf("article: %d %s", st, h)
	}
	st, h, page := c.do("GET", "/v1/galleries/api-1/preview", aliceToken, nil, 0, "")
	if st != 200 || !strings.Contains(h.Get("Content-Security-Policy"), "default-src 'none'") || h.Get("X-Content-Type-Options") != "nosniff" ||
		strings.Contains(string(page), "<b>乙") || !strings.Contains(string(page), "&lt;b&gt;乙&lt;/b&gt; &amp; 丙") {
		t.Errorf("preview: %d %v\n%s", st, h, page)
	}
}

// TestAPIProductionChecks: without tokens, or with MinIO's or photodesk's
// dev credentials, `photodesk api` refuses to start and says why.
func TestAPIProductionChecks(t *testing.T) {
	var stderr bytes.Buffer
	if code := run([]string{"api", "--api", "127.0.0.1:0"}, &stderr); code != 1 || !strings.Contains(stderr.String(), "no API tokens") || !strings.Contains(stderr.String(), "default credential") || !strings.Contains(stderr.String(), "NATS without credentials") {
		t.Errorf("exit %d: %s", code, stderr.String())
	}
	stderr.Reset()
	args := []string{"api", "--api", "127.0.0.1:0", "--api-tokens", "a:photographer:0123456789abcdef0", "--s3-access-key", "minioadmin", "--s3-secret-key", "minioadmin", "--nats-token", "s3cret-nats-token"}
	if code := run(args, &stderr); code != 1 || strings.Contains(stderr.String(), "no API tokens") || strings.Contains(stderr.String(), "NATS without") || !strings.Contains(stderr.String(), "default credential (minioadmin)") {
		t.Errorf("exit %d: %s", code, stderr.String())
	}
	stderr.Reset()
	if code := run([]string{"api", "--api-tokens", "a:editor:0123456789abcdef0"}, &stderr); code != 1 || !strings.Contains(stderr.String(), `role "editor"`) {
		t.Errorf("bad role: exit %d: %s", code, stderr.String())
	}
}
