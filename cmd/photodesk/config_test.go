package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConfigMasksSecrets: photodesk config shows every setting from flags
// and the environment, and never a secret.
func TestConfigMasksSecrets(t *testing.T) {
	out := captureStdout(t)
	t.Setenv("PHOTODESK_NATS_PASSWORD", "nats-pass-value-123")
	t.Setenv("PHOTODESK_PRESETS", "thumb:320:jpeg")
	var stderr bytes.Buffer
	args := []string{"config", "--s3-secret-key", "s3-secret-value-456", "--nats-user", "pd", "--api-tokens", "a:photographer:api-token-value-7890",
		"--webhooks", "desk=https://example.com/hook;k1;webhook-secret-value-0000",
		"--c2pa-key", "key.pem", "--c2pa-chain", "chain.pem", "--c2pa-tsa-url", "https://desk:tsa-pass-value-4242@tsa.example.com/rfc3161"}
	if code := run(args, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	s := out.String()
	for _, secret := range []string{"nats-pass-value-123", "s3-secret-value-456", "api-token-value-7890", "webhook-secret-value-0000", "tsa-pass-value-4242"} {
		if strings.Contains(s, secret) {
			t.Errorf("config printed the secret %s", secret)
		}
	}
	for _, want := range []string{"presets                      thumb:320:jpeg", "nats-user                    pd", "s3-secret-key                *** (19 characters)", "https://example.com/hook",
		"c2pa-tsa-url                 https://desk:xxxxx@tsa.example.com/rfc3161", "# valid"} {
		if !strings.Contains(s, want) {
			t.Errorf("config lacks %q:\n%s", want, s)
		}
	}
	out.Reset()
	if code := run([]string{"config", "--max-deliver", "0"}, &stderr); code != 1 || !strings.Contains(stderr.String(), "invalid: max-deliver") {
		t.Errorf("invalid config: exit %d, %s", code, stderr.String())
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--c2pa-tsa-url", "https://tsa.example.com/"}, "it needs c2pa-key"},
		{[]string{"--c2pa-key", "k", "--c2pa-chain", "c", "--c2pa-tsa-url", "tsa.example.com"}, "want an http(s) URL"},
	} {
		stderr.Reset()
		if code := run(append([]string{"config"}, c.args...), &stderr); code != 1 || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("%v: exit %d, %s", c.args, code, stderr.String())
		}
	}
}

// TestConfigReadsAConfigFile: settings come from --config's file where no
// flag or variable gives them; secrets from the file stay masked, and keys
// no serving command has are named.
func TestConfigReadsAConfigFile(t *testing.T) {
	out := captureStdout(t)
	path := filepath.Join(t.TempDir(), "photodesk.yaml")
	if err := os.WriteFile(path, []byte(`
nats: [nats://n1:4222, nats://n2:4222]
s3-secret-key: file-secret-value-31337
presets: "thumb:320:jpeg"
watermark-text: "来源:工人日报"
max-deliver: 4
concurency: 4
`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PHOTODESK_MAX_DELIVER", "6")
	var stderr bytes.Buffer
	if code := run([]string{"config", "--config", path}, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	s := out.String()
	if strings.Contains(s, "file-secret-value-31337") {
		t.Error("config printed a secret from the file")
	}
	for _, want := range []string{
		"nats                         nats://n1:4222,nats://n2:4222",
		"presets                      thumb:320:jpeg",
		"watermark-text               来源:工人日报",
		"max-deliver                  6",
		"s3-secret-key                *** (23 characters)",
		"# from " + path + ": nats, presets, s3-secret-key, watermark-text",
		"# overridden by flags or PHOTODESK_* variables: max-deliver",
		"# not settings of worker, dev or api: concurency",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("config lacks %q:\n%s", want, s)
		}
	}
}
