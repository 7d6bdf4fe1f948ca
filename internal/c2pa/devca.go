package c2pa

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// Dev is a development signing identity: a CA made on this machine and a
// signing key it certifies. Readers trust it only when told to (its CA
// given as a trust anchor): for `photodesk dev` and the tests, never for
// anything published.
type Dev struct {
	CA, Key, Chain string // PEM files: the CA certificate (the anchor), the key, the chain
}

// devName marks every file and certificate as what it is.
const devName = "photodesk DEVELOPMENT ONLY - NOT FOR PUBLISHING"

// oidDocumentSigning is the extended key usage C2PA accepts for signers
// (id-kp-documentSigning, RFC 9336).
var oidDocumentSigning = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 36}

// DevIdentity returns the development identity in dir, making it on
// first use.
func DevIdentity(dir string) (Dev, error) {
	d := Dev{
		CA:    filepath.Join(dir, "c2pa-dev-ca.TESTING-ONLY.pem"),
		Key:   filepath.Join(dir, "c2pa-dev-signer.TESTING-ONLY.key"),
		Chain: filepath.Join(dir, "c2pa-dev-signer.TESTING-ONLY.pem"),
	}
	if _, err := os.Stat(d.Chain); err == nil {
		return d, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return d, err
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return d, err
	}
	now := time.Now().Add(-time.Hour)
	ca := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: devName + " CA", Organization: []string{devName}},
		NotBefore:             now,
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, caKey.Public(), caKey)
	if err != nil {
		return d, err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return d, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return d, err
	}
	leaf := &x509.Certificate{
		SerialNumber:       serial(),
		Subject:            pkix.Name{CommonName: devName + " signer", Organization: []string{devName}},
		NotBefore:          now,
		NotAfter:           now.AddDate(5, 0, 0),
		KeyUsage:           x509.KeyUsageDigitalSignature,
		UnknownExtKeyUsage: []asn1.ObjectIdentifier{oidDocumentSigning},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, caCert, key.Public(), caKey)
	if err != nil {
		return d, err
	}
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return d, err
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	chain := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER}), caPEM...)
	// The chain is written last: its presence says the identity is whole.
	for _, f := range []struct {
		name string
		data []byte
		mode os.FileMode
	}{
		{d.CA, caPEM, 0o644},
		{d.Key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600},
		{d.Chain, chain, 0o644},
	} {
		if err := writeAtomic(f.name, f.data, f.mode); err != nil {
			return d, err
		}
	}
	return d, nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return n
}

func writeAtomic(name string, data []byte, mode os.FileMode) error {
	tmp := fmt.Sprintf("%s.%d.tmp", name, os.Getpid())
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	if err := os.Rename(tmp, name); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
