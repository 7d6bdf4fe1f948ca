package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/photodesk/photodesk/api"
	"github.com/photodesk/photodesk/pipeline"
	"github.com/photodesk/photodesk/pipeline/config"
	"github.com/photodesk/photodesk/pipeline/contract"
	"github.com/photodesk/photodesk/pipeline/devstack"
)

// rawHTTP sends req as written on a fresh connection to addr and reads
// the answer; the connection stays open for the caller (nil answer when
// the server closed it without one).
func rawHTTP(t *testing.T, addr string, req []byte) (*http.Response, net.Conn) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	_, _ = conn.Write(req) // a server that refuses may hang up mid-way
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to %.60q…: %v", req, err)
	}
	return resp, conn
}

// closedByServer waits until the server hangs up on conn (it reads EOF
// or a reset, not the 30 s deadline of this side).
func closedByServer(t *testing.T, conn net.Conn, what string) {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, err := io.Copy(io.Discard, conn)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("%s: the server kept the connection open", what)
	}
}

func errorCode(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	var e struct {
		Error struct{ Code, Message string }
	}
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &e); err != nil {
		return "(not JSON: " + string(b) + ")"
	}
	return e.Error.Code
}

// TestAPIBoundsRequests: the API as `photodesk api` serves it bounds what
// one client can make it hold. Headers: 64 KiB (431 beyond); JSON bodies:
// 4 KiB to create a gallery and 1 MiB of manifest (413). Time, with short
// limits: headers sent too slowly and idle connections are hung up on; an
// upload may take longer than the read timeout if it keeps the minimum
// rate, and gets 408 (and stores nothing) when it stalls; an event stream
// outlives the read and write timeouts.
func TestAPIBoundsRequests(t *testing.T) {
	s := devstack.ForTest(t)
	c := startAPI(t, s.Config, "alice:photographer:"+aliceToken, apiFlags{maxUpload: 2 << 20})
	host := c.host()

	// Headers.
	get := func(target, header string) *http.Response {
		resp, _ := rawHTTP(t, host, []byte("GET "+target+" HTTP/1.1\r\nHost: photodesk\r\n"+header+"Connection: close\r\n\r\n"))
		return resp
	}
	if resp := get("/v1/openapi.json", "X-Pad: "+strings.Repeat("a", 32<<10)+"\r\n"); resp.StatusCode != 200 {
		t.Errorf("32 KiB of headers: %s, want 200", resp.Status)
	}
	if resp := get("/v1/openapi.json", "X-Pad: "+strings.Repeat("a", 128<<10)+"\r\n"); resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("128 KiB header: %s, want 431", resp.Status)
	}
	if resp := get("/v1/openapi.json", strings.Repeat("X-Pad: "+strings.Repeat("a", 1000)+"\r\n", 100)); resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("100 headers of 1 KB: %s, want 431", resp.Status)
	}
	if resp := get("/v1/openapi.json?q="+strings.Repeat("a", 128<<10), ""); resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("128 KiB request line: %s, want 431", resp.Status)
	}
	if resp := get("/v1/galleries", "Authorization: Bearer "+strings.Repeat("t", 128<<10)+"\r\n"); resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("128 KiB token: %s, want 431", resp.Status)
	}

	// JSON bodies.
	c.refusal("POST", "/v1/galleries", aliceToken, []byte(`{"id":"`+strings.Repeat("a", 8<<10)+`"}`), 413, "too_large")
	c.refusal("POST", "/v1/galleries", aliceToken, []byte(`{"id":"x",`+strings.Repeat(" ", 1<<20)+`}`), 413, "too_large")
	if st, _, b := c.do("POST", "/v1/galleries", aliceToken, strings.NewReader(`{"id":"bounds-1"}`), -1, "application/json"); st != 201 {
		t.Fatalf("create: %d %s", st, b)
	}
	c.refusal("PUT", "/v1/galleries/bounds-1/manifest", aliceToken, append([]byte(`{"headline":"`), bytes.Repeat([]byte("a"), 2<<20)...), 413, "too_large")
	c.refusal("PUT", "/v1/galleries/bounds-1/photos/big.jpg", aliceToken, make([]byte, 3<<20), 413, "too_large")

	// Time, on a server with short limits.
	short := api.Limits{
		MaxHeaderBytes: 64 << 10, ReadHeaderTimeout: 500 * time.Millisecond, ReadTimeout: time.Second,
		UploadMinRate: 20 << 10, WriteTimeout: 2 * time.Second, IdleTimeout: time.Second,
	}
	host2 := startAPI(t, s.Config, "alice:photographer:"+aliceToken, apiFlags{maxUpload: 2 << 20, limits: &short}).host()

	t.Run("slow headers", func(t *testing.T) {
		conn, err := net.Dial("tcp", host2)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := conn.Write([]byte("GET /v1/openapi.json HTTP/1.1\r\nHost: photodesk\r\nX-Slow: ")); err != nil {
			t.Fatal(err)
		}
		closedByServer(t, conn, "headers never finished")
	})

	t.Run("idle connection", func(t *testing.T) {
		resp, conn := rawHTTP(t, host2, []byte("GET /v1/openapi.json HTTP/1.1\r\nHost: photodesk\r\n\r\n"))
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Close {
			t.Fatalf("first request: %s (close %v)", resp.Status, resp.Close)
		}
		closedByServer(t, conn, "idle kept-alive connection")
	})

	jpeg := photo(t, 11, nil)
	upload := func(name string, size int) []byte {
		return []byte("PUT /v1/galleries/bounds-1/photos/" + name + " HTTP/1.1\r\nHost: photodesk\r\nAuthorization: Bearer " + aliceToken +
			"\r\nContent-Type: image/jpeg\r\nContent-Length: " + strconv.Itoa(size) + "\r\n\r\n")
	}
	store, err := pipeline.NewStore(s.Config)
	if err != nil {
		t.Fatal(err)
	}
	stored := func(name string) bool {
		_, err := store.StatObject(context.Background(), s.Config.OriginalsBucket, "bounds-1/"+name, minio.StatObjectOptions{})
		return err == nil
	}

	t.Run("upload slower than the read timeout, at the minimum rate", func(t *testing.T) {
		// 400 KB at 20 KiB/s may take 1 s + 19.5 s; it takes about 2 s
		// (more than the read timeout) when the machine is not busy.
		body := append(append([]byte(nil), jpeg...), make([]byte, 400_000-len(jpeg))...)
		conn, err := net.Dial("tcp", host2)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := conn.Write(upload("paced.jpg", len(body))); err != nil {
			t.Fatal(err)
		}
		for off := 0; off < len(body); off += 40_000 {
			if _, err := conn.Write(body[off:min(off+40_000, len(body))]); err != nil {
				t.Fatal(err)
			}
			time.Sleep(200 * time.Millisecond)
		}
		_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("paced upload: %s %s", resp.Status, errorCode(t, resp))
		}
		if !stored("paced.jpg") {
			t.Error("the paced upload was not stored")
		}
	})

	t.Run("stalled upload", func(t *testing.T) {
		resp, conn := rawHTTP(t, host2, append(upload("stalled.jpg", 20_000), jpeg[:1024]...))
		if resp.StatusCode != http.StatusRequestTimeout {
			t.Errorf("stalled upload: %s, want 408", resp.Status)
		}
		if code := errorCode(t, resp); code != "too_slow" {
			t.Errorf("stalled upload: error code %s, want too_slow", code)
		}
		closedByServer(t, conn, "after a stalled upload")
		if stored("stalled.jpg") {
			t.Error("a stalled upload left an object behind")
		}
	})

	t.Run("event stream outlives the read and write timeouts", func(t *testing.T) {
		req, _ := http.NewRequest("GET", "http://"+host2+"/v1/galleries/bounds-1/events", nil)
		req.Header.Set("Authorization", "Bearer "+aliceToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		lines := make(chan string)
		go func() {
			defer close(lines)
			sc := bufio.NewScanner(resp.Body)
			for sc.Scan() {
				lines <- sc.Text()
			}
		}()
		time.Sleep(2500 * time.Millisecond) // past ReadTimeout and WriteTimeout: the stream must still be there
		_, js := connect(t, s.Config)
		f := contract.Failure{Ref: contract.Ref{Gallery: "bounds-1", Photo: "late.jpg"}, Stage: "exif", Reason: "late"}
		b, _ := json.Marshal(f)
		if _, err := js.Publish(context.Background(), contract.FailedSubject("exif", "bounds-1"), b); err != nil {
			t.Fatal(err)
		}
		timeout := time.After(30 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatal("the event stream ended")
				}
				if l == "event: failed.exif" {
					return
				}
			case <-timeout:
				t.Fatal("no event on the stream")
			}
		}
	})
}

