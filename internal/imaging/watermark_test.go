package imaging

import (
	"image"
	"math"
	"strings"
	"testing"

	"github.com/photodesk/photodesk/internal/fixture"
)

func mustMark(t *testing.T, cfg WatermarkConfig) *Mark {
	t.Helper()
	m, err := NewMark(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// diffBox is the bounding box of pixels that differ by more than tol in
// any channel, and the largest difference outside box grown by pad.
func diffBox(a, b image.Image, tol float64) image.Rectangle {
	var box image.Rectangle
	r := a.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			ar, ag, ab := rgbAt(a, x, y)
			br, bg, bb := rgbAt(b, x, y)
			if math.Max(math.Abs(ar-br), math.Max(math.Abs(ag-bg), math.Abs(ab-bb))) > tol {
				box = box.Union(image.Rect(x, y, x+1, y+1))
			}
		}
	}
	return box
}

// TestWatermarkRegion: the marked rendition differs from the plain one in
// the bottom-right corner, by the size the configuration asks for, and
// nowhere else beyond JPEG noise.
func TestWatermarkRegion(t *testing.T) {
	cfg := DefaultConfig().Watermark
	src := open(t, mustJPEG(t, fixture.Scene(3000, 2000, 9), nil))
	p := preset(t, "large:2048:jpeg:q90:wm")
	plain, err := src.Render(ctx, p, []Format{JPEG}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	marked, err := src.Render(ctx, p, []Format{JPEG}, Options{Mark: mustMark(t, cfg)})
	if err != nil {
		t.Fatal(err)
	}
	_, a := decode(t, plain[0].Data)
	_, b := decode(t, marked[0].Data)
	box := diffBox(a, b, 24)
	if box.Empty() {
		t.Fatal("the watermark changed nothing")
	}
	w, h := a.Bounds().Dx(), a.Bounds().Dy()
	margin := int(cfg.Margin * float64(w))
	em := cfg.Size * float64(w)
	t.Logf("image %dx%d, watermark box %v, em %.0f px, margin %d", w, h, box, em, margin)
	// Bottom-right, inside the margin (JPEG blocks may bleed 16 px).
	if box.Max.X > w-margin+16 || box.Max.Y > h-margin+16 || box.Min.X < w/2 || box.Min.Y < h*3/4 {
		t.Errorf("watermark at %v, want the bottom-right corner inside a %d px margin", box, margin)
	}
	// Seven glyphs at em size: about 6-7.5 em wide, about 1-2 em tall.
	if bw := float64(box.Dx()); bw < 5.5*em || bw > 8.5*em {
		t.Errorf("watermark %d px wide, want about 7 em (%.0f px)", box.Dx(), 7*em)
	}
	if bh := float64(box.Dy()); bh < 0.8*em || bh > 2.5*em {
		t.Errorf("watermark %d px tall for em %.0f", box.Dy(), em)
	}
	// Outside the box (grown by a JPEG block), the pixels are the same.
	grown := box.Inset(-16)
	var worst float64
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			if image.Pt(x, y).In(grown) {
				continue
			}
			ar, ag, ab := rgbAt(a, x, y)
			br, bg, bb := rgbAt(b, x, y)
			worst = math.Max(worst, math.Max(math.Abs(ar-br), math.Max(math.Abs(ag-bg), math.Abs(ab-bb))))
		}
	}
	if worst > 3 {
		t.Errorf("pixels outside the watermark changed by up to %.0f", worst)
	}
}

// TestWatermarkLegible: on a white photo and on a black one, the text area
// holds both light and dark ink (the glyphs and their halo).
func TestWatermarkLegible(t *testing.T) {
	m := mustMark(t, DefaultConfig().Watermark)
	for name, v := range map[string]uint8{"white": 255, "black": 0} {
		img := image.NewRGBA(image.Rect(0, 0, 2400, 1600))
		for i := range img.Pix {
			img.Pix[i] = v
		}
		out, err := open(t, mustJPEG(t, img, nil)).Render(ctx, preset(t, "large:2048:jpeg:q90:wm"), []Format{JPEG}, Options{Mark: m})
		if err != nil {
			t.Fatal(err)
		}
		_, dec := decode(t, out[0].Data)
		bg := float64(v)
		strong := 0
		b := dec.Bounds()
		for y := b.Max.Y * 3 / 4; y < b.Max.Y; y++ {
			for x := b.Max.X / 2; x < b.Max.X; x++ {
				r, _, _ := rgbAt(dec, x, y)
				if math.Abs(r-bg) > 100 {
					strong++
				}
			}
		}
		if strong < 2000 {
			t.Errorf("on %s: only %d pixels contrast with the background; the text would not read", name, strong)
		}
	}
}

func TestMarkRefusesMissingGlyph(t *testing.T) {
	cfg := DefaultConfig().Watermark
	cfg.Text = "来源:工人日报 😀"
	_, err := NewMark(cfg)
	if err == nil || !strings.Contains(err.Error(), "U+1F600") {
		t.Fatalf("a glyph the font lacks: err %v", err)
	}
	cfg = DefaultConfig().Watermark
	cfg.Font = "/nonexistent/font.ttf"
	if _, err := NewMark(cfg); err == nil {
		t.Fatal("a missing font file was accepted")
	}
}
