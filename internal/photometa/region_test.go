package photometa

import (
	"bytes"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/photodesk/photodesk/internal/fixture"
)

// regionPacket is an XMP packet with the given Iptc4xmpExt:ImageRegion
// entries (rdf:li bodies), as ExifTool writes them.
func regionPacket(items ...string) []byte {
	var b strings.Builder
	b.WriteString(`<?xpacket begin="` + "\uFEFF" + `" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">` +
		`<rdf:Description rdf:about="" xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" xmlns:xmp="http://ns.adobe.com/xap/1.0/"><Iptc4xmpExt:ImageRegion><rdf:Bag>`)
	for _, it := range items {
		b.WriteString(`<rdf:li rdf:parseType="Resource">` + it + `</rdf:li>`)
	}
	b.WriteString(`</rdf:Bag></Iptc4xmpExt:ImageRegion></rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>`)
	return []byte(b.String())
}

func roleID(code string) string {
	return `<Iptc4xmpExt:rRole><rdf:Bag><rdf:li rdf:parseType="Resource"><xmp:Identifier><rdf:Bag><rdf:li>http://cv.iptc.org/newscodes/imageregionrole/` +
		code + `</rdf:li></rdf:Bag></xmp:Identifier></rdf:li></rdf:Bag></Iptc4xmpExt:rRole>`
}

func roleName(name string) string {
	return `<Iptc4xmpExt:rRole><rdf:Bag><rdf:li rdf:parseType="Resource"><Iptc4xmpExt:Name><rdf:Alt><rdf:li xml:lang="x-default">` +
		name + `</rdf:li></rdf:Alt></Iptc4xmpExt:Name></rdf:li></rdf:Bag></Iptc4xmpExt:rRole>`
}

func rect(unit string, x, y, w, h string) string {
	return `<Iptc4xmpExt:RegionBoundary rdf:parseType="Resource"><Iptc4xmpExt:rbShape>rectangle</Iptc4xmpExt:rbShape><Iptc4xmpExt:rbUnit>` + unit +
		`</Iptc4xmpExt:rbUnit><Iptc4xmpExt:rbX>` + x + `</Iptc4xmpExt:rbX><Iptc4xmpExt:rbY>` + y + `</Iptc4xmpExt:rbY><Iptc4xmpExt:rbW>` + w +
		`</Iptc4xmpExt:rbW><Iptc4xmpExt:rbH>` + h + `</Iptc4xmpExt:rbH></Iptc4xmpExt:RegionBoundary>`
}

// regionJPEG is a 300×200 JPEG carrying packet as its XMP.
func regionJPEG(t *testing.T, packet []byte) []byte {
	t.Helper()
	jpg, err := fixture.JPEG(fixture.Scene(300, 200, 1), 80, nil)
	if err != nil {
		t.Fatal(err)
	}
	if jpg, err = fixture.WithAPP(jpg, 1, []byte(fixture.XMPHeader), packet); err != nil {
		t.Fatal(err)
	}
	return jpg
}

