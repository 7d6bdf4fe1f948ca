// Package c2patest runs the C2PA reference implementation (c2pa-rs as
// WebAssembly, tools/c2paverify) on a file: the outside judge of what
// photodesk signs, for tests.
package c2patest

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// Report is what the reference verifier says of a file.
type Report struct {
	State       string   `json:"state"` // Trusted, Valid, Invalid, or None (no manifest)
	Error       string   `json:"error"`
	Status      []string `json:"status"`
	Active      string   `json:"active"`
	Manifests   []string `json:"manifests"`
	Assertions  []string `json:"assertions"`
	Bindings    []string `json:"bindings"`
	Title       string   `json:"title"`
	Format      string   `json:"format"`
	Generator   []struct{ Name, Version string }
	Actions     struct{ Actions []struct{ Action string } }
	Creative    map[string]any `json:"creative"`
	Ingredients []struct {
		Title          string `json:"title"`
		Relationship   string `json:"relationship"`
		ActiveManifest string `json:"active_manifest"`
	} `json:"ingredients"`
	Signature struct {
		Issuer     string `json:"issuer"`
		CommonName string `json:"common_name"`
		Alg        string `json:"alg"`
		Time       string `json:"time"` // of the time-stamp, RFC 3339
	} `json:"signature"`
	// Results is what the validation found of the active manifest.
	Results struct {
		Active struct {
			Success, Informational, Failure []struct{ Code, Explanation string }
		} `json:"activeManifest"`
	} `json:"results"`
	Raw string `json:"-"`
}

// Dir is tools/c2paverify in this checkout.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "tools", "c2paverify")
}

// Verify runs the verifier on data (mime image/jpeg or image/webp) with
// the PEM trust anchors in anchors ("" for none). A verifier that is not
// installed fails the test: `make c2pa-verifier` installs it, and `make
// test` does first.
func Verify(t testing.TB, data []byte, mime, anchors string) Report {
	t.Helper()
	return VerifyTSA(t, data, mime, anchors, "")
}

// VerifyTSA is Verify that also trusts the time-stamp authorities whose
// PEM anchors are in file tsaAnchors (c2pa-rs trusts signers and
// time-stamp authorities by separate lists).
func VerifyTSA(t testing.TB, data []byte, mime, anchors, tsaAnchors string) Report {
	t.Helper()
	dir := Dir()
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@contentauth", "c2pa-wasm")); err != nil {
		t.Fatalf("the C2PA reference verifier is not installed in %s (make c2pa-verifier): %v", dir, err)
	}
	f := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(f, data, 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{filepath.Join(dir, "verify.mjs"), f, mime}
	if anchors != "" || tsaAnchors != "" {
		args = append(args, anchors)
	}
	if tsaAnchors != "" {
		args = append(args, tsaAnchors)
	}
	out, err := exec.Command("node", args...).Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("c2pa verifier: %v %s", err, msg)
	}
	var r Report
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("c2pa verifier said %q: %v", out, err)
	}
	r.Raw = string(out)
	return r
}
