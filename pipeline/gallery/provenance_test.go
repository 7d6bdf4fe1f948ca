package gallery

import (
	"testing"

	"github.com/photodesk/photodesk/pipeline/contract"
)

// RequireProvenance holds the photos without intact Content Credentials
// when the gallery or, failing it, the default asks; a gallery that says
// false is not held by a default of true.
func TestRequireProvenance(t *testing.T) {
	entry := func(name string, p *contract.Provenance) Entry {
		return Entry{Name: name, Current: &Result{Exif: &contract.ExifData{Provenance: p}}}
	}
	ready := func() Readiness {
		return Readiness{Ready: true, Entries: []Entry{
			entry("a.jpg", &contract.Provenance{State: contract.ProvenanceNone}),
			entry("b.jpg", &contract.Provenance{State: contract.ProvenanceTrusted}),
			entry("c.jpg", &contract.Provenance{State: contract.ProvenanceInvalid, Codes: []string{"claimSignature.mismatch"}}),
			entry("d.jpg", &contract.Provenance{State: contract.ProvenanceValid}),
			{Name: "e.jpg", Current: &Result{}}, // exif failed: not read
		}}
	}
	yes, no := true, false
	for _, c := range []struct {
		name string
		m    *Manifest
		def  bool
		held []string
	}{
		{"not asked", &Manifest{}, false, nil},
		{"the default asks", &Manifest{}, true, []string{"a.jpg", "c.jpg", "e.jpg"}},
		{"the gallery asks", &Manifest{RequireProvenance: &yes}, false, []string{"a.jpg", "c.jpg", "e.jpg"}},
		{"the gallery declines", &Manifest{RequireProvenance: &no}, true, nil},
	} {
		rd := ready()
		rd.RequireProvenance(c.m, c.def)
		var held []string
		for _, f := range rd.Failed {
			held = append(held, f.Photo)
			if f.Stage != StageProvenance || f.Reason == "" {
				t.Errorf("%s: %+v", c.name, f)
			}
		}
		if len(held) != len(c.held) || rd.Ready != (len(c.held) == 0) || len(rd.Entries) != 5-len(c.held) {
			t.Errorf("%s: held %v (ready %v, %d entries), want %v", c.name, held, rd.Ready, len(rd.Entries), c.held)
		}
		for i := range held {
			if held[i] != c.held[i] {
				t.Errorf("%s: held %v, want %v", c.name, held, c.held)
			}
		}
	}
}
