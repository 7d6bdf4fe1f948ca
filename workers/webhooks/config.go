package webhooks

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/photodesk/photodesk/pipeline/config"
)

// Endpoint is one newsroom system that receives the article events.
type Endpoint struct {
	// Name names the endpoint in logs and its durable consumer
	// (webhook-<name>): 1–32 of a-z, 0-9, '-' and '_'.
	Name string `json:"name"`
	// URL is where the events are POSTed (http or https).
	URL string `json:"url"`
	// KeyID says which secret signed a request (the kid in the
	// Photodesk-Signature header), so receivers can rotate keys.
	KeyID string `json:"key_id"`
	// Secret is the HMAC-SHA256 key. Never logged or printed.
	Secret string `json:"secret"`
}

// String is the endpoint with its secret (and any password in the URL)
// masked: safe to log.
func (e Endpoint) String() string {
	return e.Name + "=" + redactURL(e.URL) + ";" + e.KeyID + ";***"
}

// LogValue keeps the secret out of structured logs too.
func (e Endpoint) LogValue() slog.Value { return slog.StringValue(e.String()) }

// Format masks the secret whatever the verb (%v, %+v, %#v, %s…).
func (e Endpoint) Format(f fmt.State, _ rune) { fmt.Fprint(f, e.String()) }

func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// Config is the webhooks role's configuration.
type Config struct {
	Endpoints []Endpoint
	// Timeout bounds one POST, response included.
	Timeout time.Duration
	// MinBackoff is the wait after a delivery's first failed attempt; each
	// further failure doubles it, up to MaxBackoff.
	MinBackoff time.Duration
	MaxBackoff time.Duration
	// Start is where a new endpoint's consumer begins: "new" (events
	// published from when the endpoint is first configured) or "all"
	// (everything the stream still holds). An existing consumer keeps its
	// place either way.
	Start string

	envErr error // PHOTODESK_WEBHOOKS or --webhooks did not parse; reported by Validate
}

// DefaultConfig has no endpoints: the role then does nothing.
func DefaultConfig() Config {
	return Config{
		Timeout:    10 * time.Second,
		MinBackoff: time.Second,
		MaxBackoff: 5 * time.Minute,
		Start:      StartNew,
	}
}

// Where a new endpoint's consumer starts.
const (
	StartNew = "new"
	StartAll = "all"
)

// EnvEndpoints is the environment variable of --webhooks.
const EnvEndpoints = "PHOTODESK_WEBHOOKS"

// RegisterFlags binds c to flags and PHOTODESK_* variables. The endpoints'
// flag prints masked, so -h never shows a secret.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	if v := os.Getenv(EnvEndpoints); strings.TrimSpace(v) != "" {
		eps, err := ParseEndpoints(v)
		if err != nil {
			c.envErr = fmt.Errorf("%s: %w", EnvEndpoints, err)
		} else {
			c.Endpoints = eps
		}
	}
	fs.Var(&endpointsFlag{c}, "webhooks", "webhook endpoints: name=URL;key-id;secret,... or a JSON list, or @file holding either (env "+EnvEndpoints+")")
	config.DurationVar(fs, &c.Timeout, "webhook-timeout", "PHOTODESK_WEBHOOK_TIMEOUT", "time limit of one webhook POST")
	config.DurationVar(fs, &c.MinBackoff, "webhook-backoff", "PHOTODESK_WEBHOOK_BACKOFF", "wait before retrying a failed webhook delivery; doubles each failure")
	config.DurationVar(fs, &c.MaxBackoff, "webhook-max-backoff", "PHOTODESK_WEBHOOK_MAX_BACKOFF", "longest wait between webhook retries")
	config.StringVar(fs, &c.Start, "webhook-start", "PHOTODESK_WEBHOOK_START", "where a new webhook endpoint starts: new (events from now) or all (the stream's history)")
}

// endpointsFlag is --webhooks. Its String is masked.
type endpointsFlag struct{ c *Config }

func (f *endpointsFlag) String() string {
	if f == nil || f.c == nil || len(f.c.Endpoints) == 0 {
		return ""
	}
	return maskedList(f.c.Endpoints)
}

// Set keeps a parse error for Validate instead of returning it: the flag
// package would print the whole value, secret included, with the error.
func (f *endpointsFlag) Set(s string) error {
	eps, err := ParseEndpoints(s)
	if err != nil {
		f.c.Endpoints, f.c.envErr = nil, fmt.Errorf("--webhooks: %w", err)
		return nil
	}
	f.c.Endpoints, f.c.envErr = eps, nil
	return nil
}

func maskedList(eps []Endpoint) string {
	parts := make([]string, len(eps))
	for i, e := range eps {
		parts[i] = e.String()
	}
	return strings.Join(parts, ",")
}

// String is the configuration with every secret masked.
func (c Config) String() string {
	if len(c.Endpoints) == 0 {
		return "no endpoints"
	}
	return fmt.Sprintf("%d endpoint(s) %s, timeout %s, back-off %s…%s, start %s",
		len(c.Endpoints), maskedList(c.Endpoints), c.Timeout, c.MinBackoff, c.MaxBackoff, c.Start)
}

