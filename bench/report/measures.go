package main

import "strconv"

// measures is the report's table, one row each, in the order printed. To
// report a new benchmark, add a line here: Bench is the benchmark's name
// without the -GOMAXPROCS suffix go test appends, Unit the unit as
// benchfmt tidies it (ns/op becomes sec/op; custom units such as cpu-s/op
// stay as the benchmark reported them).
var measures = []measure{
	// Issue 3: the image roles against the libvips CLI an ops script would
	// run, per photo, side by side in the same `make bench`.
	{Label: "Per-photo CPU, derivative set: roles vs CLI", Short: "CPU per photo, roles/CLI",
		Bench: "BenchmarkDerivativeSet/impl=roles", Baseline: "BenchmarkDerivativeSet/impl=cli",
		Unit: "cpu-s/op", Show: "s", Target: atMost(0.70)},
	{Label: "Per-photo wall time, derivative set: roles vs CLI", Short: "wall time per photo, roles/CLI",
		Bench: "BenchmarkDerivativeSet/impl=roles", Baseline: "BenchmarkDerivativeSet/impl=cli",
		Unit: "sec/op", Show: "s", Target: atMost(0.70)},
	// Issue 18: the crops for every slot (16:9, 1:1, 4:5, JPEG and WebP),
	// made from the kept decode of the larger presets: the set with them
	// against the set without; the difference is their cost per photo.
	{Label: "Per-photo CPU, derivative set with the crops vs without", Short: "CPU with crops/without",
		Bench: "BenchmarkDerivativeSet/impl=roles", Baseline: "BenchmarkDerivativeSet/impl=roles-nocrops",
		Unit: "cpu-s/op", Show: "s"},
	// Issue 16: splicing the published files' metadata (IPTC, XMP, EXIF)
	// into every JPEG and WebP of the set, against rendering them.
	{Label: "Per-photo CPU, metadata step vs the derivative set's render", Short: "metadata CPU/render",
		Bench: "BenchmarkDerivativeSet/impl=stamp", Baseline: "BenchmarkDerivativeSet/impl=roles",
		Unit: "cpu-s/op", Show: "s", Target: under(0.02)},
	// Issue 17: signing every published JPEG and WebP with Content
	// Credentials (C2PA), against rendering them, per file, and its size.
	{Label: "Per-photo CPU, signing (C2PA) vs the derivative set's render", Short: "signing CPU/render",
		Bench: "BenchmarkDerivativeSet/impl=sign", Baseline: "BenchmarkDerivativeSet/impl=roles",
		Unit: "cpu-s/op", Show: "s", Target: atMost(0.03)},
	{Label: "Signing CPU per published file (C2PA)", Short: "signing ms/file",
		Bench: "BenchmarkDerivativeSet/impl=sign", Unit: "sign-ms/file", Show: "ms", Target: atMost(5)},
	{Label: "Bytes a C2PA manifest adds to a published file",
		Bench: "BenchmarkDerivativeSet/impl=sign", Unit: "added-B/file", Show: "B"},

	// Through the API (and `photodesk upload`), each stored file's event
	// is published at once; plain S3 PUTs wait for MinIO's notification.
	{Label: "End to end, 30 × 24 MP gallery via the API, first PUT to article.ready", Short: "end to end, 30 × 24 MP",
		Bench: "BenchmarkEndToEnd/photos=30/upload=api/bin=head", Unit: "sec/op", Show: "s", Target: atMost(12)},
	{Label: "End to end, 30 × 24 MP gallery via the API: CPU floor",
		Bench: "BenchmarkEndToEnd/photos=30/upload=api/bin=head", Unit: "floor-s", Show: "s"},
	{Label: "End to end, 30 × 24 MP gallery as plain S3 PUTs",
		Bench: "BenchmarkEndToEnd/photos=30/upload=s3/bin=head", Unit: "sec/op", Show: "s"},

	{Label: "Pipeline throughput, 1000 photos", Short: "pipeline photos/s",
		Bench: "BenchmarkPipeline/photos=1000/bin=head", Unit: "photos/s", Show: "photos/s", Target: atLeast(500)},
	{Label: "Pipeline latency p50", Bench: "BenchmarkPipeline/photos=1000/bin=head", Unit: "p50-ms", Show: "ms"},
	{Label: "Pipeline latency p99", Bench: "BenchmarkPipeline/photos=1000/bin=head", Unit: "p99-ms", Show: "ms"},
	{Label: "Pipeline overhead p50", Bench: "BenchmarkPipeline/photos=1000/bin=head", Unit: "overhead-p50-ms", Show: "ms"},
	{Label: "Pipeline overhead p99", Short: "pipeline overhead p99",
		Bench: "BenchmarkPipeline/photos=1000/bin=head", Unit: "overhead-p99-ms", Show: "ms", Target: under(50)},
	{Label: "Pipeline queue wait p99", Bench: "BenchmarkPipeline/photos=1000/bin=head", Unit: "wait-p99-ms", Show: "ms"},

	{Label: "Worker peak RSS, renditions", Short: "peak RSS, renditions",
		Bench: "BenchmarkWorkerPeakRSS/role=renditions/bin=head", Unit: "peak-MiB", Show: "MiB", Target: under(250)},
	{Label: "Worker peak RSS, watermark", Short: "peak RSS, watermark",
		Bench: "BenchmarkWorkerPeakRSS/role=watermark/bin=head", Unit: "peak-MiB", Show: "MiB", Target: under(250)},

	// Issue 20: each figure against the baseline commit (`make bench
	// BASELINE=f3de3da`: bin=base, run beside bin=head in every round,
	// ratios paired by round) or against imgproxy; the table, in
	// its order, each row with its target whether met yet or not.
	{Label: "Issue 20: CPU per 24 MP photo end to end via the API (dev + MinIO), head vs baseline", Short: "e2e CPU/photo, head/base",
		Bench: e2eAPI + "/bin=head", Baseline: e2eAPI + "/bin=base", Paired: true,
		Unit: "cpu-s/photo", Show: "s", Target: atMost(0.67)},
	{Label: "Issue 20: end-to-end time, 30 × 24 MP gallery via the API, head vs baseline", Short: "e2e time, head/base",
		Bench: e2eAPI + "/bin=head", Baseline: e2eAPI + "/bin=base", Paired: true,
		Unit: "sec/op", Show: "s", Target: atMost(0.7)},
	{Label: "Issue 20: the same, one process per role, head vs baseline in that shape", Short: "e2e time, procs, head/base",
		Bench: e2eProcs + "/bin=head", Baseline: e2eProcs + "/bin=base", Paired: true,
		Unit: "sec/op", Show: "s", Target: atMost(0.67)},
	{Label: "Issue 20: CPU per 24 MP photo, one process per role, head vs baseline",
		Bench: e2eProcs + "/bin=head", Baseline: e2eProcs + "/bin=base", Paired: true,
		Unit: "cpu-s/photo", Show: "s"},
	{Label: "Issue 20: orchestration CPU per small photo ÷ its image CPU (scale-out, 1 process per role)", Short: "orchestration/image CPU",
		Bench: "BenchmarkScaleOut/procs=1/bin=head", Unit: "orch/image", Show: "×", Target: atMost(0.15)},
	{Label: "Issue 20: assembler CPU per photo, 3 processes vs 1", Short: "assembler CPU, 3/1 procs",
		Bench: "BenchmarkScaleOut/procs=3/bin=head", Baseline: "BenchmarkScaleOut/procs=1/bin=head", Paired: true,
		Unit: "cpu-ms/photo-assembler", Show: "ms", Target: atMost(1.1)},
	{Label: "Issue 20: derivative set CPU (nine outputs), roles vs imgproxy", Short: "set CPU, roles/imgproxy",
		Bench: "BenchmarkDerivativeSet/impl=roles-nocrops", Baseline: "BenchmarkDerivativeSet/impl=imgproxy", Paired: true,
		Unit: "cpu-s/op", Show: "s", Target: atMost(0.7)},
	{Label: "Issue 20: derivative set wall time (nine outputs), roles vs imgproxy",
		Bench: "BenchmarkDerivativeSet/impl=roles-nocrops", Baseline: "BenchmarkDerivativeSet/impl=imgproxy", Paired: true,
		Unit: "sec/op", Show: "s"},
	{Label: "Issue 20: worker peak RSS (watermark, --concurrency 2) vs imgproxy's peak on the set", Short: "peak RSS, watermark/imgproxy",
		Bench: "BenchmarkWorkerPeakRSS/role=watermark/bin=head", Baseline: "BenchmarkDerivativeSet/impl=imgproxy", Paired: true,
		Unit: "peak-MiB", Show: "MiB", Target: atMost(0.7)},
	{Label: "Issue 20: worker peak RSS (renditions, --concurrency 2) vs imgproxy's peak on the set", Short: "peak RSS, renditions/imgproxy",
		Bench: "BenchmarkWorkerPeakRSS/role=renditions/bin=head", Baseline: "BenchmarkDerivativeSet/impl=imgproxy", Paired: true,
		Unit: "peak-MiB", Show: "MiB", Target: atMost(0.7)},
	{Label: "Issue 20: worker peak RSS (watermark), head vs baseline", Short: "peak RSS, watermark, head/base",
		Bench: "BenchmarkWorkerPeakRSS/role=watermark/bin=head", Baseline: "BenchmarkWorkerPeakRSS/role=watermark/bin=base", Paired: true,
		Unit: "peak-MiB", Show: "MiB", Target: atMost(1)},
	{Label: "Issue 20: worker peak RSS (renditions), head vs baseline", Short: "peak RSS, renditions, head/base",
		Bench: "BenchmarkWorkerPeakRSS/role=renditions/bin=head", Baseline: "BenchmarkWorkerPeakRSS/role=renditions/bin=base", Paired: true,
		Unit: "peak-MiB", Show: "MiB", Target: atMost(1)},

	// Scale-out has no target: the speed-up over one process is the news.
	{Label: "Scale-out, 1 process", Short: "1 process",
		Bench: "BenchmarkScaleOut/procs=1/bin=head", SpeedupOver: "BenchmarkScaleOut/procs=1/bin=head", Unit: "photos/s", Show: "photos/s"},
	{Label: "Scale-out, 2 processes", Short: "2 processes",
		Bench: "BenchmarkScaleOut/procs=2/bin=head", SpeedupOver: "BenchmarkScaleOut/procs=1/bin=head", Unit: "photos/s", Show: "photos/s"},
	{Label: "Scale-out, 3 processes", Short: "3 processes",
		Bench: "BenchmarkScaleOut/procs=3/bin=head", SpeedupOver: "BenchmarkScaleOut/procs=1/bin=head", Unit: "photos/s", Show: "photos/s"},
}

