package c2pa

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"errors"
	"fmt"
	"hash"
	"slices"
	"strings"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// Reading is validating: a file's manifest store is judged the way the
// C2PA reference implementation (c2pa-rs) judges it, with its status
// codes, so what photodesk says of an upload is what a C2PA viewer says.
// The store comes from whoever uploaded the file: every size, count and
// depth in it is bounded before it is walked.

// Report is what validating a file's C2PA manifest store says.
type Report struct {
	// State is StateNone (no manifest), StateValid (the checks pass, the
	// signer is not on our trust list), StateTrusted (valid, and chained to
	// a trust anchor) or StateInvalid.
	State string
	// Failure is why a store is invalid, in the order the reference
	// reports it; for a valid one, signingCredential.untrusted.
	Failure []Status
	// Success is the checks that passed (claimSignature.validated,
	// assertion.dataHash.match, signingCredential.trusted, ...): what a
	// rendition's ingredient carries as its validationResults.
	Success []Status
	// Signer is the signing certificate's organisation, else its common
	// name; Issuer is its issuer's, the same way.
	Signer, Issuer string
	// Generator is the claim_generator (claim v1), or the
	// claim_generator_info name and version (v2).
	Generator string
	// Actions are the action names of the active manifest's actions
	// assertions, in order.
	Actions []string
	// GenerativeAI says some action's digitalSourceType is IPTC's
	// trainedAlgorithmicMedia or compositeWithTrainedAlgorithmicMedia;
	// DigitalSourceType is the first such URI seen.
	GenerativeAI      bool
	DigitalSourceType string
	// Active is the active manifest's label.
	Active string
	// Store is the raw manifest store (JUMBF), to carry into a rendition's
	// manifest as its ingredient's.
	Store []byte
	// SignedAt is the claim signature's time-stamp, zero without one.
	SignedAt time.Time
}

// The validation states.
const (
	StateNone    = "none"
	StateValid   = "valid"
	StateTrusted = "trusted"
	StateInvalid = "invalid"
)

// Status codes, as c2pa-rs spells them (validation_results.rs).
const (
	codeGeneral              = "general.error"
	codeClaimMissing         = "claim.missing"
	codeClaimMultiple        = "claim.multiple"
	codeClaimMalformed       = "claim.malformed"
	codeHardBindingsMissing  = "claim.hardBindings.missing"
	codeHardBindingsMultiple = "assertion.multipleHardBindings"
	codeSigMissing           = "claimSignature.missing"
	codeSigMismatch          = "claimSignature.mismatch"
	codeSigValidated         = "claimSignature.validated"
	codeSigInsideValidity    = "claimSignature.insideValidity"
	codeCredInvalid          = "signingCredential.invalid"
	codeCredExpired          = "signingCredential.expired"
	codeCredTrusted          = "signingCredential.trusted"
	codeCredUntrusted        = "signingCredential.untrusted"
	codeAlgUnsupported       = "algorithm.unsupported"
	codeTimeStampValidated   = "timeStamp.validated"
	codeHashedURIMatch       = "assertion.hashedURI.match"
	codeHashedURIMismatch    = "assertion.hashedURI.mismatch"
	codeAssertionMissing     = "assertion.missing"
	codeAssertionUndeclared  = "assertion.undeclared"
	codeOutsideManifest      = "assertion.outsideManifest"
	codeDataHashMatch        = "assertion.dataHash.match"
	codeDataHashMismatch     = "assertion.dataHash.mismatch"
	codeActionMalformed      = "assertion.action.malformed"
)

// Bounds on what Read walks. A real store is a few hundred KB (thumbnails
// make most of it); anything past these is refused, not decoded.
const (
	maxStoreSize = 16 << 20
	maxClaimURIs = 1024 // hashed URIs in one claim
	maxManifests = 64
)

// readDec decodes every CBOR structure of an untrusted store: shallow,
// and no list or map longer than any real manifest holds.
var readDec, _ = cbor.DecOptions{
	MaxNestedLevels:  16,
	MaxArrayElements: 1 << 16,
	MaxMapPairs:      1 << 12,
	DupMapKey:        cbor.DupMapKeyEnforcedAPF,
}.DecMode()

