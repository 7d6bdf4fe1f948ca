package pipeline_test

import (
	"context"
	"strings"
	"testing"

	"github.com/photodesk/photodesk/pipeline"
	"github.com/photodesk/photodesk/pipeline/config"
	"github.com/photodesk/photodesk/pipeline/contract"
	"github.com/photodesk/photodesk/pipeline/devstack"
)

// TestTopology: set-up makes every resource of the topology, each once by
// name, and CheckStreams names the first required one that goes missing.
func TestTopology(t *testing.T) {
	cfg, js := devstack.NATSForTest(t, config.Default())
	ctx := context.Background()
	seen := map[string]bool{}
	for _, r := range pipeline.Topology(cfg) {
		if seen[r.Label()] {
			t.Errorf("%s listed twice", r.Label())
		}
		seen[r.Label()] = true
		if err := r.Check(ctx, js); err != nil {
			t.Errorf("after set-up: %v", err)
		}
	}
	for _, want := range []string{"stream " + contract.EventsStream, "consumer exif", "consumer exif-gave-up", "key-value " + pipeline.GalleriesKV, "key-value " + pipeline.ProcessesKV} {
		if !seen[want] {
			t.Errorf("topology lacks %s", want)
		}
	}
	if err := pipeline.CheckStreams(ctx, js); err != nil {
		t.Fatal(err)
	}
	if err := js.DeleteConsumer(ctx, contract.EventsStream, "exif"); err != nil {
		t.Fatal(err)
	}
	if err := pipeline.CheckStreams(ctx, js); err == nil || !strings.Contains(err.Error(), "consumer exif on stream PHOTODESK does not exist") {
		t.Fatalf("with exif's consumer gone: %v", err)
	}
	if err := pipeline.EnsureStreams(ctx, js, cfg); err != nil {
		t.Fatal(err)
	}
	if err := pipeline.CheckStreams(ctx, js); err != nil {
		t.Fatalf("after set-up again: %v", err)
	}
}
