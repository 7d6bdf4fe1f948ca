package c2pa_test

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"image"
	"image/color"
	"image/jpeg"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/photodesk/photodesk/internal/c2pa"
	"github.com/photodesk/photodesk/internal/c2pa/c2patest"
)

func testJPEG(t testing.TB) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for y := 0; y < 48; y++ {
		for x := 0; x < 64; x++ {
			img.Set(x, y, color.RGBA{uint8(x * 4), uint8(y * 5), 90, 255})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func devSigner(t testing.TB) (*c2pa.Signer, c2pa.Dev) {
	d, err := c2pa.DevIdentity(filepath.Join(t.TempDir(), "dev"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := c2pa.LoadSigner(d.Key, d.Chain, "photodesk", "test")
	if err != nil {
		t.Fatal(err)
	}
	return s, d
}

func work() c2pa.Work {
	return c2pa.Work{
		Title: "photo.jpg", Format: "image/jpeg",
		Authors: []string{"张三"}, Publisher: "工人日报社", Copyright: "© 2026 工人日报",
		Caption: "7月28日,观众在展会现场参观。",
		Actions: []c2pa.Action{{Action: "c2pa.resized"}, {Action: "c2pa.edited", Description: "visible credit line 来源:工人日报 drawn on the picture"}, {Action: "c2pa.edited.metadata"}, {Action: "c2pa.published"}},
		Parent:  c2pa.Parent{Title: "original.jpg", Format: "image/jpeg", SHA256: make([]byte, 32)},
	}
}

func TestSignedJPEGIsTrusted(t *testing.T) {
	s, d := devSigner(t)
	out, err := s.Sign(t.Context(), testJPEG(t), "jpeg", work())
	if err != nil {
		t.Fatal(err)
	}
	r := c2patest.Verify(t, out, "image/jpeg", d.CA)
	if r.State != "Trusted" || len(r.Status) != 0 {
		t.Fatalf("state %s, status %v\n%s", r.State, r.Status, r.Raw)
	}
}

func testWebP(t testing.TB) []byte {
	b, err := os.ReadFile(filepath.Join(sharedFixtures(t), "mars.webp"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sharedFixtures is ../shared/c2pa/fixtures: the C2PA project's own files.
func sharedFixtures(t testing.TB) string {
	d := filepath.Join("..", "..", "..", "shared", "c2pa", "fixtures")
	if _, err := os.Stat(d); err != nil {
		t.Skipf("../shared/c2pa/fixtures is absent (it is present in CI): %v", err)
	}
	return d
}

func TestSignedWebPIsTrusted(t *testing.T) {
	s, d := devSigner(t)
	w := work()
	w.Format = "image/webp"
	out, err := s.Sign(t.Context(), testWebP(t), "webp", w)
	if err != nil {
		t.Fatal(err)
	}
	r := c2patest.Verify(t, out, "image/webp", d.CA)
	if r.State != "Trusted" || len(r.Status) != 0 {
		t.Fatalf("state %s, status %v\n%s", r.State, r.Status, r.Raw)
	}
}

// A byte of the picture changed after signing breaks the hard binding,
// and the reference verifier says so.
func TestTamperedCopyFails(t *testing.T) {
	s, d := devSigner(t)
	for _, c := range []struct {
		format, mime string
		file         []byte
	}{{"jpeg", "image/jpeg", testJPEG(t)}, {"webp", "image/webp", testWebP(t)}} {
		out, err := s.Sign(t.Context(), c.file, c.format, work())
		if err != nil {
			t.Fatal(err)
		}
		_, where, err := c2pa.FindStore(out, c.format)
		if err != nil {
			t.Fatal(err)
		}
		// The last byte before the store for WebP (its picture comes
		// first), and one near the end for JPEG (its store comes first).
		i := len(out) - 10
		if c.format == "webp" {
			i = where.Start - 4
		}
		out[i] ^= 0x01
		r := c2patest.Verify(t, out, c.mime, d.CA)
		if r.State != "Invalid" || !contains(r.Status, "assertion.dataHash.mismatch") {
			t.Errorf("%s: state %s, status %v", c.format, r.State, r.Status)
		}
	}
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// signedRendition is a picture signed (by s, saying w) as the rendition
// of the C2PA project's CA.jpg, carrying its manifest; anchors trusts
// both signers.
func signedRendition(t *testing.T) (out []byte, d c2pa.Dev, anchors string, s *c2pa.Signer, w c2pa.Work) {
	t.Helper()
	dir := sharedFixtures(t)
	orig, err := os.ReadFile(filepath.Join(dir, "CA.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	store, _, err := c2pa.FindStore(orig, "jpeg")
	if err != nil {
		t.Fatal(err)
	}
	s, d = devSigner(t)
	w = work()
	w.Parent.Store = store
	w.Parent.Results = []c2pa.Status{{Code: "claimSignature.validated"}}
	if out, err = s.Sign(t.Context(), testJPEG(t), "jpeg", w); err != nil {
		t.Fatal(err)
	}
	anchors = filepath.Join(t.TempDir(), "anchors.pem")
	ca, _ := os.ReadFile(d.CA)
	test, _ := os.ReadFile(filepath.Join(dir, "certs", "trust", "test_cert_root_bundle.pem"))
	if err := os.WriteFile(anchors, append(ca, test...), 0o644); err != nil {
		t.Fatal(err)
	}
	return out, d, anchors, s, w
}

// A signed original's manifest travels into its rendition's store as the
// parent ingredient's: the chain survives the resize.
func TestSignedOriginalIsTheIngredient(t *testing.T) {
	out, _, anchors, _, _ := signedRendition(t)
	r := c2patest.Verify(t, out, "image/jpeg", anchors)
	if r.State != "Trusted" || len(r.Status) != 0 {
		t.Fatalf("state %s, status %v\n%s", r.State, r.Status, r.Raw)
	}
	if len(r.Manifests) != 2 || len(r.Ingredients) != 1 || r.Ingredients[0].ActiveManifest == "" || r.Ingredients[0].ActiveManifest == r.Active {
		t.Fatalf("the original's manifest is not the ingredient's: %s", r.Raw)
	}
}

// Locate finds a store by its headers where FindStore finds it in the
// whole file.
func TestLocateMatchesFindStore(t *testing.T) {
	s, _ := devSigner(t)
	for _, c := range []struct {
		format string
		file   []byte
	}{{"jpeg", testJPEG(t)}, {"webp", testWebP(t)}} {
		if _, err := c2pa.Locate(bytes.NewReader(c.file), int64(len(c.file)), c.format); err != c2pa.ErrNoManifest {
			t.Errorf("%s unsigned: %v, want ErrNoManifest", c.format, err)
		}
		out, err := s.Sign(t.Context(), c.file, c.format, work())
		if err != nil {
			t.Fatal(err)
		}
		_, want, err := c2pa.FindStore(out, c.format)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c2pa.Locate(bytes.NewReader(out), int64(len(out)), c.format)
		if err != nil || got != want {
			t.Errorf("%s: Locate %+v %v, FindStore %+v", c.format, got, err, want)
		}
		store, _, _ := c2pa.FindStore(out, c.format)
		un, err := c2pa.Unwrap(out[got.Start:got.Start+got.Length], c.format)
		if err != nil || !bytes.Equal(un, store) {
			t.Errorf("%s: Unwrap gives %d bytes (%v), the store is %d", c.format, len(un), err, len(store))
		}
	}
}

// A store over one APP11 segment's 64 KB is split across several, and
// still verifies and reads back.
func TestLargeStoreSpansSegments(t *testing.T) {
	s, d := devSigner(t)
	w := work()
	w.Caption = strings.Repeat("长", 60000) // 180 KB of UTF-8
	out, err := s.Sign(t.Context(), testJPEG(t), "jpeg", w)
	if err != nil {
		t.Fatal(err)
	}
	where, err := c2pa.Locate(bytes.NewReader(out), int64(len(out)), "jpeg")
	if err != nil || where.Length < 2*65535 {
		t.Fatalf("store at %+v (%v): want three segments", where, err)
	}
	if r := c2patest.Verify(t, out, "image/jpeg", d.CA); r.State != "Trusted" || len(r.Status) != 0 {
		t.Fatalf("state %s, status %v", r.State, r.Status)
	}
}

// An RSA key signs PS256, and the reference verifier trusts it through
// its CA like an ES256 one.
func TestSignPS256(t *testing.T) {
	caKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Add(-time.Hour)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "RSA test CA", Organization: []string{"photodesk tests"}},
		NotBefore: now, NotAfter: now.AddDate(1, 0, 0), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	leafTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "RSA signer", Organization: []string{"工人日报社"}},
		NotBefore: now, NotAfter: now.AddDate(1, 0, 0), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, key.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(leafDER)
	s, err := c2pa.NewSigner(key, []*x509.Certificate{leaf, ca}, "photodesk", "test")
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.Sign(t.Context(), testJPEG(t), "jpeg", work())
	if err != nil {
		t.Fatal(err)
	}
	anchors := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(anchors, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o644); err != nil {
		t.Fatal(err)
	}
	r := c2patest.Verify(t, out, "image/jpeg", anchors)
	if r.State != "Trusted" || len(r.Status) != 0 || !strings.EqualFold(r.Signature.Alg, "ps256") || s.Name() != "工人日报社" {
		t.Fatalf("PS256: %s %v alg %q signer %q\n%s", r.State, r.Status, r.Signature.Alg, s.Name(), r.Raw)
	}
	if got := c2pa.Read(out, "jpeg", []*x509.Certificate{ca}); got.State != c2pa.StateTrusted {
		t.Errorf("our reader: %s %v", got.State, got.Failure)
	}
}
