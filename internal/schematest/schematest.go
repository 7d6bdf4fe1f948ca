// Package schematest validates JSON against the JSON Schemas the tests
// hold photodesk to: IPTC's own ninjs 2.2 schema (from ../shared/reference)
// and the repository's schemas/.
package schematest

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// root is the repository root: the nearest directory above the working
// directory that holds go.mod.
func root(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatal("schematest: no go.mod above the working directory")
		}
		dir = parent
	}
}

func compile(tb testing.TB, path string) *jsonschema.Schema {
	tb.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	// ninjs refers to GeoJSON's schema on the web for place geometry; the
	// tests have no network and photodesk writes no geometry, so an
	// accept-anything stand-in takes its place.
	if err := c.AddResource("https://geojson.org/schema/GeoJSON.json", map[string]any{}); err != nil {
		tb.Fatal(err)
	}
	s, err := c.Compile(path)
	if err != nil {
		tb.Fatalf("schema %s: %v", path, err)
	}
	return s
}

// Ninjs22 is IPTC's ninjs 2.2 schema from ../shared/reference/ninjs. The
// test skips, saying so, where that folder is absent (it is there in CI).
func Ninjs22(tb testing.TB) *jsonschema.Schema {
	tb.Helper()
	path := filepath.Join(root(tb), "..", "shared", "reference", "ninjs", "ninjs-schema_2.2.json")
	if _, err := os.Stat(path); err != nil {
		tb.Skipf("IPTC ninjs 2.2 schema not found at %s (../shared/reference is beside the repository in CI): %v", path, err)
	}
	return compile(tb, path)
}

// Repo is one of the repository's schemas, e.g. "schemas/gallery.schema.json".
func Repo(tb testing.TB, rel string) *jsonschema.Schema {
	tb.Helper()
	return compile(tb, filepath.Join(root(tb), rel))
}

// Validate returns s's verdict on the JSON document doc.
func Validate(tb testing.TB, s *jsonschema.Schema, doc []byte) error {
	tb.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		tb.Fatalf("not JSON: %v", err)
	}
	return s.Validate(v)
}