func extractRegion(t *testing.T, jpg []byte) *Exif {
	t.Helper()
	x, err := Extract(bytes.NewReader(jpg), int64(len(jpg)), time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// TestImageRegion: the region whose role names the centre of interest is
// read in each shape and unit, by role identifier or name, the recommended
// crop before the subject; regions of other roles are not; a region
// outside the picture or malformed is refused by Centre or readRegion with
// the reason.
func TestImageRegion(t *testing.T) {
	const w, h = 300, 200
	circle := `<Iptc4xmpExt:RegionBoundary rdf:parseType="Resource"><Iptc4xmpExt:rbShape>circle</Iptc4xmpExt:rbShape><Iptc4xmpExt:rbUnit>pixel</Iptc4xmpExt:rbUnit><Iptc4xmpExt:rbX>100</Iptc4xmpExt:rbX><Iptc4xmpExt:rbY>50</Iptc4xmpExt:rbY><Iptc4xmpExt:rbRx>20</Iptc4xmpExt:rbRx></Iptc4xmpExt:RegionBoundary>`
	polygon := `<Iptc4xmpExt:RegionBoundary rdf:parseType="Resource"><Iptc4xmpExt:rbShape>polygon</Iptc4xmpExt:rbShape><Iptc4xmpExt:rbUnit>relative</Iptc4xmpExt:rbUnit><Iptc4xmpExt:rbVertices><rdf:Seq>` +
		`<rdf:li rdf:parseType="Resource"><Iptc4xmpExt:rbX>0.1</Iptc4xmpExt:rbX><Iptc4xmpExt:rbY>0.1</Iptc4xmpExt:rbY></rdf:li>` +
		`<rdf:li><rdf:Description Iptc4xmpExt:rbX="0.3" Iptc4xmpExt:rbY="0.1"/></rdf:li>` +
		`<rdf:li Iptc4xmpExt:rbX="0.2" Iptc4xmpExt:rbY="0.5"/></rdf:Seq></Iptc4xmpExt:rbVertices></Iptc4xmpExt:RegionBoundary>`
	for _, c := range []struct {
		name           string
		packet         []byte
		role           string // "" no region
		x, y           float64
		centreErr      string // Centre's error
		problem        string // readRegion's
		noRegionNoNote bool
	}{
		{name: "relative rectangle, subject area", packet: regionPacket(rect("relative", "0.6", "0.1", "0.2", "0.3") + roleID("subjectArea")), role: "subjectArea", x: 0.7, y: 0.25},
		{name: "pixel rectangle", packet: regionPacket(rect("pixel", "30", "20", "60", "40") + roleID("recomCropping")), role: "recomCropping", x: 0.2, y: 0.2},
		{name: "pixel circle by name", packet: regionPacket(circle + roleName("recommended cropping")), role: "recomCropping", x: 100.0 / w, y: 50.0 / h},
		{name: "polygon in every RDF form", packet: regionPacket(polygon + roleID("mainSubjectArea")), role: "mainSubjectArea", x: 0.2, y: 0.3},
		{name: "recommended crop before subject", packet: regionPacket(rect("relative", "0", "0", "0.2", "0.2")+roleID("subjectArea"), rect("relative", "0.5", "0.5", "0.5", "0.5")+roleID("recomCropping")), role: "recomCropping", x: 0.75, y: 0.75},
		{name: "other roles ignored", packet: regionPacket(rect("relative", "0", "0", "0.2", "0.2") + roleID("copyrightRegion")), noRegionNoNote: true},
		{name: "outside the picture", packet: regionPacket(rect("relative", "0.9", "0.1", "0.3", "0.3") + roleID("subjectArea")), role: "subjectArea", centreErr: "reaches outside the 300×200 picture"},
		{name: "pixels outside", packet: regionPacket(rect("pixel", "250", "150", "100", "10") + roleID("subjectArea")), role: "subjectArea", centreErr: "reaches outside"},
		{name: "not a number", packet: regionPacket(rect("relative", "x", "0.1", "0.2", "0.2") + roleID("subjectArea")), problem: `region 1 (subject area): rbX "x" is not a number`},
		{name: "unknown unit", packet: regionPacket(rect("inch", "0.1", "0.1", "0.2", "0.2") + roleID("subjectArea")), problem: `rbUnit "inch": want relative or pixel`},
		{name: "no area", packet: regionPacket(rect("relative", "0.1", "0.1", "0", "0.2") + roleID("subjectArea")), problem: "has no area"},
		{name: "no boundary", packet: regionPacket(roleID("subjectArea")), problem: "no RegionBoundary"},
		{name: "many bad ones, the first named", packet: regionPacket(roleID("subjectArea"), roleID("subjectArea"), roleID("subjectArea"), roleID("subjectArea"), roleID("subjectArea")), problem: "region 3 (subject area): no RegionBoundary; 2 more"},
		{name: "a long value clipped", packet: regionPacket(rect("relative", strings.Repeat("9", 500), "0", "1", "1") + roleID("subjectArea")), problem: `rbX "99999999999999999999999999999999…" is not a number`},
		{name: "bad one skipped for a good one", packet: regionPacket(rect("relative", "x", "0", "1", "1")+roleID("recomCropping"), rect("relative", "0.1", "0.1", "0.2", "0.2")+roleID("subjectArea")), role: "subjectArea", x: 0.2, y: 0.2},
	} {
		t.Run(c.name, func(t *testing.T) {
			x := extractRegion(t, regionJPEG(t, c.packet))
			g := x.Region
			switch {
			case c.noRegionNoNote:
				if g != nil || x.RegionProblem != "" {
					t.Fatalf("region %+v, problem %q; want neither", g, x.RegionProblem)
				}
				return
			case c.problem != "":
				if g != nil || !strings.Contains(x.RegionProblem, c.problem) || !strings.HasPrefix(x.RegionProblem, "embedded image region not used: ") {
					t.Fatalf("region %+v, problem %q; want none and %q", g, x.RegionProblem, c.problem)
				}
				return
			case g == nil:
				t.Fatalf("no region (problem %q)", x.RegionProblem)
			}
			if g.Role != c.role {
				t.Errorf("role %q, want %q", g.Role, c.role)
			}
			cx, cy, err := g.Centre(w, h)
			if c.centreErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.centreErr) {
					t.Fatalf("Centre: %v, want an error containing %q", err, c.centreErr)
				}
				return
			}
			if err != nil || math.Abs(cx-c.x) > 1e-9 || math.Abs(cy-c.y) > 1e-9 {
				t.Errorf("centre %g,%g (%v), want %g,%g", cx, cy, err, c.x, c.y)
			}
		})
	}
}

