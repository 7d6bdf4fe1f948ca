package imaging

import (
	"image"
	"image/color"
	"math"
	"strings"
	"testing"

	"github.com/photodesk/photodesk/internal/fixture"
	"github.com/photodesk/photodesk/pipeline/contract"
)

// The test picture: 1600×1200, a soft grey-blue gradient, and one subject
// off-centre near the top right.
const (
	cropW, cropH    = 1600, 1200
	subjectX        = 1300
	subjectY        = 150
	subjectR        = 80
	testCropPresets = "medium:1024:jpeg:q85,crop16x9:640:jpeg+webp:q85:16x9,crop1x1:500:jpeg:q85:1x1,crop4x5:400:jpeg:q85:4x5"
)

// backdrop is the gradient the subjects sit on: little for attention to
// find.
func backdrop() *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, cropW, cropH))
	for y := range cropH {
		for x := range cropW {
			v := uint8(90 + 40*float64(x+y)/float64(cropW+cropH))
			img.Set(x, y, color.RGBA{v, v + 5, v + 20, 255})
		}
	}
	return img
}

// isSubject is the subject's saturated orange as a decoded derivative
// shows it.
func isSubject(r, g, b float64) bool { return r > 200 && g > 90 && g < 190 && b < 90 }

// isMarker is the focus marker's pure red.
func isMarker(r, g, b float64) bool { return r > 170 && g < 90 && b < 90 }

func cropPresets(t *testing.T) map[string]Preset {
	t.Helper()
	ps, err := ParsePresets(testCropPresets)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]Preset{}
	for _, p := range ps {
		out[p.Name] = p
	}
	return out
}

