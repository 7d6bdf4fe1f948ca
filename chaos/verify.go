package chaos

import (
	"context"
	"fmt"
	"strings"

	"github.com/photodesk/photodesk/pipeline/contract"
)

// expectedFailures are the stages that must fail a broken photo of each
// kind, and words its reason must contain. The exif role reads only the
// head of a file, so it reads a truncated JPEG's date and says nothing.
var expectedFailures = map[string]map[string][]string{
	brokenTruncated: {contract.StageRenditions: {"bad input", "jpeg"}, contract.StageWatermark: {"bad input", "jpeg"}},
	brokenText:      {contract.StageExif: {"not"}, contract.StageRenditions: {"bad input", "not"}, contract.StageWatermark: {"bad input", "not"}},
}

// checker gathers problems, counting what is lost (photos and manifests
// without their outcome) and what came twice (events beyond one).
type checker struct {
	lostSet          map[string]bool
	dups, unexpected int
	problems         []string
}

// lose marks an upload (a photo or a manifest, by key) as lost.
func (c *checker) lose(key, format string, args ...any) {
	if c.lostSet == nil {
		c.lostSet = map[string]bool{}
	}
	c.lostSet[key] = true
	c.problem("lost: "+format, args...)
}

func (c *checker) lost() int { return len(c.lostSet) }

func (c *checker) problem(format string, args ...any) {
	c.problems = append(c.problems, fmt.Sprintf(format, args...))
}

// count checks that an event about the upload key that must exist once
// does.
func (c *checker) count(key, what string, n int) {
	switch {
	case n == 0:
		c.lose(key, "%s: no event", what)
	case n > 1:
		c.dups += n - 1
		c.problem("duplicate: %s: %d events", what, n)
	}
}

// verify checks the events against the plan, then each published record
// and every derivative it names.
func (r *run) verify(ctx context.Context, t *tally) *checker {
	c, published := checkEvents(r.galleries, t)
	r.checkRecords(ctx, c, published)
	return c
}

// checkEvents checks the events against the plan: one of each event every
// upload must cause, failures only for broken photos and with a reason,
// one record version per gallery, or held. It returns the galleries whose
// record is published.
func checkEvents(gs []*galleryPlan, t *tally) (*checker, []*galleryPlan) {
	c := &checker{}
	failuresOf := map[string][]contract.Failure{} // "<gallery>/<photo>" -> failures
	for _, f := range t.failures {
		failuresOf[f.Gallery+"/"+f.Photo] = append(failuresOf[f.Gallery+"/"+f.Photo], f)
	}
	planned := map[string]*photoPlan{}
	for _, g := range gs {
		manifest := g.ID + "/" + contract.ManifestName
		c.count(manifest, fmt.Sprintf("gallery.submitted %s@%s", g.ID, g.manifestETag), t.submitted[g.ID+"@"+g.manifestETag])
		if t.s3[g.ID+"/"+contract.ManifestName] == 0 {
			c.problem("MinIO sent no event for %s/%s, though its PUT succeeded", g.ID, contract.ManifestName)
		}
		for _, p := range g.Photos {
			planned[p.key()] = p
			pk := p.key() + "@" + p.etag
			if t.s3[p.key()] == 0 {
				c.problem("MinIO sent no event for %s, though its PUT succeeded (ETag %s)", p.key(), p.etag)
			}
			c.count(p.key(), "photo.uploaded "+pk, t.uploaded[pk])
			fs := failuresOf[p.key()]
			if p.Broken == "" {
				for _, role := range contract.StageNames(contract.PhotoStages()) {
					c.count(p.key(), role+" result "+pk, t.results[role][pk])
				}
				continue
			}
			want := expectedFailures[p.Broken]
			for stage, words := range want {
				var got []contract.Failure
				for _, f := range fs {
					if f.Stage == stage {
						got = append(got, f)
					}
				}
				c.count(p.key(), fmt.Sprintf("%s failure of broken %s", stage, pk), len(got))
				for _, f := range got {
					reason := strings.ToLower(f.Reason)
					if !f.Permanent || !containsAll(reason, words) {
						c.problem("%s failure of broken %s: permanent %v, reason %q, want a permanent one that says %q", stage, pk, f.Permanent, f.Reason, words)
					}
				}
				if n := t.results[stage][pk]; n > 0 {
					c.problem("broken %s has %d %s results", pk, n, stage)
				}
			}
			for _, f := range fs {
				if _, ok := want[f.Stage]; !ok && !f.Permanent {
					c.unexpected++
					c.problem("broken %s: unexpected %s failure: %s", pk, f.Stage, f.Reason)
				}
			}
		}
	}
	for _, f := range t.failures {
		if p := planned[f.Gallery+"/"+f.Photo]; p == nil || p.Broken == "" {
			c.unexpected++
			c.problem("failure of a good photo: %s/%s at %s (attempts %d, permanent %v): %s", f.Gallery, f.Photo, f.Stage, f.Attempts, f.Permanent, f.Reason)
		}
	}

	// Each gallery: one record version (nothing changed after the upload),
	// or held with the broken photo named.
	var galleries []*galleryPlan
	for _, g := range gs {
		versions := t.articles[g.ID]
		manifest := g.ID + "/" + contract.ManifestName
		if g.Held {
			if len(versions) > 0 {
				c.dups += len(versions)
				c.problem("held gallery %s was published: versions %v", g.ID, versions)
			}
			if !heldNames(t.held[g.ID], g) {
				c.lose(manifest, "gallery %s lists a broken photo but no photodesk.gallery.held event names it (held events: %+v)", g.ID, t.held[g.ID])
			}
			continue
		}
		if len(t.held[g.ID]) > 0 {
			c.problem("gallery %s lists no broken photo but was held: %+v", g.ID, t.held[g.ID])
		}
		c.count(manifest, "article.ready "+g.ID+" v1", versions[1])
		for v, n := range versions {
			if v != 1 {
				c.dups += n
				c.problem("duplicate: gallery %s has version %d (%d events), though nothing changed after its upload", g.ID, v, n)
			}
		}
		if versions[1] > 0 {
			galleries = append(galleries, g)
		}
	}
	return c, galleries
}

func containsAll(s string, words []string) bool {
	for _, w := range words {
		if !strings.Contains(s, w) {
			return false
		}
	}
	return true
}

// heldNames reports whether a held event names g's listed broken photo
// with a reason.
func heldNames(hs []contract.GalleryHeld, g *galleryPlan) bool {
	for _, h := range hs {
		for _, f := range h.Failed {
			for _, p := range g.Photos {
				if p.Broken != "" && p.Listed && f.Photo == p.Name && f.Reason != "" {
					return true
				}
			}
		}
	}
	return false
}
