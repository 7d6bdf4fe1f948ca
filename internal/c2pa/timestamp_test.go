package c2pa

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"io"
	"math/big"
	"net/http"
	"testing"
	"time"

	"github.com/digitorus/timestamp"
	"github.com/veraison/go-cose"

	"github.com/photodesk/photodesk/internal/c2pa/tsatest"
)

// ask posts a request to a TSA and returns its whole reply.
func ask(t *testing.T, url string, imprint []byte, certs bool) []byte {
	t.Helper()
	q, err := (&timestamp.Request{HashAlgorithm: crypto.SHA256, HashedMessage: imprint, Certificates: certs}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(url, "application/timestamp-query", bytes.NewReader(q))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// verifyToken takes a token or a whole reply, over the data stamped only,
// and with a certificate to check it by.
func TestVerifyToken(t *testing.T) {
	tsa := tsatest.New(t)
	data := []byte("a countersignature structure")
	imprint := sha256.Sum256(data)
	tok, err := NewTSA(tsa.URL, nil).Stamp(t.Context(), imprint[:])
	if err != nil {
		t.Fatal(err)
	}
	if at, ok := verifyToken(tok, data); !ok || at.Sub(tsa.Last()).Abs() > time.Second {
		t.Errorf("the token: %v %v, stamped at %v", at, ok, tsa.Last())
	}
	if _, ok := verifyToken(tok, []byte("other data")); ok {
		t.Error("the token holds for other data")
	}
	if _, ok := verifyToken(ask(t, tsa.URL, imprint[:], true), data); !ok {
		t.Error("a whole reply does not hold")
	}
	if _, ok := verifyToken(ask(t, tsa.URL, imprint[:], false), data); ok {
		t.Error("a token without a certificate holds")
	}
}

// pssSigner signs RSASSA-PSS whatever it is asked for.
type pssSigner struct{ *rsa.PrivateKey }

func (s pssSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return rsa.SignPSS(r, s.PrivateKey, opts.HashFunc(), digest, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
}

// An RSASSA-PSS time-stamp, which timestamp.Parse cannot check, is
// checked by verifyToken itself.
func TestVerifyTokenRSAPSS(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "PSS TSA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	data := []byte("a countersignature structure")
	imprint := sha256.Sum256(data)
	at := time.Now().Truncate(time.Second).Add(-time.Minute)
	reply, err := (&timestamp.Timestamp{HashAlgorithm: crypto.SHA256, HashedMessage: imprint[:], Time: at,
		Policy: asn1.ObjectIdentifier{1, 2, 3}, AddTSACertificate: true}).CreateResponseWithOpts(cert, pssSigner{key}, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	// pkcs7 names the signature PKCS #1 v1.5 whatever the key signed:
	// the signer's algorithm (the last PKCS #1 OID) made RSASSA-PSS.
	pkcs1 := []byte{0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01}
	if _, ok := verifyToken(reply, data); ok {
		t.Error("a PSS signature named PKCS #1 v1.5 holds")
	}
	i := bytes.LastIndex(reply, pkcs1)
	if i < 0 {
		t.Fatal("no PKCS #1 algorithm in the reply")
	}
	reply[i+len(pkcs1)] = 0x0A
	if got, ok := verifyToken(reply, data); !ok || !got.Equal(at) {
		t.Errorf("the PSS token: %v %v, want %v", got, ok, at)
	}
	if _, ok := verifyToken(reply, []byte("other data")); ok {
		t.Error("the PSS token holds for other data")
	}
	reply[len(reply)-1] ^= 1 // the signature's last byte
	if _, ok := verifyToken(reply, data); ok {
		t.Error("a broken PSS signature holds")
	}
}

// padding takes exactly the bytes asked for, up to the few it cannot.
func TestPadding(t *testing.T) {
	for _, ns := range [][2]int{{0, 300}, {65500, 65560}} {
		for n := ns[0]; n <= ns[1]; n++ {
			pad, ok := padding(n)
			if ok != (n == 0 || n > 4) {
				t.Fatalf("padding(%d): %v", n, ok)
			}
			if !ok {
				continue
			}
			h := cose.UnprotectedHeader{}
			for k, v := range pad {
				h[k] = v
			}
			b, err := h.MarshalCBOR()
			if err != nil {
				t.Fatal(err)
			}
			if len(b)-1 != n {
				t.Fatalf("padding(%d) takes %d bytes", n, len(b)-1)
			}
		}
	}
}