// renderAll renders every test preset from src, as the roles do, and
// returns the results by preset and format.
func renderAll(t *testing.T, src *Source, opts Options) map[string]Result {
	t.Helper()
	var jobs []Job
	for _, p := range cropPresets(t) {
		jobs = append(jobs, Job{Preset: p, Formats: p.Formats})
	}
	out := map[string]Result{}
	err := RenderSet(ctx, src, jobs, opts, func(j Job, rs []Result) error {
		for _, r := range rs {
			out[r.Preset+"."+string(r.Format)] = r
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// scaleOf is how much a crop of box bw×bh scales the test picture: it
// covers the box.
func scaleOf(bw, bh int) float64 {
	return math.Max(float64(bw)/cropW, float64(bh)/cropH)
}

// TestCropsKeepTheSubject: with no focal point and no region, libvips'
// attention places every crop (16:9, 1:1, 4:5) over the one bright
// subject off-centre, each at its preset's size and aspect, and the focus
// reported is the crop's centre, which the subject is near.
func TestCropsKeepTheSubject(t *testing.T) {
	img := backdrop()
	for y := subjectY - subjectR; y <= subjectY+subjectR; y++ {
		for x := subjectX - subjectR; x <= subjectX+subjectR; x++ {
			if (x-subjectX)*(x-subjectX)+(y-subjectY)*(y-subjectY) <= subjectR*subjectR {
				img.Set(x, y, color.RGBA{250, 140, 30, 255})
			}
		}
	}
	out := renderAll(t, open(t, mustJPEG(t, img, nil)), Options{WebPEffort: 0})
	for name, want := range map[string][2]int{"crop16x9": {640, 360}, "crop1x1": {500, 500}, "crop4x5": {400, 500}} {
		for _, f := range []Format{JPEG, WebP} {
			r, ok := out[name+"."+string(f)]
			if !ok {
				continue
			}
			if r.Width != want[0] || r.Height != want[1] {
				t.Errorf("%s %s: %dx%d, want %dx%d", name, f, r.Width, r.Height, want[0], want[1])
			}
			_, pix := decode(t, r.Data)
			n := 0
			for y := range r.Height {
				for x := range r.Width {
					if isSubject(rgbAt(pix, x, y)) {
						n++
					}
				}
			}
			s := scaleOf(want[0], want[1])
			area := math.Pi * subjectR * s * subjectR * s
			if float64(n) < 0.85*area {
				t.Errorf("%s %s: %d pixels of the subject, want the whole disc (%.0f)", name, f, n, area)
			}
			fc := r.Focus
			if fc == nil || fc.Source != contract.FocusAttention {
				t.Fatalf("%s: focus %+v, want one from attention", name, fc)
			}
			// The subject's centre lies in the box the focus says.
			halfW, halfH := float64(want[0])/2/(s*cropW), float64(want[1])/2/(s*cropH)
			if math.Abs(fc.X-float64(subjectX)/cropW) > halfW || math.Abs(fc.Y-float64(subjectY)/cropH) > halfH {
				t.Errorf("%s: focus %+v does not frame the subject at %.3f,%.3f", name, fc, float64(subjectX)/cropW, float64(subjectY)/cropH)
			}
		}
	}
	if m := out["medium.jpeg"]; m.Width != 1024 || m.Height != 768 || m.Focus != nil {
		t.Errorf("medium beside the crops: %dx%d focus %+v, want 1024x768, no focus", m.Width, m.Height, m.Focus)
	}
}

// markedPicture is the backdrop with a red square marker centred at
// (fx, fy) of the picture.
func markedPicture(t *testing.T, fx, fy float64) []byte {
	img := backdrop()
	cx, cy := int(fx*cropW), int(fy*cropH)
	for y := cy - 12; y < cy+12; y++ {
		for x := cx - 12; x < cx+12; x++ {
			img.Set(x, y, color.RGBA{230, 20, 20, 255})
		}
	}
	return mustJPEG(t, img, nil)
}

// markerAt is the centroid of the marker in a decoded crop.
func markerAt(t *testing.T, r Result) (x, y float64) {
	t.Helper()
	_, pix := decode(t, r.Data)
	var sx, sy, n float64
	for yy := range r.Height {
		for xx := range r.Width {
			if isMarker(rgbAt(pix, xx, yy)) {
				sx, sy, n = sx+float64(xx)+0.5, sy+float64(yy)+0.5, n+1
			}
		}
	}
	if n == 0 {
		t.Fatalf("%s: no marker in the crop", r.Preset)
	}
	return sx / n, sy / n
}

// TestCropsCentreOnTheFocus: with a focal point from the gallery, each
// crop is centred on it within two pixels, or, near an edge, as nearly as
// the picture allows: the crop then meets that edge and the point sits
// where the picture puts it.
func TestCropsCentreOnTheFocus(t *testing.T) {
	for _, f := range [][2]float64{{0.3, 0.6}, {0.95, 0.05}, {0.02, 0.9}, {0.5, 0.5}} {
		src := open(t, markedPicture(t, f[0], f[1]))
		out := renderAll(t, src, Options{Focus: &contract.Focus{X: f[0], Y: f[1]}})
		for _, name := range []string{"crop16x9", "crop1x1", "crop4x5"} {
			r := out[name+".jpeg"]
			if r.Focus == nil || r.Focus.Source != contract.FocusGallery || r.Focus.X != f[0] || r.Focus.Y != f[1] {
				t.Fatalf("%s at %v: focus %+v, want the gallery's", name, f, r.Focus)
			}
			wantX, wantY := focusAt(r, f[0], f[1])
			gotX, gotY := markerAt(t, r)
			if math.Abs(gotX-wantX) > 2 || math.Abs(gotY-wantY) > 2 {
				t.Errorf("%s at %v (%dx%d): marker at %.1f,%.1f, want %.1f,%.1f", name, f, r.Width, r.Height, gotX, gotY, wantX, wantY)
			}
		}
	}
}

// focusAt is where the point fx,fy of the picture must be in crop r:
// at its centre, unless that would put the crop's edges outside the
// picture; then the crop meets the edge.
func focusAt(r Result, fx, fy float64) (x, y float64) {
	s := scaleOf(r.Width, r.Height)
	w, h := s*cropW, s*cropH
	left := math.Max(0, math.Min(fx*w-float64(r.Width)/2, w-float64(r.Width)))
	top := math.Max(0, math.Min(fy*h-float64(r.Height)/2, h-float64(r.Height)))
	return fx*w - left, fy*h - top
}

// regionXMP is an XMP packet with one subject-area region, a relative
// rectangle.
func regionXMP(x, y, w, h string) []byte {
	return []byte(`<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" xmlns:xmp="http://ns.adobe.com/xap/1.0/">` +
		`<Iptc4xmpExt:ImageRegion><rdf:Bag><rdf:li rdf:parseType="Resource"><Iptc4xmpExt:RegionBoundary rdf:parseType="Resource"><Iptc4xmpExt:rbShape>rectangle</Iptc4xmpExt:rbShape><Iptc4xmpExt:rbUnit>relative</Iptc4xmpExt:rbUnit>` +
		`<Iptc4xmpExt:rbX>` + x + `</Iptc4xmpExt:rbX><Iptc4xmpExt:rbY>` + y + `</Iptc4xmpExt:rbY><Iptc4xmpExt:rbW>` + w + `</Iptc4xmpExt:rbW><Iptc4xmpExt:rbH>` + h + `</Iptc4xmpExt:rbH></Iptc4xmpExt:RegionBoundary>` +
		`<Iptc4xmpExt:rRole><rdf:Bag><rdf:li rdf:parseType="Resource"><xmp:Identifier><rdf:Bag><rdf:li>http://cv.iptc.org/newscodes/imageregionrole/subjectArea</rdf:li></rdf:Bag></xmp:Identifier></rdf:li></rdf:Bag></Iptc4xmpExt:rRole>` +
		`</rdf:li></rdf:Bag></Iptc4xmpExt:ImageRegion></rdf:Description></rdf:RDF></x:xmpmeta>`)
}

// TestCropsFromTheEmbeddedRegion: an IPTC subject-area region in the
// original centres the crops when the gallery gives no focal point (and
// the gallery's wins over it); a region reaching outside the picture is
// not used, the crop falls back to attention, and the note says why.
func TestCropsFromTheEmbeddedRegion(t *testing.T) {
	withRegion := func(x, y, w, h string) *Source {
		jpg, err := fixture.WithAPP(markedPicture(t, 0.2, 0.7), 1, []byte(fixture.XMPHeader), regionXMP(x, y, w, h))
		if err != nil {
			t.Fatal(err)
		}
		return open(t, jpg)
	}
	// The marker's square is the region: 0.2,0.7 of the picture.
	out := renderAll(t, withRegion("0.15", "0.65", "0.1", "0.1"), Options{})
	r := out["crop4x5.jpeg"]
	if r.Focus == nil || r.Focus.Source != contract.FocusRegion || math.Abs(r.Focus.X-0.2) > 1e-9 || math.Abs(r.Focus.Y-0.7) > 1e-9 || r.Note != "" {
		t.Fatalf("focus %+v note %q, want the region's centre 0.2,0.7", r.Focus, r.Note)
	}
	wantX, wantY := focusAt(r, 0.2, 0.7)
	if x, y := markerAt(t, r); math.Abs(x-wantX) > 2 || math.Abs(y-wantY) > 2 {
		t.Errorf("marker at %.1f,%.1f of %dx%d, want %.1f,%.1f: the crop is not placed on the region", x, y, r.Width, r.Height, wantX, wantY)
	}

	out = renderAll(t, withRegion("0.15", "0.65", "0.1", "0.1"), Options{Focus: &contract.Focus{X: 0.6, Y: 0.4}})
	if f := out["crop1x1.jpeg"].Focus; f == nil || f.Source != contract.FocusGallery || f.X != 0.6 {
		t.Errorf("with a gallery focus: %+v, want the gallery's over the region", f)
	}

	out = renderAll(t, withRegion("0.9", "0.65", "0.3", "0.1"), Options{})
	r = out["crop1x1.jpeg"]
	if r.Focus == nil || r.Focus.Source != contract.FocusAttention {
		t.Errorf("region outside: focus %+v, want attention", r.Focus)
	}
	if !strings.Contains(r.Note, "embedded image region not used") || !strings.Contains(r.Note, "reaches outside the 1600×1200 picture") {
		t.Errorf("region outside: note %q, want the reason", r.Note)
	}
}

// TestCropNeverUpscales: an original smaller than a crop's box gives the
// largest box of the crop's aspect it holds.
func TestCropNeverUpscales(t *testing.T) {
	src := open(t, mustJPEG(t, fixture.Scene(600, 400, 3), nil))
	out, err := src.Render(ctx, preset(t, "c:1080:jpeg:4x5"), []Format{JPEG}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if out[0].Width != 320 || out[0].Height != 400 {
		t.Errorf("4:5 of 600x400 at 1080 wide: %dx%d, want 320x400", out[0].Width, out[0].Height)
	}
}

// TestCropConfiguration: crops need an aspect, and a bad one is refused
// at start with the reason.
func TestCropConfiguration(t *testing.T) {
	c := DefaultConfig()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	var crops []string
	for _, p := range c.Presets {
		if p.Crop() {
			crops = append(crops, p.Name+" "+p.Aspect.String())
		}
	}
	if strings.Join(crops, ", ") != "crop16x9 16:9, crop1x1 1:1, crop4x5 4:5" {
		t.Errorf("default crops: %v", crops)
	}
	for spec, want := range map[string]string{
		"c:1080:jpeg:0x9":        `aspect "0x9": want WxH`,
		"c:1080:jpeg:16:9":       `unknown option "16" (qN, wm, or an aspect such as 16x9)`,
		"c:1080:jpeg:40x1":       `aspect "40x1" is narrower than 1:10`,
		"c:1080:jpeg:sixteen":    `unknown option "sixteen"`,
		"c:1080:jpeg":            "crops: c has no aspect",
		"thumb:1080:jpeg:1x1":    `crop "thumb" has the name of a preset`,
		"c:1080:jpeg:1000x9":     `aspect "1000x9": want WxH with W and H 1..100`,
		"c:1080:jpeg:1x1,c:5:j:": "crops:",
	} {
		c := DefaultConfig()
		c.CropSpec = spec
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("crops %q: %v, want an error containing %q", spec, err, want)
		}
	}
	c = DefaultConfig()
	c.CropSpec = ""
	if err := c.Validate(); err != nil || len(c.Presets) != 3 {
		t.Errorf("no crops: %v, %d presets", err, len(c.Presets))
	}
}
