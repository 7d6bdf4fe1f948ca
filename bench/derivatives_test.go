package bench

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/davidbyttow/govips/v2/vips"

	"github.com/photodesk/photodesk/internal/c2pa"
	"github.com/photodesk/photodesk/internal/imaging"
	"github.com/photodesk/photodesk/internal/stamp"
	"github.com/photodesk/photodesk/internal/textdraw"
	"github.com/photodesk/photodesk/pipeline/contract"
)

// output is one Render call of one role: a preset in each of its formats,
// watermarked or not. Its name is the derivative's key stem ("large.wm").
type output struct {
	name   string
	role   string // renditions or watermark: one process each in production
	preset imaging.Preset
	marked bool
}

// overlay is the watermark as the command-line baseline composites it: the
// same PNG the watermark role renders for this image width, and where the
// role puts it.
type overlay struct {
	path       string
	x, y, w, h int
}

// derivSetup is what both implementations share, made once per process.
type derivSetup struct {
	cfg      imaging.Config
	limits   imaging.Limits
	mark     *imaging.Mark
	outputs  []output
	data     []byte // the original
	in       string // the original on disk, for the CLI
	cliDir   string // where the CLI writes
	overlays map[string]overlay
}

var (
	derivOnce sync.Mutex
	derivS    *derivSetup
)

// setupDerivatives builds the default configuration with the full-size
// watermarked copy on (--watermark-full), the input and the overlays.
func setupDerivatives(b *testing.B) *derivSetup {
	b.Helper()
	derivOnce.Lock()
	defer derivOnce.Unlock()
	if derivS != nil {
		return derivS
	}
	cfg := imaging.DefaultConfig()
	cfg.Watermark.Full = true
	if err := cfg.Validate(); err != nil {
		b.Fatal(err)
	}
	for _, p := range cfg.Presets {
		for _, f := range p.Formats {
			if !imaging.CanWrite(f) {
				b.Fatalf("this libvips cannot write %s (preset %s): the roles would skip it and the comparison would not be like for like", f, p.Name)
			}
		}
	}
	mk, err := imaging.NewMark(cfg.Watermark)
	if err != nil {
		b.Fatal(err)
	}
	s := &derivSetup{
		cfg:      cfg,
		limits:   imaging.Limits{MaxPixels: cfg.MaxPixels, MaxBytes: cfg.MaxBytes},
		mark:     mk,
		data:     photo(b, 1),
		in:       photoFile(b, 1),
		cliDir:   filepath.Join(workDir, "cli"),
		overlays: map[string]overlay{},
	}
	if err := os.MkdirAll(s.cliDir, 0o755); err != nil {
		b.Fatal(err)
	}
	for _, p := range cfg.Presets {
		s.outputs = append(s.outputs, output{name: p.Name, role: "renditions", preset: p})
	}
	for _, p := range cfg.Marked() {
		s.outputs = append(s.outputs, output{name: p.Name + ".wm", role: "watermark", preset: p, marked: true})
	}

	// The overlays, rendered as imaging.Mark renders them: em size and
	// margin are fractions of the derivative's width, at the configured
	// corner. These are the PNGs the role composites (it caches them per
	// size in the process, so they are not part of the per-photo cost
	// there either).
	font, err := textdraw.LoadFont(cfg.Watermark.Font)
	if err != nil {
		b.Fatal(err)
	}
	mr, err := textdraw.New(cfg.Watermark.Text, font)
	if err != nil {
		b.Fatal(err)
	}
	for _, o := range s.outputs {
		if !o.marked {
			continue
		}
		w, h := expectedSize(o.preset)
		px := int(math.Round(cfg.Watermark.Size * float64(w)))
		margin := int(math.Round(cfg.Watermark.Margin * float64(w)))
		img, err := mr.Render(float64(px), cfg.Watermark.Opacity)
		if err != nil {
			b.Fatal(err)
		}
		var buf bytes.Buffer
		if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&buf, img); err != nil {
			b.Fatal(err)
		}
		ov := overlay{path: filepath.Join(workDir, "overlay-"+o.name+".png"), w: img.Bounds().Dx(), h: img.Bounds().Dy()}
		if ov.w+2*margin > w || ov.h+2*margin > h {
			b.Fatalf("%s: the %dx%d overlay does not fit a %dx%d image; the role would scale it", o.name, ov.w, ov.h, w, h)
		}
		pos, ok := corners[cfg.Watermark.Position]
		if !ok {
			b.Fatalf("watermark position %q", cfg.Watermark.Position)
		}
		ov.x = margin + int(pos[0]*float64(w-2*margin-ov.w))
		ov.y = margin + int(pos[1]*float64(h-2*margin-ov.h))
		if err := os.WriteFile(ov.path, buf.Bytes(), 0o644); err != nil {
			b.Fatal(err)
		}
		s.overlays[o.name] = ov
	}
	derivS = s
	return s
}

