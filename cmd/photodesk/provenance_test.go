package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/photodesk/photodesk/internal/c2pa"
	"github.com/photodesk/photodesk/internal/c2pa/c2patest"
	"github.com/photodesk/photodesk/internal/c2pa/tsatest"
	"github.com/photodesk/photodesk/internal/fixture"
	"github.com/photodesk/photodesk/internal/schematest"
	"github.com/photodesk/photodesk/pipeline"
	"github.com/photodesk/photodesk/pipeline/contract"
	"github.com/photodesk/photodesk/pipeline/devstack"
	"github.com/photodesk/photodesk/workers/assembler"
)

// c2paFixtures is ../shared/c2pa/fixtures: files the C2PA project signed.
func c2paFixtures(t *testing.T) string {
	t.Helper()
	d := filepath.Join("..", "..", "..", "shared", "c2pa", "fixtures")
	if _, err := os.Stat(d); err != nil {
		t.Skipf("../shared/c2pa/fixtures is absent (it is present in CI): %v", err)
	}
	return d
}

// signingRoles is the role configuration of a newsroom that signs: a
// development identity, and as trust anchors its CA and the C2PA test
// roots (the signed fixtures' signers). It returns the anchors file.
func signingRoles(t *testing.T, fixtures string) (roleConfig, string) {
	t.Helper()
	d, err := c2pa.DevIdentity(filepath.Join(t.TempDir(), "c2pa"))
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := os.ReadFile(d.CA)
	test, err := os.ReadFile(filepath.Join(fixtures, "certs", "trust", "test_cert_root_bundle.pem"))
	if err != nil {
		t.Fatal(err)
	}
	anchors := filepath.Join(t.TempDir(), "anchors.pem")
	if err := os.WriteFile(anchors, append(ca, test...), 0o644); err != nil {
		t.Fatal(err)
	}
	rc := defaultRoleConfig()
	rc.asm.SigningKey, rc.asm.SigningChain, rc.anchors = d.Key, d.Chain, anchors
	return rc, anchors
}

