package c2pa

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"slices"
	"time"

	"github.com/veraison/go-cose"
)

// The claim signature: a COSE_Sign1 over the claim's CBOR (detached),
// with the signer's certificate chain in its x5chain header. The checks
// and their order are c2pa-rs's (crypto/cose/verifier.rs,
// certificate_profile.rs, certificate_trust/rust_native.rs), so a file
// fails here for the reason it fails there.

// maxChain bounds x5chain: real chains are two or three certificates, and
// a hostile one of thousands is refused before any is parsed.
const maxChain = 10

// The extended key usages C2PA accepts for a claim signer beyond the three
// Go names (valid_eku_oids.cfg): documentSigning, Microsoft's C2PA
// signing and C2PA's own.
var c2paEKUs = []asn1.ObjectIdentifier{
	{1, 3, 6, 1, 5, 5, 7, 3, 36},
	{1, 3, 6, 1, 4, 1, 311, 76, 59, 1, 9},
	{1, 3, 6, 1, 4, 1, 62558, 2, 1},
}

var oidRSAPSS = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 10}

// signature checks the claim signature of manifest label: sig is the
// signature box's CBOR, claim the claim's. It logs what it finds and says
// whether the signature was validated. Signer details and the time-stamp
// go to the report for the active manifest.
func (v *validation) signature(label string, sig, claim []byte, active bool) bool {
	url := signatureURI(label)
	mismatch := func(why string) bool { v.fail(codeSigMismatch, url, why); return false }
	// go-cose decodes with its own, looser bounds: check the shape
	// with ours first.
	if err := readDec.Wellformed(sig); err != nil {
		return mismatch("could not parse signature: " + err.Error())
	}
	var msg cose.Sign1Message // COSE_Sign1_Tagged: c2pa-rs takes no other
	if err := msg.UnmarshalCBOR(sig); err != nil {
		return mismatch("could not parse signature: " + err.Error())
	}
	alg, err := msg.Headers.Protected.Algorithm()
	if err != nil || !slices.Contains([]cose.Algorithm{cose.AlgorithmES256, cose.AlgorithmES384, cose.AlgorithmES512,
		cose.AlgorithmPS256, cose.AlgorithmPS384, cose.AlgorithmPS512, cose.AlgorithmEdDSA}, alg) {
		v.fail(codeAlgUnsupported, url, "unsupported or missing COSE algorithm")
		return false
	}
	if (alg == cose.AlgorithmES256 || alg == cose.AlgorithmES384 || alg == cose.AlgorithmES512) && isDERSignature(msg.Signature) {
		v.fail(codeCredInvalid, url, "unsupported signature format (EC signature should be in P1363 r|s format)")
		return false
	}
	chain, why := x5chain(&msg)
	if why != "" {
		return mismatch(why)
	}
	if len(chain) > maxChain {
		v.fail(codeCredInvalid, url, fmt.Sprintf("the certificate chain is %d long, more than the %d read: chain too long", len(chain), maxChain))
		return false
	}
	leaf, err := x509.ParseCertificate(chain[0])
	if err != nil {
		v.fail(codeCredInvalid, url, "certificate could not be parsed: "+err.Error())
		return false
	}
	if active {
		v.r.Signer, v.r.Issuer = nameOf(leaf.Subject), nameOf(leaf.Issuer)
	}

	// The time-stamp, when there is a good one, is the time the
	// certificates are judged at; else now.
	at, stamped := timeStamp(&msg, claim)
	if stamped {
		v.pass(codeTimeStampValidated, url, "timestamp message digest matched")
		if active {
			v.r.SignedAt = at
		}
	} else {
		at = time.Now()
	}
	// The reference (c2pa-rs 0.92) judges trust first, then the
	// certificate profile; a certificate outside its validity leaves the
	// signature neither inside validity nor validated, one outside the
	// profile leaves it not validated, without a claimSignature failure.
	untrusted := v.trust(leaf, chain, at)
	if untrusted != "" {
		v.fail(codeCredUntrusted, url, "signing certificate untrusted: "+untrusted)
	}
	switch code, why := profile(leaf, at); code {
	case codeCredExpired:
		v.fail(code, url, why)
		return false
	case codeCredInvalid:
		v.fail(code, url, why)
		v.pass(codeSigInsideValidity, url, "claim signature valid")
		return false
	}

	key := publicKey(leaf)
	if key == nil {
		return mismatch("the signing certificate's key is of a kind C2PA does not sign with")
	}
	verifier, err := cose.NewVerifier(alg, key)
	if err != nil {
		return mismatch(fmt.Sprintf("the signing certificate's key does not fit %v: %v", alg, err))
	}
	msg.Payload = claim // detached: the claim is what was signed
	if err := msg.Verify(nil, verifier); err != nil {
		return mismatch("claim signature is not valid: " + err.Error())
	}
	if untrusted == "" {
		v.pass(codeCredTrusted, url, "signing certificate trusted")
	}
	v.pass(codeSigInsideValidity, url, "claim signature valid")
	v.pass(codeSigValidated, url, "claim signature valid")
	return true
}

