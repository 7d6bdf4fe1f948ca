package webhooks_test

import (
	"bytes"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/photodesk/photodesk/workers/webhooks"
)

const (
	secretA = "s3cret-A-0123456789abcdef"
	secretB = "s3cret-B-;with=odd+chars/0123"
)

func TestParseEndpoints(t *testing.T) {
	want := []webhooks.Endpoint{
		{Name: "cms", URL: "https://cms.example.com/hooks/photodesk?src=pd", KeyID: "k1", Secret: secretA},
		{Name: "wire_2", URL: "http://127.0.0.1:8088/in", KeyID: "2026-07.a", Secret: secretB},
	}
	compact := "cms=https://cms.example.com/hooks/photodesk?src=pd;k1;" + secretA + " , wire_2=http://127.0.0.1:8088/in;2026-07.a;" + secretB
	json := fmt.Sprintf(`[{"name":"cms","url":"https://cms.example.com/hooks/photodesk?src=pd","key_id":"k1","secret":%q},
	  {"name":"wire_2","url":"http://127.0.0.1:8088/in","key_id":"2026-07.a","secret":%q}]`, secretA, secretB)
	file := filepath.Join(t.TempDir(), "webhooks.json")
	if err := os.WriteFile(file, []byte(json+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, in := range []string{compact, json, "@" + file} {
		got, err := webhooks.ParseEndpoints(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("ParseEndpoints(%.30q…) = %v, %v", in, got, err)
		}
	}
	if got, err := webhooks.ParseEndpoints("  "); err != nil || got != nil {
		t.Errorf("empty: %v, %v", got, err)
	}

	for _, bad := range []struct{ in, says string }{
		{"cms=https://cms.example.com/h;k1", "want name=URL;key-id;secret"},
		{"Cms=https://cms.example.com/h;k1;" + secretA, "name"},
		{"cms=ftp://cms.example.com/h;k1;" + secretA, "must be http or https"},
		{"cms=https:///h;k1;" + secretA, "has no host"},
		{"cms=https://user:hunter2-password@cms.example.com/h#x;k1;" + secretA, "must not have a #fragment"},
		{"cms=https://cms.example.com/h;k 1;" + secretA, "key id"},
		{"cms=https://cms.example.com/h;k1;short-" + "x", "shorter than 16 bytes"},
		{"cms=https://a.example/h;k1;" + secretA + ",cms=https://b.example/h;k2;" + secretB, "configured twice"},
		{`[{"name":"cms","url":"https://a.example/","key_id":"k1","secret":"` + secretA + `","extra":1}]`, "not a valid JSON list"},
		{"@" + filepath.Join(t.TempDir(), "missing"), "no such file"},
	} {
		_, err := webhooks.ParseEndpoints(bad.in)
		if err == nil || !strings.Contains(err.Error(), bad.says) {
			t.Errorf("ParseEndpoints(%q) = %v, want an error saying %q", bad.in, err, bad.says)
			continue
		}
		for _, secret := range []string{secretA, secretB, "hunter2-password"} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error %q shows a secret", err)
			}
		}
	}
}

// Secrets never show: not in -h (where the default comes from the
// environment), not in the printed config, not in logs, not in errors.
func TestSecretsAreMasked(t *testing.T) {
	t.Setenv(webhooks.EnvEndpoints, "cms=https://ops:hunter2-password@cms.example.com/h;k1;"+secretA)
	c := webhooks.DefaultConfig()
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	var usage bytes.Buffer
	fs.SetOutput(&usage)
	c.RegisterFlags(fs)
	fs.PrintDefaults()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("config", "endpoint", c.Endpoints[0], "cfg", c)
	printed := map[string]string{
		"usage": usage.String(), "String": c.String(), "log": logs.String(),
		"%v": fmt.Sprintf("%v", c), "%+v": fmt.Sprintf("%+v", c.Endpoints), "%#v": fmt.Sprintf("%#v", c.Endpoints[0]),
	}
	for what, s := range printed {
		if strings.Contains(s, secretA) || strings.Contains(s, "hunter2-password") {
			t.Errorf("%s shows a secret: %s", what, s)
		}
	}
	if !strings.Contains(usage.String(), "cms=https://ops:xxxxx@cms.example.com/h;k1;***") {
		t.Errorf("usage does not show the masked endpoint:\n%s", usage.String())
	}

	// A flag replaces the environment's endpoints; a bad environment value
	// is reported by Validate without its secret.
	if err := fs.Parse([]string{"--webhooks", "wire=http://127.0.0.1:9/x;k2;" + secretB, "--webhook-backoff", "2s"}); err != nil {
		t.Fatal(err)
	}
	if len(c.Endpoints) != 1 || c.Endpoints[0].Name != "wire" || c.MinBackoff.String() != "2s" {
		t.Errorf("after flags: %v", c)
	}
	// A bad --webhooks is reported by Validate, not by the flag package
	// (which would print the value, secret and all).
	var out bytes.Buffer
	fs.SetOutput(&out)
	if err := fs.Parse([]string{"--webhooks", "wire=gopher://127.0.0.1:9/x;k2;" + secretB}); err != nil || out.Len() > 0 {
		t.Errorf("a bad --webhooks: Parse = %v, printed %q", err, out.String())
	}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "--webhooks: webhook endpoint wire: URL gopher://127.0.0.1:9/x must be http or https") || strings.Contains(err.Error(), secretB) {
		t.Errorf("a bad --webhooks: Validate = %v", err)
	}
	t.Setenv(webhooks.EnvEndpoints, "cms=gopher://cms.example.com/h;k1;"+secretA)
	c2 := webhooks.DefaultConfig()
	c2.RegisterFlags(flag.NewFlagSet("x", flag.ContinueOnError))
	if err := c2.Validate(); err == nil || !strings.Contains(err.Error(), webhooks.EnvEndpoints) || strings.Contains(err.Error(), secretA) {
		t.Errorf("bad env: Validate = %v", err)
	}
	c3 := webhooks.DefaultConfig()
	c3.MaxBackoff = c3.MinBackoff / 2
	if err := c3.Validate(); err == nil {
		t.Error("max back-off below the first back-off is accepted")
	}
}

func TestInsecure(t *testing.T) {
	for u, want := range map[string]bool{
		"https://cms.example.com/h": false, "http://127.0.0.1:8080/h": false, "http://localhost/h": false,
		"http://[::1]:80/h": false, "http://cms.example.com/h": true, "http://10.0.0.7/h": true,
	} {
		if got := (webhooks.Endpoint{URL: u}).Insecure(); got != want {
			t.Errorf("Insecure(%s) = %v", u, got)
		}
	}
}