// TestPublishedFilesCarryContentCredentials runs a gallery through every
// role with real servers and a signing key, and asks the C2PA reference
// implementation about every published file: each is Trusted with no
// status, hard-bound, with its original as parent ingredient; the signed
// original's manifest is that ingredient's; a copy with one byte changed
// is Invalid (assertion.dataHash.mismatch). The record says who signed
// each file and what each original's Content Credentials were (unsigned,
// trusted, tampered: the tampered one is published all the same), and
// stays valid ninjs 2.2. A caption correction signs the new files again,
// their manifest's caption the one their XMP carries.
func TestPublishedFilesCarryContentCredentials(t *testing.T) {
	fx := c2paFixtures(t)
	s := devstack.ForTest(t)
	rc, anchors := signingRoles(t, fx)
	startRolesWith(t, s, rc, "ingest", "exif", "renditions", "watermark", "assembler")

	a, err := fixture.JPEG(fixture.Scene(900, 600, 1), 85, &fixture.EXIF{DateTimeOriginal: "2026:07:28 09:12:00", OffsetTimeOriginal: "+08:00"})
	if err != nil {
		t.Fatal(err)
	}
	signed, _ := os.ReadFile(filepath.Join(fx, "CA.jpg"))
	tampered, _ := os.ReadFile(filepath.Join(fx, "C_tampered.jpg"))
	origStore, _, err := c2pa.FindStore(signed, "jpeg")
	if err != nil {
		t.Fatal(err)
	}
	root, err := c2pa.ParseJUMBF(origStore)
	if err != nil {
		t.Fatal(err)
	}
	origLabel := root.Children[len(root.Children)-1].Label
	manifest := func(caption string) []byte {
		m, _ := json.Marshal(map[string]any{
			"headline": "内容凭证", "byline": []string{"杨登峰"},
			"photos": []map[string]any{{"file": "a.jpg", "caption": caption}, {"file": "b.jpg", "caption": "签名的原图。"}, {"file": "c.jpg", "caption": "被改动的原图。"}},
		})
		return m
	}
	putObject(t, s.Config, "c2pa-1/a.jpg", a)
	putObject(t, s.Config, "c2pa-1/b.jpg", signed)
	putObject(t, s.Config, "c2pa-1/c.jpg", tampered)
	putObject(t, s.Config, "c2pa-1/gallery.json", manifest("开幕式在北京展览馆举行。"))

	evs := articleEvents(t, s.Config, "c2pa-1", 1, 90*time.Second)
	var v1 assembler.Ninjs
	if err := json.Unmarshal(evs[0].Record, &v1); err != nil || len(v1.Associations) != 3 {
		t.Fatalf("record: %v %s", err, evs[0].Record)
	}
	if err := schematest.Validate(t, schematest.Ninjs22(t), evs[0].Record); err != nil {
		t.Errorf("the record is not valid ninjs 2.2: %v", err)
	}
	states := []string{"none", "trusted", "invalid"}
	for i, assoc := range v1.Associations {
		var roles []string
		for _, ti := range assoc.TrustIndicators {
			roles = append(roles, ti.Role)
		}
		want := []string{assembler.RoleSigned, assembler.RoleOriginalPrefix + states[i]}
		if !slices.Equal(roles, want) {
			t.Errorf("%s: trust indicators %v, want %v", assoc.URI, roles, want)
		}
		if i == 2 && !strings.Contains(assoc.TrustIndicators[1].Title, "assertion.dataHash.mismatch") {
			t.Errorf("%s: the tampered original's indicator does not say why: %q", assoc.URI, assoc.TrustIndicators[1].Title)
		}
	}

	dir := t.TempDir()
	files := fetchRenditions(t, dir, "v1", v1)
	checked := 0
	for i, assoc := range v1.Associations {
		for _, r := range assoc.Renditions {
			if r.ContentType != "image/jpeg" && r.ContentType != "image/webp" {
				continue
			}
			if !strings.Contains(r.Title, "signed by") {
				t.Errorf("%s %s: the record does not say the file is signed: %q", assoc.URI, r.Name, r.Title)
			}
			data, err := os.ReadFile(files[assoc.URI+" "+r.Name])
			if err != nil {
				t.Fatal(err)
			}
			rep := c2patest.Verify(t, data, r.ContentType, anchors)
			checked++
			if rep.State != "Trusted" || len(rep.Status) != 0 {
				t.Errorf("%s %s: %s %v\n%s", assoc.URI, r.Name, rep.State, rep.Status, rep.Raw)
				continue
			}
			if !slices.Contains(rep.Bindings, "c2pa.hash.data") || len(rep.Ingredients) != 1 || rep.Ingredients[0].Relationship != "parentOf" {
				t.Errorf("%s %s: no hard binding or parent ingredient: %s", assoc.URI, r.Name, rep.Raw)
			}
			chained := rep.Ingredients[0].ActiveManifest == origLabel && slices.Contains(rep.Manifests, origLabel)
			if chained != (i == 1) {
				t.Errorf("%s %s: the original's manifest carried as the ingredient's: %v (want %v): %s", assoc.URI, r.Name, chained, i == 1, rep.Raw)
			}
			if got := rep.Creative["description"]; got != assoc.Descriptions[0].Value {
				t.Errorf("%s %s: the manifest's caption %q, the record's %q", assoc.URI, r.Name, got, assoc.Descriptions[0].Value)
			}
		}
	}
	if checked < 12 {
		t.Fatalf("%d signed files checked, want every JPEG and WebP of three photos", checked)
	}

	// One byte of a published file's picture changed: the reference
	// verifier says so.
	first := v1.Associations[0].Renditions[0]
	data, _ := os.ReadFile(files[v1.Associations[0].URI+" "+first.Name])
	data[len(data)-100] ^= 0x04
	if rep := c2patest.Verify(t, data, first.ContentType, anchors); rep.State != "Invalid" || !slices.Contains(rep.Status, "assertion.dataHash.mismatch") {
		t.Errorf("a tampered copy: %s %v", rep.State, rep.Status)
	}

	// A caption correction signs a's new files again.
	putObject(t, s.Config, "c2pa-1/gallery.json", manifest("开幕式在北京展览馆隆重举行。"))
	evs = articleEvents(t, s.Config, "c2pa-1", 2, 60*time.Second)
	var v2 assembler.Ninjs
	if err := json.Unmarshal(evs[1].Record, &v2); err != nil {
		t.Fatal(err)
	}
	files2 := fetchRenditions(t, dir, "v2", v2)
	tags := readTags(t, files2)
	for _, r := range v2.Associations[0].Renditions {
		if r.ContentType != "image/jpeg" && r.ContentType != "image/webp" {
			continue
		}
		f := files2[v2.Associations[0].URI+" "+r.Name]
		data, _ := os.ReadFile(f)
		rep := c2patest.Verify(t, data, r.ContentType, anchors)
		caption := "7月28日,开幕式在北京展览馆隆重举行。"
		if rep.State != "Trusted" || rep.Creative["description"] != caption || tags[f]["XMP-dc:Description"] != caption {
			t.Errorf("%s after the correction: %s %v, manifest caption %q, XMP caption %q", r.Name, rep.State, rep.Status, rep.Creative["description"], tags[f]["XMP-dc:Description"])
		}
	}
}