// Read validates the C2PA manifest store of file ("jpeg" or "webp"; other
// formats read as StateNone) with anchors as the trust list. It never
// panics: whatever is wrong with the file is a StateInvalid report saying
// why.
func Read(file []byte, format string, anchors []*x509.Certificate) (r Report) {
	defer func() {
		// Defence in depth for a pipeline fed by strangers; the fuzz
		// target fails on this explanation, so a bug still shows.
		if p := recover(); p != nil {
			r = Report{State: StateInvalid, Failure: []Status{{Code: codeGeneral, Explanation: fmt.Sprintf("internal error reading the manifest: %v", p)}}}
		}
	}()
	if format != "jpeg" && format != "webp" {
		return Report{State: StateNone}
	}
	store, where, err := FindStore(file, format)
	if errors.Is(err, ErrNoManifest) {
		return Report{State: StateNone}
	}
	if err != nil {
		return invalid(codeGeneral, "the manifest store cannot be read: "+err.Error())
	}
	if len(store) > maxStoreSize {
		return invalid(codeGeneral, fmt.Sprintf("the manifest store is %d bytes, more than the %d read", len(store), maxStoreSize))
	}
	v := &validation{file: file, where: where, anchors: anchors, claims: make(map[string]*claim)}
	v.r.Store = bytes.Clone(store)
	root, err := ParseJUMBF(store)
	if err != nil {
		return invalid(codeGeneral, err.Error())
	}
	if root.UUID != uuidStore {
		return invalid(codeGeneral, "the JUMBF box is not a C2PA manifest store")
	}
	for _, c := range root.Children {
		if c.Type == "jumb" && c.UUID == uuidManifest {
			v.manifests = append(v.manifests, c)
		}
	}
	switch {
	case len(v.manifests) == 0:
		return invalid(codeClaimMissing, "the manifest store holds no manifest")
	case len(v.manifests) > maxManifests:
		return invalid(codeGeneral, fmt.Sprintf("the manifest store holds %d manifests, more than the %d read", len(v.manifests), maxManifests))
	}
	active := v.manifests[len(v.manifests)-1]
	v.r.Active = active.Label
	v.manifest(active, true)
	v.dropRecorded()
	v.r.State = v.state()
	return v.r
}

func invalid(code, why string) Report {
	return Report{State: StateInvalid, Failure: []Status{{Code: code, Explanation: why}}}
}

// validation is one Read under way.
type validation struct {
	file      []byte
	where     span
	anchors   []*x509.Certificate
	manifests []*Box
	claims    map[string]*claim // the ingredient manifests checked
	r         Report
	// signed says the active claim's signature was checked and holds.
	signed bool
	// quiet keeps what passes in ingredient manifests out of Success,
	// which is the active manifest's.
	quiet bool
}

func (v *validation) fail(code, url, why string) {
	v.r.Failure = append(v.r.Failure, Status{Code: code, URL: url, Explanation: why})
}

func (v *validation) pass(code, url, why string) {
	if v.quiet {
		return
	}
	v.r.Success = append(v.r.Success, Status{Code: code, URL: url, Explanation: why})
}

// state is the reference's rule (ValidationResults::validation_state):
// valid when the signature was validated inside its certificate's
// validity and nothing failed but the signer's trust; trusted when
// nothing failed at all and the signer chains to an anchor.
func (v *validation) state() string {
	if !v.signed {
		return StateInvalid
	}
	for _, f := range v.r.Failure {
		if f.Code != codeCredUntrusted {
			return StateInvalid
		}
	}
	if len(v.r.Failure) == 0 && slices.ContainsFunc(v.r.Success, func(s Status) bool { return s.Code == codeCredTrusted }) {
		return StateTrusted
	}
	return StateValid
}

// claim is a decoded claim and where it came from.
type claim struct {
	label      string // its manifest's
	version    int
	data       []byte // the claim's CBOR, as signed
	alg        string
	signature  string
	generator  string
	assertions []hashedURI
	store      *Box // the manifest's assertion store
}

