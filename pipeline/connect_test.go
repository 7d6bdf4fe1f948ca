package pipeline_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"

	"github.com/photodesk/photodesk/pipeline"
	"github.com/photodesk/photodesk/pipeline/config"
)

// TestConnectWithCredentials: a token or a user and password reach a NATS
// server that requires them; no credentials, or wrong ones, do not.
func TestConnectWithCredentials(t *testing.T) {
	for name, opts := range map[string]*server.Options{
		"token": {Host: "127.0.0.1", Port: -1, Authorization: "s3cret-token"},
		"user":  {Host: "127.0.0.1", Port: -1, Username: "photodesk", Password: "s3cret-pass"},
	} {
		ns, err := server.NewServer(opts)
		if err != nil {
			t.Fatal(err)
		}
		go ns.Start()
		if !ns.ReadyForConnections(5 * time.Second) {
			t.Fatal("NATS not ready")
		}
		cfg := config.Default()
		cfg.NATSURL = ns.ClientURL()
		if nc, _, err := pipeline.Connect(cfg, t.Name()); err == nil {
			nc.Close()
			t.Errorf("%s: connected without credentials", name)
		}
		bad := cfg
		bad.NATSToken, bad.NATSUser, bad.NATSPassword = "wrong", "", ""
		if name == "user" {
			bad.NATSToken, bad.NATSUser, bad.NATSPassword = "", "photodesk", "wrong"
		}
		if nc, _, err := pipeline.Connect(bad, t.Name()); err == nil {
			nc.Close()
			t.Errorf("%s: connected with wrong credentials", name)
		}
		good := cfg
		if name == "token" {
			good.NATSToken = "s3cret-token"
		} else {
			good.NATSUser, good.NATSPassword = "photodesk", "s3cret-pass"
		}
		if err := good.Validate(); err != nil {
			t.Fatal(err)
		}
		nc, _, err := pipeline.Connect(good, t.Name())
		if err != nil {
			t.Errorf("%s: %v", name, err)
		} else {
			nc.Close()
		}
		ns.Shutdown()
	}
	both := config.Default()
	both.NATSToken, both.NATSUser = "a", "b"
	if err := both.Validate(); err == nil {
		t.Error("two kinds of NATS credentials accepted")
	}
}

func startNATS(t *testing.T, opts *server.Options) *server.Server {
	t.Helper()
	ns, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(5 * time.Second) {
		t.Fatal("NATS not ready")
	}
	t.Cleanup(ns.Shutdown)
	return ns
}

