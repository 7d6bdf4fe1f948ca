package main

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/perf/benchmath"
)

// confidence is the level of the intervals around the medians.
const confidence = 0.95

// A stat is one benchmark's measurements of one unit, summarized.
type stat struct {
	ran bool
	n   int
	benchmath.Summary
}

// A row is a measure evaluated against the results.
type row struct {
	measure
	own, base stat // base: Baseline or SpeedupOver
	// ratio is own/base of the medians. It has no interval of its
	// own: benchmath has none for a ratio, and bounding it by the two
	// medians' intervals (lowest over highest) is so wide that it
	// would flag every ratio near its target.
	ratio float64
	// pairs summarizes the per-round ratios of a Paired row (ran is
	// false where there are none); ratio is then its median.
	pairs stat
	// ran: every benchmark the verdict needs was in the input.
	ran bool
	// meets is set for rows with a target that ran; spans when the
	// median's interval includes the target, so the verdict could flip
	// on another run.
	meets, spans bool
}

func summarize(res *results, bench, unit string) stat {
	vs := res.values[bench][unit]
	if len(vs) == 0 {
		return stat{}
	}
	// NewSample sorts its argument in place; keep the input's order.
	s := benchmath.NewSample(slices.Clone(vs), &benchmath.DefaultThresholds)
	return stat{ran: true, n: len(vs), Summary: benchmath.AssumeNothing.Summary(s, confidence)}
}

func evaluate(res *results, ms []measure) []row {
	rows := make([]row, 0, len(ms))
	for _, m := range ms {
		r := row{measure: m, own: summarize(res, m.Bench, m.Unit)}
		r.ran = r.own.ran
		other := m.Baseline
		if other == "" {
			other = m.SpeedupOver
		}
		if other != "" {
			r.base = summarize(res, other, m.Unit)
			if r.own.ran && r.base.ran && r.base.Center != 0 {
				r.ratio = r.own.Center / r.base.Center
			}
			if m.Paired {
				r.pairs = pairedRatios(res, m)
				if r.pairs.ran {
					r.ratio = r.pairs.Center
				}
			}
			if m.Baseline != "" {
				r.ran = r.own.ran && r.base.ran && r.base.Center != 0
			}
		}
		if r.ran && m.Target.Op != info {
			if m.Baseline != "" {
				r.meets = m.Target.meets(r.ratio)
				r.spans = r.pairs.ran && finite(r.pairs.Lo) && finite(r.pairs.Hi) &&
					r.pairs.Lo <= m.Target.Value && m.Target.Value <= r.pairs.Hi
			} else {
				r.meets = m.Target.meets(r.own.Center)
				r.spans = r.own.Lo <= m.Target.Value && m.Target.Value <= r.own.Hi
			}
		}
		rows = append(rows, r)
	}
	return rows
}

// pairedRatios summarizes Bench[i]/Baseline[i] over the rounds, when
// both ran the same number of times and no baseline value is 0.
func pairedRatios(res *results, m measure) stat {
	own, base := res.values[m.Bench][m.Unit], res.values[m.Baseline][m.Unit]
	if len(own) == 0 || len(own) != len(base) {
		return stat{}
	}
	ratios := make([]float64, len(own))
	for i := range own {
		if base[i] == 0 {
			return stat{}
		}
		ratios[i] = own[i] / base[i]
	}
	s := benchmath.NewSample(ratios, &benchmath.DefaultThresholds)
	return stat{ran: true, n: len(ratios), Summary: benchmath.AssumeNothing.Summary(s, confidence)}
}

