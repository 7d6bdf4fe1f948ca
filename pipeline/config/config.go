// Package config is the settings every photodesk process shares (how to
// reach NATS and object storage, the pipeline's shared rules), and how a
// setting is read: a flag, else its PHOTODESK_* variable, else the --config
// file, else the default. Libraries register their own flags with its
// helpers.
package config

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/photodesk/photodesk/pipeline/contract"
)

// Dev credentials: the ones `photodesk dev` gives its MinIO child, and the
// defaults every other command uses, so that `photodesk upload` reaches a dev
// instance on the same machine with no flags.
const (
	DevAccessKey = "photodesk"
	DevSecretKey = "photodesk-dev-secret"
)

// Config is what every role needs to reach NATS and object storage, and the
// shared rules of the pipeline. Each field can be set by a flag or by a
// PHOTODESK_* environment variable; the flag wins.
type Config struct {
	// NATSURL is one or more server URLs, comma separated; the client
	// fails over between them and learns the rest of a cluster.
	NATSURL string
	// NATS credentials, at most one kind: a creds file (JWT + NKey), an
	// NKey seed file, a token, or a user and password. Dev mode uses none.
	NATSCreds    string
	NATSNKey     string
	NATSToken    string
	NATSUser     string
	NATSPassword string
	// NATS TLS: a CA bundle to trust, and a client certificate for servers
	// that verify clients. A tls:// URL or either setting turns TLS on.
	NATSTLSCA   string
	NATSTLSCert string
	NATSTLSKey  string

	S3Endpoint  string
	S3AccessKey string
	S3SecretKey string
	S3UseTLS    bool
	// S3TLSCA is a CA bundle to trust for S3 (a private CA on MinIO).
	S3TLSCA  string
	S3Region string
	// S3BucketLookup is how buckets are addressed: "path"
	// (host/bucket/key, MinIO's usual), "dns" (bucket.host/key) or "auto".
	S3BucketLookup string
	// NotifyRegion is the region in the ARN of MinIO's NATS target: empty
	// unless MinIO has a region configured (MINIO_SITE_REGION).
	NotifyRegion string

	OriginalsBucket   string
	DerivativesBucket string
	ArticlesBucket    string

	// NewsroomZone is the time zone of EXIF times that carry no offset.
	NewsroomZone string

	// AckWait is how long a process may hold a message without a sign of
	// life before JetStream gives it to another process.
	AckWait time.Duration
	// MaxDeliver bounds attempts at one message; the last failure is final.
	MaxDeliver int
	// Backoff is the delay before attempt n+1 after a transient failure of
	// attempt n (the last value repeats).
	Backoff []time.Duration
	// Deadlines is how long one job of each stage may take before the
	// runtime abandons it (--deadline-<stage>); 0 or absent: no deadline.
	// The defaults are the stage table's.
	Deadlines map[string]time.Duration
	// DuplicateWindow is how long JetStream remembers a Nats-Msg-Id.
	DuplicateWindow time.Duration
	// Replicas of every stream (1 in dev, 3 on a cluster).
	Replicas int
	// EventsMaxAge is how long the PHOTODESK stream keeps events, so a
	// newsroom subscriber that was down can catch up.
	EventsMaxAge time.Duration
	// EventsMaxBytes caps the PHOTODESK stream's size (oldest events go
	// first); 0 is no cap.
	EventsMaxBytes int64
	// S3EventsMaxAge is how long raw MinIO notifications are kept.
	S3EventsMaxAge time.Duration
	// File is the optional config file (see ParseFlags).
	File string
}

