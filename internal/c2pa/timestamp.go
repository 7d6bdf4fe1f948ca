package c2pa

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"encoding/asn1"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/digitorus/pkcs7"
	"github.com/digitorus/timestamp"
	"github.com/fxamacker/cbor/v2"
	"github.com/veraison/go-cose"
)

// A claim signature may carry an RFC 3161 time-stamp in its unprotected
// header: "sigTst" (C2PA 1.x: over the claim) or "sigTst2" (2.x: over
// the signature), each {"tstTokens": [{"val": token}]}. Its time is when
// the certificates are judged, so a signature made while its certificate
// was valid stays valid after it expires. The token is believed when its
// imprint covers this signature and the certificate it carries signed
// it; the time-stamp authority's own chain is not judged here.
//
// The token is read and its CMS signature checked by
// github.com/digitorus/timestamp (and its pkcs7), but for what they
// cannot do, noted where it is done here.

// tstContainer is the value of sigTst and sigTst2.
type tstContainer struct {
	Tokens []tstToken `cbor:"tstTokens"`
}

type tstToken struct {
	Val []byte `cbor:"val"`
}

// timeStamp returns the time of the signature's time-stamp, if it has a
// good one.
func timeStamp(msg *cose.Sign1Message, claim []byte) (time.Time, bool) {
	val, data := msg.Headers.Unprotected["sigTst2"], []byte(nil)
	if val != nil {
		data, _ = cbor.Marshal(msg.Signature) // the signature as a bstr
	} else if val = msg.Headers.Unprotected["sigTst"]; val != nil {
		data = claim
	} else {
		return time.Time{}, false
	}
	raw, err := cbor.Marshal(val)
	if err != nil {
		return time.Time{}, false
	}
	var container tstContainer
	if readDec.Unmarshal(raw, &container) != nil || len(container.Tokens) != 1 {
		return time.Time{}, false // the reference takes exactly one
	}
	return verifyToken(container.Tokens[0].Val, countersigned(msg.Headers.RawProtected, data))
}

// countersigned is what a time-stamp's imprint covers: a COSE
// countersignature structure of data under the signature's protected
// header (its bstr encoding).
func countersigned(protected, data []byte) []byte {
	b, err := cbor.Marshal([]any{"CounterSignature", cbor.RawMessage(protected), []byte{}, data})
	if err != nil {
		panic("c2pa: encoding a countersignature structure: " + err.Error()) // a bstr and ours: cannot fail
	}
	return b
}

// verifyToken checks an RFC 3161 token (or a whole response holding one)
// over data and returns its time.
func verifyToken(tok, data []byte) (time.Time, bool) {
	if t, ok := tokenOfResponse(tok); ok {
		tok = t
	}
	p7, err := guarded(tok, pkcs7.Parse)
	// One signer, and a certificate to check it with: timestamp.Parse
	// believes a token without one unchecked.
	if err != nil || len(p7.Signers) != 1 || len(p7.Certificates) == 0 || len(p7.Certificates) > maxChain {
		return time.Time{}, false
	}
	var at time.Time
	var alg crypto.Hash
	var imprint []byte
	if p7.Signers[0].DigestEncryptionAlgorithm.Algorithm.Equal(oidRSAPSS) {
		info, ok := pssToken(p7)
		if !ok {
			return time.Time{}, false
		}
		at, alg, imprint = info.GenTime, hashOf(info.Imprint.Alg.Algorithm), info.Imprint.Hash
	} else {
		ts, err := guarded(tok, timestamp.Parse) // checks the signature with the certificate it names
		if err != nil {
			return time.Time{}, false
		}
		at, alg, imprint = ts.Time, ts.HashAlgorithm, ts.HashedMessage
	}
	name := map[crypto.Hash]string{crypto.SHA256: "sha256", crypto.SHA384: "sha384", crypto.SHA512: "sha512"}[alg]
	if name == "" || !bytes.Equal(hashWith(name, data), imprint) {
		return time.Time{}, false
	}
	return at, true
}

// maxDERDepth bounds how deep a token's DER nests: a certificate in a
// CMS SignedData is about a dozen levels down.
const maxDERDepth = 32

// pkcsMu serialises the calls into pkcs7: its BER reader counts its
// depth in a package variable (for debugging output it no longer
// prints), a data race when two goroutines read tokens at once.
var pkcsMu sync.Mutex

