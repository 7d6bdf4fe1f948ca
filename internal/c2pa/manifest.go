package c2pa

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"

	"github.com/fxamacker/cbor/v2"
)

// The manifest photodesk writes: a C2PA 2.x claim (claim v2) over an
// ingredient (the original), the actions done to it, the creative work
// (byline, publisher, notice, caption) and the hard binding.

// Work is what one signed rendition's manifest says.
type Work struct {
	Title     string   // the file's name
	Format    string   // its media type, image/jpeg or image/webp
	Authors   []string // the byline
	Publisher string   // the newsroom
	Copyright string   // the copyright notice
	Caption   string
	Actions   []Action // after c2pa.opened of the parent, in order
	Parent    Parent
}

// Action is one c2pa.actions.v2 entry after the opening of the parent:
// c2pa.resized, c2pa.watermarked, c2pa.edited.metadata, c2pa.published...
type Action struct {
	Action      string `cbor:"action"`
	Description string `cbor:"description,omitempty"`
}

// Parent is the original a rendition was made from.
type Parent struct {
	Title  string
	Format string
	SHA256 []byte // of the original file as uploaded
	// Store is the original's own manifest store when it arrived signed
	// and valid: its manifests are carried into the rendition's store so
	// the chain survives the resize. Results is what validating it said.
	Store   []byte
	Results []Status
}

// Status is one C2PA validation status entry.
type Status struct {
	Code        string `cbor:"code" json:"code"`
	URL         string `cbor:"url,omitempty" json:"url,omitempty"`
	Explanation string `cbor:"explanation,omitempty" json:"explanation,omitempty"`
}

type hashedURI struct {
	URL  string `cbor:"url"`
	Alg  string `cbor:"alg,omitempty"`
	Hash []byte `cbor:"hash"`
}

type generatorInfo struct {
	Name    string `cbor:"name"`
	Version string `cbor:"version,omitempty"`
}

type claimV2 struct {
	InstanceID string        `cbor:"instanceID"`
	Generator  generatorInfo `cbor:"claim_generator_info"`
	Signature  string        `cbor:"signature"`
	Created    []hashedURI   `cbor:"created_assertions"`
	Title      string        `cbor:"dc:title,omitempty"`
	Alg        string        `cbor:"alg"`
}

type exclusion struct {
	Start  int `cbor:"start"`
	Length int `cbor:"length"`
}

type dataHash struct {
	Exclusions []exclusion `cbor:"exclusions"`
	Name       string      `cbor:"name"`
	Alg        string      `cbor:"alg"`
	Hash       []byte      `cbor:"hash"`
	Pad        []byte      `cbor:"pad"`
}

type actionEntry struct {
	Action      string         `cbor:"action"`
	Description string         `cbor:"description,omitempty"`
	Agent       *generatorInfo `cbor:"softwareAgent,omitempty"`
	Parameters  map[string]any `cbor:"parameters,omitempty"`
}

type validationResults struct {
	Active statusCodes `cbor:"activeManifest"`
}

type statusCodes struct {
	Success       []Status `cbor:"success"`
	Informational []Status `cbor:"informational"`
	Failure       []Status `cbor:"failure"`
}

type ingredientV3 struct {
	Title          string             `cbor:"dc:title"`
	Format         string             `cbor:"dc:format"`
	Relationship   string             `cbor:"relationship"`
	InstanceID     string             `cbor:"instanceID,omitempty"`
	Results        *validationResults `cbor:"validationResults,omitempty"`
	ActiveManifest *hashedURI         `cbor:"activeManifest,omitempty"`
	ClaimSignature *hashedURI         `cbor:"claimSignature,omitempty"`
}

const (
	labelIngredient = "c2pa.ingredient.v3"
	labelActions    = "c2pa.actions.v2"
	labelWork       = "stds.schema-org.CreativeWork"
	labelDataHash   = "c2pa.hash.data"
	labelClaim      = "c2pa.claim.v2"
	labelSignature  = "c2pa.signature"
	labelAssertions = "c2pa.assertions"
)

var encMode, _ = cbor.CoreDetEncOptions().EncMode()

func mustCBOR(v any) []byte {
	b, err := encMode.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("c2pa: encoding %T: %v", v, err)) // our own types: a bug, not input
	}
	return b
}

