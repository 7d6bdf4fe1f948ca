package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestCommittedSchemasAreCurrent: schemas/events matches the Go types; run
// `go run ./tools/schemagen` after changing an event.
func TestCommittedSchemasAreCurrent(t *testing.T) {
	files, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join("..", "..", "schemas", "events", name))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("schemas/events/%s is out of date (%v): run go run ./tools/schemagen", name, err)
		}
	}
}
