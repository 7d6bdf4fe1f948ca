package c2pa_test

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/digitorus/timestamp"

	"github.com/photodesk/photodesk/internal/c2pa"
	"github.com/photodesk/photodesk/internal/c2pa/c2patest"
	"github.com/photodesk/photodesk/internal/c2pa/tsatest"
)

// anchorsFile writes the PEM certificates given into one file of trust
// anchors and returns its name and the certificates.
func anchorsFile(t *testing.T, pems ...[]byte) (string, []*x509.Certificate) {
	t.Helper()
	all := bytes.Join(pems, nil)
	f := filepath.Join(t.TempDir(), "anchors.pem")
	if err := os.WriteFile(f, all, 0o644); err != nil {
		t.Fatal(err)
	}
	certs, err := c2pa.ParseCertificates(all)
	if err != nil {
		t.Fatal(err)
	}
	return f, certs
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func codes(ss []struct{ Code, Explanation string }) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.Code)
	}
	return out
}

// Files signed with a time-stamp authority: the reference trusts them,
// with the time-stamp validated and trusted; Read finds the authority's
// time. The first file asks the authority twice (to learn how much room
// a token takes), later files once.
func TestSignWithTimeStamps(t *testing.T) {
	tsa := tsatest.New(t)
	s, d := devSigner(t)
	anchors, certs := anchorsFile(t, readFile(t, d.CA))
	tsaAnchors, _ := anchorsFile(t, tsa.CAPEM)
	s = s.WithTimeStamps(c2pa.NewTSA(tsa.URL, nil))
	w := work()
	for i, c := range []struct {
		format, mime string
		file         []byte
	}{{"jpeg", "image/jpeg", testJPEG(t)}, {"webp", "image/webp", testWebP(t)}} {
		before := tsa.Requests.Load()
		w.Format = c.mime
		out, err := s.Sign(t.Context(), c.file, c.format, w)
		if err != nil {
			t.Fatal(err)
		}
		if n, want := tsa.Requests.Load()-before, int64(2-min(i, 1)); n != want {
			t.Errorf("%s: %d requests to the time-stamp authority, want %d", c.format, n, want)
		}
		r := c2patest.VerifyTSA(t, out, c.mime, anchors, tsaAnchors)
		ok := codes(r.Results.Active.Success)
		if r.State != "Trusted" || len(r.Status) != 0 || !slices.Contains(ok, "timeStamp.validated") || !slices.Contains(ok, "timeStamp.trusted") {
			t.Fatalf("%s: the reference says %s %v, successes %v\n%s", c.format, r.State, r.Status, ok, r.Raw)
		}
		at := tsa.Last()
		if ref, err := time.Parse(time.RFC3339, r.Signature.Time); err != nil || ref.Sub(at).Abs() > time.Second {
			t.Errorf("%s: the reference's signature time %q, the authority's %v", c.format, r.Signature.Time, at)
		}
		rep := c2pa.Read(out, c.format, certs)
		if rep.State != c2pa.StateTrusted || rep.SignedAt.Sub(at).Abs() > time.Second || !has(rep.Success, "timeStamp.validated") {
			t.Errorf("%s: Read says %s signed at %v (the authority %v), %v", c.format, rep.State, rep.SignedAt, at, rep.Failure)
		}
		if i == 0 {
			// A reader that does not know the authority still trusts the
			// signature, and says why it ignores the time-stamp.
			r := c2patest.Verify(t, out, c.mime, anchors)
			if r.State != "Trusted" || len(r.Status) != 0 || !slices.Contains(codes(r.Results.Active.Informational), "timeStamp.untrusted") {
				t.Errorf("%s, the authority unknown: the reference says %s %v, informational %v", c.format, r.State, r.Status, codes(r.Results.Active.Informational))
			}
		}
	}
}

// A signature time-stamped while its certificate was valid stays valid
// after the certificate expires; one not stamped does not.
func TestTimeStampOutlivesTheCertificate(t *testing.T) {
	t.Parallel()
	tsa := tsatest.New(t)
	ca := newTestCA(t)
	anchors, certs := anchorsFile(t, readFile(t, ca.pem))
	tsaAnchors, _ := anchorsFile(t, tsa.CAPEM)
	expiry := time.Now().Truncate(time.Second).Add(2 * time.Second)
	s := ca.signer(t, &x509.Certificate{
		Subject: pkix.Name{CommonName: "desk", Organization: []string{"photodesk tests"}}, KeyUsage: x509.KeyUsageDigitalSignature,
		UnknownExtKeyUsage: []asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 3, 36}},
		NotBefore:          time.Now().Add(-time.Hour), NotAfter: expiry,
	})
	stamped, err := s.WithTimeStamps(c2pa.NewTSA(tsa.URL, nil)).Sign(t.Context(), testJPEG(t), "jpeg", work())
	if err != nil {
		t.Fatal(err)
	}
	plain, err := s.Sign(t.Context(), testJPEG(t), "jpeg", work())
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(expiry.Add(1100 * time.Millisecond)))
	if r := c2patest.VerifyTSA(t, stamped, "image/jpeg", anchors, tsaAnchors); r.State != "Trusted" || len(r.Status) != 0 {
		t.Errorf("stamped, after expiry: the reference says %s %v", r.State, r.Status)
	}
	if r := c2pa.Read(stamped, "jpeg", certs); r.State != c2pa.StateTrusted {
		t.Errorf("stamped, after expiry: Read says %s %v", r.State, r.Failure)
	}
	if r := c2patest.VerifyTSA(t, plain, "image/jpeg", anchors, tsaAnchors); r.State != "Invalid" || !slices.Contains(r.Status, "signingCredential.expired") {
		t.Errorf("not stamped, after expiry: the reference says %s %v", r.State, r.Status)
	}
	if r := c2pa.Read(plain, "jpeg", certs); r.State != c2pa.StateInvalid || !has(r.Failure, "signingCredential.expired") {
		t.Errorf("not stamped, after expiry: Read says %s %v", r.State, r.Failure)
	}
}

