package c2pa

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"time"

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

var (
	oidSignedData    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidTSTInfo       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 1, 4}
	oidMessageDigest = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	oidSHA256        = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA384        = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oidSHA512        = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}
)

type contentInfo struct {
	Type    asn1.ObjectIdentifier
	Content asn1.RawValue `asn1:"explicit,tag:0"`
}

type signedData struct {
	Version    int
	Digests    asn1.RawValue
	Encap      encapContent
	Certs      asn1.RawValue `asn1:"optional,tag:0"`
	CRLs       asn1.RawValue `asn1:"optional,tag:1"`
	SignerInfo []signerInfo  `asn1:"set"`
}

type encapContent struct {
	Type    asn1.ObjectIdentifier
	Content []byte `asn1:"explicit,tag:0"`
}

type signerInfo struct {
	Version   int
	SID       asn1.RawValue
	Digest    pkix.AlgorithmIdentifier
	Attrs     asn1.RawValue `asn1:"optional,tag:0"`
	SigAlg    pkix.AlgorithmIdentifier
	Signature []byte
	Unsigned  asn1.RawValue `asn1:"optional,tag:1"`
}

type attribute struct {
	Type   asn1.ObjectIdentifier
	Values asn1.RawValue
}

type tstInfo struct {
	Version int
	Policy  asn1.ObjectIdentifier
	Imprint struct {
		Alg  pkix.AlgorithmIdentifier
		Hash []byte
	}
	Serial  asn1.RawValue
	GenTime time.Time `asn1:"generalized"`
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
	var container struct {
		Tokens []struct {
			Val []byte `cbor:"val"`
		} `cbor:"tstTokens"`
	}
	if readDec.Unmarshal(raw, &container) != nil || len(container.Tokens) != 1 {
		return time.Time{}, false // the reference takes exactly one
	}
	// The imprint covers a COSE countersignature structure of the data.
	tbs, err := cbor.Marshal([]any{"CounterSignature", cbor.RawMessage(msg.Headers.RawProtected), []byte{}, data})
	if err != nil {
		return time.Time{}, false
	}
	return verifyToken(container.Tokens[0].Val, tbs)
}

// verifyToken checks an RFC 3161 token (or a whole response holding one)
// over data and returns its time.
func verifyToken(tok, data []byte) (time.Time, bool) {
	var ci contentInfo
	if rest, err := asn1.Unmarshal(tok, &ci); err != nil || len(rest) > 0 || !ci.Type.Equal(oidSignedData) {
		// A TimeStampResp: its status, then the token.
		var resp struct {
			Status asn1.RawValue
			Token  contentInfo
		}
		if rest, err := asn1.Unmarshal(tok, &resp); err != nil || len(rest) > 0 || !resp.Token.Type.Equal(oidSignedData) {
			return time.Time{}, false
		}
		ci = resp.Token
	}
	var sd signedData
	if _, err := asn1.Unmarshal(ci.Content.Bytes, &sd); err != nil || !sd.Encap.Type.Equal(oidTSTInfo) || len(sd.SignerInfo) != 1 {
		return time.Time{}, false
	}
	var info tstInfo
	if _, err := asn1.Unmarshal(sd.Encap.Content, &info); err != nil {
		return time.Time{}, false
	}
	alg := digestName(info.Imprint.Alg.Algorithm)
	if alg == "" || !bytes.Equal(hashWith(alg, data), info.Imprint.Hash) {
		return time.Time{}, false
	}
	if !signedToken(sd, sd.SignerInfo[0]) {
		return time.Time{}, false
	}
	return info.GenTime, true
}

// signedToken checks the CMS signature of a time-stamp token: its signed
// attributes hold the digest of the TSTInfo, and a certificate the token
// carries signed them.
func signedToken(sd signedData, si signerInfo) bool {
	alg := digestName(si.Digest.Algorithm)
	if alg == "" || len(si.Attrs.FullBytes) == 0 {
		return false
	}
	var attrs []attribute
	if _, err := asn1.UnmarshalWithParams(si.Attrs.FullBytes, &attrs, "set,tag:0"); err != nil {
		return false
	}
	digestOK := false
	for _, a := range attrs {
		var d []byte
		if a.Type.Equal(oidMessageDigest) {
			if _, err := asn1.Unmarshal(a.Values.Bytes, &d); err == nil {
				digestOK = bytes.Equal(d, hashWith(alg, sd.Encap.Content))
			}
		}
	}
	if !digestOK {
		return false
	}
	// What is signed is the attributes as a DER SET, not as [0].
	signed := append([]byte{0x31}, si.Attrs.FullBytes[1:]...)
	certs, err := x509.ParseCertificates(sd.Certs.Bytes)
	if err != nil || len(certs) > maxChain {
		return false
	}
	for _, c := range certs {
		key := publicKey(c)
		var sa x509.SignatureAlgorithm
		switch key.(type) {
		case *rsa.PublicKey:
			sa = map[string]x509.SignatureAlgorithm{"sha256": x509.SHA256WithRSA, "sha384": x509.SHA384WithRSA, "sha512": x509.SHA512WithRSA}[alg]
			if si.SigAlg.Algorithm.Equal(oidRSAPSS) {
				sa = map[string]x509.SignatureAlgorithm{"sha256": x509.SHA256WithRSAPSS, "sha384": x509.SHA384WithRSAPSS, "sha512": x509.SHA512WithRSAPSS}[alg]
			}
		case ed25519.PublicKey:
			sa = x509.PureEd25519
		case nil:
			continue
		default:
			sa = map[string]x509.SignatureAlgorithm{"sha256": x509.ECDSAWithSHA256, "sha384": x509.ECDSAWithSHA384, "sha512": x509.ECDSAWithSHA512}[alg]
		}
		cc := *c
		cc.PublicKey = key
		if cc.CheckSignature(sa, signed, si.Signature) == nil {
			return true
		}
	}
	return false
}

func digestName(oid asn1.ObjectIdentifier) string {
	switch {
	case oid.Equal(oidSHA256):
		return "sha256"
	case oid.Equal(oidSHA384):
		return "sha384"
	case oid.Equal(oidSHA512):
		return "sha512"
	}
	return ""
}