// TestRequireProvenanceHoldsUnsignedOriginals: a gallery that requires
// Content Credentials is held, with the reason, for its unsigned and its
// tampered original; the signed one is not named.
func TestRequireProvenanceHoldsUnsignedOriginals(t *testing.T) {
	fx := c2paFixtures(t)
	s := devstack.ForTest(t)
	rc, _ := signingRoles(t, fx)
	startRolesWith(t, s, rc, "ingest", "exif", "renditions", "watermark", "assembler")
	a, err := fixture.JPEG(fixture.Scene(600, 400, 1), 85, nil)
	if err != nil {
		t.Fatal(err)
	}
	signed, _ := os.ReadFile(filepath.Join(fx, "CA.jpg"))
	tampered, _ := os.ReadFile(filepath.Join(fx, "C_tampered.jpg"))
	putObject(t, s.Config, "c2pa-2/a.jpg", a)
	putObject(t, s.Config, "c2pa-2/b.jpg", signed)
	putObject(t, s.Config, "c2pa-2/c.jpg", tampered)
	m, _ := json.Marshal(map[string]any{"headline": "须有内容凭证", "require_provenance": true})
	putObject(t, s.Config, "c2pa-2/gallery.json", m)

	var held contract.GalleryHeld
	follow(t, s.Config, []string{contract.GallerySubject(contract.SubjectGalleryHeld, "c2pa-2")}, 90*time.Second,
		func(msg jetstream.Msg) { mustDecode(t, msg, &held) },
		func() bool { return len(held.Failed) >= 2 })
	reasons := map[string]string{}
	for _, f := range held.Failed {
		reasons[f.Photo] = f.Stage + ": " + f.Reason
	}
	if !strings.Contains(reasons["a.jpg"], "unsigned") || !strings.Contains(reasons["c.jpg"], "assertion.dataHash.mismatch") || reasons["b.jpg"] != "" || len(reasons) != 2 {
		t.Errorf("held for %v; want a.jpg unsigned and c.jpg's hash mismatch, not b.jpg", reasons)
	}

	// photodesk status says the same, and what each original's are.
	nc, js, err := pipeline.Connect(s.Config, t.Name())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	rep := pollStatus(t, js, statusOptions{galleries: 20}, 10*time.Second, func(rep *statusReport) string {
		g := findGallery(rep, "c2pa-2")
		switch {
		case g == nil || g.State != "held":
			return "c2pa-2 is not shown held"
		case len(g.Held) != 2 || !strings.Contains(g.Provenance["b.jpg"], "trusted signer") || !strings.Contains(g.Provenance["c.jpg"], "INVALID"):
			return "c2pa-2's held photos or provenance are not shown"
		}
		return ""
	})
	var text bytes.Buffer
	if err := printStatus(&text, rep, time.Now()); err != nil || !strings.Contains(text.String(), "a.jpg held: the gallery requires Content Credentials") {
		t.Errorf("status text does not say why a.jpg is held:\n%s", text.String())
	}
}

// TestProvenanceConfigTimeStamps: with --c2pa-tsa-url the assembler's
// signer time-stamps every signature with that authority.
func TestProvenanceConfigTimeStamps(t *testing.T) {
	tsa := tsatest.New(t)
	d, err := c2pa.DevIdentity(filepath.Join(t.TempDir(), "c2pa"))
	if err != nil {
		t.Fatal(err)
	}
	rc := defaultRoleConfig()
	rc.asm.SigningKey, rc.asm.SigningChain, rc.asm.TSAURL = d.Key, d.Chain, tsa.URL
	if err := rc.Validate(); err != nil {
		t.Fatal(err)
	}
	signer, _, err := rc.provenance([]string{contract.StageAssembler})
	if err != nil || signer == nil {
		t.Fatalf("signer %v: %v", signer, err)
	}
	img, err := fixture.JPEG(fixture.Scene(64, 48, 1), 85, nil)
	if err != nil {
		t.Fatal(err)
	}
	out, err := signer.Sign(t.Context(), img, "jpeg", c2pa.Work{Title: "a.jpg", Format: "image/jpeg"})
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := os.ReadFile(d.CA)
	anchors, _ := c2pa.ParseCertificates(ca)
	r := c2pa.Read(out, "jpeg", anchors)
	if tsa.Requests.Load() == 0 || r.State != c2pa.StateTrusted || r.SignedAt.Sub(tsa.Last()).Abs() > time.Second {
		t.Errorf("%d requests; Read says %s, signed at %v (the authority %v)", tsa.Requests.Load(), r.State, r.SignedAt, tsa.Last())
	}
}