// isDERSignature says an ECDSA signature is an ASN.1 SEQUENCE of two
// INTEGERs rather than COSE's fixed-width r|s.
func isDERSignature(sig []byte) bool {
	var rs struct{ R, S *big.Int }
	rest, err := asn1.Unmarshal(sig, &rs)
	return err == nil && len(rest) == 0
}

// x5chain returns the certificate chain of a COSE_Sign1, leaf first:
// label 33 (or "x5chain") in the protected header, else "x5chain" in the
// unprotected one (C2PA 1.x), never both; a bstr or an array of them.
func x5chain(msg *cose.Sign1Message) ([][]byte, string) {
	p, inP := msg.Headers.Protected[cose.HeaderLabelX5Chain]
	if !inP {
		p, inP = msg.Headers.Protected["x5chain"]
	}
	u, inU := msg.Headers.Unprotected["x5chain"]
	switch {
	case inP && inU:
		return nil, "the signature carries certificate chains in both headers"
	case inU:
		p = u
	case !inP:
		return nil, "the signature carries no certificate chain"
	}
	switch c := p.(type) {
	case []byte:
		return [][]byte{c}, ""
	case []any:
		var out [][]byte
		for _, x := range c {
			if b, ok := x.([]byte); ok { // c2pa-rs skips what is not a bstr
				out = append(out, b)
			}
		}
		if len(out) > 0 {
			return out, ""
		}
	}
	return nil, "the signature's certificate chain holds no certificate"
}

func nameOf(n pkix.Name) string {
	if len(n.Organization) > 0 {
		return n.Organization[len(n.Organization)-1]
	}
	return n.CommonName
}

// publicKey is a certificate's key, including the RSASSA-PSS keys of
// C2PA's PS256 certificates, which crypto/x509 leaves unparsed.
func publicKey(c *x509.Certificate) crypto.PublicKey {
	if c.PublicKey != nil {
		return c.PublicKey
	}
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		Key       asn1.BitString
	}
	if rest, err := asn1.Unmarshal(c.RawSubjectPublicKeyInfo, &spki); err != nil || len(rest) > 0 || !spki.Algorithm.Algorithm.Equal(oidRSAPSS) {
		return nil
	}
	k, err := x509.ParsePKCS1PublicKey(spki.Key.RightAlign())
	if err != nil {
		return nil
	}
	return k
}

// signedBy checks that parent's key signed child, nothing else (c2pa-rs
// checks a chain's order this way, not as a path to validate).
func signedBy(child, parent *x509.Certificate) error {
	p := *parent
	if p.PublicKey = publicKey(parent); p.PublicKey == nil {
		return fmt.Errorf("the key of %q is of an unknown kind", parent.Subject.CommonName)
	}
	return p.CheckSignature(child.SignatureAlgorithm, child.RawTBSCertificate, child.Signature)
}

