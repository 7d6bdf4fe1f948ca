package bench

// BenchmarkScaleOut: throughput with 1, 2 and 3 `photodesk worker`
// processes per role (procs=P: P of each of ingest, exif, renditions,
// watermark and assembler, --concurrency 2 each, sharing each role's
// durable consumer), on small photos so that the image work is not all
// there is. One op uploads 3 galleries of 50 small photos (as
// BenchmarkPipeline's, with a gallery.json each; -short: procs=1 and 2, 3
// galleries of 10) and waits for every result and article.ready. No
// tracing.
//
//   - photos/s: photos / (the op's first S3 event's stream timestamp → its
//     last per-photo completion), as in BenchmarkPipeline.
//   - cpu-ms/photo-<role>: user+system CPU of the role's processes over the
//     op (/proc/<pid>/stat), per photo; cpu-ms/photo-minio is the stack's
//     MinIO child, cpu-ms/photo-nats this process, which runs the NATS
//     server (and the benchmark's own uploads and stream reading).
//
// What it showed (2 cores, with other benchmarks running): 6.9, 7.6 and 7.4
// photos/s at procs=1, 2, 3: more processes do not help, the cores are full.
// CPU-ms per photo: renditions ~75, watermark ~40, MinIO ~36, assembler 22,
// 32, 42 (it grows with processes, and with gallery size: 6 at 10 photos a
// gallery; each event rewrites the gallery's whole state in KV by
// compare-and-set, and assemblers retry each other's conflicts), NATS ~13,
// exif 1.5, ingest 0.5: ~185 ms a photo, at most ~11 photos/s on 2 cores.
// Next bottleneck: renditions' image work, then the assembler's state writes.

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/photodesk/photodesk/internal/imaging"
)

func BenchmarkScaleOut(b *testing.B) {
	procs, galleries, perGallery := []int{1, 2, 3}, 3, 50
	if testing.Short() {
		procs, perGallery = []int{1, 2}, 10
	}
	for _, p := range procs {
		b.Run(fmt.Sprintf("procs=%d", p), func(b *testing.B) {
			runBins(b, func(b *testing.B, bn bin) { benchScaleOut(b, bn, p, galleries, perGallery) })
		})
	}
}

func benchScaleOut(b *testing.B, bn bin, procs, galleries, perGallery int) {
	jpegs := smallPhotos(b)
	// The image work alone, measured first, on a quiet process.
	var image time.Duration
	if bn.name == "head" {
		image = smallImageCPU(b, makesCrops(b, bn))
	}
	s := benchStack(b, bn)
	cfg := s.Config
	minio, err := childPID(os.Getpid(), "minio")
	if err != nil {
		b.Fatal(err)
	}
	fl := startFleet(b, bn, cfg, pipelineRoles, procs)
	js, store := fl.connect(b, cfg, "bench-scaleout")
	exited := fl.exited()
	ctx := context.Background()

	// cpuNow is every role's CPU so far, and MinIO's and this process's.
	cpuNow := func() map[string]time.Duration {
		c, err := fl.cpu()
		if err == nil {
			c["minio"], err = procCPU(minio)
		}
		if err == nil {
			c["nats"], err = procCPU(os.Getpid())
		}
		if err != nil {
			b.Fatalf("CPU times: %v\n%s", err, fl.logs())
		}
		return c
	}
	var (
		photos int
		window time.Duration
		cpu    = map[string]time.Duration{}
		op     int
	)
	for b.Loop() {
		op++
		bt := newBatch(fmt.Sprintf("scale%d", procs), op, galleries, perGallery)
		before := cpuNow()
		r, err := runBatch(ctx, js, store, cfg, bt, jpegs, exited, 10*time.Minute)
		if err != nil {
			b.Fatalf("op %d: %v\n%s", op, err, fl.logs())
		}
		for k, v := range cpuNow() {
			cpu[k] += v - before[k]
		}
		photos += r.photos
		window += r.last.Sub(r.firstS3)
		if testing.Verbose() {
			b.Logf("op %d: %d photos, first S3 event → last completion %s, → last article.ready %s",
				op, r.photos, r.last.Sub(r.firstS3).Round(time.Millisecond), r.lastReady.Sub(r.firstS3).Round(time.Millisecond))
		}
	}
	b.ReportMetric(float64(photos)/window.Seconds(), "photos/s")
	var all time.Duration
	for _, k := range append(pipelineRoles, "minio", "nats") {
		b.ReportMetric(ms(cpu[k])/float64(photos), "cpu-ms/photo-"+k)
		all += cpu[k]
	}
	if image > 0 {
		// Orchestration (issue 20): everything but the image work,
		// against the image work, per photo.
		perPhoto := all / time.Duration(photos)
		b.ReportMetric(ms(image), "image-cpu-ms/photo")
		b.ReportMetric(float64(perPhoto-image)/float64(image), "orch/image")
	}
}

// smallImageCPU is the image roles' own CPU per small photo, in this
// process: what renditions and watermark (dev's defaults, crops if crops)
// do with each small JPEG — open, decode, resize, watermark, encode, each
// role its own decode as separate processes do — without downloads,
// stores, events or bookkeeping. It is the work tree's code, so only
// bin=head reports it (and orch/image).
func smallImageCPU(b *testing.B, crops bool) time.Duration {
	b.Helper()
	cfg := imaging.DefaultConfig()
	if !crops {
		cfg.CropSpec = ""
	}
	if err := cfg.Validate(); err != nil {
		b.Fatal(err)
	}
	mk, err := imaging.NewMark(cfg.Watermark)
	if err != nil {
		b.Fatal(err)
	}
	s := &derivSetup{cfg: cfg, limits: imaging.Limits{MaxPixels: cfg.MaxPixels, MaxBytes: cfg.MaxBytes}, mark: mk}
	for _, p := range cfg.Presets {
		s.outputs = append(s.outputs, output{name: p.Name, role: "renditions", preset: p})
	}
	for _, p := range cfg.Marked() {
		s.outputs = append(s.outputs, output{name: p.Name + ".wm", role: "watermark", preset: p, marked: true})
	}
	jpegs := smallPhotos(b)
	run := func() {
		for _, j := range jpegs {
			s.data = j
			if _, err := s.runRoles(context.Background(), s.outputs); err != nil {
				b.Fatal(err)
			}
		}
	}
	run() // warm: the mark's overlays are cached per size, as in a worker
	passes := 3
	if testing.Short() {
		passes = 1
	}
	cpu0 := cpuSelf(b)
	for range passes {
		run()
	}
	return (cpuSelf(b) - cpu0) / time.Duration(passes*len(jpegs))
}
