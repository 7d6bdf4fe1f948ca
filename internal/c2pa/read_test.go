package c2pa_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/photodesk/photodesk/internal/c2pa"
	"github.com/photodesk/photodesk/internal/c2pa/c2patest"
)

// Read must say of a file what the reference verifier says: the same
// state and the same failure codes. Each case runs both.

// agree runs the reference verifier and Read on file with the PEM trust
// anchors in anchorsFile ("" for none), fails the test where they differ,
// and returns Read's report.
func agree(t *testing.T, name string, file []byte, format, anchorsFile string) c2pa.Report {
	t.Helper()
	var anchors []*x509.Certificate
	if anchorsFile != "" {
		b, err := os.ReadFile(anchorsFile)
		if err != nil {
			t.Fatal(err)
		}
		if anchors, err = c2pa.ParseCertificates(b); err != nil {
			t.Fatal(err)
		}
	}
	ref := c2patest.Verify(t, file, "image/"+format, anchorsFile)
	got := c2pa.Read(file, format, anchors)
	if ref.State == "None" && !strings.Contains(ref.Error, "JumbfNotFound") {
		// The reference refuses to read the store at all: Read must
		// call it invalid, with its reason.
		if got.State != c2pa.StateInvalid || len(got.Failure) == 0 {
			t.Errorf("%s: the reference refuses the file (%s), Read says %s %v", name, ref.Error, got.State, got.Failure)
		}
	} else if got.State != strings.ToLower(ref.State) || !slices.Equal(codeSet(got.Failure), uniq(ref.Status)) {
		t.Errorf("%s: Read says %s %v, the reference %s %v\n%s", name, got.State, got.Failure, ref.State, ref.Status, ref.Raw)
	}
	for _, f := range got.Failure {
		if f.Explanation == "" {
			t.Errorf("%s: failure %s without an explanation", name, f.Code)
		}
	}
	return got
}

func codeSet(ss []c2pa.Status) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.Code)
	}
	return uniq(out)
}

func uniq(xs []string) []string {
	out := slices.Clone(xs)
	slices.Sort(out)
	return slices.Compact(out)
}

func has(ss []c2pa.Status, code string) bool {
	return slices.ContainsFunc(ss, func(s c2pa.Status) bool { return s.Code == code })
}

func TestReadFixturesAsTheReference(t *testing.T) {
	dir := sharedFixtures(t)
	bundle := filepath.Join(dir, "certs", "trust", "test_cert_root_bundle.pem")
	want := map[string][2]string{ // without anchors, with the bundle
		"C.jpg":           {c2pa.StateValid, c2pa.StateTrusted},
		"CA.jpg":          {c2pa.StateValid, c2pa.StateTrusted},
		"C_tampered.jpg":  {c2pa.StateInvalid, c2pa.StateInvalid},
		"CA_tampered.jpg": {c2pa.StateInvalid, c2pa.StateInvalid},
		"no_manifest.jpg": {c2pa.StateNone, c2pa.StateNone},
		"mars.webp":       {c2pa.StateNone, c2pa.StateNone},
	}
	for name, states := range want {
		file, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		format := strings.Replace(strings.TrimPrefix(filepath.Ext(name), "."), "jpg", "jpeg", 1)
		for i, anchors := range []string{"", bundle} {
			r := agree(t, name, file, format, anchors)
			if r.State != states[i] {
				t.Errorf("%s (anchors %q): %s, want %s", name, anchors, r.State, states[i])
			}
			if strings.Contains(name, "tampered") && !has(r.Failure, "assertion.dataHash.mismatch") {
				t.Errorf("%s: %v", name, r.Failure)
			}
		}
	}

	// What the report says besides the verdict, for CA.jpg: the
	// reference's signer, generator, actions and time-stamp.
	file, _ := os.ReadFile(filepath.Join(dir, "CA.jpg"))
	r := c2pa.Read(file, "jpeg", nil)
	if r.Signer != "C2PA Test Signing Cert" || r.Issuer != "C2PA Test Intermediate Root CA" ||
		r.Generator != "make_test_images/0.33.1 c2pa-rs/0.33.1" || !slices.Equal(r.Actions, []string{"c2pa.opened", "c2pa.color_adjustments"}) ||
		r.Active != "contentauth:urn:uuid:c2677d4b-0a93-4444-876f-ed2f2d40b8cf" || r.GenerativeAI ||
		!r.SignedAt.Equal(time.Date(2024, 8, 6, 21, 53, 37, 0, time.UTC)) {
		t.Errorf("CA.jpg: %+v", withoutStore(r))
	}
	if !has(r.Success, "claimSignature.validated") || !has(r.Success, "assertion.dataHash.match") || !has(r.Success, "timeStamp.validated") {
		t.Errorf("CA.jpg successes: %v", r.Success)
	}
	store, _, _ := c2pa.FindStore(file, "jpeg")
	if !bytes.Equal(r.Store, store) {
		t.Error("the report's store is not the file's")
	}
	// C.jpg's one action is algorithmic, not generative AI.
	file, _ = os.ReadFile(filepath.Join(dir, "C.jpg"))
	if r := c2pa.Read(file, "jpeg", nil); r.GenerativeAI || !slices.Equal(r.Actions, []string{"c2pa.created"}) {
		t.Errorf("C.jpg: %+v", withoutStore(r))
	}
}