// connect is a JetStream connection to cfg's NATS for the test.
func connect(t *testing.T, cfg config.Config) (func(), jetstream.JetStream) {
	t.Helper()
	nc, js, err := pipeline.Connect(cfg, t.Name())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc.Close, js
}

// runRoles runs roles with rc in this process until the test ends. Unlike
// startRolesWith it leaves rc.Validate to the caller, which may then set
// what the flags refuse (a lifetime below their minimum).
func runRoles(t *testing.T, s *devstack.Stack, rc roleConfig, roles ...string) {
	t.Helper()
	_, js := connect(t, s.Config)
	store, err := pipeline.NewStore(s.Config)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(&prefixWriter{t: t, prefix: "roles: "}, nil))
	ws, err := workers(s.Config, rc, js, store, log, roles, 2)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := runWorkers(ctx, js, s.Config, log, ws); err != nil {
			t.Errorf("workers: %v", err)
		}
	})
	t.Cleanup(func() { cancel(); wg.Wait() })
}

// hrefs are the http(s) links of a ninjs record, wherever they are.
func hrefs(v any) []string {
	var out []string
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if s, ok := x.(string); ok && k == "href" && strings.HasPrefix(s, "http") {
				out = append(out, s)
			}
			out = append(out, hrefs(x)...)
		}
	case []any:
		for _, x := range v {
			out = append(out, hrefs(x)...)
		}
	}
	return out
}

