package chaos

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/photodesk/photodesk/pipeline/contract"
)

// perfect is the tally of a run where everything went as it must.
func perfect(gs []*galleryPlan) *tally {
	t := &tally{
		uploaded: map[string]int{}, submitted: map[string]int{},
		results: map[string]map[string]int{"exif": {}, "renditions": {}, "watermark": {}},
		held:    map[string][]contract.GalleryHeld{}, articles: map[string]map[int]int{}, s3: map[string]int{},
	}
	for _, g := range gs {
		g.manifestETag = "m-" + g.ID
		t.submitted[g.ID+"@"+g.manifestETag] = 1
		t.s3[g.ID+"/"+contract.ManifestName] = 1
		for _, p := range g.Photos {
			p.etag = "e-" + p.Name
			pk := p.key() + "@" + p.etag
			t.s3[p.key()]++
			t.uploaded[pk] = 1
			ref := contract.Ref{Gallery: g.ID, Photo: p.Name, ETag: p.etag}
			if p.Broken == "" {
				for _, role := range []string{"exif", "renditions", "watermark"} {
					t.results[role][pk] = 1
				}
				continue
			}
			for stage := range expectedFailures[p.Broken] {
				t.failures = append(t.failures, contract.Failure{Ref: ref, Stage: stage, Permanent: true,
					Reason: "bad input: cannot decode the jpeg: it is not an image"})
			}
			if g.Held {
				t.held[g.ID] = append(t.held[g.ID], contract.GalleryHeld{Gallery: g.ID,
					Failed: []contract.HeldPhoto{{Photo: p.Name, Stage: "renditions", Reason: "bad input"}}})
			}
		}
		if !g.Held {
			t.articles[g.ID] = map[int]int{1: 1}
		}
	}
	return t
}

// TestCheckEventsCounts: the checks of a run find nothing wrong in a
// perfect tally, and count each kind of harm done to it.
func TestCheckEventsCounts(t *testing.T) {
	gs := plan(rand.New(rand.NewPCG(1, 2)), 6, 3)
	var held, open *galleryPlan
	var good, broken *photoPlan
	for _, g := range gs {
		for _, p := range g.Photos {
			switch {
			case g.Held && held == nil:
				held = g
			case !g.Held && p.Broken != "" && broken == nil:
				broken = p
			case !g.Held && p.Broken == "" && good == nil:
				good, open = p, g
			}
		}
	}
	if held == nil || broken == nil || good == nil {
		t.Fatalf("the plan of 6 galleries lacks a held gallery, a broken unlisted photo or a good one")
	}
	if c, pub := checkEvents(gs, perfect(gs)); c.lost() != 0 || c.dups != 0 || c.unexpected != 0 || len(c.problems) != 0 || len(pub) != len(gs)-1 {
		t.Fatalf("perfect run: lost %d, dups %d, unexpected %d, published %d of %d: %v", c.lost(), c.dups, c.unexpected, len(pub), len(gs), c.problems)
	}
	gk := good.key() + "@" + good.etag
	for _, c := range []struct {
		name                   string
		harm                   func(*tally)
		lost, dups, unexpected int
		says                   string
	}{
		{"no S3 event, so nothing", func(t *tally) {
			delete(t.s3, good.key())
			delete(t.uploaded, gk)
			for _, r := range t.results {
				delete(r, gk)
			}
		}, 1, 0, 0, "MinIO sent no event for " + good.key()},
		{"a lost renditions result", func(t *tally) { delete(t.results["renditions"], gk) }, 1, 0, 0, "renditions result"},
		{"article twice", func(t *tally) { t.articles[open.ID][1] = 2 }, 0, 1, 0, "article.ready " + open.ID},
		{"a version 2 for nothing", func(t *tally) { t.articles[open.ID][2] = 1 }, 0, 1, 0, "version 2"},
		{"no article", func(t *tally) { delete(t.articles, open.ID) }, 1, 0, 0, "article.ready " + open.ID},
		{"photo.uploaded twice", func(t *tally) { t.uploaded[gk] = 2 }, 0, 1, 0, "photo.uploaded"},
		{"a good photo failed", func(t *tally) {
			t.failures = append(t.failures, contract.Failure{Ref: contract.Ref{Gallery: good.Gallery, Photo: good.Name}, Stage: "watermark", Reason: "gave up after 20 attempts"})
		}, 0, 0, 1, "failure of a good photo"},
		{"held with no event", func(t *tally) { delete(t.held, held.ID) }, 1, 0, 0, "gallery.held"},
		{"a held gallery published", func(t *tally) { t.articles[held.ID] = map[int]int{1: 1} }, 0, 1, 0, "held gallery"},
		{"a broken photo with no failure", func(t *tally) {
			var keep []contract.Failure
			for _, f := range t.failures {
				if f.Gallery+"/"+f.Photo != broken.key() {
					keep = append(keep, f)
				}
			}
			t.failures = keep
		}, 1, 0, 0, "failure of broken"},
	} {
		tl := perfect(gs)
		c.harm(tl)
		got, _ := checkEvents(gs, tl)
		all := strings.Join(got.problems, "\n")
		if got.lost() != c.lost || got.dups != c.dups || got.unexpected != c.unexpected || !strings.Contains(all, c.says) {
			t.Errorf("%s: lost %d, dups %d, unexpected %d, want %d, %d, %d and a problem saying %q:\n%s",
				c.name, got.lost(), got.dups, got.unexpected, c.lost, c.dups, c.unexpected, c.says, all)
		}
	}
}
