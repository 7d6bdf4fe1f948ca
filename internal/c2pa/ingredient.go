package c2pa

import (
	"bytes"
	"fmt"
	"strings"
)

// An ingredient may name its own manifest in the store (a signed
// original carried into its rendition). The reference judges those
// manifests too, and their failures count against the file, so Read
// does: each must be in the store, hash to what the ingredient says,
// and hold a good claim and signature (its hard binding was the
// ingredient file's, and is not checked). Ingredients are walked once
// each, to a bounded depth.

const (
	codeIngredientMalformed = "assertion.ingredient.malformed"
	codeIngredientValidated = "ingredient.manifest.validated"
	codeIngredientMismatch  = "ingredient.manifest.mismatch"
	codeIngredientMissing   = "ingredient.manifest.missing"

	maxIngredientDepth = 16
)

// ingredientAssertion is what Read needs of c2pa.ingredient (v1, v2:
// c2pa_manifest, validationStatus) and c2pa.ingredient.v3
// (activeManifest, validationResults).
type ingredientAssertion struct {
	Manifest       *hashedURI      `cbor:"c2pa_manifest"`
	ActiveManifest *hashedURI      `cbor:"activeManifest"`
	Status         []Status        `cbor:"validationStatus"`
	Results        *resultsPartial `cbor:"validationResults"`
}

type resultsPartial struct {
	Active statusCodes `cbor:"activeManifest"`
	Deltas []struct {
		Deltas statusCodes `cbor:"validationDeltas"`
	} `cbor:"ingredientDeltas"`
}

func (a ingredientAssertion) manifest() *hashedURI {
	if a.ActiveManifest != nil {
		return a.ActiveManifest
	}
	return a.Manifest
}

// recorded is every status the ingredient says its own validation found.
func (a ingredientAssertion) recorded() []Status {
	out := append([]Status(nil), a.Status...)
	if r := a.Results; r != nil {
		for _, c := range append([]statusCodes{r.Active}, func() (ds []statusCodes) {
			for _, d := range r.Deltas {
				ds = append(ds, d.Deltas)
			}
			return ds
		}()...) {
			out = append(append(append(out, c.Success...), c.Informational...), c.Failure...)
		}
	}
	return out
}

func isIngredient(label string) bool {
	base, _, _ := strings.Cut(label, "__")
	return base == "c2pa.ingredient" || strings.HasPrefix(base, "c2pa.ingredient.v")
}

// ingredients checks the manifests c's ingredients name.
func (v *validation) ingredients(c *claim, depth int, seen map[string]bool) {
	for _, a := range c.store.Children {
		if a.Type != "jumb" || !isIngredient(a.Label) {
			continue
		}
		url := manifestURI(c.label) + "/" + labelAssertions + "/" + a.Label
		var ing ingredientAssertion
		if data := a.Content("cbor"); data == nil || readDec.Unmarshal(data, &ing) != nil {
			v.fail(codeIngredientMalformed, url, "ingredient assertion could not be parsed")
			continue
		}
		m := ing.manifest()
		if m == nil {
			continue // an ingredient without provenance
		}
		if strings.HasSuffix(a.Label, ".v3") && ing.Results == nil {
			v.fail(codeIngredientMalformed, url, "ingredient V3 must have validation results")
		}
		label, _, _ := splitURI(m.URL)
		if label == "" {
			label = m.URL
		}
		box := v.manifestBox(label)
		if box == nil {
			v.fail(codeIngredientMissing, m.URL, fmt.Sprintf("ingredient: %s is missing", label))
			continue
		}
		if depth >= maxIngredientDepth {
			v.fail(codeGeneral, m.URL, fmt.Sprintf("ingredient chain deeper than %d", maxIngredientDepth))
			return
		}
		ic := v.ingredientManifest(box, seen, depth)
		alg := m.Alg
		if alg == "" && ic != nil {
			alg = ic.alg
		}
		switch {
		case !knownAlg(alg):
			v.fail(codeAlgUnsupported, m.URL, fmt.Sprintf("hash algorithm %q of the ingredient's manifest", alg))
		case bytes.Equal(hashWith(alg, box.Payload()), m.Hash):
			v.pass(codeIngredientValidated, m.URL, "ingredient hash matched")
		case ic != nil && bytes.Equal(hashWith(alg, ic.data), m.Hash):
			// Before C2PA 1.3 an ingredient named its manifest by the
			// hash of its claim: still a match.
		default:
			v.fail(codeIngredientMismatch, m.URL, "ingredient hash incorrect")
		}
	}
}

// ingredientManifest checks an ingredient's manifest, and its own
// ingredients, once; it returns its claim when it could be read.
func (v *validation) ingredientManifest(box *Box, seen map[string]bool, depth int) *claim {
	if seen[box.Label] {
		return v.claims[box.Label]
	}
	seen[box.Label] = true
	c := v.manifest(box, false)
	v.claims[box.Label] = c
	if c != nil {
		v.ingredients(c, depth+1, seen)
	}
	return c
}

func (v *validation) manifestBox(label string) *Box {
	for _, m := range v.manifests {
		if m.Label == label {
			return m
		}
	}
	return nil
}

// dropRecorded removes the failures of ingredient manifests that an
// ingredient assertion already records as found when it was validated:
// the reference reports only what changed since (ingredient deltas).
func (v *validation) dropRecorded() {
	recorded := make(map[Status]bool)
	for _, m := range v.manifests {
		as := m.Child(labelAssertions)
		if as == nil {
			continue
		}
		for _, a := range as.Children {
			var ing ingredientAssertion
			if a.Type != "jumb" || !isIngredient(a.Label) || readDec.Unmarshal(a.Content("cbor"), &ing) != nil {
				continue
			}
			label := ""
			if m := ing.manifest(); m != nil {
				label, _, _ = splitURI(m.URL)
			}
			for _, s := range ing.recorded() {
				recorded[Status{Code: s.Code, URL: absoluteURI(label, s.URL)}] = true
			}
		}
	}
	kept := v.r.Failure[:0]
	for _, f := range v.r.Failure {
		if mf, _, _ := splitURI(f.URL); mf == v.r.Active || !recorded[Status{Code: f.Code, URL: f.URL}] {
			kept = append(kept, f)
		}
	}
	v.r.Failure = kept
}

// absoluteURI makes a status URL relative to manifest label absolute.
func absoluteURI(label, url string) string {
	if !strings.HasPrefix(url, "self#jumbf") || label == "" {
		return url
	}
	if mf, _, _ := splitURI(url); mf != "" {
		return url
	}
	_, path, _ := strings.Cut(url, "=")
	return manifestURI(label) + "/" + path
}