// TestImageRegionWrittenByExifTool: a region ExifTool writes (its
// structure syntax) is read as ExifTool reads it back.
func TestImageRegionWrittenByExifTool(t *testing.T) {
	bin, err := exec.LookPath("exiftool")
	if err != nil {
		t.Skip("exiftool not installed (Debian: apt-get install libimage-exiftool-perl); skipping the cross-check with ExifTool")
	}
	jpg, err := fixture.JPEG(fixture.Scene(300, 200, 2), 80, nil)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "r.jpg")
	if err := os.WriteFile(path, jpg, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "-q", "-overwrite_original",
		"-XMP-iptcExt:ImageRegion=[{RegionBoundary={RbShape=rectangle,RbUnit=relative,RbX=0.6,RbY=0.1,RbW=0.2,RbH=0.3},RRole=[{Identifier=[http://cv.iptc.org/newscodes/imageregionrole/subjectArea]}]},"+
			"{RegionBoundary={RbShape=circle,RbUnit=pixel,RbX=90,RbY=120,RbRx=30},RRole=[{Name=recommended cropping}]}]", path).CombinedOutput()
	if err != nil {
		t.Fatalf("exiftool: %v: %s", err, out)
	}
	back, err := exec.Command(bin, "-s3", "-struct", "-XMP-iptcExt:ImageRegion", path).Output()
	if err != nil || !strings.Contains(string(back), "RbX=90") {
		t.Fatalf("exiftool reads back %q (%v)", back, err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	g := extractRegion(t, b).Region
	if g == nil || g.Role != "recomCropping" || g.Shape != "circle" || g.Unit != "pixel" {
		t.Fatalf("region %+v, want ExifTool's recommended-cropping circle", g)
	}
	if x, y, err := g.Centre(300, 200); err != nil || x != 0.3 || y != 0.6 {
		t.Errorf("centre %g,%g (%v), want 0.3,0.6", x, y, err)
	}
}