// DefaultConfig is the configuration that reaches a `photodesk dev` instance
// on this machine.
func Default() Config {
	return Config{
		NATSURL:           "nats://127.0.0.1:4222",
		S3Endpoint:        "127.0.0.1:9000",
		S3AccessKey:       DevAccessKey,
		S3SecretKey:       DevSecretKey,
		S3Region:          "us-east-1",
		S3BucketLookup:    "auto",
		OriginalsBucket:   "originals",
		DerivativesBucket: "derivatives",
		ArticlesBucket:    "articles",
		NewsroomZone:      "Asia/Shanghai",
		AckWait:           30 * time.Second,
		MaxDeliver:        5,
		Backoff:           []time.Duration{time.Second, 5 * time.Second, 30 * time.Second, 2 * time.Minute},
		Deadlines:         stageDeadlines(),
		DuplicateWindow:   time.Hour,
		Replicas:          1,
		EventsMaxAge:      30 * 24 * time.Hour,
		S3EventsMaxAge:    7 * 24 * time.Hour,
	}
}

// stageDeadlines is every stage's default deadline, from the stage table.
func stageDeadlines() map[string]time.Duration {
	d := make(map[string]time.Duration, len(contract.Stages))
	for _, st := range contract.Stages {
		d[st.Name] = st.Deadline
	}
	return d
}

// DeadlineFor is how long one job of role may take; 0 is no deadline.
func (c *Config) DeadlineFor(role string) time.Duration { return c.Deadlines[role] }

// RegisterFlags binds c's fields to flags on fs. The defaults shown are c's
// current values overridden by PHOTODESK_* environment variables.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	StringVar(fs, &c.File, FileFlag, "PHOTODESK_CONFIG", "config file (YAML, flag names as keys); flags and PHOTODESK_* variables win over it")
	StringVar(fs, &c.NATSURL, "nats", "PHOTODESK_NATS_URL", "NATS server URL(s), comma separated")
	StringVar(fs, &c.NATSCreds, "nats-creds", "PHOTODESK_NATS_CREDS", "NATS credentials file (JWT and NKey)")
	StringVar(fs, &c.NATSNKey, "nats-nkey", "PHOTODESK_NATS_NKEY", "NATS NKey seed file")
	StringVar(fs, &c.NATSToken, "nats-token", "PHOTODESK_NATS_TOKEN", "NATS token")
	StringVar(fs, &c.NATSUser, "nats-user", "PHOTODESK_NATS_USER", "NATS user")
	StringVar(fs, &c.NATSPassword, "nats-password", "PHOTODESK_NATS_PASSWORD", "NATS password")
	StringVar(fs, &c.NATSTLSCA, "nats-tls-ca", "PHOTODESK_NATS_TLS_CA", "CA bundle (PEM) to verify NATS servers")
	StringVar(fs, &c.NATSTLSCert, "nats-tls-cert", "PHOTODESK_NATS_TLS_CERT", "client certificate (PEM) for NATS")
	StringVar(fs, &c.NATSTLSKey, "nats-tls-key", "PHOTODESK_NATS_TLS_KEY", "client certificate key (PEM) for NATS")
	StringVar(fs, &c.S3Endpoint, "s3-endpoint", "PHOTODESK_S3_ENDPOINT", "S3/MinIO endpoint host:port")
	StringVar(fs, &c.S3AccessKey, "s3-access-key", "PHOTODESK_S3_ACCESS_KEY", "S3 access key")
	StringVar(fs, &c.S3SecretKey, "s3-secret-key", "PHOTODESK_S3_SECRET_KEY", "S3 secret key")
	StringVar(fs, &c.S3Region, "s3-region", "PHOTODESK_S3_REGION", "S3 region")
	StringVar(fs, &c.S3BucketLookup, "s3-bucket-lookup", "PHOTODESK_S3_BUCKET_LOOKUP", "bucket addressing: path, dns or auto")
	StringVar(fs, &c.S3TLSCA, "s3-tls-ca", "PHOTODESK_S3_TLS_CA", "CA bundle (PEM) to verify the S3 endpoint (implies --s3-tls)")
	StringVar(fs, &c.NotifyRegion, "notify-region", "PHOTODESK_NOTIFY_REGION", "region in the ARN of MinIO's NATS target, when MinIO has a region configured (MINIO_SITE_REGION); empty otherwise")
	StringVar(fs, &c.OriginalsBucket, "originals-bucket", "PHOTODESK_ORIGINALS_BUCKET", "bucket of uploaded originals")
	StringVar(fs, &c.DerivativesBucket, "derivatives-bucket", "PHOTODESK_DERIVATIVES_BUCKET", "bucket of derivatives")
	StringVar(fs, &c.ArticlesBucket, "articles-bucket", "PHOTODESK_ARTICLES_BUCKET", "bucket of article records")
	StringVar(fs, &c.NewsroomZone, "zone", "PHOTODESK_ZONE", "newsroom time zone for EXIF times without offset")
	BoolVar(fs, &c.S3UseTLS, "s3-tls", "PHOTODESK_S3_TLS", "use TLS to reach S3")
	DurationVar(fs, &c.AckWait, "ack-wait", "PHOTODESK_ACK_WAIT", "redeliver a message held this long without progress")
	IntVar(fs, &c.MaxDeliver, "max-deliver", "PHOTODESK_MAX_DELIVER", "attempts per message before it fails for good")
	if c.Deadlines == nil {
		c.Deadlines = map[string]time.Duration{}
	}
	for _, st := range contract.Stages {
		env := "PHOTODESK_DEADLINE_" + strings.ToUpper(st.Name)
		v := deadlineValue{c.Deadlines, st.Name}
		v.m[st.Name] = envDuration(env, v.m[st.Name])
		fs.Var(v, "deadline-"+st.Name, "abandon a "+st.Name+" job not done within this `duration` (retried, then failed, like any error); 0: no deadline (env "+env+")")
	}
	IntVar(fs, &c.Replicas, "replicas", "PHOTODESK_REPLICAS", "stream, consumer and key-value replicas: 1, or 3 on a cluster")
	DurationVar(fs, &c.EventsMaxAge, "events-max-age", "PHOTODESK_EVENTS_MAX_AGE", "how long the event stream keeps events for subscribers to catch up")
	Int64Var(fs, &c.EventsMaxBytes, "events-max-bytes", "PHOTODESK_EVENTS_MAX_BYTES", "cap on the event stream's size in bytes, oldest dropped first (0: none)")
	DurationVar(fs, &c.S3EventsMaxAge, "s3-events-max-age", "PHOTODESK_S3_EVENTS_MAX_AGE", "how long raw MinIO notifications are kept")
}

