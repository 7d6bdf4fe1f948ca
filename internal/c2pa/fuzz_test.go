package c2pa

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"
	"github.com/veraison/go-cose"

	"github.com/photodesk/photodesk/internal/c2pa/tsatest"
)

// fuzzFiles returns files to seed the fuzzers with: a JPEG and a WebP we
// sign, and the shared C2PA fixtures when they are there; and the
// development CA to trust.
func fuzzFiles(f *testing.F) (files map[string][]byte, anchors []*x509.Certificate) {
	files = make(map[string][]byte)
	fixtures := filepath.Join("..", "..", "..", "shared", "c2pa", "fixtures")
	if ms, _ := filepath.Glob(filepath.Join(fixtures, "*.*")); len(ms) > 0 {
		for _, m := range ms {
			if b, err := os.ReadFile(m); err == nil {
				files[filepath.Base(m)] = b
			}
		}
	}
	d, err := DevIdentity(filepath.Join(f.TempDir(), "dev"))
	if err != nil {
		f.Fatal(err)
	}
	s, err := LoadSigner(d.Key, d.Chain, "photodesk", "fuzz")
	if err != nil {
		f.Fatal(err)
	}
	img := image.NewRGBA(image.Rect(0, 0, 16, 16))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7)
	}
	img.Set(0, 0, color.White)
	var jb bytes.Buffer
	if err := jpeg.Encode(&jb, img, nil); err != nil {
		f.Fatal(err)
	}
	files["plain.jpg"] = jb.Bytes()
	w := Work{Title: "fuzz.jpg", Format: "image/jpeg", Actions: []Action{{Action: "c2pa.resized"}}}
	if files["signed.jpg"], err = s.Sign(f.Context(), jb.Bytes(), "jpeg", w); err != nil {
		f.Fatal(err)
	}
	if webp, ok := files["mars.webp"]; ok {
		if files["signed.webp"], err = s.Sign(f.Context(), webp, "webp", w); err != nil {
			f.Fatal(err)
		}
	}
	ca, _ := os.ReadFile(d.CA)
	if anchors, err = ParseCertificates(ca); err != nil {
		f.Fatal(err)
	}
	return files, anchors
}

// reencode writes a parsed box from its fields alone.
func reencode(b *Box) []byte {
	var forget func(*Box)
	forget = func(b *Box) {
		b.payload = nil
		for _, c := range b.Children {
			forget(c)
		}
	}
	forget(b)
	return b.Append(nil)
}

func allVerbatim(b *Box) bool {
	if !b.verbatim {
		return false
	}
	for _, c := range b.Children {
		if !allVerbatim(c) {
			return false
		}
	}
	return true
}

// ParseJUMBF never panics, refuses with ErrJUMBF, and what it reads
// re-encodes: to the very bytes read, when they were in the form Append
// writes; else to a store that parses back to itself.
func FuzzParseJUMBF(f *testing.F) {
	files, _ := fuzzFiles(f)
	for name, file := range files {
		format := "jpeg"
		if strings.HasSuffix(name, ".webp") {
			format = "webp"
		}
		if store, _, err := FindStore(file, format); err == nil {
			f.Add(store)
		}
	}
	f.Add(superbox(uuidStore, "c2pa", superbox(uuidManifest, "m", cborAssertion("a", []byte{0xA0}))).Append(nil))
	f.Add([]byte("\x00\x00\x00\x00jumb\x00\x00\x00\x01jumd\x00\x00\x00\x00\x00\x00\x00\x1d"))
	f.Fuzz(func(t *testing.T, b []byte) {
		root, err := ParseJUMBF(b)
		if err != nil {
			if !errors.Is(err, ErrJUMBF) {
				t.Fatalf("an error that is not ErrJUMBF: %v", err)
			}
			return
		}
		verbatim := allVerbatim(root)
		enc := reencode(root)
		if verbatim && !bytes.Equal(enc, b) {
			t.Fatalf("a verbatim store re-encodes differently:\n% x\n% x", b, enc)
		}
		again, err := ParseJUMBF(enc)
		if err != nil {
			t.Fatalf("the re-encoded store does not parse: %v", err)
		}
		if !allVerbatim(again) || !bytes.Equal(reencode(again), enc) {
			t.Fatal("the re-encoded store does not read back as itself")
		}
	})
}