// markdown renders the table and the lines under it.
func markdown(res *results, rows []row) string {
	var b strings.Builder
	b.WriteString("| Measure | Median (95% CI) | Target | Ratio / verdict |\n")
	b.WriteString("| --- | --- | --- | --- |\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", r.Label, medianCell(r), targetCell(r.measure), verdictCell(r))
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "Machine: %s.\n\n", machine(res))
	fmt.Fprintf(&b, "Runs per benchmark (go test -count): %s.\n\n", runsLine(res))
	b.WriteString("Medians and 95% confidence intervals are computed with golang.org/x/perf/benchmath " +
		"(no distribution assumed, as benchstat does); ±x% is the farther end of the interval from the median. " +
		"Ratios are of medians, except where they say \"(n pairs)\": there the benchmarks ran side by side in n rounds, and the ratio is the median of the rounds' ratios, ± its 95% interval. \"CI spans target\": the median's interval includes the target, so another run may flip the verdict.\n")
	if w := warnings(rows); w != "" {
		fmt.Fprintf(&b, "\nNote: %s.\n", w)
	}
	return b.String()
}

func medianCell(r row) string {
	if r.Baseline != "" && (r.own.ran || r.base.ran) {
		return fmt.Sprintf("%s %s · %s %s", shortName(r.Bench), statText(r.own, r.Show),
			shortName(r.Baseline), statText(r.base, r.Show))
	}
	if !r.own.ran {
		return "—"
	}
	return statText(r.own, r.Show)
}

func statText(s stat, show string) string {
	if !s.ran {
		return "not run"
	}
	return fmt.Sprintf("%s %s ±%s", num(s.Center), show, s.PctRangeString())
}

func targetCell(m measure) string {
	if m.Target.Op == info {
		return "— (info)"
	}
	if m.Baseline != "" {
		return fmt.Sprintf("%s/%s %s %s", shortName(m.Bench), shortName(m.Baseline), m.Target.symbol(), m.Target.number())
	}
	return fmt.Sprintf("%s %s %s", m.Target.symbol(), m.Target.number(), m.Show)
}

func verdictCell(r row) string {
	if !r.ran {
		return "not run"
	}
	var parts []string
	switch {
	case r.Baseline != "" && r.pairs.ran:
		parts = append(parts, fmt.Sprintf("%s ±%s (%d pairs)", strconv.FormatFloat(r.ratio, 'f', 2, 64), r.pairs.PctRangeString(), r.pairs.n))
	case r.Baseline != "":
		parts = append(parts, strconv.FormatFloat(r.ratio, 'f', 2, 64))
	case r.SpeedupOver != "" && r.base.ran:
		parts = append(parts, fmt.Sprintf("%.2f× %s", r.ratio, lastPart(r.SpeedupOver)))
	case r.SpeedupOver != "":
		parts = append(parts, lastPart(r.SpeedupOver)+" not run")
	}
	switch {
	case r.Target.Op == info:
		parts = append(parts, "info")
	case r.meets:
		parts = append(parts, "meets")
	default:
		parts = append(parts, "**misses**")
	}
	s := strings.Join(parts, " · ")
	if r.Target.Op != info && r.spans {
		s += " (CI spans target)"
	}
	return s
}

// lastPart is a benchmark name's last part, but for the binary's (bin=,
// issue 20) where another precedes it: BenchmarkScaleOut/procs=1 →
// procs=1, BenchmarkScaleOut/procs=1/bin=head → procs=1. A row comparing
// bin=head with bin=base names the binaries (head, base).
func lastPart(bench string) string {
	if i := strings.LastIndex(bench, "/bin="); i > 0 && strings.Count(bench, "/") > 1 {
		bench = bench[:i]
	}
	return bench[strings.LastIndexByte(bench, '/')+1:]
}

// shortName is the value of a benchmark's last name part:
// BenchmarkDerivativeSet/impl=roles → roles.
func shortName(bench string) string {
	s := bench[strings.LastIndexByte(bench, '/')+1:]
	return s[strings.IndexByte(s, '=')+1:]
}

// num prints three significant digits without an exponent; more for
// large integers (1708, not 1.71e+03).
func num(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 100 || a == 0:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case a >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	// Round to 3 significant digits, then print without trailing noise.
	d := 2 - int(math.Floor(math.Log10(a)))
	return strconv.FormatFloat(v, 'f', d, 64)
}