func withoutStore(r c2pa.Report) c2pa.Report { r.Store = nil; return r }

// editStore returns file with its manifest store's active manifest
// edited by fn (which returns the box it changed), re-embedded.
func editStore(t *testing.T, file []byte, format string, fn func(m *c2pa.Box) *c2pa.Box) []byte {
	t.Helper()
	return editRoot(t, file, format, func(root *c2pa.Box) *c2pa.Box { return fn(root.Children[len(root.Children)-1]) })
}

// editRoot returns file with its manifest store edited by fn (which
// returns the box it changed), re-embedded.
func editRoot(t *testing.T, file []byte, format string, fn func(root *c2pa.Box) *c2pa.Box) []byte {
	t.Helper()
	store, _, err := c2pa.FindStore(file, format)
	if err != nil {
		t.Fatal(err)
	}
	root, err := c2pa.ParseJUMBF(store)
	if err != nil {
		t.Fatal(err)
	}
	changed := fn(root)
	out, err := c2pa.Embed(file, format, c2pa.Edited(root, changed).Append(nil))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// replaceIn returns b with old replaced by new once, failing if absent.
func replaceIn(t *testing.T, b []byte, old, new string) []byte {
	t.Helper()
	if !bytes.Contains(b, []byte(old)) {
		t.Fatalf("%q is not there", old)
	}
	return bytes.Replace(b, []byte(old), []byte(new), 1)
}

func content(m *c2pa.Box, path ...string) *c2pa.Box {
	b := m
	for _, p := range path {
		if b = b.Child(p); b == nil {
			return nil
		}
	}
	return b.Children[len(b.Children)-1]
}

func TestReadSignedFilesAsTheReference(t *testing.T) {
	s, d := devSigner(t)
	w := work()
	for _, c := range []struct {
		format string
		file   []byte
	}{{"jpeg", testJPEG(t)}, {"webp", testWebP(t)}} {
		signed, err := s.Sign(t.Context(), c.file, c.format, w)
		if err != nil {
			t.Fatal(err)
		}
		r := agree(t, c.format+" signed, dev CA trusted", signed, c.format, d.CA)
		if r.State != c2pa.StateTrusted || r.Signer != s.Name() || r.Generator != "photodesk test" ||
			!slices.Equal(r.Actions, []string{"c2pa.opened", "c2pa.resized", "c2pa.edited", "c2pa.edited.metadata", "c2pa.published"}) {
			t.Errorf("%s: %+v", c.format, withoutStore(r))
		}
		if r := agree(t, c.format+" signed, no anchors", signed, c.format, ""); r.State != c2pa.StateValid || !has(r.Failure, "signingCredential.untrusted") {
			t.Errorf("%s without anchors: %s %v", c.format, r.State, r.Failure)
		}

		// One byte of the picture changed.
		_, where, _ := c2pa.FindStore(signed, c.format)
		tampered := bytes.Clone(signed)
		i := len(tampered) - 10
		if c.format == "webp" {
			i = where.Start - 4
		}
		tampered[i] ^= 1
		if r := agree(t, c.format+" picture tampered", tampered, c.format, d.CA); !has(r.Failure, "assertion.dataHash.mismatch") {
			t.Errorf("%s tampered: %v", c.format, r.Failure)
		}

		// One byte of the claim changed (its title): the signature no
		// longer covers it.
		claimEdit := editStore(t, signed, c.format, func(m *c2pa.Box) *c2pa.Box {
			cb := content(m, "c2pa.claim.v2")
			cb.Data = replaceIn(t, cb.Data, "photo.jpg", "photo.jpf")
			return cb
		})
		if r := agree(t, c.format+" claim edited", claimEdit, c.format, d.CA); !has(r.Failure, "claimSignature.mismatch") {
			t.Errorf("%s claim edited: %v", c.format, r.Failure)
		}

		// One byte of an assertion changed: its hashed URI no longer
		// matches.
		assertionEdit := editStore(t, signed, c.format, func(m *c2pa.Box) *c2pa.Box {
			cb := content(m, "c2pa.assertions", "stds.schema-org.CreativeWork")
			cb.Data = replaceIn(t, cb.Data, "schema.org", "schema.orh")
			return cb
		})
		if r := agree(t, c.format+" assertion edited", assertionEdit, c.format, d.CA); !has(r.Failure, "assertion.hashedURI.mismatch") {
			t.Errorf("%s assertion edited: %v", c.format, r.Failure)
		}
	}
}

// A signature without its COSE_Sign1 tag, and an assertion the claim does
// not list: malformed in ways a careless writer makes them.
func TestReadMalformedSignedFilesAsTheReference(t *testing.T) {
	s, d := devSigner(t)
	signed, err := s.Sign(t.Context(), testJPEG(t), "jpeg", work())
	if err != nil {
		t.Fatal(err)
	}
	untagged := editStore(t, signed, "jpeg", func(m *c2pa.Box) *c2pa.Box {
		sb := content(m, "c2pa.signature")
		if sb.Data[0] != 0xD2 {
			t.Fatalf("the signature starts % x", sb.Data[:2])
		}
		sb.Data = sb.Data[1:]
		return sb
	})
	if r := agree(t, "untagged COSE_Sign1", untagged, "jpeg", d.CA); !has(r.Failure, "claimSignature.mismatch") {
		t.Errorf("untagged: %v", r.Failure)
	}
	missing := editStore(t, signed, "jpeg", func(m *c2pa.Box) *c2pa.Box {
		as := m.Child("c2pa.assertions")
		as.Children = slices.DeleteFunc(as.Children, func(b *c2pa.Box) bool { return b.Label == "stds.schema-org.CreativeWork" })
		return as
	})
	if r := agree(t, "assertion removed", missing, "jpeg", d.CA); !has(r.Failure, "assertion.missing") {
		t.Errorf("assertion removed: %v", r.Failure)
	}
}

// testCA is a CA made for one test, and what it signs with.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  string // a file holding its certificate
}

