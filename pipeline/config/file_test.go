package config_test

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/photodesk/photodesk/pipeline"
	"github.com/photodesk/photodesk/pipeline/config"
	"github.com/photodesk/photodesk/pipeline/contract"
	"github.com/photodesk/photodesk/pipeline/devstack"
)

func writeFile(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "photodesk.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func parse(t *testing.T, args ...string) (config.Config, config.FileSettings, error) {
	t.Helper()
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfg := config.Default()
	cfg.RegisterFlags(fs)
	res, err := config.ParseFlags(fs, args)
	return cfg, res, err
}

// TestConfigFilePrecedence: a flag beats its PHOTODESK_* variable, which
// beats the file, which beats the default.
func TestConfigFilePrecedence(t *testing.T) {
	path := writeFile(t, `
# shared by every process
nats: [nats://n1:4222, nats://n2:4222]
s3-endpoint: minio.internal:9000
s3-bucket-lookup: path
s3-tls: true
ack-wait: 45s
max-deliver: 7
replicas: 3
events-max-bytes: 1073741824
zone: Europe/Paris
api-tokens: "only:for:the-api"   # another command's setting
`)
	t.Setenv("PHOTODESK_ZONE", "Asia/Tokyo")
	cfg, res, err := parse(t, "--config", path, "--max-deliver", "9")
	if err != nil {
		t.Fatal(err)
	}
	want := config.Default()
	want.File = path
	want.NATSURL = "nats://n1:4222,nats://n2:4222"
	want.S3Endpoint, want.S3BucketLookup, want.S3UseTLS = "minio.internal:9000", "path", true
	want.AckWait, want.MaxDeliver, want.Replicas, want.EventsMaxBytes = 45*time.Second, 9, 3, 1<<30
	want.NewsroomZone = "Asia/Tokyo"
	if cfg.NATSURL != want.NATSURL || cfg.S3Endpoint != want.S3Endpoint || cfg.S3BucketLookup != want.S3BucketLookup ||
		cfg.S3UseTLS != want.S3UseTLS || cfg.AckWait != want.AckWait || cfg.MaxDeliver != want.MaxDeliver ||
		cfg.Replicas != want.Replicas || cfg.EventsMaxBytes != want.EventsMaxBytes || cfg.NewsroomZone != want.NewsroomZone {
		t.Errorf("config = %+v\nwant   %+v", cfg, want)
	}
	if cfg.S3AccessKey != config.DevAccessKey {
		t.Errorf("a setting absent from the file changed: %q", cfg.S3AccessKey)
	}
	if !slices.Equal(res.Ignored, []string{"api-tokens"}) {
		t.Errorf("ignored = %v", res.Ignored)
	}
	if !slices.Equal(res.Overridden, []string{"max-deliver", "zone"}) {
		t.Errorf("overridden = %v", res.Overridden)
	}
	if !slices.Equal(res.Applied, []string{"ack-wait", "events-max-bytes", "nats", "replicas", "s3-bucket-lookup", "s3-endpoint", "s3-tls"}) {
		t.Errorf("applied = %v", res.Applied)
	}
	if err := cfg.Validate(); err != nil {
		t.Error(err)
	}

	// The file may also be named by PHOTODESK_CONFIG.
	t.Setenv("PHOTODESK_CONFIG", path)
	if cfg, _, err := parse(t); err != nil || cfg.S3Endpoint != "minio.internal:9000" {
		t.Errorf("via PHOTODESK_CONFIG: %v, endpoint %q", err, cfg.S3Endpoint)
	}
}

func TestConfigFileErrors(t *testing.T) {
	for name, c := range map[string]struct{ text, want string }{
		"bad value":   {"ack-wait: soon\n", "ack-wait"},
		"not YAML":    {"nats: [unclosed\n", "photodesk.yaml"},
		"not a map":   {"- nats\n", "photodesk.yaml"},
		"nested":      {"nats:\n  url: x\n", "nats"},
		"nested file": {"config: other.yaml\n", "cannot name another"},
	} {
		_, _, err := parse(t, "--config", writeFile(t, c.text))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to mention %q", name, err, c.want)
		}
	}
	if _, _, err := parse(t, "--config", filepath.Join(t.TempDir(), "absent.yaml")); err == nil {
		t.Error("a missing config file was accepted")
	}
}

func TestConfigValidatesNewSettings(t *testing.T) {
	for name, mut := range map[string]func(*config.Config){
		"lookup":           func(c *config.Config) { c.S3BucketLookup = "virtual" },
		"cert without key": func(c *config.Config) { c.NATSTLSCert = "c.pem" },
		"negative bytes":   func(c *config.Config) { c.EventsMaxBytes = -1 },
		"short s3 age":     func(c *config.Config) { c.S3EventsMaxAge = time.Minute },
	} {
		c := config.Default()
		mut(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestRetentionSettingsReachTheStreams: retention settings shape the
// streams, and a changed setting updates existing streams at the next start.
func TestRetentionSettingsReachTheStreams(t *testing.T) {
	cfg := config.Default()
	cfg.EventsMaxAge, cfg.EventsMaxBytes, cfg.S3EventsMaxAge = 48*time.Hour, 64<<20, 2*time.Hour
	cfg, js := devstack.NATSForTest(t, cfg)
	check := func(stream string, age time.Duration, bytes int64) {
		t.Helper()
		s, err := js.Stream(t.Context(), stream)
		if err != nil {
			t.Fatal(err)
		}
		if c := s.CachedInfo().Config; c.MaxAge != age || c.MaxBytes != bytes {
			t.Errorf("%s: max age %s, max bytes %d; want %s, %d", stream, c.MaxAge, c.MaxBytes, age, bytes)
		}
	}
	check(contract.EventsStream, 48*time.Hour, 64<<20)
	check(contract.S3EventsStream, 2*time.Hour, -1)
	cfg.EventsMaxAge, cfg.EventsMaxBytes = 72*time.Hour, 0
	if err := pipeline.EnsureStreams(t.Context(), js, cfg); err != nil {
		t.Fatal(err)
	}
	check(contract.EventsStream, 72*time.Hour, -1)
}
