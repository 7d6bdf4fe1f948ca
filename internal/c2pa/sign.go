package c2pa

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	"github.com/google/uuid"
	"github.com/veraison/go-cose"
)

// Signer signs manifests with one key and its certificate chain. The key
// is any crypto.Signer, so a KMS or HSM key plugs in where a PEM file
// does today.
type Signer struct {
	key       crypto.Signer
	chain     [][]byte // DER, the signing certificate first
	alg       cose.Algorithm
	cose      cose.Signer
	generator generatorInfo
	name      string
}

// NewSigner checks that key matches the chain's first certificate and
// picks the algorithm: ES256 for a P-256 key, PS256 for RSA.
func NewSigner(key crypto.Signer, chain []*x509.Certificate, generator, version string) (*Signer, error) {
	if len(chain) == 0 {
		return nil, errors.New("the certificate chain is empty")
	}
	var alg cose.Algorithm
	switch k := key.Public().(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("an EC key on %s: ES256 takes P-256", k.Curve.Params().Name)
		}
		alg = cose.AlgorithmES256
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return nil, fmt.Errorf("an RSA key of %d bits: C2PA takes 2048 or more", k.N.BitLen())
		}
		alg = cose.AlgorithmPS256
	default:
		return nil, fmt.Errorf("a %T key: ES256 (P-256) or PS256 (RSA) are signed with", k)
	}
	pub, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return nil, err
	}
	if leaf, _ := x509.MarshalPKIXPublicKey(chain[0].PublicKey); !bytes.Equal(pub, leaf) {
		return nil, errors.New("the key is not the first certificate's key")
	}
	cs, err := cose.NewSigner(alg, key)
	if err != nil {
		return nil, err
	}
	s := &Signer{key: key, alg: alg, cose: cs, generator: generatorInfo{Name: generator, Version: version}}
	for _, c := range chain {
		s.chain = append(s.chain, c.Raw)
	}
	s.name = chain[0].Subject.CommonName
	if o := chain[0].Subject.Organization; len(o) > 0 {
		s.name = o[0]
	}
	return s, nil
}

// LoadSigner reads a PEM private key (PKCS#8, EC or PKCS#1) and a PEM
// certificate chain, signing certificate first.
func LoadSigner(keyFile, chainFile, generator, version string) (*Signer, error) {
	kb, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, err
	}
	key, err := parseKey(kb)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", keyFile, err)
	}
	cb, err := os.ReadFile(chainFile)
	if err != nil {
		return nil, err
	}
	chain, err := ParseCertificates(cb)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", chainFile, err)
	}
	s, err := NewSigner(key, chain, generator, version)
	if err != nil {
		return nil, fmt.Errorf("%s and %s: %w", keyFile, chainFile, err)
	}
	return s, nil
}

func parseKey(b []byte) (crypto.Signer, error) {
	for {
		var blk *pem.Block
		if blk, b = pem.Decode(b); blk == nil {
			return nil, errors.New("no private key in it")
		}
		var k any
		var err error
		switch blk.Type {
		case "PRIVATE KEY":
			k, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
		case "EC PRIVATE KEY":
			k, err = x509.ParseECPrivateKey(blk.Bytes)
		case "RSA PRIVATE KEY":
			k, err = x509.ParsePKCS1PrivateKey(blk.Bytes)
		default:
			continue
		}
		if err != nil {
			return nil, err
		}
		s, ok := k.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("a %T key cannot sign", k)
		}
		return s, nil
	}
}

// ParseCertificates reads every certificate in PEM text.
func ParseCertificates(b []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		if blk, b = pem.Decode(b); blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no certificate in it")
	}
	return out, nil
}

// Name is who signs: the signing certificate's organisation, else its
// common name.
func (s *Signer) Name() string { return s.name }

// Identity names the key and chain in a way that changes with them (the
// signing certificate's SHA-256): published files are re-signed when it
// does.
func (s *Signer) Identity() string { return fmt.Sprintf("%x", sha256.Sum256(s.chain[0])) }

// Sign returns file (a JPEG or WebP, format "jpeg" or "webp") with a
// C2PA manifest store embedded that says w, and signed: the last write to
// the file, since any later change breaks its hard binding. A store the
// file held is replaced.
func (s *Signer) Sign(ctx context.Context, file []byte, format string, w Work) ([]byte, error) {
	m, err := s.manifest(w)
	if err != nil {
		return nil, err
	}
	p, err := s.place(file, format, m)
	if err != nil {
		return nil, err
	}
	return p.file, nil
}

