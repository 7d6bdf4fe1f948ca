package contract

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// TestStageTable walks the stage table: names are unique, every stage
// reads a stream photodesk has, every result is a subject of the events
// stream, and the assembler reads every photo stage's result and every
// earlier stage's failures (its inputs follow from the table, not a list).
func TestStageTable(t *testing.T) {
	seen := map[string]bool{}
	asm, ok := StageNamed(StageAssembler)
	if !ok {
		t.Fatal("no assembler stage")
	}
	for i, s := range Stages {
		if seen[s.Name] || s.Name == "" || strings.ContainsAny(s.Name, ". *>") {
			t.Errorf("stage %d: name %q is empty, repeated or not a subject token", i, s.Name)
		}
		seen[s.Name] = true
		if s.Stream != EventsStream && s.Stream != S3EventsStream || len(s.Inputs) == 0 || s.Concurrency < 1 || s.Deadline < time.Second {
			t.Errorf("stage %s: stream %q, inputs %v, concurrency %d, deadline %s", s.Name, s.Stream, s.Inputs, s.Concurrency, s.Deadline)
		}
		if s.Result != "" {
			if !underEvents(s.Result + ".g") {
				t.Errorf("stage %s: result %s is not on stream %s", s.Name, s.Result, EventsStream)
			}
			if !slices.Contains(asm.Inputs, s.Result+".>") {
				t.Errorf("the assembler does not read stage %s's result %s", s.Name, s.Result)
			}
		}
		if s.HoldsGallery && s.Result == "" {
			t.Errorf("stage %s holds a gallery but answers no photo", s.Name)
		}
		if s.Name != StageAssembler && !slices.Contains(asm.Inputs, FailedSubject(s.Name, ">")) {
			t.Errorf("the assembler does not read stage %s's failures", s.Name)
		}
	}
	if got := StageNames(PhotoStages()); !slices.Equal(got, []string{StageExif, StageRenditions, StageWatermark}) {
		t.Errorf("photo stages %v", got)
	}
	if got := StageNames(ReprocessStages()); !slices.Equal(got, []string{StageExif, StageRenditions, StageWatermark, StageAssembler}) {
		t.Errorf("reprocess stages %v", got)
	}
	if _, ok := StageNamed("nope"); ok {
		t.Error("StageNamed found a stage that is not in the table")
	}
}

// underEvents reports whether subject matches one of EventsSubjects.
func underEvents(subject string) bool {
	for _, f := range EventsSubjects {
		if strings.HasPrefix(subject, strings.TrimSuffix(f, ">")) {
			return true
		}
	}
	return false
}

func TestKeysAndIDs(t *testing.T) {
	if g, n, err := SplitKey("my-gallery/01.jpg"); err != nil || g != "my-gallery" || n != "01.jpg" {
		t.Errorf("SplitKey: %q %q %v", g, n, err)
	}
	for _, bad := range []string{"a/b/c", "Gallery/x.jpg", "g/..x", "g/", "nogallery", "a--b/x.jpg"} {
		if _, _, err := SplitKey(bad); err == nil {
			t.Errorf("SplitKey(%q) accepted", bad)
		}
	}
	r := Ref{Gallery: "g", Bucket: "originals", Key: "g/a.jpg", ETag: "e1"}
	if MsgID("uploaded", r) != "uploaded:originals/g/a.jpg@e1" {
		t.Errorf("MsgID %s", MsgID("uploaded", r))
	}
	a, b := ResultMsgID("exif", r, "", "x"), ResultMsgID("exif", r, "run1", "x")
	if a == b || a != ResultMsgID("exif", r, "", "x") || !strings.HasPrefix(a, MsgID("exif", r)+"#") {
		t.Errorf("ResultMsgID %s %s", a, b)
	}
	if got := Clip("日本語", 4); got != "日…" {
		t.Errorf("Clip = %q", got)
	}
}