// TestPresignedHrefsExpire: a record's presigned rendition links work when
// it is published, and MinIO refuses them once their lifetime is over.
// The lifetime is 10 s here (the flag's minimum is a minute), enough for
// the record to reach the test on a busy machine.
func TestPresignedHrefsExpire(t *testing.T) {
	s := devstack.ForTest(t)
	rc := defaultRoleConfig()
	if err := rc.Validate(); err != nil {
		t.Fatal(err)
	}
	rc.asm.PresignTTL = 10 * time.Second
	runRoles(t, s, rc, "ingest", "exif", "renditions", "watermark", "assembler")
	putObject(t, s.Config, "presign-1/a.jpg", photo(t, 5, nil))
	putObject(t, s.Config, "presign-1/gallery.json", []byte(`{"headline":"h","photos":[{"file":"a.jpg","caption":"A"}]}`))

	var ev *contract.ArticleEvent
	follow(t, s.Config, []string{"photodesk.article.ready.presign-1"}, 60*time.Second, func(m jetstream.Msg) {
		ev = new(contract.ArticleEvent)
		mustDecode(t, m, ev)
	}, func() bool { return ev != nil })
	if ev == nil {
		t.Fatal("no article.ready for presign-1")
	}
	var rec any
	if err := json.Unmarshal(ev.Record, &rec); err != nil {
		t.Fatal(err)
	}
	links := hrefs(rec)
	if len(links) < 2 {
		t.Fatalf("record has %d links", len(links))
	}
	u, err := url.Parse(links[0])
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	signed, err := time.Parse("20060102T150405Z", q.Get("X-Amz-Date"))
	if err != nil || q.Get("X-Amz-Expires") != "10" || q.Get("X-Amz-Signature") == "" {
		t.Fatalf("not a presigned link with a 10 s lifetime: %s (%v)", links[0], err)
	}
	expires := signed.Add(10 * time.Second)
	if time.Until(expires) < time.Second {
		t.Fatalf("the record reached the test %s after it was signed: too late to try its links", time.Since(signed))
	}
	fetch := func(link string) (int, string) {
		resp, err := http.Get(link)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, l := range links {
		if st, body := fetch(l); st != 200 {
			t.Errorf("fresh link: %d %.200s", st, body)
		}
	}
	time.Sleep(time.Until(expires) + 1500*time.Millisecond)
	for _, l := range links {
		if st, body := fetch(l); st != http.StatusForbidden || !strings.Contains(body, "expired") {
			t.Errorf("link after its lifetime: %d %.200s, want 403 Request has expired", st, body)
		}
	}
}

// TestGaveUpHoldsTheGallery: the watermark process that has a photo's
// event dies holding it on every delivery. JetStream gives up on it after
// the last one; the watermark role turns its advisory into a failure with
// the reason, and the assembler holds the gallery with it. Reprocessing
// the photo answers the failure and publishes the gallery.
func TestGaveUpHoldsTheGallery(t *testing.T) {
	captureStdout(t)
	s := devstack.ForTest(t) // ack wait 3 s, 3 deliveries
	startRoles(t, s, "ingest", "exif", "renditions", "assembler")
	closeDoomed, js := connect(t, s.Config)
	cons, err := js.Consumer(context.Background(), contract.EventsStream, "watermark")
	if err != nil {
		t.Fatal(err)
	}
	putObject(t, s.Config, "gaveup-1/a.jpg", photo(t, 3, nil))
	putObject(t, s.Config, "gaveup-1/gallery.json", []byte(`{"headline":"h","photos":[{"file":"a.jpg","caption":"A"}]}`))
	delivered := 0
	for deadline := time.Now().Add(60 * time.Second); delivered < s.Config.MaxDeliver && time.Now().Before(deadline); {
		b, err := cons.Fetch(1, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		for m := range b.Messages() { // taken, never acked
			md, _ := m.Metadata()
			delivered = int(md.NumDelivered)
		}
	}
	if delivered != s.Config.MaxDeliver {
		t.Fatalf("the doomed process had %d deliveries, want %d", delivered, s.Config.MaxDeliver)
	}
	closeDoomed() // dies holding the last one

	startRoles(t, s, "watermark")
	var held contract.GalleryHeld
	follow(t, s.Config, []string{contract.GallerySubject(contract.SubjectGalleryHeld, "gaveup-1")}, 60*time.Second,
		func(m jetstream.Msg) { mustDecode(t, m, &held) },
		func() bool { return len(held.Failed) > 0 })
	want := "gave up after 3 deliveries: no process finished it within the ack wait"
	if len(held.Failed) != 1 || held.Failed[0].Photo != "a.jpg" || held.Failed[0].Stage != "watermark" || !strings.HasPrefix(held.Failed[0].Reason, want) {
		t.Fatalf("held event %+v, want a.jpg's watermark with %q", held, want)
	}
	_, js2 := connect(t, s.Config)
	if info := settle(t, js2, contract.EventsStream, "watermark"); info.NumAckPending != 0 {
		t.Errorf("watermark consumer: %d ack pending", info.NumAckPending)
	}
	if n := countEvents(t, s.Config, contract.FailedSubject("watermark", "gaveup-1"), nil); n != 1 {
		t.Errorf("%d watermark failure events, want 1", n)
	}

	if code := run(append([]string{"reprocess", "--gallery", "gaveup-1", "--role", "watermark"}, connFlags(s.Config)...), io.Discard); code != 0 {
		t.Fatalf("reprocess: exit %d", code)
	}
	evs := articleEvents(t, s.Config, "gaveup-1", 1, 60*time.Second)
	if evs[0].Version != 1 || evs[0].Photos != 1 {
		t.Errorf("after reprocessing: %+v", evs[0])
	}
}