// A time-stamp authority that fails fails the signing, quickly and
// saying why: no file is published unstamped.
func TestSignFailsWithTheTimeStampAuthority(t *testing.T) {
	s, _ := devSigner(t)
	good := tsatest.New(t)
	errorReply, _ := timestamp.CreateErrorResponse(timestamp.Rejection, timestamp.SystemFailure)
	proxyTo := func(edit func(reply []byte) []byte) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			resp, err := http.Post(good.URL, r.Header.Get("Content-Type"), r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			defer resp.Body.Close()
			var b bytes.Buffer
			b.ReadFrom(resp.Body)
			w.Write(edit(b.Bytes()))
		}
	}
	for _, c := range []struct {
		name    string
		handler http.HandlerFunc
		want    string
	}{
		{"garbage", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("<html>a captive portal</html>")) }, "its reply (29 bytes"},
		{"an error status", func(w http.ResponseWriter, r *http.Request) { w.Write(errorReply) }, "rejected"},
		{"HTTP 503", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", http.StatusServiceUnavailable) }, "HTTP 503"},
		{"a huge reply", func(w http.ResponseWriter, r *http.Request) {
			w.Write(bytes.Repeat([]byte{0x30}, 10<<20))
		}, "more than 64 KiB"},
		{"no answer", func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body) // so that the server sees the client go
			<-r.Context().Done()
		}, "Timeout"},
		{"a stamp of another digest", proxyTo(func(b []byte) []byte { return b }), ""}, // set below
		{"a tampered token", proxyTo(func(b []byte) []byte { b[len(b)-10] ^= 1; return b }), "its reply"},
	} {
		handler := c.handler
		if c.name == "a stamp of another digest" {
			// The request rewritten to another digest before the
			// authority sees it.
			handler = func(w http.ResponseWriter, r *http.Request) {
				var q bytes.Buffer
				q.ReadFrom(r.Body)
				req, err := timestamp.ParseRequest(q.Bytes())
				if err != nil {
					t.Error(err)
					return
				}
				req.HashedMessage[0] ^= 1
				other, _ := req.Marshal()
				resp, err := http.Post(good.URL, "application/timestamp-query", bytes.NewReader(other))
				if err != nil {
					t.Error(err)
					return
				}
				defer resp.Body.Close()
				var b bytes.Buffer
				b.ReadFrom(resp.Body)
				w.Write(b.Bytes())
			}
			c.want = "another digest"
		}
		srv := httptest.NewServer(handler)
		start := time.Now()
		out, err := s.WithTimeStamps(c2pa.NewTSA(srv.URL, &http.Client{Timeout: 300 * time.Millisecond})).Sign(t.Context(), testJPEG(t), "jpeg", work())
		took := time.Since(start)
		srv.Close()
		if err == nil || out != nil {
			t.Errorf("%s: signed regardless", c.name)
			continue
		}
		if !strings.Contains(err.Error(), "time-stamp") || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), srv.URL) {
			t.Errorf("%s: %v, want it to say %q", c.name, err, c.want)
		}
		if took > 2*time.Second {
			t.Errorf("%s: failed after %v", c.name, took)
		}
		t.Logf("%s: %v (%v)", c.name, err, took.Round(time.Millisecond))
	}
}

// Signers sharing a time-stamping signer learn the room a token takes
// together: a handful of requests beyond one per file at most.
func TestSignWithTimeStampsAtOnce(t *testing.T) {
	tsa := tsatest.New(t)
	plain, d := devSigner(t)
	_, certs := anchorsFile(t, readFile(t, d.CA))
	s := plain.WithTimeStamps(c2pa.NewTSA(tsa.URL, nil))
	const files = 8
	errs := make(chan error, files)
	outs := make(chan []byte, files)
	for range files {
		go func() {
			out, err := s.Sign(t.Context(), testJPEG(t), "jpeg", work())
			errs <- err
			outs <- out
		}()
	}
	for range files {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
		if r := c2pa.Read(<-outs, "jpeg", certs); r.State != c2pa.StateTrusted || r.SignedAt.IsZero() {
			t.Errorf("Read says %s, signed at %v: %v", r.State, r.SignedAt, r.Failure)
		}
	}
	if n := tsa.Requests.Load(); n > 2*files {
		t.Errorf("%d requests for %d files", n, files)
	}
	if s.Identity() == plain.Identity() || plain.WithTimeStamps(nil).Identity() != plain.Identity() {
		t.Error("the identity does not say whether files are time-stamped")
	}
}