// StringVar binds *p to flag name on fs and to environment variable env.
// The default shown is *p overridden by env; the flag wins over both.
func StringVar(fs *flag.FlagSet, p *string, name, env, usage string) {
	*p = envString(env, *p)
	fs.StringVar(p, name, *p, usage+" (env "+env+")")
}

// BoolVar is StringVar for a bool.
func BoolVar(fs *flag.FlagSet, p *bool, name, env, usage string) {
	*p = envBool(env, *p)
	fs.BoolVar(p, name, *p, usage+" (env "+env+")")
}

// IntVar is StringVar for an int.
func IntVar(fs *flag.FlagSet, p *int, name, env, usage string) {
	*p = envInt(env, *p)
	fs.IntVar(p, name, *p, usage+" (env "+env+")")
}

// Int64Var is StringVar for an int64.
func Int64Var(fs *flag.FlagSet, p *int64, name, env, usage string) {
	if v, err := strconv.ParseInt(strings.TrimSpace(os.Getenv(env)), 10, 64); err == nil {
		*p = v
	}
	fs.Int64Var(p, name, *p, usage+" (env "+env+")")
}

// Float64Var is StringVar for a float64.
func Float64Var(fs *flag.FlagSet, p *float64, name, env, usage string) {
	if v, err := strconv.ParseFloat(strings.TrimSpace(os.Getenv(env)), 64); err == nil {
		*p = v
	}
	fs.Float64Var(p, name, *p, usage+" (env "+env+")")
}

// DurationVar is StringVar for a time.Duration.
func DurationVar(fs *flag.FlagSet, p *time.Duration, name, env, usage string) {
	*p = envDuration(env, *p)
	fs.DurationVar(p, name, *p, usage+" (env "+env+")")
}