// draft is a manifest being made: all but its hard binding and its
// signature.
type draft struct {
	label, instanceID, title string
	carried                  []*Box // the parent's manifests
	parts                    []*Box // the assertions but the hard binding
}

func (s *Signer) manifest(w Work) (*draft, error) {
	carried, parent, err := parentManifests(w.Parent.Store)
	if err != nil {
		return nil, err
	}
	d := &draft{label: "urn:c2pa:" + uuid.NewString(), instanceID: "xmp:iid:" + uuid.NewString(), title: w.Title, carried: carried}
	if d.parts, err = w.assertions(d.label, parent, s.generator); err != nil {
		return nil, err
	}
	return d, nil
}

// placed is a draft signed and embedded in a file.
type placed struct {
	file    []byte
	at      span // the store's place in file
	binding *Box
	claim   []byte
	msg     *cose.Sign1Message // the claim signature
}

// place embeds d in file, signed. The hard binding covers the file with
// the store left out, and the store's place and size are in the binding
// itself: build, embed and measure until the place holds still (twice,
// save when a length crosses a CBOR width).
func (s *Signer) place(file []byte, format string, d *draft) (placed, error) {
	where := span{}
	hash := make([]byte, sha256.Size)
	for range 4 {
		binding := dataHashBox(where, hash)
		claim := s.claim(d, binding)
		msg, sig, err := s.signClaim(claim)
		if err != nil {
			return placed{}, err
		}
		out, at, err := embed(file, format, d.store(binding, claim, sig))
		if err != nil {
			return placed{}, err
		}
		if at == where {
			return placed{out, at, binding, claim, msg}, nil
		}
		where = at
		h := sha256.New()
		h.Write(out[:at.Start])
		h.Write(out[at.Start+at.Length:])
		hash = h.Sum(nil)
	}
	return placed{}, errors.New("the manifest's place in the file did not settle")
}

// claim is the claim's CBOR: every assertion, the hard binding last.
func (s *Signer) claim(d *draft, binding *Box) []byte {
	c := claimV2{
		InstanceID: d.instanceID,
		Generator:  s.generator,
		Signature:  "self#jumbf=/c2pa/" + d.label + "/" + labelSignature,
		Title:      d.title,
		Alg:        "sha256",
	}
	for _, a := range append(d.parts[:len(d.parts):len(d.parts)], binding) {
		c.Created = append(c.Created, hashedURI{URL: assertionURI(d.label, a.Label), Hash: sha(a.Payload())})
	}
	return mustCBOR(c)
}

// signClaim signs the claim: a COSE_Sign1 with the chain in its
// protected header and the claim detached (it is the payload signed, not
// carried twice). It returns the message and its CBOR.
func (s *Signer) signClaim(claim []byte) (*cose.Sign1Message, []byte, error) {
	msg := cose.NewSign1Message()
	msg.Headers.Protected.SetAlgorithm(s.alg)
	if len(s.chain) == 1 {
		msg.Headers.Protected[cose.HeaderLabelX5Chain] = s.chain[0]
	} else {
		msg.Headers.Protected[cose.HeaderLabelX5Chain] = s.chain
	}
	msg.Payload = claim
	if err := msg.Sign(rand.Reader, nil, s.cose); err != nil {
		return nil, nil, fmt.Errorf("sign the claim: %w", err)
	}
	msg.Payload = nil
	sig, err := msg.MarshalCBOR()
	if err != nil {
		return nil, nil, err
	}
	return msg, sig, nil
}

// store is the manifest store: the carried manifests and this one.
func (d *draft) store(binding *Box, claim, sig []byte) []byte {
	manifest := superbox(uuidManifest, d.label,
		superbox(uuidAssertions, labelAssertions, append(d.parts[:len(d.parts):len(d.parts)], binding)...),
		superbox(uuidClaim, labelClaim, &Box{Type: "cbor", Data: claim}),
		superbox(uuidSignature, labelSignature, &Box{Type: "cbor", Data: sig}),
	)
	root := superbox(uuidStore, "c2pa", append(append([]*Box(nil), d.carried...), manifest)...)
	return root.Append(nil)
}
