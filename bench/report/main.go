// Command report turns the output of photodesk's Go benchmarks (./bench,
// `make bench`) into a markdown table of each measure against its target,
// optionally spliced into docs/performance.md, and a PNG chart (issue 8):
//
//	go run ./bench/report -doc docs/performance.md -png docs/performance.png bench/results.txt
//
// Medians and their 95% confidence intervals come from
// golang.org/x/perf/benchmath, the statistics behind benchstat, so the
// numbers agree with what benchstat prints for the same file. A benchmark
// or unit missing from the input makes its row say "not run"; that is
// never an error, because `make bench` may run only some benchmarks.
//
// The measures and their targets are the slice in measures.go.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"

	"golang.org/x/perf/benchfmt"
)

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

// run is main without the process: it parses flags, reads the benchmark
// file (or stdin for "-"), prints the report and writes the -doc and -png
// outputs.
func run(args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	docPath := fs.String("doc", "", "markdown `file` whose lines between "+startMarker+" and "+endMarker+" are replaced by the report")
	pngPath := fs.String("png", "", "write a chart of the measures against their targets to this PNG `file`")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: report [-doc FILE] [-png FILE] RESULTS.txt|-")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errors.New("want exactly one benchmark results file (or - for stdin)")
	}

	name := fs.Arg(0)
	in := stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return fmt.Errorf("reading benchmark results: %w", err)
		}
		defer f.Close()
		in = f
	}
	res, err := parse(in, name)
	if err != nil {
		return err
	}
	if len(res.runs) == 0 {
		slog.Warn("no benchmark results in input; every row is 'not run'", "file", name)
	}

	rows := evaluate(res, measures)
	md := markdown(res, rows)
	if _, err := io.WriteString(stdout, md); err != nil {
		return err
	}
	if *docPath != "" {
		if err := updateDoc(*docPath, md); err != nil {
			return err
		}
	}
	if *pngPath != "" {
		if err := writeChart(*pngPath, res, rows, chartWidth, chartHeight); err != nil {
			return err
		}
	}
	return nil
}

// results is what the report needs from a benchmark file.
type results struct {
	// values holds every measurement by benchmark name (with its
	// "Benchmark" prefix, without the -GOMAXPROCS suffix) and then by
	// unit as benchfmt tidied it (ns/op becomes sec/op).
	values map[string]map[string][]float64
	// runs counts result lines per benchmark name (go test -count).
	runs map[string]int
	// config holds the first value of each file configuration line
	// (goos, goarch, pkg, cpu).
	config map[string]string
	// procs are the distinct GOMAXPROCS suffixes seen, e.g. "2".
	procs []string
}

// parse reads Go benchmark output with benchfmt. Lines benchfmt can't
// parse are logged and skipped, like benchstat does, so that one stray
// line in a long run doesn't lose the report.
func parse(r io.Reader, fileName string) (*results, error) {
	res := &results{
		values: map[string]map[string][]float64{},
		runs:   map[string]int{},
		config: map[string]string{},
	}
	br := benchfmt.NewReader(r, fileName)
	for br.Scan() {
		switch rec := br.Result().(type) {
		case *benchfmt.Result:
			name, procs := splitName(rec.Name)
			if procs != "" && !slices.Contains(res.procs, procs) {
				res.procs = append(res.procs, procs)
			}
			res.runs[name]++
			units := res.values[name]
			if units == nil {
				units = map[string][]float64{}
				res.values[name] = units
			}
			for _, v := range rec.Values {
				units[v.Unit] = append(units[v.Unit], v.Value)
			}
			for _, c := range rec.Config {
				if _, seen := res.config[c.Key]; c.File && !seen {
					res.config[c.Key] = string(c.Value)
				}
			}
		case *benchfmt.SyntaxError:
			slog.Warn("skipping unparsable benchmark line", "err", rec.Error())
		}
	}
	if err := br.Err(); err != nil {
		return nil, fmt.Errorf("reading benchmark results: %w", err)
	}
	return res, nil
}

// splitName returns a result's full name with the "Benchmark" prefix that
// benchfmt strips put back, and its GOMAXPROCS suffix (without the dash)
// split off: DerivativeSet/impl=roles-2 → BenchmarkDerivativeSet/impl=roles, "2".
func splitName(n benchfmt.Name) (name, procs string) {
	base, parts := n.Parts()
	var b strings.Builder
	b.WriteString("Benchmark")
	b.Write(base)
	for _, p := range parts {
		if len(p) > 0 && p[0] == '-' {
			procs = string(p[1:])
			continue
		}
		b.Write(p)
	}
	return b.String(), procs
}