// Validate reports the first setting that cannot work.
func (c *Config) Validate() error {
	switch {
	case c.NATSURL == "":
		return fmt.Errorf("no NATS URL")
	case c.natsCredentialKinds() > 1:
		return fmt.Errorf("give one kind of NATS credentials: a creds file, an NKey seed, a token, or a user and password")
	case (c.NATSTLSCert == "") != (c.NATSTLSKey == ""):
		return fmt.Errorf("--nats-tls-cert and --nats-tls-key go together")
	case c.S3Endpoint == "":
		return fmt.Errorf("no S3 endpoint")
	case c.OriginalsBucket == "" || c.DerivativesBucket == "" || c.ArticlesBucket == "":
		return fmt.Errorf("bucket names must not be empty")
	case c.MaxDeliver < 1:
		return fmt.Errorf("max-deliver must be at least 1, got %d", c.MaxDeliver)
	case c.AckWait < time.Second:
		return fmt.Errorf("ack-wait must be at least 1s, got %s", c.AckWait)
	case c.EventsMaxAge < time.Hour:
		return fmt.Errorf("events-max-age must be at least 1h, got %s", c.EventsMaxAge)
	case c.S3EventsMaxAge < time.Hour:
		return fmt.Errorf("s3-events-max-age must be at least 1h, got %s", c.S3EventsMaxAge)
	case c.EventsMaxBytes < 0:
		return fmt.Errorf("events-max-bytes must not be negative")
	case c.S3BucketLookup != "auto" && c.S3BucketLookup != "path" && c.S3BucketLookup != "dns":
		return fmt.Errorf("s3-bucket-lookup must be path, dns or auto, got %q", c.S3BucketLookup)
	case c.Replicas != 1 && c.Replicas != 3:
		return fmt.Errorf("replicas must be 1 or 3, got %d", c.Replicas)
	}
	for _, st := range contract.Stages {
		if d := c.Deadlines[st.Name]; d != 0 && d < time.Second {
			return fmt.Errorf("deadline-%s must be 0 (none) or at least 1s, got %s", st.Name, d)
		}
	}
	if _, err := time.LoadLocation(c.NewsroomZone); err != nil {
		return fmt.Errorf("newsroom zone %q: %w", c.NewsroomZone, err)
	}
	return nil
}

// HasNATSCredentials reports whether the connection to NATS authenticates.
func (c *Config) HasNATSCredentials() bool {
	return c.natsCredentialKinds() > 0 || c.NATSTLSCert != ""
}

func (c *Config) natsCredentialKinds() int {
	n := 0
	for _, v := range []string{c.NATSCreds, c.NATSNKey, c.NATSToken, c.NATSUser} {
		if v != "" {
			n++
		}
	}
	return n
}

// Location is the newsroom time zone; Validate has checked it loads.
func (c *Config) Location() *time.Location {
	loc, err := time.LoadLocation(c.NewsroomZone)
	if err != nil {
		return time.UTC
	}
	return loc
}

// BackoffFor is the delay before retrying after failed attempt n (1-based).
func (c *Config) BackoffFor(attempt int) time.Duration {
	if len(c.Backoff) == 0 {
		return 0
	}
	if attempt < 1 {
		attempt = 1
	}
	if attempt > len(c.Backoff) {
		return c.Backoff[len(c.Backoff)-1]
	}
	return c.Backoff[attempt-1]
}

// deadlineValue is the flag of one stage's deadline, an entry of
// Config.Deadlines.
type deadlineValue struct {
	m     map[string]time.Duration
	stage string
}

func (v deadlineValue) String() string {
	if v.m == nil {
		return "0s"
	}
	return v.m[v.stage].String()
}

func (v deadlineValue) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	v.m[v.stage] = d
	return nil
}

func envString(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}

func envBool(name string, def bool) bool {
	if v, err := strconv.ParseBool(strings.TrimSpace(os.Getenv(name))); err == nil {
		return v
	}
	return def
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(strings.TrimSpace(os.Getenv(name))); err == nil {
		return v
	}
	return def
}

func envDuration(name string, def time.Duration) time.Duration {
	if v, err := time.ParseDuration(strings.TrimSpace(os.Getenv(name))); err == nil {
		return v
	}
	return def
}