// TestConnectWithNKey: an NKey seed file reaches a server that knows the
// public key; another seed does not.
func TestConnectWithNKey(t *testing.T) {
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := kp.PublicKey()
	seed, _ := kp.Seed()
	ns := startNATS(t, &server.Options{Host: "127.0.0.1", Port: -1, Nkeys: []*server.NkeyUser{{Nkey: pub}}})
	dir := t.TempDir()
	good := filepath.Join(dir, "good.nk")
	if err := os.WriteFile(good, seed, 0o600); err != nil {
		t.Fatal(err)
	}
	other, _ := nkeys.CreateUser()
	otherSeed, _ := other.Seed()
	bad := filepath.Join(dir, "bad.nk")
	if err := os.WriteFile(bad, otherSeed, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.NATSURL = ns.ClientURL()
	cfg.NATSNKey = good
	if err := cfg.Validate(); err != nil || !cfg.HasNATSCredentials() {
		t.Fatalf("Validate: %v, credentials %v", err, cfg.HasNATSCredentials())
	}
	nc, _, err := pipeline.Connect(cfg, t.Name())
	if err != nil {
		t.Fatalf("with the right seed: %v", err)
	}
	nc.Close()
	cfg.NATSNKey = bad
	if nc, _, err := pipeline.Connect(cfg, t.Name()); err == nil {
		nc.Close()
		t.Error("connected with an unknown NKey")
	}
	cfg.NATSNKey = filepath.Join(dir, "missing.nk")
	if _, _, err := pipeline.Connect(cfg, t.Name()); err == nil || !strings.Contains(err.Error(), "missing.nk") {
		t.Errorf("missing seed file: %v", err)
	}
	cfg.NATSToken = "x"
	if err := cfg.Validate(); err == nil {
		t.Error("an NKey and a token accepted together")
	}
}

// TestConnectWithTLS: a server that requires TLS and verifies client
// certificates is reached with --nats-tls-ca/-cert/-key, and not without
// the CA or without the client certificate.
func TestConnectWithTLS(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t)
	caFile := writePEM(t, dir, "ca.pem", "CERTIFICATE", ca.der)
	srvCert, srvKey := ca.issue(t, "nats-server", false)
	cliCert, cliKey := ca.issue(t, "photodesk-worker", true)
	tc, err := server.GenTLSConfig(&server.TLSConfigOpts{
		CertFile: writePEM(t, dir, "server.pem", "CERTIFICATE", srvCert),
		KeyFile:  writePEM(t, dir, "server-key.pem", "PRIVATE KEY", srvKey),
		CaFile:   caFile,
		Verify:   true,
	})
	if err != nil {
		t.Fatal(err)
	}
	ns := startNATS(t, &server.Options{Host: "127.0.0.1", Port: -1, TLS: true, TLSConfig: tc, TLSVerify: true, TLSTimeout: 2})
	cfg := config.Default()
	cfg.NATSURL = ns.ClientURL()
	if nc, _, err := pipeline.Connect(cfg, t.Name()); err == nil || !strings.Contains(err.Error(), "certificate") {
		if nc != nil {
			nc.Close()
		}
		t.Errorf("without trusting the CA: %v, want a certificate error", err)
	}
	cfg.NATSTLSCA = caFile
	if nc, _, err := pipeline.Connect(cfg, t.Name()); err == nil {
		nc.Close()
		t.Error("connected without a client certificate to a server that verifies clients")
	} else {
		t.Logf("without a client certificate: %v", err)
	}
	cfg.NATSTLSCert = writePEM(t, dir, "client.pem", "CERTIFICATE", cliCert)
	if err := cfg.Validate(); err == nil {
		t.Error("a client certificate without its key accepted")
	}
	cfg.NATSTLSKey = writePEM(t, dir, "client-key.pem", "PRIVATE KEY", cliKey)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	nc, _, err := pipeline.Connect(cfg, t.Name())
	if err != nil {
		t.Fatalf("with CA and client certificate: %v", err)
	}
	defer nc.Close()
	if _, err := nc.TLSConnectionState(); err != nil {
		t.Errorf("connection is not TLS: %v", err)
	}
}

// TestConnectFailsOver: with several URLs, a dead first server does not
// stop the connection.
func TestConnectFailsOver(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "nats://" + ln.Addr().String()
	ln.Close()
	ns := startNATS(t, &server.Options{Host: "127.0.0.1", Port: -1})
	cfg := config.Default()
	cfg.NATSURL = dead + "," + ns.ClientURL()
	nc, _, err := pipeline.Connect(cfg, t.Name())
	if err != nil {
		t.Fatalf("connect with a dead first URL: %v", err)
	}
	defer nc.Close()
	if got := nc.ConnectedUrl(); got != ns.ClientURL() {
		t.Errorf("connected to %s, want %s", got, ns.ClientURL())
	}
	cfg.NATSURL = dead
	if nc, _, err := pipeline.Connect(cfg, t.Name()); err == nil {
		nc.Close()
		t.Error("connected with only a dead URL")
	}
}

// testCA is a throwaway certificate authority for TLS tests.
type testCA struct {
	der  []byte
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "photodesk test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{der: der, cert: cert, key: key}
}

// issue makes a certificate for 127.0.0.1 (server) or a client; it
// returns the DER certificate and the PKCS#8 key.
func (ca *testCA) issue(t *testing.T, cn string, client bool) (cert, key []byte) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}
	if client {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
		tmpl.IPAddresses = nil
	}
	cert, err = x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &k.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	key, err = x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

func writePEM(t *testing.T, dir, name, kind string, der []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