func newTestCA(t *testing.T) testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA", Organization: []string{"photodesk tests"}},
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(48 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	f := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(f, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	return testCA{cert, key, f}
}

// signer returns a signer whose certificate is tmpl (filled in where
// blank) issued by ca.
func (ca testCA) signer(t *testing.T, tmpl *x509.Certificate) *c2pa.Signer {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl.SerialNumber = big.NewInt(time.Now().UnixNano())
	if tmpl.NotAfter.IsZero() {
		tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	s, err := c2pa.NewSigner(crypto.Signer(key), []*x509.Certificate{leaf, ca.cert}, "photodesk", "test")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Signing certificates the C2PA certificate profile refuses, or that the
// reference judges in its own way: Read judges each as it does.
func TestReadSigningCertificatesAsTheReference(t *testing.T) {
	ca := newTestCA(t)
	docSigning := []asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 3, 36}}
	subject := pkix.Name{CommonName: "desk", Organization: []string{"photodesk tests"}}
	for _, c := range []struct {
		name  string
		tmpl  *x509.Certificate
		state string
		code  string
	}{
		{"good", &x509.Certificate{Subject: subject, KeyUsage: x509.KeyUsageDigitalSignature, UnknownExtKeyUsage: docSigning}, c2pa.StateTrusted, ""},
		{"email protection", &x509.Certificate{Subject: subject, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}}, c2pa.StateTrusted, ""},
		{"no organisation", &x509.Certificate{Subject: pkix.Name{CommonName: "desk"}, KeyUsage: x509.KeyUsageDigitalSignature, UnknownExtKeyUsage: docSigning}, c2pa.StateTrusted, ""},
		{"expired", &x509.Certificate{Subject: subject, KeyUsage: x509.KeyUsageDigitalSignature, UnknownExtKeyUsage: docSigning,
			NotBefore: time.Now().Add(-30 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)}, c2pa.StateInvalid, "signingCredential.expired"},
		{"not yet valid", &x509.Certificate{Subject: subject, KeyUsage: x509.KeyUsageDigitalSignature, UnknownExtKeyUsage: docSigning,
			NotBefore: time.Now().Add(24 * time.Hour), NotAfter: time.Now().Add(48 * time.Hour)}, c2pa.StateInvalid, "signingCredential.expired"},
		{"no extended key usage", &x509.Certificate{Subject: subject, KeyUsage: x509.KeyUsageDigitalSignature}, c2pa.StateInvalid, "signingCredential.invalid"},
		{"server auth only", &x509.Certificate{Subject: subject, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, c2pa.StateInvalid, "signingCredential.invalid"},
		{"any usage", &x509.Certificate{Subject: subject, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}, c2pa.StateInvalid, "signingCredential.invalid"},
		{"a CA", &x509.Certificate{Subject: subject, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, UnknownExtKeyUsage: docSigning,
			BasicConstraintsValid: true, IsCA: true}, c2pa.StateInvalid, "signingCredential.invalid"},
	} {
		signed, err := ca.signer(t, c.tmpl).Sign(t.Context(), testJPEG(t), "jpeg", work())
		if err != nil {
			t.Fatal(err)
		}
		for _, anchors := range []string{ca.pem, ""} {
			want := c.state
			if anchors == "" && want == c2pa.StateTrusted {
				want = c2pa.StateValid
			}
			r := agree(t, c.name, signed, "jpeg", anchors)
			if r.State != want || c.code != "" && !has(r.Failure, c.code) {
				t.Errorf("%s (anchors %q): %s %v, want %s %s", c.name, anchors, r.State, r.Failure, want, c.code)
			}
		}
	}
}

// A rendition carrying its signed original's manifest: the reference
// also judges the ingredient's manifest, and so must Read.
func TestReadIngredientManifestsAsTheReference(t *testing.T) {
	signed, d, both, s, w := signedRendition(t)
	for anchors, want := range map[string]string{both: c2pa.StateTrusted, d.CA: c2pa.StateValid, "": c2pa.StateValid} {
		r := agree(t, "rendition of CA.jpg", signed, "jpeg", anchors)
		if r.State != want || len(r.Failure) > 0 && !has(r.Failure, "signingCredential.untrusted") {
			t.Errorf("rendition of CA.jpg, anchors %q: %s %v, want %s", anchors, r.State, r.Failure, want)
		}
	}

	// The carried manifest edited (a byte of one of its assertions), and
	// left out.
	edited := editRoot(t, signed, "jpeg", func(root *c2pa.Box) *c2pa.Box {
		cb := content(root.Children[0], "c2pa.assertions", "stds.schema-org.CreativeWork")
		cb.Data = replaceIn(t, cb.Data, "schema.org", "schema.orh")
		return cb
	})
	if r := agree(t, "ingredient manifest edited", edited, "jpeg", both); r.State != c2pa.StateInvalid ||
		!has(r.Failure, "assertion.hashedURI.mismatch") || !has(r.Failure, "ingredient.manifest.mismatch") {
		t.Errorf("ingredient manifest edited: %s %v", r.State, r.Failure)
	}
	// An ingredient that records its signer as untrusted when it was
	// validated: the reference counts only what changed since.
	w.Parent.Results = append(w.Parent.Results, c2pa.Status{Code: "signingCredential.untrusted",
		URL: "self#jumbf=/c2pa/contentauth:urn:uuid:c2677d4b-0a93-4444-876f-ed2f2d40b8cf/c2pa.signature"})
	recorded, err := s.Sign(t.Context(), testJPEG(t), "jpeg", w)
	if err != nil {
		t.Fatal(err)
	}
	if r := agree(t, "ingredient records its untrusted signer", recorded, "jpeg", d.CA); r.State != c2pa.StateTrusted {
		t.Errorf("ingredient records its untrusted signer: %s %v", r.State, r.Failure)
	}

	missing := editRoot(t, signed, "jpeg", func(root *c2pa.Box) *c2pa.Box { root.Children = root.Children[1:]; return root })
	if r := agree(t, "ingredient manifest left out", missing, "jpeg", both); r.State != c2pa.StateInvalid || !has(r.Failure, "ingredient.manifest.missing") {
		t.Errorf("ingredient manifest left out: %s %v", r.State, r.Failure)
	}
}
