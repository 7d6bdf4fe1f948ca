package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/photodesk/photodesk/pipeline/config"
	"github.com/photodesk/photodesk/pipeline/contract"
)

// TestDeadlineSettings: every stage has a deadline, by default its stage
// table's, set by --deadline-<stage>, PHOTODESK_DEADLINE_<STAGE> or the
// file, in that order; 0 turns it off, and below a second is refused.
func TestDeadlineSettings(t *testing.T) {
	cfg, _, err := parse(t)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range contract.Stages {
		if got := cfg.DeadlineFor(st.Name); got != st.Deadline || got == 0 {
			t.Errorf("default deadline of %s = %s, want the stage table's %s", st.Name, got, st.Deadline)
		}
	}
	if cfg.DeadlineFor("webhooks") != 0 {
		t.Error("a role that is no stage has a deadline")
	}

	t.Setenv("PHOTODESK_DEADLINE_EXIF", "20s")
	t.Setenv("PHOTODESK_DEADLINE_WATERMARK", "7m")
	file := writeFile(t, "deadline-ingest: 45s\ndeadline-watermark: 9m\n")
	cfg, _, err = parse(t, "--config", file, "--deadline-renditions", "10m", "--deadline-assembler", "0")
	if err != nil {
		t.Fatal(err)
	}
	for role, want := range map[string]time.Duration{
		"renditions": 10 * time.Minute, // flag
		"exif":       20 * time.Second, // variable
		"watermark":  7 * time.Minute,  // variable beats file
		"ingest":     45 * time.Second, // file
		"assembler":  0,                // off
	} {
		if got := cfg.DeadlineFor(role); got != want {
			t.Errorf("deadline of %s = %s, want %s", role, got, want)
		}
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("valid deadlines refused: %v", err)
	}
	// Each Default is its own: settings of one config leave the next alone.
	if def := config.Default(); def.DeadlineFor("renditions") == 10*time.Minute {
		t.Error("Default shares its deadlines with an earlier config")
	}

	cfg, _, err = parse(t, "--deadline-exif", "500ms")
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "deadline-exif must be 0 (none) or at least 1s") {
		t.Errorf("Validate(500ms) = %v", err)
	}
	if _, _, err := parse(t, "--deadline-exif", "soon"); err == nil {
		t.Error("a deadline that is no duration was taken")
	}
}