// profile checks the signing certificate against C2PA's certificate
// profile (c2pa-rs check_end_entity_certificate_profile) at time at, and
// returns the failure code and why, or "".
func profile(c *x509.Certificate, at time.Time) (code, why string) {
	bad := func(why string) (string, string) { return codeCredInvalid, why }
	if c.Version != 3 {
		return bad("certificate version incorrect")
	}
	if at.Before(c.NotBefore) || at.After(c.NotAfter) {
		return codeCredExpired, fmt.Sprintf("certificate expired: valid %s to %s, judged at %s",
			c.NotBefore.Format(time.RFC3339), c.NotAfter.Format(time.RFC3339), at.Format(time.RFC3339))
	}
	switch c.SignatureAlgorithm {
	case x509.SHA256WithRSA, x509.SHA384WithRSA, x509.SHA512WithRSA, x509.ECDSAWithSHA256, x509.ECDSAWithSHA384,
		x509.ECDSAWithSHA512, x509.SHA256WithRSAPSS, x509.SHA384WithRSAPSS, x509.SHA512WithRSAPSS, x509.PureEd25519:
	default:
		return bad("certificate algorithm not supported: " + c.SignatureAlgorithm.String())
	}
	switch k := publicKey(c).(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() && k.Curve != elliptic.P384() && k.Curve != elliptic.P521() {
			return bad("certificate unsupported EC curve")
		}
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return bad("certificate key length too short")
		}
	}
	if c.IsCA && bytes.Equal(c.RawIssuer, c.RawSubject) {
		return bad("certificate issuer and subject cannot be the same (self-signed disallowed)")
	}
	good := true
	if len(c.ExtKeyUsage) > 0 || len(c.UnknownExtKeyUsage) > 0 {
		if slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageAny) {
			return bad("certificate 'any' EKU not allowed")
		}
		if !allowedEKU(c) {
			return bad("certificate missing required EKU")
		}
		has := func(u x509.ExtKeyUsage) bool { return slices.Contains(c.ExtKeyUsage, u) }
		ocsp, ts := has(x509.ExtKeyUsageOCSPSigning), has(x509.ExtKeyUsageTimeStamping)
		others := has(x509.ExtKeyUsageClientAuth) || has(x509.ExtKeyUsageCodeSigning) || has(x509.ExtKeyUsageEmailProtection) ||
			has(x509.ExtKeyUsageServerAuth) || len(c.UnknownExtKeyUsage) > 0 || slices.ContainsFunc(c.ExtKeyUsage, func(u x509.ExtKeyUsage) bool {
			return u > x509.ExtKeyUsageOCSPSigning // Go's names past the seven x509-parser knows
		})
		if ocsp && ts || ocsp != ts && others {
			return bad("certificate invalid set of EKUs")
		}
	} else {
		good = c.IsCA // an end-entity certificate must say what it is for
	}
	if c.KeyUsage&x509.KeyUsageDigitalSignature != 0 && c.KeyUsage&x509.KeyUsageCertSign != 0 && !c.IsCA {
		return bad("certificate missing digitalSignature EKU")
	}
	good = good && c.KeyUsage&(x509.KeyUsageDigitalSignature|x509.KeyUsageCertSign|x509.KeyUsageContentCommitment) != 0 &&
		len(c.AuthorityKeyId) > 0 && (!c.IsCA || len(c.SubjectKeyId) > 0) && len(c.UnhandledCriticalExtensions) == 0
	if !good {
		return bad("certificate params incorrect")
	}
	if c.IsCA {
		return bad("expected end-entity certificate")
	}
	return "", ""
}

// allowedEKU says a certificate has an extended key usage C2PA accepts
// for signing.
func allowedEKU(c *x509.Certificate) bool {
	for _, u := range c.ExtKeyUsage {
		if u == x509.ExtKeyUsageEmailProtection || u == x509.ExtKeyUsageTimeStamping || u == x509.ExtKeyUsageOCSPSigning {
			return true
		}
	}
	for _, o := range c.UnknownExtKeyUsage {
		if slices.ContainsFunc(c2paEKUs, o.Equal) {
			return true
		}
	}
	return false
}

// trust returns why the signer does not chain to a trust anchor, or ""
// when it does. As c2pa-rs: the signer needs an accepted EKU, each
// certificate of the chain must be signed by the next, every one must be
// valid at time at, and some certificate of it must be issued (name and
// signature) by an anchor.
func (v *validation) trust(leaf *x509.Certificate, chain [][]byte, at time.Time) string {
	if len(v.anchors) == 0 {
		return "no trust anchors"
	}
	if !allowedEKU(leaf) {
		return "the signing certificate has no extended key usage C2PA accepts"
	}
	certs := []*x509.Certificate{leaf}
	for _, der := range chain[1:] {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return "a certificate of the chain could not be parsed: " + err.Error()
		}
		certs = append(certs, c)
	}
	for i := 1; i < len(certs); i++ {
		if err := signedBy(certs[i-1], certs[i]); err != nil {
			return fmt.Sprintf("certificate %d of the chain is not signed by the next: %v", i-1, err)
		}
	}
	for _, c := range certs {
		if at.Before(c.NotBefore) || at.After(c.NotAfter) {
			return fmt.Sprintf("%q is not valid at %s", c.Subject.CommonName, at.Format(time.RFC3339))
		}
	}
	for i := len(certs) - 1; i >= 0; i-- {
		c := certs[i]
		for _, a := range v.anchors {
			if bytes.Equal(c.RawIssuer, a.RawSubject) && signedBy(c, a) == nil {
				return ""
			}
		}
	}
	return "no certificate of the chain is issued by a trust anchor"
}
