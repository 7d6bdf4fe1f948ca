package main

import (
	"slices"
	"testing"

	"github.com/photodesk/photodesk/pipeline/contract"
	"github.com/photodesk/photodesk/workers/webhooks"
)

// TestRolesFollowTheStageTable: the roles photodesk dev runs and their
// default jobs at once are read off contract.Stages.
func TestRolesFollowTheStageTable(t *testing.T) {
	want := append(contract.StageNames(contract.Stages), webhooks.Role)
	if !slices.Equal(allRoles, want) {
		t.Fatalf("allRoles %v, want the stage table's %v", allRoles, want)
	}
	for _, st := range contract.Stages {
		if got := jobsAtOnce(st.Name, 0); got != st.Concurrency {
			t.Errorf("%s: %d jobs at once by default, the table says %d", st.Name, got, st.Concurrency)
		}
		if got := jobsAtOnce(st.Name, 5); got != 5 {
			t.Errorf("%s: --concurrency 5 gives %d", st.Name, got)
		}
	}
	if got := describeJobs(allRoles, 3); got != "3 jobs at once each" {
		t.Errorf("describeJobs(3) = %q", got)
	}
	if got := describeJobs(allRoles, 0); got != "2 jobs at once each" {
		t.Errorf("describeJobs(0) = %q, the table's defaults are all 2", got)
	}
	if n := goMemoryLimit([]string{contract.StageRenditions}, 0, func(string) string { return "" }); n <= 0 {
		t.Errorf("no Go memory limit for renditions at its default concurrency")
	}
}
