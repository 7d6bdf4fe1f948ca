package main

import (
	"bytes"
	"fmt"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// synthetic is benchmark output shaped like `make bench`'s: config lines,
// the -2 GOMAXPROCS suffix, several runs each, log noise and the closing
// lines. Middle values repeat so that the medians are exact. Watermark's
// peak RSS is absent (→ not run) and renditions' has only 3 runs (too few
// for a finite 95% interval).
const synthetic = `goos: linux
goarch: amd64
pkg: github.com/photodesk/photodesk/bench
cpu: Test CPU @ 3.00GHz
BenchmarkDerivativeSet/impl=roles-2   3  1900000000 ns/op  1.55 cpu-s/op
BenchmarkDerivativeSet/impl=roles-2   3  1850000000 ns/op  1.60 cpu-s/op
BenchmarkDerivativeSet/impl=roles-2   3  1900000000 ns/op  1.60 cpu-s/op
BenchmarkDerivativeSet/impl=roles-2   3  1950000000 ns/op  1.58 cpu-s/op
BenchmarkDerivativeSet/impl=roles-2   3  1800000000 ns/op  1.63 cpu-s/op
BenchmarkDerivativeSet/impl=roles-2   3  2000000000 ns/op  1.70 cpu-s/op
BenchmarkDerivativeSet/impl=cli-2     3  2500000000 ns/op  2.50 cpu-s/op
BenchmarkDerivativeSet/impl=cli-2     3  2400000000 ns/op  2.40 cpu-s/op
BenchmarkDerivativeSet/impl=cli-2     3  2500000000 ns/op  2.50 cpu-s/op
BenchmarkDerivativeSet/impl=cli-2     3  2600000000 ns/op  2.55 cpu-s/op
BenchmarkDerivativeSet/impl=cli-2     3  2450000000 ns/op  2.45 cpu-s/op
BenchmarkDerivativeSet/impl=cli-2     3  2550000000 ns/op  2.60 cpu-s/op
2026/01/02 10:00:00 INFO some log line the benchmark printed
BenchmarkEndToEnd/photos=30/upload=api/bin=head-2   1  10500000000 ns/op  6.2 floor-s
BenchmarkEndToEnd/photos=30/upload=api/bin=head-2   1  10000000000 ns/op  6.1 floor-s
BenchmarkEndToEnd/photos=30/upload=api/bin=head-2   1  10500000000 ns/op  6.2 floor-s
BenchmarkEndToEnd/photos=30/upload=api/bin=head-2   1  11000000000 ns/op  6.3 floor-s
BenchmarkEndToEnd/photos=30/upload=api/bin=head-2   1  9800000000 ns/op   6.0 floor-s
BenchmarkEndToEnd/photos=30/upload=api/bin=head-2   1  11200000000 ns/op  6.4 floor-s
BenchmarkPipeline/photos=1000/bin=head-2  1  2000000000 ns/op  470 photos/s  20 p50-ms  80 p99-ms  2 overhead-p50-ms  12 overhead-p99-ms  40 wait-p99-ms
BenchmarkPipeline/photos=1000/bin=head-2  1  2000000000 ns/op  480 photos/s  21 p50-ms  82 p99-ms  2 overhead-p50-ms  12 overhead-p99-ms  41 wait-p99-ms
BenchmarkPipeline/photos=1000/bin=head-2  1  2000000000 ns/op  480 photos/s  21 p50-ms  82 p99-ms  2 overhead-p50-ms  12 overhead-p99-ms  41 wait-p99-ms
BenchmarkPipeline/photos=1000/bin=head-2  1  2000000000 ns/op  490 photos/s  22 p50-ms  85 p99-ms  3 overhead-p50-ms  14 overhead-p99-ms  42 wait-p99-ms
BenchmarkPipeline/photos=1000/bin=head-2  1  2000000000 ns/op  460 photos/s  19 p50-ms  79 p99-ms  2 overhead-p50-ms  11 overhead-p99-ms  39 wait-p99-ms
BenchmarkPipeline/photos=1000/bin=head-2  1  2000000000 ns/op  495 photos/s  23 p50-ms  90 p99-ms  3 overhead-p50-ms  15 overhead-p99-ms  45 wait-p99-ms
BenchmarkWorkerPeakRSS/role=renditions/bin=head-2  3  4900000000 ns/op  180 peak-MiB  1.2 photos/s
BenchmarkWorkerPeakRSS/role=renditions/bin=head-2  3  4900000000 ns/op  200 peak-MiB  1.2 photos/s
BenchmarkWorkerPeakRSS/role=renditions/bin=head-2  3  4900000000 ns/op  220 peak-MiB  1.2 photos/s
BenchmarkScaleOut/procs=1/bin=head-2  1  1000000000 ns/op  100 photos/s
BenchmarkScaleOut/procs=1/bin=head-2  1  1000000000 ns/op   98 photos/s
BenchmarkScaleOut/procs=1/bin=head-2  1  1000000000 ns/op  100 photos/s
BenchmarkScaleOut/procs=1/bin=head-2  1  1000000000 ns/op  102 photos/s
BenchmarkScaleOut/procs=1/bin=head-2  1  1000000000 ns/op   97 photos/s
BenchmarkScaleOut/procs=1/bin=head-2  1  1000000000 ns/op  104 photos/s
BenchmarkScaleOut/procs=2/bin=head-2  1  1000000000 ns/op  185 photos/s
BenchmarkScaleOut/procs=2/bin=head-2  1  1000000000 ns/op  180 photos/s
BenchmarkScaleOut/procs=2/bin=head-2  1  1000000000 ns/op  185 photos/s
BenchmarkScaleOut/procs=2/bin=head-2  1  1000000000 ns/op  190 photos/s
BenchmarkScaleOut/procs=2/bin=head-2  1  1000000000 ns/op  178 photos/s
BenchmarkScaleOut/procs=2/bin=head-2  1  1000000000 ns/op  192 photos/s
BenchmarkScaleOut/procs=3/bin=head-2  1  1000000000 ns/op  250 photos/s
BenchmarkScaleOut/procs=3/bin=head-2  1  1000000000 ns/op  245 photos/s
BenchmarkScaleOut/procs=3/bin=head-2  1  1000000000 ns/op  250 photos/s
BenchmarkScaleOut/procs=3/bin=head-2  1  1000000000 ns/op  255 photos/s
BenchmarkScaleOut/procs=3/bin=head-2  1  1000000000 ns/op  240 photos/s
BenchmarkScaleOut/procs=3/bin=head-2  1  1000000000 ns/op  260 photos/s
PASS
ok  	github.com/photodesk/photodesk/bench	123.456s
`

func parseSynthetic(t *testing.T) (*results, []row) {
	t.Helper()
	res, err := parse(strings.NewReader(synthetic), "synthetic.txt")
	if err != nil {
		t.Fatal(err)
	}
	return res, evaluate(res, measures)
}

// rowFor finds the row of a measure by its label.
func rowFor(t *testing.T, rows []row, label string) row {
	t.Helper()
	for _, r := range rows {
		if r.Label == label {
			return r
		}
	}
	t.Fatalf("no row %q", label)
	return row{}
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

func TestParseDropsGOMAXPROCSAndTidiesNsOp(t *testing.T) {
	res, _ := parseSynthetic(t)
	got := res.values["BenchmarkDerivativeSet/impl=roles"]
	if len(got["cpu-s/op"]) != 6 || len(got["sec/op"]) != 6 {
		t.Fatalf("roles: got %d cpu-s/op and %d sec/op values, want 6 each (units %v)",
			len(got["cpu-s/op"]), len(got["sec/op"]), got)
	}
	if !near(got["sec/op"][0], 1.9) {
		t.Errorf("first roles sec/op = %v, want 1.9 (ns/op tidied to seconds)", got["sec/op"][0])
	}
	if _, ok := res.values["BenchmarkDerivativeSet/impl=roles-2"]; ok {
		t.Error("benchmark name kept its -2 GOMAXPROCS suffix")
	}
	if res.runs["BenchmarkWorkerPeakRSS/role=renditions/bin=head"] != 3 || res.runs["BenchmarkScaleOut/procs=2/bin=head"] != 6 {
		t.Errorf("runs = %v", res.runs)
	}
	if want := "Test CPU @ 3.00GHz, linux/amd64, GOMAXPROCS 2"; machine(res) != want {
		t.Errorf("machine = %q, want %q", machine(res), want)
	}
}

func TestSplitNameKeepsDigitsOfTheLastPart(t *testing.T) {
	for in, want := range map[string][2]string{
		"ScaleOut/procs=2-2":  {"BenchmarkScaleOut/procs=2", "2"},
		"ScaleOut/procs=2":    {"BenchmarkScaleOut/procs=2", ""}, // GOMAXPROCS 1 has no suffix
		"EndToEnd/photos=30":  {"BenchmarkEndToEnd/photos=30", ""},
		"Plain-16":            {"BenchmarkPlain", "16"},
		"DerivativeSet/a=b-c": {"BenchmarkDerivativeSet/a=b-c", ""},
	} {
		name, procs := splitName([]byte(in))
		if name != want[0] || procs != want[1] {
			t.Errorf("splitName(%q) = %q, %q; want %q, %q", in, name, procs, want[0], want[1])
		}
	}
}

func TestMediansRatiosAndVerdicts(t *testing.T) {
	_, rows := parseSynthetic(t)

	cpu := rowFor(t, rows, "Per-photo CPU, derivative set: roles vs CLI")
	if !near(cpu.own.Center, 1.60) || !near(cpu.base.Center, 2.50) {
		t.Errorf("cpu medians roles %v cli %v, want 1.60 and 2.50", cpu.own.Center, cpu.base.Center)
	}
	if !near(cpu.ratio, 0.64) || !cpu.ran || !cpu.meets {
		t.Errorf("cpu ratio %v ran %v meets %v, want 0.64 meeting ≤ 0.70", cpu.ratio, cpu.ran, cpu.meets)
	}
	// With 6 runs the 95% interval of the median is the sample's range.
	if !near(cpu.own.Lo, 1.55) || !near(cpu.own.Hi, 1.70) {
		t.Errorf("roles cpu CI [%v, %v], want [1.55, 1.70]", cpu.own.Lo, cpu.own.Hi)
	}

	wall := rowFor(t, rows, "Per-photo wall time, derivative set: roles vs CLI")
	if !near(wall.own.Center, 1.9) || !near(wall.base.Center, 2.5) || !near(wall.ratio, 0.76) || wall.meets {
		t.Errorf("wall: roles %v cli %v ratio %v meets %v; want 1.9, 2.5, 0.76, misses",
			wall.own.Center, wall.base.Center, wall.ratio, wall.meets)
	}

	e2e := rowFor(t, rows, "End to end, 30 × 24 MP gallery via the API, first PUT to article.ready")
	if !near(e2e.own.Center, 10.5) || !e2e.meets || e2e.spans {
		t.Errorf("e2e: median %v meets %v spans %v; want 10.5 s meeting ≤ 12 s, CI clear of it", e2e.own.Center, e2e.meets, e2e.spans)
	}
	floor := rowFor(t, rows, "End to end, 30 × 24 MP gallery via the API: CPU floor")
	if !near(floor.own.Center, 6.2) {
		t.Errorf("floor median %v, want 6.2", floor.own.Center)
	}

	tput := rowFor(t, rows, "Pipeline throughput, 1000 photos")
	if !near(tput.own.Center, 480) || tput.meets {
		t.Errorf("pipeline: median %v meets %v; want 480 missing ≥ 500", tput.own.Center, tput.meets)
	}
	if r := rowFor(t, rows, "Pipeline overhead p99"); !near(r.own.Center, 12) || !r.meets {
		t.Errorf("overhead p99: median %v meets %v; want 12 ms meeting < 50", r.own.Center, r.meets)
	}

	rss := rowFor(t, rows, "Worker peak RSS, renditions")
	if !near(rss.own.Center, 200) || !rss.meets {
		t.Errorf("rss: median %v meets %v; want 200 meeting < 250", rss.own.Center, rss.meets)
	}
	if !math.IsInf(rss.own.Hi, 1) || !rss.spans {
		t.Errorf("rss with 3 runs: CI hi %v spans %v; want +Inf and spanning", rss.own.Hi, rss.spans)
	}
	if rowFor(t, rows, "Worker peak RSS, watermark").ran {
		t.Error("watermark RSS is absent from the input but its row ran")
	}

	so3 := rowFor(t, rows, "Scale-out, 3 processes")
	if !near(so3.own.Center, 250) || !near(so3.ratio, 2.5) {
		t.Errorf("scale-out 3: median %v speed-up %v; want 250 and 2.5", so3.own.Center, so3.ratio)
	}
}

func TestMarkdownTable(t *testing.T) {
	res, rows := parseSynthetic(t)
	md := markdown(res, rows)
	lines := strings.Split(md, "\n")
	if len(lines) < len(measures)+2 {
		t.Fatalf("markdown has %d lines:\n%s", len(lines), md)
	}
	for i, m := range measures {
		if !strings.HasPrefix(lines[i+2], "| "+m.Label+" |") {
			t.Errorf("table line %d = %q, want the row of %q", i+2, lines[i+2], m.Label)
		}
	}
	for _, want := range []string{
		"| Per-photo CPU, derivative set: roles vs CLI | roles 1.60 s ±6% · cli 2.50 s ±4% | roles/cli ≤ 0.7 | 0.64 · meets |",
		"| Per-photo wall time, derivative set: roles vs CLI | roles 1.90 s ±5% · cli 2.50 s ±4% | roles/cli ≤ 0.7 | 0.76 · **misses** |",
		"| End to end, 30 × 24 MP gallery via the API, first PUT to article.ready | 10.5 s ±7% | ≤ 12 s | meets |",
		"| End to end, 30 × 24 MP gallery via the API: CPU floor | 6.20 s ±3% | — (info) | info |",
		"| Pipeline throughput, 1000 photos | 480 photos/s ±4% | ≥ 500 photos/s | **misses** |",
		"| Worker peak RSS, renditions | 200 MiB ±∞ | < 250 MiB | meets (CI spans target) |",
		"| Worker peak RSS, watermark | — | < 250 MiB | not run |",
		"| Scale-out, 3 processes | 250 photos/s ±4% | — (info) | 2.50× procs=1 · info |",
		"Machine: Test CPU @ 3.00GHz, linux/amd64, GOMAXPROCS 2.",
		"Runs per benchmark (go test -count): DerivativeSet/impl=cli 6, DerivativeSet/impl=roles 6, EndToEnd/photos=30/upload=api/bin=head 6, " +
			"Pipeline/photos=1000/bin=head 6, ScaleOut/procs=1/bin=head 6, ScaleOut/procs=2/bin=head 6, ScaleOut/procs=3/bin=head 6, WorkerPeakRSS/role=renditions/bin=head 3.",
		"computed with golang.org/x/perf/benchmath",
		"need >= 6 samples for confidence interval at level 0.95",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

func TestEmptyInputIsAllNotRun(t *testing.T) {
	res, err := parse(strings.NewReader("PASS\n"), "empty")
	if err != nil {
		t.Fatal(err)
	}
	rows := evaluate(res, measures)
	for _, r := range rows {
		if r.ran || verdictCell(r) != "not run" {
			t.Errorf("%s: ran %v verdict %q, want not run", r.Label, r.ran, verdictCell(r))
		}
	}
	// Side by side with one side missing: the row says which.
	res, err = parse(strings.NewReader("BenchmarkDerivativeSet/impl=roles-2 3 1000 ns/op 1.5 cpu-s/op\n"), "half")
	if err != nil {
		t.Fatal(err)
	}
	cpu := evaluate(res, measures)[0]
	if cpu.ran || medianCell(cpu) != "roles 1.50 s ±∞ · cli not run" {
		t.Errorf("roles without cli: ran %v, median cell %q", cpu.ran, medianCell(cpu))
	}
	if md := markdown(res, evaluate(res, measures)); !strings.Contains(md, "Machine: GOMAXPROCS 2.") {
		t.Errorf("no config lines: want only GOMAXPROCS in the machine line:\n%s", md)
	}
	res, err = parse(strings.NewReader("PASS\n"), "empty")
	if err != nil {
		t.Fatal(err)
	}
	if md := markdown(res, evaluate(res, measures)); !strings.Contains(md, "Machine: unknown") || !strings.Contains(md, "Runs per benchmark (go test -count): none.") {
		t.Errorf("empty input: want an unknown machine and no runs:\n%s", md)
	}
}

const docBefore = `# Performance

Intro text.

<!-- bench:table -->
| old | table |
| --- | --- |
<!-- /bench:table -->

Text after.
`

func TestReplaceBlock(t *testing.T) {
	out, err := replaceBlock([]byte(docBefore), "| new | table |\n| --- | --- |\n")
	if err != nil {
		t.Fatal(err)
	}
	want := `# Performance

Intro text.

<!-- bench:table -->

| new | table |
| --- | --- |

<!-- /bench:table -->

Text after.
`
	if string(out) != want {
		t.Errorf("got:\n%s\nwant:\n%s", out, want)
	}
	// Running it again gives the same document.
	again, err := replaceBlock(out, "| new | table |\n| --- | --- |\n")
	if err != nil || !bytes.Equal(again, out) {
		t.Errorf("second replacement changed the document (err %v):\n%s", err, again)
	}
}

func TestReplaceBlockMissingMarkers(t *testing.T) {
	_, err := replaceBlock([]byte("# Performance\n\nno markers\n"), "x")
	if err == nil || !strings.Contains(err.Error(), startMarker) {
		t.Errorf("no markers: err = %v, want one naming %s", err, startMarker)
	}
	_, err = replaceBlock([]byte("<!-- bench:table -->\nold\n"), "x")
	if err == nil || !strings.Contains(err.Error(), endMarker) {
		t.Errorf("no end marker: err = %v, want one naming %s", err, endMarker)
	}
	// An end marker before the start one doesn't count.
	_, err = replaceBlock([]byte("<!-- /bench:table -->\n<!-- bench:table -->\n"), "x")
	if err == nil {
		t.Error("end marker only before the start marker: no error")
	}
}

// TestRun runs the command as `make bench` will: table on stdout, the doc
// updated in place, the chart written.
func TestRun(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "results.txt")
	doc := filepath.Join(dir, "performance.md")
	chart := filepath.Join(dir, "performance.png")
	if err := os.WriteFile(in, []byte(synthetic), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(doc, []byte(docBefore), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	if err := run([]string{"-doc", doc, "-png", chart, in}, nil, &stdout); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "| Pipeline throughput, 1000 photos | 480 photos/s") {
		t.Errorf("stdout lacks the table:\n%s", stdout.String())
	}

	got, err := os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(got), "<!-- bench:table -->\n\n"+stdout.String()+"\n<!-- /bench:table -->\n\nText after.\n") ||
		strings.Contains(string(got), "| old | table |") || !strings.HasPrefix(string(got), "# Performance\n\nIntro text.\n\n") {
		t.Errorf("doc after -doc:\n%s", got)
	}

	f, err := os.Open(chart)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("chart is not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != chartWidth || b.Dy() != chartHeight {
		t.Errorf("chart is %dx%d, want %dx%d", b.Dx(), b.Dy(), chartWidth, chartHeight)
	}
	// Not blank: the bars are drawn in their colours.
	var meets, misses bool
	for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y; y += 2 {
		for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x += 2 {
			r, g, b, _ := img.At(x, y).RGBA()
			c := [3]uint8{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8)}
			meets = meets || c == [3]uint8{colMeets.R, colMeets.G, colMeets.B}
			misses = misses || c == [3]uint8{colMisses.R, colMisses.G, colMisses.B}
		}
	}
	if !meets || !misses {
		t.Errorf("chart has meets-coloured pixels %v, misses-coloured %v; want both", meets, misses)
	}
}

func TestRunErrors(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "results.txt")
	if err := os.WriteFile(in, []byte(synthetic), 0o644); err != nil {
		t.Fatal(err)
	}
	doc := filepath.Join(dir, "nomarkers.md")
	if err := os.WriteFile(doc, []byte("# Performance\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err := run([]string{"-doc", doc, in}, nil, &out)
	if err == nil || !strings.Contains(err.Error(), doc) || !strings.Contains(err.Error(), startMarker) {
		t.Errorf("doc without markers: err = %v", err)
	}
	if got, _ := os.ReadFile(doc); string(got) != "# Performance\n" {
		t.Errorf("doc without markers was changed: %q", got)
	}
	if err := run([]string{filepath.Join(dir, "missing.txt")}, nil, &out); err == nil {
		t.Error("missing input file: no error")
	}
	if err := run(nil, nil, &out); err == nil {
		t.Error("no input file argument: no error")
	}
	// stdin works too.
	out.Reset()
	if err := run([]string{"-"}, strings.NewReader(synthetic), &out); err != nil || !strings.Contains(out.String(), "480 photos/s") {
		t.Errorf("stdin: err %v, out:\n%s", err, out.String())
	}
}

// TestChartOddValues: zero throughput against a ≥ target, single runs
// (unbounded intervals) and a huge miss still make a chart.
func TestChartOddValues(t *testing.T) {
	const odd = `BenchmarkPipeline/photos=1000/bin=head-2  1  1 ns/op  0 photos/s  900 overhead-p99-ms
BenchmarkWorkerPeakRSS/role=renditions/bin=head-2  1  1 ns/op  4000 peak-MiB
BenchmarkScaleOut/procs=2/bin=head-2  1  1 ns/op  10 photos/s
`
	res, err := parse(strings.NewReader(odd), "odd")
	if err != nil {
		t.Fatal(err)
	}
	rows := evaluate(res, measures)
	if r := rowFor(t, rows, "Pipeline throughput, 1000 photos"); !r.ran || r.meets {
		t.Errorf("0 photos/s: ran %v meets %v, want a miss", r.ran, r.meets)
	}
	if r := rowFor(t, rows, "Scale-out, 2 processes"); verdictCell(r) != "procs=1 not run · info" {
		t.Errorf("scale-out without procs=1: verdict %q", verdictCell(r))
	}
	path := filepath.Join(t.TempDir(), "odd.png")
	if err := writeChart(path, res, rows, 800, 500); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, err := png.DecodeConfig(f)
	if err != nil || cfg.Width != 800 || cfg.Height != 500 {
		t.Errorf("odd chart: %dx%d, err %v; want an 800x500 PNG", cfg.Width, cfg.Height, err)
	}
}

// TestPairedRatios: rows of issue 20 compare head with the baseline
// round by round; the ratio is the median of the rounds' ratios, with its
// interval, and a row whose counts differ falls back to the medians.
func TestPairedRatios(t *testing.T) {
	var in strings.Builder
	// base 10 s every round; head 6, 7, 7, 7, 8, 9 s: per-round ratios
	// 0.6..0.9, median 0.7 (the medians' ratio would be the same here,
	// so the CPU rows below differ).
	for i, head := range []float64{6, 7, 7, 7, 8, 9} {
		fmt.Fprintf(&in, "BenchmarkEndToEnd/photos=30/upload=api/bin=base-2 1 10000000000 ns/op %g cpu-s/photo\n", 1.0+float64(i))
		fmt.Fprintf(&in, "BenchmarkEndToEnd/photos=30/upload=api/bin=head-2 1 %d ns/op %g cpu-s/photo\n", int64(head*1e9), 0.5*(1.0+float64(i)))
	}
	// Unequal counts: 2 base, 1 head.
	in.WriteString("BenchmarkWorkerPeakRSS/role=watermark/bin=base-2 1 1 ns/op 200 peak-MiB\n")
	in.WriteString("BenchmarkWorkerPeakRSS/role=watermark/bin=base-2 1 1 ns/op 100 peak-MiB\n")
	in.WriteString("BenchmarkWorkerPeakRSS/role=watermark/bin=head-2 1 1 ns/op 150 peak-MiB\n")
	res, err := parse(strings.NewReader(in.String()), "paired")
	if err != nil {
		t.Fatal(err)
	}
	rows := evaluate(res, measures)
	tm := rowFor(t, rows, "Issue 20: end-to-end time, 30 × 24 MP gallery via the API, head vs baseline")
	if !tm.pairs.ran || tm.pairs.n != 6 || !near(tm.ratio, 0.7) || !tm.meets {
		t.Errorf("time: pairs %+v ratio %v meets %v, want 6 pairs, 0.7, meeting ≤ 0.7", tm.pairs, tm.ratio, tm.meets)
	}
	// Every round's CPU ratio is 0.5, though the medians differ by round.
	cpu := rowFor(t, rows, "Issue 20: CPU per 24 MP photo end to end via the API (dev + MinIO), head vs baseline")
	if !near(cpu.ratio, 0.5) || !strings.Contains(verdictCell(cpu), "0.50 ±0% (6 pairs)") {
		t.Errorf("cpu: ratio %v, verdict %q, want 0.5 from 6 pairs", cpu.ratio, verdictCell(cpu))
	}
	rss := rowFor(t, rows, "Issue 20: worker peak RSS (watermark), head vs baseline")
	if rss.pairs.ran || !near(rss.ratio, 1) || !rss.meets {
		t.Errorf("rss: pairs %+v ratio %v, want the medians' ratio 150/150", rss.pairs, rss.ratio)
	}
	// Every row of the table is printed, run or not.
	md := markdown(res, rows)
	for _, label := range []string{"Issue 20: the same, one process per role", "Issue 20: derivative set CPU (nine outputs), roles vs imgproxy",
		"Issue 20: orchestration CPU per small photo", "Issue 20: assembler CPU per photo, 3 processes vs 1"} {
		if !strings.Contains(md, "| "+label) {
			t.Errorf("markdown lacks the row %q", label)
		}
	}
}
