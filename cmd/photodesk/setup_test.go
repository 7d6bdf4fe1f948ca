package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/photodesk/photodesk/pipeline"
	"github.com/photodesk/photodesk/pipeline/config"
	"github.com/photodesk/photodesk/pipeline/contract"
	"github.com/photodesk/photodesk/pipeline/devstack"
)

// setupFlags point `photodesk setup` at a NATS and a MinIO.
func setupFlags(natsAddr, s3Addr string, extra ...string) []string {
	return append([]string{"setup", "--nats", "nats://" + natsAddr, "--s3-endpoint", s3Addr}, extra...)
}

// startBareServers starts NATS and MinIO on the given addresses with
// nothing set up on them, for the test's lifetime.
func startBareServers(t *testing.T, natsAddr, s3Addr string) {
	t.Helper()
	dir := t.TempDir()
	ns, err := devstack.StartNATS(devstack.NATSOptions{Addr: natsAddr, StoreDir: filepath.Join(dir, "nats")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	m, err := devstack.StartMinIO(context.Background(), devstack.MinIOOptions{
		DataDir: filepath.Join(dir, "minio"), QueueDir: filepath.Join(dir, "queue"), Addr: s3Addr,
		AccessKey: config.DevAccessKey, SecretKey: config.DevSecretKey, NATSAddr: natsAddr,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Stop() })
}

// TestSetupOnAFreshStack: on a NATS and a MinIO where nothing exists yet,
// setup fails at once and clearly while they are down, waits for them with
// --wait, creates everything, proves the trigger, and leaves a stack
// `photodesk health` calls healthy; a second run finds everything there.
func TestSetupOnAFreshStack(t *testing.T) {
	out := captureStdout(t)
	natsAddr, s3Addr := freeAddr(t), freeAddr(t)
	var stderr bytes.Buffer
	if code := run(setupFlags(natsAddr, s3Addr), &stderr); code != 1 || !strings.Contains(stderr.String(), "photodesk setup: NATS: connect to NATS at nats://"+natsAddr) {
		t.Fatalf("with nothing up: exit %d, %q", code, stderr.String())
	}

	// Started before the servers, it waits for them.
	type result struct {
		code   int
		stderr string
	}
	done := make(chan result, 1)
	out.Reset()
	go func() {
		var stderr bytes.Buffer
		code := run(setupFlags(natsAddr, s3Addr, "--wait", "2m"), &stderr)
		done <- result{code, stderr.String()}
	}()
	time.Sleep(time.Second) // let its first tries fail (not an assertion: it passes either way)
	startBareServers(t, natsAddr, s3Addr)
	r := <-done
	first := out.String()
	if r.code != 0 {
		t.Fatalf("setup --wait: exit %d: %s\n%s", r.code, r.stderr, first)
	}
	for _, want := range []string{
		"stream S3_EVENTS                 created (subjects photodesk.s3.originals, replicas 1)",
		"stream PHOTODESK                 created",
		"consumer ingest                  created (on stream S3_EVENTS)",
		"consumer assembler               created (on stream PHOTODESK)",
		"stream PHOTODESK_ADVISORIES      created",
		"consumer renditions-gave-up      created (on stream PHOTODESK_ADVISORIES)",
		"policy originals                 unchanged (private: no anonymous access)",
		"policy derivatives               unchanged (private: no anonymous access)",
		"key-value PHOTODESK_GALLERIES    created",
		"bucket originals                 created",
		"bucket articles                  created",
		"notification                     created (bucket originals notifies arn:minio:sqs::PHOTODESK:nats of s3:ObjectCreated:*)",
		"trigger                          proven: a canary upload reached stream S3_EVENTS",
		"setup done in",
	} {
		if !strings.Contains(first, want) {
			t.Errorf("first setup lacks %q:\n%s", want, first)
		}
	}
	cfg := config.Default()
	cfg.NATSURL, cfg.S3Endpoint = "nats://"+natsAddr, s3Addr
	if code := run([]string{"health", "--nats", cfg.NATSURL, "--s3-endpoint", s3Addr}, &stderr); code != 0 {
		t.Fatalf("health after setup: exit %d: %s", code, stderr.String())
	}
	// The canary cleaned up after itself.
	store, err := pipeline.NewStore(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for o := range store.ListObjects(context.Background(), cfg.OriginalsBucket, minio.ListObjectsOptions{Prefix: contract.ReservedPrefix, Recursive: true}) {
		t.Errorf("canary left %s behind (err %v)", o.Key, o.Err)
	}

	out.Reset()
	if code := run(setupFlags(natsAddr, s3Addr), &stderr); code != 0 {
		t.Fatalf("second setup: exit %d: %s", code, stderr.String())
	}
	second := out.String()
	if strings.Contains(second, "created") || strings.Count(second, " exists") != len(pipeline.StreamConfigs(cfg))+2*len(pipeline.Consumers)+1+3+1 {
		t.Errorf("second setup should find everything there:\n%s", second)
	}
}

// TestSetupNotifyRegion: when MinIO has a region, it reads the bucket's
// rules back with it: setup --notify-region gives it, so a second run finds
// the rule; without the flag, setup says which region to give.
func TestSetupNotifyRegion(t *testing.T) {
	out := captureStdout(t)
	t.Setenv("MINIO_SITE_REGION", "eu-west-1") // the MinIO child inherits it
	natsAddr, s3Addr := freeAddr(t), freeAddr(t)
	startBareServers(t, natsAddr, s3Addr)

	var stderr bytes.Buffer
	withRegion := setupFlags(natsAddr, s3Addr, "--s3-region", "eu-west-1", "--notify-region", "eu-west-1")
	if code := run(withRegion, &stderr); code != 0 {
		t.Fatalf("setup --notify-region: exit %d: %s\n%s", code, stderr.String(), out.String())
	}
	for _, want := range []string{"notification                     created (bucket originals notifies arn:minio:sqs:eu-west-1:PHOTODESK:nats", "trigger                          proven"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("setup --notify-region lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if code := run(append(withRegion, "--canary=false"), &stderr); code != 0 || !strings.Contains(out.String(), "notification                     exists") || strings.Contains(out.String(), "trigger") {
		t.Fatalf("second setup --notify-region --canary=false: exit %d: %s\n%s", code, stderr.String(), out.String())
	}
	if code := run(setupFlags(natsAddr, s3Addr, "--s3-region", "eu-west-1"), &stderr); code != 1 || !strings.Contains(stderr.String(), `MinIO has region "eu-west-1"`) || !strings.Contains(stderr.String(), "--notify-region eu-west-1") {
		t.Errorf("setup without --notify-region: exit %d: %s", code, stderr.String())
	}
	// Health (and /readyz, which runs the same check) reads the rule with
	// the same region.
	stderr.Reset()
	health := []string{"health", "--nats", "nats://" + natsAddr, "--s3-endpoint", s3Addr, "--s3-region", "eu-west-1"}
	if code := run(append(health, "--notify-region", "eu-west-1"), &stderr); code != 0 {
		t.Errorf("health --notify-region: exit %d: %s", code, stderr.String())
	}
	stderr.Reset()
	if code := run(health, &stderr); code != 1 || !strings.Contains(stderr.String(), "does not notify") {
		t.Errorf("health without the region: exit %d: %s", code, stderr.String())
	}
}

// TestSetupOnARunningStackAndHealthURL: setup on a stack that is already
// set up changes nothing and still proves the trigger; `health --url`
// answers for a worker's ops port, a wrong path and a stopped process.
func TestSetupOnARunningStackAndHealthURL(t *testing.T) {
	out := captureStdout(t)
	s := devstack.ForTest(t)
	var stderr bytes.Buffer
	args := append([]string{"setup"}, connFlags(s.Config)...)
	if code := run(args, &stderr); code != 0 {
		t.Fatalf("setup: exit %d: %s\n%s", code, stderr.String(), out.String())
	}
	if strings.Contains(out.String(), "created") || !strings.Contains(out.String(), "stream S3_EVENTS                 exists") || !strings.Contains(out.String(), "proven") {
		t.Errorf("setup on a set-up stack:\n%s", out.String())
	}

	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() {
		stopped <- runWorker(ctx, append([]string{"--role", "ingest", "--http", addr}, connFlags(s.Config)...))
	}()
	t.Cleanup(func() {
		cancel()
		<-stopped
	})
	out.Reset()
	for _, path := range []string{"/healthz", "/readyz"} {
		if code := run([]string{"health", "--url", "http://" + addr + path, "--wait", "30s"}, &stderr); code != 0 {
			t.Fatalf("health --url %s: exit %d: %s", path, code, stderr.String())
		}
		if !strings.Contains(out.String(), "ok: http://"+addr+path) {
			t.Errorf("health --url %s printed %q", path, out.String())
		}
	}
	stderr.Reset()
	if code := run([]string{"health", "--url", "http://" + addr + "/nope"}, &stderr); code != 1 || !strings.Contains(stderr.String(), "404 Not Found") {
		t.Errorf("health --url on a missing path: exit %d: %s", code, stderr.String())
	}
	stderr.Reset()
	if code := run([]string{"health", "--url", "127.0.0.1:1/healthz"}, &stderr); code != 1 || !strings.Contains(stderr.String(), "want an http://") {
		t.Errorf("health --url without a scheme: exit %d: %s", code, stderr.String())
	}
	cancel()
	if err := <-stopped; err != nil {
		t.Errorf("worker: %v", err)
	}
	stopped <- nil // for the cleanup
	stderr.Reset()
	if code := run([]string{"health", "--url", "http://" + addr + "/healthz"}, &stderr); code != 1 || !strings.Contains(stderr.String(), "connection refused") {
		t.Errorf("health --url on a stopped worker: exit %d: %s", code, stderr.String())
	}
}

// anonymous makes a request to MinIO with no credentials, as anyone on the
// network could, and returns its status.
func anonymous(t *testing.T, method, url string) int {
	t.Helper()
	var body io.Reader
	if method == http.MethodPut {
		body = strings.NewReader("anonymous")
	}
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// TestSetupBucketPolicies: anyone without keys can read nothing from the
// originals and the articles, and list no bucket; derivatives only with
// setup --public-derivatives, by key, and only those marked published. Setup takes back anonymous access
// someone else granted, keeps statements that grant nobody anything, and
// changes nothing on a second run.
func TestSetupBucketPolicies(t *testing.T) {
	out := captureStdout(t)
	s := devstack.ForTest(t)
	cfg := s.Config
	store, err := pipeline.NewStore(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	objects := map[string]string{ // bucket -> key
		cfg.OriginalsBucket:   "pol/a.jpg",
		cfg.DerivativesBucket: "pol/a.jpg/thumb.jpg",
		cfg.ArticlesBucket:    "pol/article.json",
	}
	for b, k := range objects {
		if _, err := store.PutObject(ctx, b, k, strings.NewReader("bytes of "+k), int64(len("bytes of "+k)), minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	base := "http://" + cfg.S3Endpoint + "/"
	get := func(b string) int { return anonymous(t, http.MethodGet, base+b+"/"+objects[b]) }
	setup := func(extra ...string) string {
		t.Helper()
		out.Reset()
		var stderr bytes.Buffer
		if code := run(append(append([]string{"setup", "--canary=false"}, connFlags(cfg)...), extra...), &stderr); code != 0 {
			t.Fatalf("setup %v: exit %d: %s\n%s", extra, code, stderr.String(), out.String())
		}
		return out.String()
	}
	checkPrivate := func(when string, buckets ...string) {
		t.Helper()
		for _, b := range buckets {
			if st := get(b); st != http.StatusForbidden {
				t.Errorf("%s: anonymous GET of %s/%s: %d, want 403", when, b, objects[b], st)
			}
		}
	}
	checkNoListing := func(when string) {
		t.Helper()
		for b := range objects {
			for _, q := range []string{"", "?list-type=2", "?list-type=2&prefix=pol/"} {
				if st := anonymous(t, http.MethodGet, base+b+"/"+q); st != http.StatusForbidden {
					t.Errorf("%s: anonymous listing of %s%s: %d, want 403", when, b, q, st)
				}
			}
			if st := anonymous(t, http.MethodPut, base+b+"/pol/anonymous.jpg"); st != http.StatusForbidden {
				t.Errorf("%s: anonymous PUT into %s: %d, want 403", when, b, st)
			}
		}
	}

	// By default every bucket is private.
	first := setup()
	for b := range objects {
		if want := fmt.Sprintf("%-32s unchanged (private: no anonymous access)", "policy "+b); !strings.Contains(first, want) {
			t.Errorf("setup lacks %q:\n%s", want, first)
		}
	}
	checkPrivate("by default", cfg.OriginalsBucket, cfg.DerivativesBucket, cfg.ArticlesBucket)
	checkNoListing("by default")

	// Someone opens the originals to everyone (read and list), and adds a
	// grant and a Deny to the articles: setup takes the grants back, and
	// keeps the Deny.
	open := func(b string) string {
		return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["*"]},"Action":["s3:GetObject","s3:ListBucket"],"Resource":["arn:aws:s3:::` + b + `","arn:aws:s3:::` + b + `/*"]}]}`
	}
	if err := store.SetBucketPolicy(ctx, cfg.OriginalsBucket, open(cfg.OriginalsBucket)); err != nil {
		t.Fatal(err)
	}
	withDeny := `{"Version":"2012-10-17","Statement":[` +
		`{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::` + cfg.ArticlesBucket + `/*"},` +
		`{"Effect":"Deny","Principal":{"AWS":["*"]},"Action":["s3:DeleteObject"],"Resource":["arn:aws:s3:::` + cfg.ArticlesBucket + `/*"]}]}`
	if err := store.SetBucketPolicy(ctx, cfg.ArticlesBucket, withDeny); err != nil {
		t.Fatal(err)
	}
	if st := get(cfg.OriginalsBucket); st != http.StatusOK {
		t.Fatalf("an opened originals bucket answers anonymous GET with %d: the probe proves nothing", st)
	}
	again := setup()
	for _, b := range []string{cfg.OriginalsBucket, cfg.ArticlesBucket} {
		if want := fmt.Sprintf("%-32s set (private: no anonymous access)", "policy "+b); !strings.Contains(again, want) {
			t.Errorf("setup lacks %q:\n%s", want, again)
		}
	}
	checkPrivate("after setup took the grants back", cfg.OriginalsBucket, cfg.DerivativesBucket, cfg.ArticlesBucket)
	checkNoListing("after setup took the grants back")
	if p, err := store.GetBucketPolicy(ctx, cfg.ArticlesBucket); err != nil || !strings.Contains(p, "Deny") || strings.Contains(p, "Allow") {
		t.Errorf("articles policy after setup: %s (%v), want the Deny alone", p, err)
	}

	// --public-derivatives: published files by key, nothing else; a
	// derivative no record links yet (a scheduled or embargoed gallery's,
	// an unstamped one) stays private until it is marked published.
	pub := setup("--public-derivatives")
	if want := fmt.Sprintf("%-32s set (anonymous GET of published files, no listing)", "policy "+cfg.DerivativesBucket); !strings.Contains(pub, want) {
		t.Errorf("setup --public-derivatives lacks %q:\n%s", want, pub)
	}
	if st := get(cfg.DerivativesBucket); st != http.StatusForbidden {
		t.Errorf("with --public-derivatives: anonymous GET of an unpublished derivative: %d, want 403", st)
	}
	if err := store.MarkPublished(ctx, cfg.DerivativesBucket, objects[cfg.DerivativesBucket]); err != nil {
		t.Fatal(err)
	}
	if st := get(cfg.DerivativesBucket); st != http.StatusOK {
		t.Errorf("with --public-derivatives: anonymous GET of a published derivative: %d, want 200", st)
	}
	checkPrivate("with --public-derivatives", cfg.OriginalsBucket, cfg.ArticlesBucket)
	checkNoListing("with --public-derivatives")
	if again := setup("--public-derivatives"); strings.Contains(again, " set (") {
		t.Errorf("a second setup --public-derivatives changed a policy:\n%s", again)
	}

	// Without the flag again, derivatives are private again.
	back := setup()
	if want := fmt.Sprintf("%-32s set (private: no anonymous access)", "policy "+cfg.DerivativesBucket); !strings.Contains(back, want) {
		t.Errorf("setup lacks %q:\n%s", want, back)
	}
	checkPrivate("without --public-derivatives again", cfg.OriginalsBucket, cfg.DerivativesBucket, cfg.ArticlesBucket)
}
