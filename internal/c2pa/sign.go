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
	"sync/atomic"

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
	// stamper time-stamps every claim signature when set; reserve is
	// the room made for its token in the signature (learnt, shared by
	// the copies of the signer that sign at once).
	stamper TimeStamper
	reserve *atomic.Int64
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
// signing certificate's SHA-256), and says whether signatures are
// time-stamped: published files are re-signed when it changes, so
// turning time-stamps on signs them again, stamped.
func (s *Signer) Identity() string {
	id := fmt.Sprintf("%x", sha256.Sum256(s.chain[0]))
	if s.stamper != nil {
		id += "+tsa"
	}
	return id
}

// WithTimeStamps returns a signer like s whose claim signatures are
// time-stamped by ts (nil: none), as C2PA 2.x does it: a token over the
// signature in the signature's unprotected header (sigTst2).
//
// A time-stamp that cannot be had fails the signing; the file is not
// published unstamped. A newsroom would rather publish late than publish
// credentials that turn invalid, unnoticed, the day the signing
// certificate expires, since an unstamped signature is judged at the
// time it is read; a failure is loud (the assembler retries, logs and
// finally gives up), and a desk that prefers to publish through an
// outage of its time-stamp authority can turn time-stamping off.
func (s *Signer) WithTimeStamps(ts TimeStamper) *Signer {
	c := *s
	c.stamper, c.reserve = ts, new(atomic.Int64)
	return &c
}

// Sign returns file (a JPEG or WebP, format "jpeg" or "webp") with a
// C2PA manifest store embedded that says w, and signed: the last write to
// the file, since any later change breaks its hard binding. A store the
// file held is replaced.
func (s *Signer) Sign(ctx context.Context, file []byte, format string, w Work) ([]byte, error) {
	d, err := s.manifest(w)
	if err != nil {
		return nil, err
	}
	if s.stamper != nil {
		return s.signStamped(ctx, file, format, d)
	}
	p, err := s.place(file, format, d, 0)
	if err != nil {
		return nil, err
	}
	return p.file, nil
}

// tokenSlack is the room made beyond the largest token seen, for the
// next one's length to differ by (a serial number, the time's fraction,
// an ECDSA signature's DER, the nonce: a few bytes each).
const tokenSlack = 128

// signStamped signs d into file with a time-stamped claim signature. The
// token stamps the signature, so it can be asked for only once the
// signature is final, that is once the store holds still in the file;
// yet it is in the store. So the store is placed with the signature's
// unprotected header padded by the room a token takes, then the token is
// asked for and traded for the padding (less what is left of it): the
// store keeps its size, and with it the binding, the claim and the
// signature. The room is learnt from the tokens: the first file finds
// none and is placed again with room for the token it got; later files
// fit the first time. One request per file, two for the first.
func (s *Signer) signStamped(ctx context.Context, file []byte, format string, d *draft) ([]byte, error) {
	for range 3 {
		reserve := int(s.reserve.Load())
		p, err := s.place(file, format, d, reserve)
		if err != nil {
			return nil, err
		}
		protected, err := p.msg.Headers.MarshalProtected()
		if err != nil {
			return nil, err
		}
		tbs := countersigned(protected, mustCBOR(p.msg.Signature))
		imprint := sha256.Sum256(tbs)
		tok, err := s.stamper.Stamp(ctx, imprint[:])
		if err != nil {
			return nil, fmt.Errorf("time-stamp the claim signature: %w", err)
		}
		if len(tok) > maxTSAReply {
			return nil, fmt.Errorf("time-stamp the claim signature: a token of %d bytes, more than %d KiB", len(tok), maxTSAReply>>10)
		}
		if _, ok := verifyToken(tok, tbs); !ok {
			return nil, errors.New("time-stamp the claim signature: the token does not hold for it (its imprint or its own signature)")
		}
		val := map[string]any{"tstTokens": []any{map[string]any{"val": tok}}}
		need := len(mustCBOR("sigTst2")) + len(mustCBOR(val))
		pad, fits := padding(reserve - need)
		if !fits {
			growTo(s.reserve, int64(need+tokenSlack))
			continue
		}
		p.msg.Headers.Unprotected = cose.UnprotectedHeader{"sigTst2": val}
		for k, v := range pad {
			p.msg.Headers.Unprotected[k] = v
		}
		sig, err := p.msg.MarshalCBOR()
		if err != nil {
			return nil, err
		}
		out, at, err := embed(file, format, d.store(p.binding, p.claim, sig))
		if err != nil {
			return nil, err
		}
		if at != p.at {
			return nil, fmt.Errorf("c2pa: the stamped signature moved the store from %+v to %+v", p.at, at) // a bug
		}
		return out, nil
	}
	return nil, errors.New("time-stamp the claim signature: the authority's tokens kept outgrowing the room made for them")
}

// growTo raises a to n unless it is higher already.
func growTo(a *atomic.Int64, n int64) {
	for r := a.Load(); r < n && !a.CompareAndSwap(r, n); r = a.Load() {
	}
}

// padding returns unprotected header entries of zeros that take exactly
// n bytes, as c2pa-rs pads its signatures: "pad", and "pad2" beside it
// for the lengths one cannot take; false for the few no two can (1-4).
func padding(n int) (map[string][]byte, bool) {
	if n == 0 {
		return nil, true
	}
	fit := func(key string, n int) ([]byte, bool) {
		for _, head := range []int{1, 2, 3, 5} {
			if z := n - 1 - len(key) - head; z >= 0 && cborHead(z) == head {
				return make([]byte, z), true
			}
		}
		return nil, false
	}
	if z, ok := fit("pad", n); ok {
		return map[string][]byte{"pad": z}, true
	}
	if z, ok := fit("pad2", n-len(mustCBOR("pad"))-1); ok {
		return map[string][]byte{"pad": {}, "pad2": z}, true
	}
	return nil, false
}

// cborHead is the length of the head of a CBOR string of n bytes.
func cborHead(n int) int {
	switch {
	case n < 24:
		return 1
	case n < 1<<8:
		return 2
	case n < 1<<16:
		return 3
	case n < 1<<32:
		return 5
	}
	return 9
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
// The signature's unprotected header is padded by reserve bytes.
func (s *Signer) place(file []byte, format string, d *draft, reserve int) (placed, error) {
	where := span{}
	hash := make([]byte, sha256.Size)
	for range 4 {
		binding := dataHashBox(where, hash)
		claim := s.claim(d, binding)
		msg, sig, err := s.signClaim(claim, reserve)
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
// carried twice). Its unprotected header is padded by reserve bytes. It
// returns the message and its CBOR.
func (s *Signer) signClaim(claim []byte, reserve int) (*cose.Sign1Message, []byte, error) {
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
	pad, ok := padding(reserve)
	if !ok {
		return nil, nil, fmt.Errorf("c2pa: no padding of %d bytes", reserve) // reserve is 0 or more than 4
	}
	for k, v := range pad {
		msg.Headers.Unprotected[k] = v
	}
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