// machine is the file's cpu, goos/goarch and GOMAXPROCS.
func machine(res *results) string {
	var parts []string
	if cpu := res.config["cpu"]; cpu != "" {
		parts = append(parts, cpu)
	}
	if goos, goarch := res.config["goos"], res.config["goarch"]; goos != "" || goarch != "" {
		parts = append(parts, goos+"/"+goarch)
	}
	if len(res.procs) > 0 {
		parts = append(parts, "GOMAXPROCS "+strings.Join(res.procs, ", "))
	}
	if len(parts) == 0 {
		return "unknown (no cpu:, goos: or goarch: line in the input)"
	}
	return strings.Join(parts, ", ")
}

// runsLine says how many runs each benchmark had: one number when all
// agree, otherwise each benchmark's.
func runsLine(res *results) string {
	if len(res.runs) == 0 {
		return "none"
	}
	names := make([]string, 0, len(res.runs))
	for n := range res.runs {
		names = append(names, n)
	}
	slices.Sort(names)
	first := res.runs[names[0]]
	same := true
	for _, n := range names {
		same = same && res.runs[n] == first
	}
	if same {
		return strconv.Itoa(first)
	}
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s %d", strings.TrimPrefix(n, "Benchmark"), res.runs[n])
	}
	return strings.Join(parts, ", ")
}

// runsRange is runsLine short enough for the chart: "6 runs each" or
// "3–6 runs".
func runsRange(res *results) string {
	lo, hi := math.MaxInt, 0
	for _, n := range res.runs {
		lo, hi = min(lo, n), max(hi, n)
	}
	switch {
	case hi == 0:
		return "no runs"
	case lo == hi:
		if lo == 1 {
			return "1 run each"
		}
		return fmt.Sprintf("%d runs each", lo)
	}
	return fmt.Sprintf("%d–%d runs per benchmark", lo, hi)
}

// warnings collects benchmath's distinct warnings (e.g. too few runs
// for a finite interval).
func warnings(rows []row) string {
	var ws []string
	for _, r := range rows {
		for _, s := range []stat{r.own, r.base, r.pairs} {
			for _, w := range s.Warnings {
				if !slices.Contains(ws, w.Error()) {
					ws = append(ws, w.Error())
				}
			}
		}
	}
	return strings.Join(ws, "; ")
}

const (
	startMarker = "<!-- bench:table -->"
	endMarker   = "<!-- /bench:table -->"
)

// updateDoc replaces the lines between the marker lines of the markdown
// file at path with block, keeping the markers.
func updateDoc(path, block string) error {
	doc, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("updating %s: %w", path, err)
	}
	out, err := replaceBlock(doc, block)
	if err != nil {
		return fmt.Errorf("updating %s: %w", path, err)
	}
	// Write beside and rename, so an interrupted run leaves the old
	// document rather than half a new one.
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("updating %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".report-*")
	if err != nil {
		return fmt.Errorf("updating %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(out); err != nil {
		tmp.Close()
		return fmt.Errorf("updating %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("updating %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), st.Mode().Perm()); err != nil {
		return fmt.Errorf("updating %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("updating %s: %w", path, err)
	}
	return nil
}

// replaceBlock puts block between the first start marker line and the
// end marker line after it, with a blank line on each side so that the
// table is a markdown block of its own.
func replaceBlock(doc []byte, block string) ([]byte, error) {
	lines := bytes.SplitAfter(doc, []byte("\n"))
	start, end := -1, -1
	for i, l := range lines {
		t := string(bytes.TrimSpace(l))
		if start < 0 && t == startMarker {
			start = i
		} else if start >= 0 && t == endMarker {
			end = i
			break
		}
	}
	switch {
	case start < 0:
		return nil, fmt.Errorf("no marker line %q: add the lines %s and %s where the table goes", startMarker, startMarker, endMarker)
	case end < 0:
		return nil, fmt.Errorf("no marker line %q after %q (line %d)", endMarker, startMarker, start+1)
	}
	var out bytes.Buffer
	for _, l := range lines[:start+1] {
		out.Write(l)
	}
	out.WriteString("\n")
	out.WriteString(strings.TrimRight(block, "\n"))
	out.WriteString("\n\n")
	for _, l := range lines[end:] {
		out.Write(l)
	}
	return out.Bytes(), nil
}