// guarded runs parse (pkcs7's or timestamp's) on a token from outside:
// only on well-formed DER, which is what the reference reads too, one at
// a time, and with a panic turned into an error, since pkcs7's BER
// reader indexes past the end of some malformed input.
func guarded[T any](tok []byte, parse func([]byte) (T, error)) (v T, err error) {
	if !derOK(tok, maxDERDepth) {
		return v, errors.New("the time-stamp token is not well-formed DER")
	}
	pkcsMu.Lock()
	defer pkcsMu.Unlock()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the time-stamp token is malformed: %v", r)
		}
	}()
	return parse(tok)
}

// derOK says b is one or more well-formed DER elements nested no deeper
// than depth.
func derOK(b []byte, depth int) bool {
	if len(b) == 0 {
		return false
	}
	for len(b) > 0 {
		var v asn1.RawValue
		rest, err := asn1.Unmarshal(b, &v)
		if err != nil || v.IsCompound && len(v.Bytes) > 0 && (depth == 0 || !derOK(v.Bytes, depth-1)) {
			return false
		}
		b = rest
	}
	return true
}

// tokenOfResponse returns the token of a TimeStampResp whose status
// grants it. timestamp.ParseResponse would do, but that it refuses
// grantedWithMods, which the reference takes.
func tokenOfResponse(b []byte) ([]byte, bool) {
	var resp struct {
		Status asn1.RawValue // PKIStatusInfo: the status, then optional texts
		Token  asn1.RawValue
	}
	if rest, err := asn1.Unmarshal(b, &resp); err != nil || len(rest) > 0 {
		return nil, false
	}
	var status int
	if _, err := asn1.Unmarshal(resp.Status.Bytes, &status); err != nil {
		return nil, false
	}
	if s := timestamp.Status(status); s != timestamp.Granted && s != timestamp.GrantedWithMods {
		return nil, false
	}
	return resp.Token.FullBytes, true
}

var (
	oidSHA256 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA384 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oidSHA512 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}
)

func hashOf(oid asn1.ObjectIdentifier) crypto.Hash {
	switch {
	case oid.Equal(oidSHA256):
		return crypto.SHA256
	case oid.Equal(oidSHA384):
		return crypto.SHA384
	case oid.Equal(oidSHA512):
		return crypto.SHA512
	}
	return 0
}

// tstInfo is the start of an RFC 3161 TSTInfo, for pssToken.
type tstInfo struct {
	Version int
	Policy  asn1.ObjectIdentifier
	Imprint struct {
		Alg  struct{ Algorithm asn1.ObjectIdentifier }
		Hash []byte
	}
	Serial  asn1.RawValue
	GenTime time.Time `asn1:"generalized"`
}

// pssToken checks a token signed with RSASSA-PSS and returns its
// TSTInfo. pkcs7 verifies no PSS signature, so timestamp.Parse cannot
// read such a token; the check is pkcs7's but for the signature scheme:
// the signed attributes hold the digest of the TSTInfo, and a
// certificate of the token signed them.
func pssToken(p7 *pkcs7.PKCS7) (tstInfo, bool) {
	si := p7.Signers[0]
	alg := hashOf(si.DigestAlgorithm.Algorithm)
	var digest []byte
	if alg == 0 || p7.UnmarshalSignedAttribute(pkcs7.OIDAttributeMessageDigest, &digest) != nil {
		return tstInfo{}, false
	}
	h := alg.New()
	h.Write(p7.Content)
	if !bytes.Equal(digest, h.Sum(nil)) {
		return tstInfo{}, false
	}
	// What is signed is the attributes as a DER SET: their encoding in
	// a SEQUENCE, less the SEQUENCE.
	var wrapped asn1.RawValue
	b, err := asn1.Marshal(struct {
		A any `asn1:"set"`
	}{si.AuthenticatedAttributes})
	if err != nil {
		return tstInfo{}, false
	}
	if _, err := asn1.Unmarshal(b, &wrapped); err != nil {
		return tstInfo{}, false
	}
	h = alg.New()
	h.Write(wrapped.Bytes)
	signed := h.Sum(nil)
	var info tstInfo
	if _, err := asn1.Unmarshal(p7.Content, &info); err != nil {
		return tstInfo{}, false
	}
	for _, c := range p7.Certificates {
		key, isRSA := publicKey(c).(*rsa.PublicKey)
		if isRSA && rsa.VerifyPSS(key, alg, signed, si.EncryptedDigest, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto}) == nil {
			return info, true
		}
	}
	return tstInfo{}, false
}