// webpEffort is the roles' default WebP effort, which the CLI is given too.
var webpEffort = imaging.DefaultConfig().WebPEffort

// corners are imaging's watermark positions (fractions of the free space).
var corners = map[string][2]float64{
	"top-left": {0, 0}, "top-right": {1, 0},
	"bottom-left": {0, 1}, "bottom-right": {1, 1},
	"center": {0.5, 0.5},
}

// expectedSize is a preset's size for the 6000x4000 input: long edge the
// preset's, short edge in proportion; size 0 is the original's.
func expectedSize(p imaging.Preset) (w, h int) {
	if p.Crop() {
		// The crop's box: the defaults' fit the input without upscaling.
		return p.Size, int(math.Round(float64(p.Size) * float64(p.Aspect.H) / float64(p.Aspect.W)))
	}
	if p.Size == 0 || p.Size >= photoW {
		return photoW, photoH
	}
	return p.Size, int(math.Round(float64(photoH) * float64(p.Size) / float64(photoW)))
}

// runRoles does what the roles do for one photo, minus MinIO: each role
// opens the original (they are separate processes), then renders its
// presets in all of their formats with imaging.RenderSet, as the roles do.
func (s *derivSetup) runRoles(ctx context.Context, outs []output) (map[string][]imaging.Result, error) {
	res := map[string][]imaging.Result{}
	byRole := map[string][]output{}
	var roles []string
	for _, o := range outs {
		if byRole[o.role] == nil {
			roles = append(roles, o.role)
		}
		byRole[o.role] = append(byRole[o.role], o)
	}
	for _, role := range roles {
		src, err := imaging.Open(s.data, s.limits)
		if err != nil {
			return nil, err
		}
		opts := imaging.Options{AVIFEffort: s.cfg.AVIFEffort, WebPEffort: s.cfg.WebPEffort}
		var jobs []imaging.Job
		names := map[string]string{} // preset -> output name
		for _, o := range byRole[role] {
			if o.marked {
				opts.Mark = s.mark
			}
			jobs = append(jobs, imaging.Job{Preset: o.preset, Formats: o.preset.Formats})
			names[o.preset.Name] = o.name
		}
		err = imaging.RenderSet(ctx, src, jobs, opts, func(j imaging.Job, r []imaging.Result) error {
			res[names[j.Preset.Name]] = r
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", role, err)
		}
	}
	return res, nil
}

// saveOptions are the roles' encoder settings in libvips's filename
// syntax: JPEG progressive with optimised Huffman tables and libvips's
// automatic chroma subsampling (the default) for presets, baseline for the
// full-size copy (as the roles write it); WebP at the roles' effort.
func saveOptions(f imaging.Format, q int, full bool) string {
	switch f {
	case imaging.JPEG:
		if full {
			return fmt.Sprintf("[Q=%d,strip]", q)
		}
		return fmt.Sprintf("[Q=%d,strip,interlace,optimize-coding]", q)
	case imaging.WebP:
		return fmt.Sprintf("[Q=%d,strip,effort=%d]", q, webpEffort)
	}
	return ""
}

// cliCommands are the processes an ops script would run for one output:
// vipsthumbnail per format; for a watermarked preset one vipsthumbnail to
// a .v file, then `vips composite2` per format; for the full-size copy
// `vips composite2` straight from the original.
func (s *derivSetup) cliCommands(o output) ([][]string, error) {
	var cmds [][]string
	out := func(f imaging.Format) string {
		return filepath.Join(s.cliDir, o.name+"."+f.Ext()) + saveOptions(f, o.preset.Quality, o.preset.Size == 0)
	}
	for _, f := range o.preset.Formats {
		if saveOptions(f, 1, false) == "" {
			return nil, fmt.Errorf("%s: no command-line baseline for %s", o.name, f)
		}
	}
	size := fmt.Sprintf("%dx%d", o.preset.Size, o.preset.Size)
	if o.preset.Crop() {
		// A crop: the box, filled, placed by libvips' attention.
		w, h := expectedSize(o.preset)
		if o.marked {
			return nil, fmt.Errorf("%s: a watermarked crop has no baseline here", o.name)
		}
		for _, f := range o.preset.Formats {
			cmds = append(cmds, []string{"vipsthumbnail", s.in, "--size", fmt.Sprintf("%dx%d", w, h), "--smartcrop", "attention", "-o", out(f)})
		}
		return cmds, nil
	}
	if !o.marked {
		if o.preset.Size == 0 {
			return nil, fmt.Errorf("%s: an unmarked full-size preset has no baseline here", o.name)
		}
		for _, f := range o.preset.Formats {
			cmds = append(cmds, []string{"vipsthumbnail", s.in, "--size", size, "-o", out(f)})
		}
		return cmds, nil
	}
	ov := s.overlays[o.name]
	base := s.in
	if o.preset.Size != 0 {
		base = filepath.Join(s.cliDir, o.name+".v")
		cmds = append(cmds, []string{"vipsthumbnail", s.in, "--size", size, "-o", base})
	}
	for _, f := range o.preset.Formats {
		cmds = append(cmds, []string{"vips", "composite2", base, ov.path, out(f), "over",
			"--x", strconv.Itoa(ov.x), "--y", strconv.Itoa(ov.y)})
	}
	return cmds, nil
}

// runCLI runs the commands one after the other and returns the CPU time
// (user+system) the children used.
func runCLI(ctx context.Context, cmds [][]string) (time.Duration, error) {
	var cpu time.Duration
	for _, c := range cmds {
		cmd := exec.CommandContext(ctx, c[0], c[1:]...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		if cmd.ProcessState != nil {
			cpu += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		}
		if err != nil {
			return cpu, fmt.Errorf("%s: %v: %s", strings.Join(c, " "), err, out.Bytes())
		}
	}
	return cpu, nil
}

// cpuSelf is this process's user+system CPU time so far: libvips's worker
// threads run in it.
func cpuSelf(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchRoles times runRoles over outs and checks its last results.
func benchRoles(b *testing.B, s *derivSetup, outs []output) map[string][]imaging.Result {
	ctx := context.Background()
	var res map[string][]imaging.Result
	cpu0 := cpuSelf(b)
	for b.Loop() {
		var err error
		if res, err = s.runRoles(ctx, outs); err != nil {
			b.Fatal(err)
		}
	}
	cpu := cpuSelf(b) - cpu0
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
	for _, o := range outs {
		if len(res[o.name]) != len(o.preset.Formats) {
			b.Fatalf("roles: %s: %d results, want %d", o.name, len(res[o.name]), len(o.preset.Formats))
		}
		for i, r := range res[o.name] {
			checkImage(b, "roles "+o.name+"."+r.Format.Ext(), r.Data, o.preset.Formats[i], o.preset)
		}
	}
	return res
}

// benchCLI times the command-line tools over outs and checks their files.
func benchCLI(b *testing.B, s *derivSetup, outs []output) {
	ctx := context.Background()
	var cmds [][]string
	for _, o := range outs {
		c, err := s.cliCommands(o)
		if err != nil {
			b.Fatal(err)
		}
		cmds = append(cmds, c...)
	}
	for _, o := range outs {
		for _, f := range o.preset.Formats {
			os.Remove(filepath.Join(s.cliDir, o.name+"."+f.Ext()))
		}
	}
	var cpu time.Duration
	for b.Loop() {
		c, err := runCLI(ctx, cmds)
		if err != nil {
			b.Fatal(err)
		}
		cpu += c
	}
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
	for _, o := range outs {
		for _, f := range o.preset.Formats {
			name := o.name + "." + f.Ext()
			data, err := os.ReadFile(filepath.Join(s.cliDir, name))
			if err != nil {
				b.Fatalf("cli: %v", err)
			}
			checkImage(b, "cli "+name, data, f, o.preset)
		}
	}
}

// checkImage fails unless data decodes (header) as format f at p's size.
func checkImage(b *testing.B, what string, data []byte, f imaging.Format, p imaging.Preset) {
	b.Helper()
	img, err := vips.NewImageFromBuffer(data)
	if err != nil {
		b.Fatalf("%s: %v", what, err)
	}
	defer img.Close()
	want := map[imaging.Format]vips.ImageType{imaging.JPEG: vips.ImageTypeJPEG, imaging.WebP: vips.ImageTypeWEBP}[f]
	w, h := expectedSize(p)
	if img.Format() != want || img.Width() != w || img.Height() != h {
		b.Fatalf("%s: %s %dx%d, want %s %dx%d", what, vips.ImageTypes[img.Format()], img.Width(), img.Height(), f, w, h)
	}
}

// BenchmarkDerivativeSet is the per-photo cost of every derivative of one
// 24 MP JPEG, made by the roles' code and by the libvips CLI.
func BenchmarkDerivativeSet(b *testing.B) {
	s := setupDerivatives(b)
	var roles map[string][]imaging.Result
	b.Run("impl=roles", func(b *testing.B) {
		roles = benchRoles(b, s, s.outputs)
	})
	b.Run("impl=cli", func(b *testing.B) {
		benchCLI(b, s, s.outputs)
	})
	// imgproxy making the nine outputs of impl=roles-nocrops (issue 20).
	b.Run("impl=imgproxy", func(b *testing.B) { benchImgproxy(b, s) })
	// The same set without the crops: impl=roles less this is what the
	// crops (16:9, 1:1, 4:5 in JPEG and WebP) cost per photo.
	b.Run("impl=roles-nocrops", func(b *testing.B) {
		var outs []output
		for _, o := range s.outputs {
			if !o.preset.Crop() {
				outs = append(outs, o)
			}
		}
		benchRoles(b, s, outs)
	})
	b.Run("impl=stamp", func(b *testing.B) {
		if roles == nil {
			var err error
			if roles, err = s.runRoles(context.Background(), s.outputs); err != nil {
				b.Fatal(err)
			}
		}
		benchStamp(b, roles)
	})
	b.Run("impl=sign", func(b *testing.B) {
		if roles == nil {
			var err error
			if roles, err = s.runRoles(context.Background(), s.outputs); err != nil {
				b.Fatal(err)
			}
		}
		benchSign(b, roles)
	})
	if roles != nil {
		checkSameMark(b, s, roles)
	}
}

// benchStamp is the metadata step of the same photo: the assembler
// splicing a published file's metadata into each JPEG and WebP the roles
// made (impl=stamp ÷ impl=roles is its share of the image work).
func benchStamp(b *testing.B, roles map[string][]imaging.Result) {
	m := benchMeta()
	files, formats := published(roles)
	// Stamping is one goroutine with no I/O, so its wall time is its CPU
	// time, read at the clock's resolution rather than rusage's tick; each
	// op stamps the set 20 times, as -benchtime 3x is few for milliseconds.
	const reps = 20
	start := time.Now()
	for b.Loop() {
		for range reps {
			for i, f := range files {
				if _, err := stamp.File(f, formats[i], m); err != nil {
					b.Fatalf("stamp %s: %v", formats[i], err)
				}
			}
		}
	}
	b.ReportMetric(time.Since(start).Seconds()/reps/float64(b.N), "cpu-s/op")
}

// benchSign is the Content Credentials step of the same photo: signing
// each stamped JPEG and WebP (ES256, a two-certificate chain) as the
// assembler does, per set (cpu-s/op, against impl=roles) and per file
// (sign-ms/file), and the bytes the manifest adds to a file.
func benchSign(b *testing.B, roles map[string][]imaging.Result) {
	d, err := c2pa.DevIdentity(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	signer, err := c2pa.LoadSigner(d.Key, d.Chain, "photodesk", "bench")
	if err != nil {
		b.Fatal(err)
	}
	m := benchMeta()
	files, formats := published(roles)
	var added int
	for i, f := range files {
		if files[i], err = stamp.File(f, formats[i], m); err != nil {
			b.Fatal(err)
		}
	}
	w := c2pa.Work{Authors: m.Rights.Creator, Publisher: "工人日报社", Copyright: m.Rights.CopyrightNotice, Caption: m.Caption,
		Actions: []c2pa.Action{{Action: "c2pa.resized"}, {Action: "c2pa.edited.metadata"}, {Action: "c2pa.published"}},
		Parent:  c2pa.Parent{Title: "original.jpg", Format: "image/jpeg", SHA256: make([]byte, 32)}}
	const reps = 20
	start := time.Now()
	for b.Loop() {
		for range reps {
			added = 0
			for i, f := range files {
				w.Title, w.Format = "file."+formats[i], "image/"+formats[i]
				out, err := signer.Sign(b.Context(), f, formats[i], w)
				if err != nil {
					b.Fatalf("sign %s: %v", formats[i], err)
				}
				added += len(out) - len(f)
			}
		}
	}
	per := time.Since(start).Seconds() / reps / float64(b.N)
	b.ReportMetric(per, "cpu-s/op")
	b.ReportMetric(per*1000/float64(len(files)), "sign-ms/file")
	b.ReportMetric(float64(added)/float64(len(files)), "added-B/file")
}

// published are the JPEGs and WebPs of a set: the files the assembler
// stamps and signs.
func published(roles map[string][]imaging.Result) (files [][]byte, formats []string) {
	for _, rs := range roles {
		for _, r := range rs {
			if r.Format == imaging.JPEG || r.Format == imaging.WebP {
				files, formats = append(files, r.Data), append(formats, string(r.Format))
			}
		}
	}
	return files, formats
}

// benchMeta is a published photo's metadata, the seed article's.
func benchMeta() stamp.Metadata {
	taken := time.Date(2026, 7, 28, 9, 12, 0, 0, time.FixedZone("", 8*3600))
	return stamp.Metadata{
		Rights: contract.Rights{Creator: contract.Names{"杨登峰", "郑莉"}, Credit: "工人日报", Source: "工人日报",
			CopyrightNotice: "© 2026 工人日报社", CopyrightHolder: "工人日报社", UsageTerms: "版权归工人日报所有，未经授权不得转载。",
			WebStatement: "https://example.org/rights", Licensor: &contract.Licensor{Name: "工人日报图片部", URL: "https://example.org/licence"},
			Keywords: []string{"大国工匠", "展会"}, Location: &contract.Location{City: "北京", ProvinceState: "北京", Country: "中国", CountryCode: "CN"},
			AltText: "观众在展台前观看展品"},
		Headline: "高清大图|第二届大国工匠创新交流大会暨大国工匠论坛精彩瞬间",
		Caption:  "7月28日,观众在中华全国总工会展台前仔细观看展品,了解相关创新成果。此次大会涵盖展览和论坛活动,展览面积18834平方米,设置6大展示交流区,共展出职工创新成果1200多件。",
		Created:  &taken,
	}
}

// checkSameMark makes sure the baseline did the same work: its watermarked
// large JPEG matches the role's, and both differ from the unmarked large
// where the mark is.
func checkSameMark(b *testing.B, s *derivSetup, roles map[string][]imaging.Result) {
	b.Helper()
	const name = "large.wm"
	ov, ok := s.overlays[name]
	if !ok || len(roles[name]) == 0 || len(roles["large"]) == 0 {
		return // not the default presets
	}
	cliData, err := os.ReadFile(filepath.Join(s.cliDir, name+".jpg"))
	if err != nil {
		return // the cli run did not happen (filtered out)
	}
	dec := func(what string, data []byte) image.Image {
		img, err := jpeg.Decode(bytes.NewReader(data))
		if err != nil {
			b.Fatalf("decode %s: %v", what, err)
		}
		return img
	}
	rolesWM, cliWM, plain := dec("roles large.wm", roles[name][0].Data), dec("cli large.wm", cliData), dec("roles large", roles["large"][0].Data)
	box := image.Rect(ov.x, ov.y, ov.x+ov.w, ov.y+ov.h)
	if d := meanAbsDiff(rolesWM, cliWM, rolesWM.Bounds()); d > 1 {
		b.Fatalf("the roles' and the CLI's watermarked large differ by %.2f levels on average; the baseline is not doing the same work", d)
	}
	if d := meanAbsDiff(rolesWM, plain, box); d < 5 {
		b.Fatalf("no watermark where it should be (%v): the marked large differs from the plain one by %.2f levels there", box, d)
	}
}

func meanAbsDiff(a, c image.Image, r image.Rectangle) float64 {
	var sum, n float64
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			r1, g1, b1, _ := a.At(x, y).RGBA()
			r2, g2, b2, _ := c.At(x, y).RGBA()
			sum += math.Abs(float64(r1)-float64(r2)) + math.Abs(float64(g1)-float64(g2)) + math.Abs(float64(b1)-float64(b2))
			n += 3
		}
	}
	return sum / n / 257
}

// BenchmarkDerivativeBreakdown is BenchmarkDerivativeSet one output at a
// time (for roles: open the original, render that preset in its formats).
// It is for looking into where the time goes, so it runs only with
// PHOTODESK_BENCH_BREAKDOWN=1.
func BenchmarkDerivativeBreakdown(b *testing.B) {
	if os.Getenv("PHOTODESK_BENCH_BREAKDOWN") != "1" {
		b.Skip("set PHOTODESK_BENCH_BREAKDOWN=1 to time each output on its own")
	}
	s := setupDerivatives(b)
	for _, o := range s.outputs {
		outs := []output{o}
		b.Run("output="+o.name+"/impl=roles", func(b *testing.B) { benchRoles(b, s, outs) })
		b.Run("output="+o.name+"/impl=cli", func(b *testing.B) { benchCLI(b, s, outs) })
	}
}