// The end-to-end benchmarks the issue 20 rows compare.
const (
	e2eAPI   = "BenchmarkEndToEnd/photos=30/upload=api"
	e2eProcs = "BenchmarkEndToEnd/photos=30/shape=procs"
)

// A measure is one row of the report.
type measure struct {
	Label string // the table's first column
	// Short labels the measure's bar in the chart; rows with a target
	// go into the target panel, rows with SpeedupOver into the
	// scale-out panel.
	Short string
	Bench string // benchmark name, "Benchmark…", without -GOMAXPROCS
	Unit  string // unit after benchfmt's tidying
	Show  string // unit printed after the numbers
	// Baseline is a benchmark run side by side with Bench: the row
	// shows both medians, and Target applies to the ratio of the
	// medians Bench/Baseline.
	Baseline string
	// Paired: Bench and Baseline ran side by side in rounds (`make
	// bench` runs every benchmark once per round), so the i-th result of
	// each is a pair; the ratio is the median of the pairs' ratios, with
	// its 95% interval. Where the counts differ it falls back to the
	// ratio of the medians.
	Paired bool
	// SpeedupOver is a benchmark whose median divides this one's, shown
	// as a speed-up (information, no target).
	SpeedupOver string
	Target      target // zero: information only
}

type op int

const (
	info      op = iota // no target
	atMostOp            // value ≤ target
	underOp             // value < target
	atLeastOp           // value ≥ target
)

type target struct {
	Op    op
	Value float64
}

func atMost(v float64) target  { return target{atMostOp, v} }
func under(v float64) target   { return target{underOp, v} }
func atLeast(v float64) target { return target{atLeastOp, v} }

// meets reports whether v satisfies the target.
func (t target) meets(v float64) bool {
	switch t.Op {
	case atMostOp:
		return v <= t.Value
	case underOp:
		return v < t.Value
	case atLeastOp:
		return v >= t.Value
	}
	return true
}

// number is the target as written in measures (0.7, 12, 500).
func (t target) number() string { return strconv.FormatFloat(t.Value, 'f', -1, 64) }

func (t target) symbol() string {
	switch t.Op {
	case atMostOp:
		return "≤"
	case underOp:
		return "<"
	case atLeastOp:
		return "≥"
	}
	return ""
}