func sha(b []byte) []byte { s := sha256.Sum256(b); return s[:] }

// assertionURI is the absolute JUMBF URI of an assertion in a manifest.
func assertionURI(manifest, label string) string {
	return "self#jumbf=/c2pa/" + manifest + "/" + labelAssertions + "/" + label
}

// parentManifests returns the manifests of a parent's store to carry
// over and its active (last) one.
func parentManifests(store []byte) ([]*Box, *Box, error) {
	if store == nil {
		return nil, nil, nil
	}
	root, err := ParseJUMBF(store)
	if err != nil {
		return nil, nil, fmt.Errorf("the original's manifest store: %w", err)
	}
	var ms []*Box
	for _, c := range root.Children {
		if c.Type == "jumb" {
			ms = append(ms, c)
		}
	}
	if len(ms) == 0 {
		return nil, nil, fmt.Errorf("the original's manifest store holds no manifest")
	}
	return ms, ms[len(ms)-1], nil
}

// assertions builds every assertion but the hard binding.
func (w Work) assertions(label string, parent *Box, gen generatorInfo) ([]*Box, error) {
	ing := ingredientV3{
		Title: w.Parent.Title, Format: w.Parent.Format, Relationship: "parentOf",
	}
	if len(w.Parent.SHA256) == sha256.Size {
		// The original named by its bytes: a reader holding it can check.
		ing.InstanceID = fmt.Sprintf("urn:photodesk:original:sha256:%x", w.Parent.SHA256)
	}
	if parent != nil {
		sig := parent.Child(labelSignature)
		if sig == nil {
			return nil, fmt.Errorf("the original's active manifest has no signature")
		}
		ing.ActiveManifest = &hashedURI{URL: "self#jumbf=/c2pa/" + parent.Label, Alg: "sha256", Hash: sha(parent.Payload())}
		ing.ClaimSignature = &hashedURI{URL: "self#jumbf=/c2pa/" + parent.Label + "/" + labelSignature, Alg: "sha256", Hash: sha(sig.Payload())}
		res := statusCodes{Success: w.Parent.Results, Informational: []Status{}, Failure: []Status{}}
		if res.Success == nil {
			res.Success = []Status{}
		}
		ing.Results = &validationResults{Active: res}
	}
	ingBox := cborAssertion(labelIngredient, mustCBOR(ing))

	acts := []actionEntry{{
		Action: "c2pa.opened", Agent: &gen,
		Parameters: map[string]any{"ingredients": []hashedURI{{
			URL: assertionURI(label, labelIngredient), Alg: "sha256", Hash: sha(ingBox.Payload()),
		}}},
	}}
	for _, a := range w.Actions {
		acts = append(acts, actionEntry{Action: a.Action, Description: a.Description, Agent: &gen})
	}
	actBox := cborAssertion(labelActions, mustCBOR(map[string]any{"actions": acts}))

	work := map[string]any{"@context": "https://schema.org", "@type": "CreativeWork"}
	if len(w.Authors) > 0 {
		var as []map[string]string
		for _, a := range w.Authors {
			as = append(as, map[string]string{"@type": "Person", "name": a})
		}
		work["author"] = as
	}
	if w.Publisher != "" {
		work["publisher"] = map[string]string{"@type": "Organization", "name": w.Publisher}
		work["copyrightHolder"] = map[string]string{"@type": "Organization", "name": w.Publisher}
	}
	if w.Copyright != "" {
		work["copyrightNotice"] = w.Copyright
	}
	if w.Caption != "" {
		work["description"] = w.Caption
	}
	wj, err := json.Marshal(work)
	if err != nil {
		return nil, err
	}
	return []*Box{ingBox, actBox, jsonAssertion(labelWork, wj)}, nil
}

// dataHashBox is the hard binding: the file's SHA-256 with the store's
// bytes left out.
func dataHashBox(where span, hash []byte) *Box {
	return cborAssertion(labelDataHash, mustCBOR(dataHash{
		Exclusions: []exclusion{{where.Start, where.Length}},
		Name:       "jumbf manifest", Alg: "sha256", Hash: hash, Pad: []byte{},
	}))
}