// The fields each claim version may hold (claim.rs, Claim::from_value),
// and the ones it must.
var (
	claimV1Fields = []string{"claim_generator", "claim_generator_hints", "claim_generator_info", "signature", "assertions", "dc:format", "instanceID", "dc:title", "redacted_assertions", "alg", "alg_soft", "metadata"}
	claimV1Needs  = []string{"claim_generator", "signature", "assertions", "dc:format", "instanceID"}
	claimV2Fields = []string{"instanceID", "claim_generator_info", "signature", "created_assertions", "gathered_assertions", "dc:title", "redacted_assertions", "alg", "alg_soft", "metadata"}
	claimV2Needs  = []string{"instanceID", "claim_generator_info", "signature", "created_assertions"}
)

// manifest checks one manifest: its claim, its signature, every hashed
// URI of the claim and, for the active manifest (bind), the hard binding
// of the file. It returns the claim when it could be read.
func (v *validation) manifest(m *Box, bind bool) *claim {
	var claimBox, sigBox, assertions *Box
	for _, c := range m.Children {
		if c.Type != "jumb" {
			continue
		}
		switch c.UUID {
		case uuidClaim:
			if claimBox != nil {
				v.fail(codeClaimMultiple, manifestURI(m.Label), "the manifest holds more than one claim")
				return nil
			}
			claimBox = c
		case uuidSignature:
			sigBox = c
		case uuidAssertions:
			assertions = c
		}
	}
	if claimBox == nil {
		v.fail(codeClaimMissing, manifestURI(m.Label), "the manifest holds no claim")
		return nil
	}
	if sigBox == nil || sigBox.Content("cbor") == nil {
		v.fail(codeSigMissing, signatureURI(m.Label), "the manifest holds no claim signature")
		return nil
	}
	if assertions == nil {
		v.fail(codeGeneral, manifestURI(m.Label), "the manifest holds no assertion store")
		return nil
	}
	c, why := parseClaim(m.Label, claimBox)
	if why != "" {
		v.fail(codeClaimMalformed, manifestURI(m.Label), why)
		return nil
	}
	c.store = assertions
	// Without a known algorithm no hash in the claim can be checked
	// (c2pa-rs refuses such a claim with algorithm.unsupported too).
	if !knownAlg(c.alg) {
		v.fail(codeAlgUnsupported, manifestURI(m.Label), fmt.Sprintf("the claim's hash algorithm %q is not sha256, sha384 or sha512", c.alg))
		return nil
	}
	// The signature the claim names must be this manifest's.
	if mf, box, _ := splitURI(c.signature); mf != "" && mf != m.Label || box != labelSignature {
		v.fail(codeSigMissing, signatureURI(m.Label), fmt.Sprintf("the claim names %q as its signature, not this manifest's", c.signature))
	}
	if c.version > 1 && !manifestLabelOK(m.Label) {
		v.fail(codeClaimMalformed, manifestURI(m.Label), fmt.Sprintf("%q is not a C2PA 2.x manifest label", m.Label))
	}
	signed := v.signature(m.Label, sigBox.Content("cbor"), c.data, bind)
	if bind {
		v.signed = signed
		v.r.Generator = c.generator
	}
	v.hashedURIs(c)
	v.actions(c, bind)
	if bind {
		v.quiet = true
		v.ingredients(c, 0, map[string]bool{m.Label: true})
		v.quiet = false
		v.binding(c)
	}
	return c
}