// Validate reports the first setting that cannot work. Its messages never
// contain a secret.
func (c *Config) Validate() error {
	if c.envErr != nil {
		return c.envErr
	}
	switch {
	case c.Timeout <= 0:
		return fmt.Errorf("webhook-timeout must be positive, got %s", c.Timeout)
	case c.MinBackoff <= 0:
		return fmt.Errorf("webhook-backoff must be positive, got %s", c.MinBackoff)
	case c.MaxBackoff < c.MinBackoff:
		return fmt.Errorf("webhook-max-backoff (%s) must be at least webhook-backoff (%s)", c.MaxBackoff, c.MinBackoff)
	case c.Start != StartNew && c.Start != StartAll:
		return fmt.Errorf("webhook-start must be %q or %q, got %q", StartNew, StartAll, c.Start)
	}
	return validateEndpoints(c.Endpoints)
}

var (
	nameRE  = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)
	keyIDRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
)

// MinSecretLen is the shortest secret accepted, in bytes.
const MinSecretLen = 16

// ParseEndpoints reads endpoints in one of three forms:
//
//	name=URL;key-id;secret[,name=URL;key-id;secret…]
//	[{"name": "…", "url": "…", "key_id": "…", "secret": "…"}, …]
//	@/path/to/file   (a file holding either of the above)
//
// In the compact form the URL ends at its first ';' and the secret may not
// contain ','; use JSON otherwise. Errors never repeat a secret.
func ParseEndpoints(s string) ([]Endpoint, error) {
	s = strings.TrimSpace(s)
	if path, ok := strings.CutPrefix(s, "@"); ok {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("webhook endpoints file: %w", err)
		}
		s = strings.TrimSpace(string(b))
		if strings.HasPrefix(s, "@") {
			return nil, errors.New("webhook endpoints file " + path + " names another file")
		}
	}
	if s == "" {
		return nil, nil
	}
	var eps []Endpoint
	if strings.HasPrefix(s, "[") {
		dec := json.NewDecoder(strings.NewReader(s))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&eps); err != nil {
			// encoding/json's messages name fields and types, not values.
			return nil, fmt.Errorf("webhook endpoints are not a valid JSON list of {name, url, key_id, secret}: %v", err)
		}
	} else {
		for i, entry := range strings.Split(s, ",") {
			entry = strings.TrimSpace(entry)
			if entry == "" {
				continue
			}
			name, rest, ok := strings.Cut(entry, "=")
			u, rest2, ok2 := strings.Cut(rest, ";")
			kid, secret, ok3 := strings.Cut(rest2, ";")
			if !ok || !ok2 || !ok3 {
				return nil, fmt.Errorf("webhook endpoint %d: want name=URL;key-id;secret", i+1)
			}
			eps = append(eps, Endpoint{Name: strings.TrimSpace(name), URL: strings.TrimSpace(u), KeyID: strings.TrimSpace(kid), Secret: secret})
		}
	}
	if err := validateEndpoints(eps); err != nil {
		return nil, err
	}
	return eps, nil
}

func validateEndpoints(eps []Endpoint) error {
	seen := map[string]bool{}
	for i, e := range eps {
		what := fmt.Sprintf("webhook endpoint %d", i+1)
		if !nameRE.MatchString(e.Name) {
			return fmt.Errorf("%s: name %q must be 1-32 of a-z, 0-9, '-' and '_', starting with a letter or digit", what, e.Name)
		}
		what = fmt.Sprintf("webhook endpoint %s", e.Name)
		if seen[e.Name] {
			return fmt.Errorf("%s is configured twice", what)
		}
		seen[e.Name] = true
		u, err := url.Parse(e.URL)
		switch {
		case err != nil:
			return fmt.Errorf("%s: the URL does not parse", what)
		case u.Scheme != "http" && u.Scheme != "https":
			return fmt.Errorf("%s: URL %s must be http or https", what, u.Redacted())
		case u.Host == "":
			return fmt.Errorf("%s: URL %s has no host", what, u.Redacted())
		case u.Fragment != "":
			return fmt.Errorf("%s: URL %s must not have a #fragment", what, u.Redacted())
		}
		if !keyIDRE.MatchString(e.KeyID) {
			return fmt.Errorf("%s: key id %q must be 1-64 of A-Z, a-z, 0-9, '.', '_' and '-'", what, e.KeyID)
		}
		if len(e.Secret) < MinSecretLen {
			return fmt.Errorf("%s: the secret is shorter than %d bytes (use e.g. `openssl rand -hex 32`)", what, MinSecretLen)
		}
	}
	return nil
}

// Insecure reports whether e sends over plain http to a host other than
// the loopback, where anyone on the path can read the records.
func (e Endpoint) Insecure() bool {
	u, err := url.Parse(e.URL)
	if err != nil || u.Scheme == "https" {
		return false
	}
	host := u.Hostname()
	if host == "localhost" {
		return false
	}
	ip := net.ParseIP(host)
	return ip == nil || !ip.IsLoopback()
}
