// Package tsatest runs an RFC 3161 time-stamp authority for tests. It
// imports nothing of c2pa, so c2pa's own tests can use it.
package tsatest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/digitorus/timestamp"
)

// TSA is a time-stamp authority for tests: an HTTP server on loopback
// that answers RFC 3161 requests with real time-stamps, signed by a key
// whose certificate (with the critical timeStamping extended key usage
// RFC 3161 asks for) is issued by a CA of its own.
type TSA struct {
	URL   string
	CA    *x509.Certificate
	CAPEM []byte // the CA's certificate: a trust anchor for readers
	Cert  *x509.Certificate
	// Requests counts the requests answered.
	Requests atomic.Int64

	key crypto.Signer
	mu  sync.Mutex
	now func() time.Time
	at  time.Time // of the last time-stamp
}

var oidExtKeyUsage = asn1.ObjectIdentifier{2, 5, 29, 37}

// New starts a TSA, closed when the test ends.
func New(t testing.TB) *TSA {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	from, to := time.Now().Add(-30*24*time.Hour), time.Now().Add(30*24*time.Hour)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test time-stamping CA", Organization: []string{"photodesk tests"}},
		NotBefore: from, NotAfter: to, BasicConstraintsValid: true, IsCA: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	eku, _ := asn1.Marshal([]asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 3, 8}}) // id-kp-timeStamping
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "test TSA", Organization: []string{"photodesk tests"}},
		NotBefore: from, NotAfter: to, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtraExtensions: []pkix.Extension{{Id: oidExtKeyUsage, Critical: true, Value: eku}},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	a := &TSA{CA: ca, CAPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), Cert: cert, key: key, now: time.Now}
	srv := httptest.NewServer(http.HandlerFunc(a.serve))
	t.Cleanup(srv.Close)
	a.URL = srv.URL
	return a
}

// SetClock makes the TSA tell the time by now.
func (a *TSA) SetClock(now func() time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.now = now
}

// Last is the time of the last time-stamp given.
func (a *TSA) Last() time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.at
}

func (a *TSA) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/timestamp-query" {
		http.Error(w, "POST an application/timestamp-query", http.StatusBadRequest)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<16))
	if err != nil {
		return
	}
	a.Requests.Add(1)
	reply, err := a.reply(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/timestamp-reply")
	w.Write(reply)
}

func (a *TSA) reply(query []byte) ([]byte, error) {
	req, err := timestamp.ParseRequest(query)
	if err != nil {
		return timestamp.CreateErrorResponse(timestamp.Rejection, timestamp.BadDataFormat)
	}
	a.mu.Lock()
	at := a.now().UTC()
	a.at = at
	a.mu.Unlock()
	ts := timestamp.Timestamp{
		HashAlgorithm: req.HashAlgorithm, HashedMessage: req.HashedMessage, Nonce: req.Nonce,
		Time: at, Policy: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1}, AddTSACertificate: req.Certificates,
	}
	return ts.CreateResponseWithOpts(a.Cert, a.key, crypto.SHA256)
}