func parseClaim(label string, box *Box) (*claim, string) {
	data := box.Content("cbor")
	if data == nil {
		return nil, "the claim box holds no CBOR"
	}
	var fields map[string]cbor.RawMessage
	if err := readDec.Unmarshal(data, &fields); err != nil {
		return nil, "the claim's CBOR cannot be decoded: " + err.Error()
	}
	c := &claim{label: label, data: data}
	_, v1 := fields["assertions"]
	_, v2 := fields["created_assertions"]
	allowed, needs := claimV1Fields, claimV1Needs
	switch {
	case v1 && !v2:
		c.version = 1
	case v2 && !v1:
		c.version, allowed, needs = 2, claimV2Fields, claimV2Needs
	default:
		return nil, "the claim is neither a v1 claim (assertions) nor a v2 one (created_assertions)"
	}
	for k := range fields {
		if !slices.Contains(allowed, k) {
			return nil, fmt.Sprintf("a claim v%d has no field %q", c.version, k)
		}
	}
	for _, k := range needs {
		if _, ok := fields[k]; !ok {
			return nil, fmt.Sprintf("the claim v%d has no %q", c.version, k)
		}
	}
	var cl struct {
		Generator  string      `cbor:"claim_generator"`
		Signature  string      `cbor:"signature"`
		Assertions []hashedURI `cbor:"assertions"`
		Created    []hashedURI `cbor:"created_assertions"`
		Gathered   []hashedURI `cbor:"gathered_assertions"`
		Alg        string      `cbor:"alg"`
	}
	if err := readDec.Unmarshal(data, &cl); err != nil {
		return nil, "the claim's fields do not decode: " + err.Error()
	}
	c.signature, c.alg = cl.Signature, cl.Alg
	c.assertions = append(append(cl.Assertions, cl.Created...), cl.Gathered...)
	if len(c.assertions) > maxClaimURIs {
		return nil, fmt.Sprintf("the claim lists %d assertions, more than the %d read", len(c.assertions), maxClaimURIs)
	}
	if c.version == 1 {
		c.generator = cl.Generator
		return c, ""
	}
	var info struct {
		Info generatorInfo `cbor:"claim_generator_info"`
	}
	if err := readDec.Unmarshal(data, &info); err != nil || info.Info.Name == "" {
		return nil, "the claim's claim_generator_info has no name"
	}
	c.generator = strings.TrimSpace(info.Info.Name + " " + info.Info.Version)
	return c, ""
}

// manifestLabelOK is c2pa-rs's test of a 2.x manifest label
// (manifest_label_to_parts): urn:c2pa:GUID[:vendor[:version]], or a 1.x
// urn:uuid:GUID, optionally after a vendor.
func manifestLabelOK(label string) bool {
	p := strings.Split(label, ":")
	switch {
	case len(p) < 3:
		return false
	case p[0] == "urn" && p[1] == "uuid":
		return true
	case p[0] == "urn" && p[1] == "c2pa":
		return len(p) <= 5 && (len(p) < 4 || len(p[3]) <= 32 && !strings.ContainsAny(p[3], " \t\n"))
	}
	return p[1] == "urn" && p[2] == "uuid" && len(p) == 4
}

func manifestURI(label string) string  { return "self#jumbf=/c2pa/" + label }
func signatureURI(label string) string { return manifestURI(label) + "/" + labelSignature }

// splitURI reads a JUMBF URI: "self#jumbf=/c2pa/MANIFEST/BOX[/ITEM]"
// (absolute) or "self#jumbf=BOX[/ITEM]" (relative to the manifest). It
// returns the manifest label ("" for a relative URI), the box and the
// item in it.
func splitURI(uri string) (manifest, box, item string) {
	_, path, ok := strings.Cut(uri, "=")
	if !ok {
		path = uri
	}
	if rest, ok := strings.CutPrefix(path, "/c2pa/"); ok {
		manifest, path, _ = strings.Cut(rest, "/")
	}
	box, item, _ = strings.Cut(path, "/")
	return manifest, box, item
}

func knownAlg(alg string) bool { return newHash(alg) != nil }

func newHash(alg string) hash.Hash {
	switch alg {
	case "sha256":
		return sha256.New()
	case "sha384":
		return sha512.New384()
	case "sha512":
		return sha512.New()
	}
	return nil
}

func hashWith(alg string, parts ...[]byte) []byte {
	h := newHash(alg)
	for _, p := range parts {
		h.Write(p)
	}
	return h.Sum(nil)
}