// Read never panics on any bytes, as JPEG, as WebP, or as the manifest
// store of a JPEG (where the fuzzer reaches the manifest's checks), and
// its report holds together: a state of the four, a reason for every
// failure, and no valid verdict without a validated signature and hard
// binding.
func FuzzRead(f *testing.F) {
	files, anchors := fuzzFiles(f)
	for name, file := range files {
		f.Add(file)
		if store, _, err := FindStore(file, "jpeg"); err == nil && strings.HasPrefix(name, "C") {
			f.Add(store)
		}
	}
	if store, _, err := FindStore(files["signed.jpg"], "jpeg"); err == nil {
		f.Add(store)
	}
	plain := files["plain.jpg"]
	f.Fuzz(func(t *testing.T, b []byte) {
		inputs := map[string][]byte{"jpeg": b, "webp": b}
		if len(b) >= 8 {
			if withStore, _, err := jpegWith(plain, b); err == nil {
				inputs["jpeg store"] = withStore
			}
		}
		for format, file := range inputs {
			r := Read(file, strings.TrimSuffix(format, " store"), anchors)
			has := func(ss []Status, code string) bool {
				return slices.ContainsFunc(ss, func(s Status) bool { return s.Code == code })
			}
			for _, s := range r.Failure {
				if s.Code == "" || s.Explanation == "" || strings.HasPrefix(s.Explanation, "internal error") {
					t.Fatalf("%s: failure %+v", format, s)
				}
			}
			switch r.State {
			case StateNone:
				if len(r.Failure)+len(r.Success) > 0 || r.Store != nil {
					t.Fatalf("%s: none, with %+v", format, r)
				}
			case StateInvalid:
				if len(r.Failure) == 0 {
					t.Fatalf("%s: invalid without a failure", format)
				}
			case StateValid, StateTrusted:
				if !has(r.Success, codeSigValidated) || !has(r.Success, codeDataHashMatch) || r.Store == nil ||
					r.State == StateTrusted && len(r.Failure) > 0 {
					t.Fatalf("%s: %s with %v / %v", format, r.State, r.Success, r.Failure)
				}
			default:
				t.Fatalf("%s: state %q", format, r.State)
			}
		}
	})
}

// tokensIn returns the time-stamp tokens of the active manifest of a
// file's store.
func tokensIn(file []byte, format string) [][]byte {
	store, _, err := FindStore(file, format)
	if err != nil {
		return nil
	}
	root, err := ParseJUMBF(store)
	if err != nil || len(root.Children) == 0 {
		return nil
	}
	sig := root.Children[len(root.Children)-1].Child(labelSignature)
	if sig == nil || len(sig.Children) == 0 {
		return nil
	}
	var msg cose.Sign1Message
	if msg.UnmarshalCBOR(sig.Children[0].Data) != nil {
		return nil
	}
	var out [][]byte
	for _, h := range []string{"sigTst", "sigTst2"} {
		raw, err := cbor.Marshal(msg.Headers.Unprotected[h])
		var c tstContainer
		if err == nil && readDec.Unmarshal(raw, &c) == nil {
			for _, t := range c.Tokens {
				out = append(out, t.Val)
			}
		}
	}
	return out
}

// verifyToken never panics on any bytes (pkcs7's BER reader does on
// some), and no token holds for data it was not made for.
func FuzzVerifyToken(f *testing.F) {
	files, _ := fuzzFiles(f)
	for name, file := range files {
		format := "jpeg"
		if strings.HasSuffix(name, ".webp") {
			format = "webp"
		}
		for _, tok := range tokensIn(file, format) {
			f.Add(tok)
			if inner, ok := tokenOfResponse(tok); ok {
				f.Add(inner)
			}
		}
	}
	tsa := tsatest.New(f)
	imprint := sha256.Sum256([]byte("stamped"))
	tok, err := NewTSA(tsa.URL, nil).Stamp(f.Context(), imprint[:])
	if err != nil {
		f.Fatal(err)
	}
	f.Add(tok)
	f.Add([]byte("0\x82"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if at, ok := verifyToken(b, []byte("not what was stamped")); ok {
			t.Fatalf("a token holds for other data, at %v", at)
		}
	})
}
