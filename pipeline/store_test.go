package pipeline_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/photodesk/photodesk/pipeline"
	"github.com/photodesk/photodesk/pipeline/config"
	"github.com/photodesk/photodesk/pipeline/devstack"
)

// TestStoreOverTLSWithPrivateCA: a MinIO that serves HTTPS with a
// certificate from a private CA is reached with --s3-tls-ca and path-style
// bucket addressing, and refused without the CA.
func TestStoreOverTLSWithPrivateCA(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ca := newTestCA(t)
	caFile := writePEM(t, dir, "ca.pem", "CERTIFICATE", ca.der)
	cert, key := ca.issue(t, "minio", false)
	certs := filepath.Join(dir, "certs")
	if err := os.MkdirAll(certs, 0o700); err != nil {
		t.Fatal(err)
	}
	writePEM(t, certs, "public.crt", "CERTIFICATE", cert)
	writePEM(t, certs, "private.key", "PRIVATE KEY", key)
	ns, err := devstack.StartNATS(devstack.NATSOptions{Addr: "127.0.0.1:0", StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	cfg := config.Default()
	m, err := devstack.StartMinIO(ctx, devstack.MinIOOptions{
		DataDir: filepath.Join(dir, "data"), QueueDir: filepath.Join(dir, "queue"), Addr: "127.0.0.1:0",
		AccessKey: cfg.S3AccessKey, SecretKey: cfg.S3SecretKey, NATSAddr: strings.TrimPrefix(ns.ClientURL(), "nats://"),
		CertsDir: certs,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Stop() })
	cfg.S3Endpoint = m.Endpoint

	cfg.S3UseTLS = true
	plain, err := pipeline.NewStore(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plain.BucketExists(ctx, cfg.OriginalsBucket); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("without the CA: %v, want a certificate error", err)
	}

	cfg.S3UseTLS = false // --s3-tls-ca implies TLS
	cfg.S3TLSCA = caFile
	cfg.S3BucketLookup = "path"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	store, err := pipeline.NewStore(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if store.EndpointURL().Scheme != "https" {
		t.Errorf("endpoint %s is not HTTPS", store.EndpointURL())
	}
	if err := store.EnsureBuckets(ctx); err != nil {
		t.Fatal(err)
	}
	body := []byte("over TLS")
	if _, err := store.PutObject(ctx, cfg.OriginalsBucket, "g/a.txt", bytes.NewReader(body), int64(len(body)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	obj, err := store.GetObject(ctx, cfg.OriginalsBucket, "g/a.txt", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(obj)
	if err != nil || !bytes.Equal(got, body) {
		t.Errorf("read back %q, %v", got, err)
	}
	u, err := store.PresignedGetObject(ctx, cfg.OriginalsBucket, "g/a.txt", 60e9, nil)
	if err != nil {
		t.Fatal(err)
	}
	if u.Host != m.Endpoint || !strings.HasPrefix(u.Path, "/"+cfg.OriginalsBucket+"/") {
		t.Errorf("presigned URL %s is not path-style on %s", u, m.Endpoint)
	}

	cfg.S3TLSCA = filepath.Join(dir, "server-key-not-a-ca.pem")
	if err := os.WriteFile(cfg.S3TLSCA, []byte("not PEM"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := pipeline.NewStore(cfg); err == nil || !strings.Contains(err.Error(), "no PEM certificates") {
		t.Errorf("a CA file without certificates: %v", err)
	}
}