// hashedURIs checks every assertion the claim lists against the
// assertion store: there, and hashing to what the claim says; and every
// assertion in the store listed.
func (v *validation) hashedURIs(c *claim) {
	listed := make(map[string]bool)
	for _, u := range c.assertions {
		mf, box, label := splitURI(u.URL)
		abs := manifestURI(c.label) + "/" + labelAssertions + "/" + label
		switch {
		case box != labelAssertions || label == "":
			v.fail(codeHashedURIMismatch, u.URL, "assertion URI malformed: "+u.URL)
			continue
		case mf != "" && mf != c.label:
			v.fail(codeOutsideManifest, u.URL, "assertion reference to an external assertion store: "+u.URL)
			continue
		}
		listed[label] = true
		a := c.store.Child(label)
		if a == nil {
			v.fail(codeAssertionMissing, abs, "cannot find matching assertion: "+u.URL)
			continue
		}
		alg := u.Alg
		if alg == "" {
			alg = c.alg
		}
		if !knownAlg(alg) {
			v.fail(codeAlgUnsupported, abs, fmt.Sprintf("hash algorithm %q of %s", alg, u.URL))
			continue
		}
		if !bytes.Equal(hashWith(alg, a.Payload()), u.Hash) {
			v.fail(codeHashedURIMismatch, abs, "hash does not match assertion data: "+u.URL)
			continue
		}
		v.pass(codeHashedURIMatch, abs, "hashed uri matched: "+u.URL)
	}
	for _, a := range c.store.Children {
		if a.Type == "jumb" && !listed[a.Label] {
			v.fail(codeAssertionUndeclared, manifestURI(c.label)+"/"+labelAssertions+"/"+a.Label, "assertion is not referenced by the claim")
		}
	}
}

// isHardBinding says an assertion label is a hard binding (c2pa-rs's
// hash_assertions: the data, BMFF, boxes and collection hashes, any
// version or instance).
func isHardBinding(label string) bool {
	for _, p := range []string{"c2pa.hash.data", "c2pa.hash.bmff", "c2pa.hash.boxes", "c2pa.hash.collection.data"} {
		if label == p || strings.HasPrefix(label, p+".") || strings.HasPrefix(label, p+"__") {
			return true
		}
	}
	return false
}

// binding checks the hard binding: the hash of the file without its
// exclusions (the manifest store) against c2pa.hash.data.
func (v *validation) binding(c *claim) {
	var bindings []*Box
	for _, a := range c.store.Children {
		if a.Type == "jumb" && isHardBinding(a.Label) {
			bindings = append(bindings, a)
		}
	}
	switch len(bindings) {
	case 0:
		v.fail(codeHardBindingsMissing, manifestURI(c.label), "claim missing data binding")
		return
	case 1:
	default:
		v.fail(codeHardBindingsMultiple, manifestURI(c.label), "claim has multiple data bindings")
	}
	for _, b := range bindings {
		url := manifestURI(c.label) + "/" + labelAssertions + "/" + b.Label
		if !strings.HasPrefix(b.Label, labelDataHash) {
			v.fail(codeDataHashMismatch, url, "only c2pa.hash.data hard bindings are checked here, not "+b.Label)
			continue
		}
		whys := v.dataHash(b, c.alg)
		for _, why := range whys {
			v.fail(codeDataHashMismatch, url, why)
		}
		if len(whys) == 0 {
			v.pass(codeDataHashMatch, url, "data hash valid")
		}
	}
}

type exclusionRange struct {
	Start  uint64 `cbor:"start"`
	Length uint64 `cbor:"length"`
}

// dataHash returns why the data hash assertion b does not match the
// file: nothing when it does.
func (v *validation) dataHash(b *Box, claimAlg string) []string {
	var dh struct {
		Exclusions []exclusionRange `cbor:"exclusions"`
		Alg        string           `cbor:"alg"`
		Hash       []byte           `cbor:"hash"`
		URL        *string          `cbor:"url"`
	}
	data := b.Content("cbor")
	if data == nil {
		return []string{"the data hash assertion holds no CBOR"}
	}
	if err := readDec.Unmarshal(data, &dh); err != nil {
		return []string{"the data hash assertion does not decode: " + err.Error()}
	}
	if dh.URL != nil {
		return []string{"remote data hash URIs are not supported"}
	}
	var whys []string
	// The exclusion must be where the store is, no more: bytes excluded
	// beside it could be changed at will (c2pa-rs 0.92 checks this too).
	if !slices.Contains(dh.Exclusions, exclusionRange{uint64(v.where.Start), uint64(v.where.Length)}) {
		whys = append(whys, "data hash exclusion does not match the manifest location in the asset")
	}
	alg := dh.Alg
	if alg == "" {
		alg = claimAlg
	}
	h := newHash(alg)
	if h == nil {
		return append(whys, fmt.Sprintf("the data hash's algorithm %q is not sha256, sha384 or sha512", alg))
	}
	// Hash what the exclusions leave, in file order; overlapping ones
	// are allowed (the reference subtracts them as a set).
	ex := slices.Clone(dh.Exclusions)
	slices.SortFunc(ex, func(a, b exclusionRange) int { return cmpU64(a.Start, b.Start) })
	size := uint64(len(v.file))
	at := uint64(0)
	for _, e := range ex {
		if e.Start > size || e.Length > size-e.Start {
			return append(whys, fmt.Sprintf("the exclusion %d+%d runs past the file's %d bytes", e.Start, e.Length, size))
		}
		if e.Start > at {
			h.Write(v.file[at:e.Start])
		}
		at = max(at, e.Start+e.Length)
	}
	h.Write(v.file[at:])
	if !bytes.Equal(h.Sum(nil), dh.Hash) {
		whys = append(whys, "asset hash error: hashes do not match")
	}
	return whys
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Digital source types that say a picture was made by generative AI
// (IPTC NewsCodes; c2pa-rs takes the bare names as aliases).
var generativeSourceTypes = []string{
	"http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia",
	"http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia",
	"trainedAlgorithmicMedia",
	"compositeWithTrainedAlgorithmicMedia",
}

// actions applies the reference's simplest actions rules to a
// manifest (one actions assertion in a v1 claim; in a v2 claim, the
// first one starting with c2pa.created or c2pa.opened) and, for the
// active one, reads the action names and any generative AI source type.
func (v *validation) actions(c *claim, active bool) {
	type action struct {
		Action     string         `cbor:"action"`
		SourceType string         `cbor:"digitalSourceType"`
		Parameters map[string]any `cbor:"parameters"`
	}
	n, opens := 0, false
	for _, a := range c.store.Children {
		base, _, _ := strings.Cut(a.Label, "__") // an instance: c2pa.actions__1
		if a.Type != "jumb" || base != "c2pa.actions" && base != labelActions {
			continue
		}
		var as struct {
			Actions []action `cbor:"actions"`
		}
		if err := readDec.Unmarshal(a.Content("cbor"), &as); err != nil {
			v.fail(codeActionMalformed, manifestURI(c.label)+"/"+labelAssertions+"/"+a.Label, "the actions assertion does not decode: "+err.Error())
			continue
		}
		if n++; n == 1 && len(as.Actions) > 0 {
			opens = as.Actions[0].Action == "c2pa.created" || as.Actions[0].Action == "c2pa.opened"
		}
		if !active {
			continue
		}
		for _, x := range as.Actions {
			v.r.Actions = append(v.r.Actions, x.Action)
			st := x.SourceType
			if s, ok := x.Parameters["digitalSourceType"].(string); ok && st == "" {
				st = s // where some 1.x writers put it
			}
			if slices.Contains(generativeSourceTypes, st) {
				v.r.GenerativeAI = true
				if v.r.DigitalSourceType == "" {
					v.r.DigitalSourceType = st
				}
			}
		}
	}
	switch {
	case c.version == 1 && n > 1:
		v.fail(codeActionMalformed, manifestURI(c.label), "only one action assertion allowed for v1 claims")
	case c.version > 1 && !opens:
		v.fail(codeActionMalformed, manifestURI(c.label), "first action must be created or opened")
	}
}
