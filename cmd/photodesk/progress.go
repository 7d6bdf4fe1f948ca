package main

import (
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"
)

// stdout is where commands print; tests swap it.
var stdout io.Writer = os.Stdout

// progress reports an upload: a bar per file and one overall on a
// terminal, a line per file otherwise (logs, CI, pipes).
type progress interface {
	// start returns the reader minio-go advances as f's bytes are sent.
	start(f uploadFile) io.Reader
	done(f uploadFile, err error)
	wait()
}

func newProgress(out io.Writer, mode string, total int64) progress {
	if mode == "bars" || (mode == "auto" && isTerminal(out)) {
		return newBars(out, total)
	}
	return &lines{out: out}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// lines prints one line per finished file.
type lines struct {
	mu  sync.Mutex
	out io.Writer
}

func (l *lines) start(uploadFile) io.Reader { return nil }
func (l *lines) wait()                      {}
func (l *lines) done(f uploadFile, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		fmt.Fprintf(l.out, "failed   %s: %v\n", f.name, err)
		return
	}
	fmt.Fprintf(l.out, "uploaded %s (%s)\n", f.name, humanBytes(f.size))
}

// bars draws mpb progress bars.
type bars struct {
	p         *mpb.Progress
	total     *mpb.Bar
	mu        sync.Mutex
	each      map[string]*mpb.Bar
	totalSize int64
}

func newBars(out io.Writer, total int64) *bars {
	opts := []mpb.ContainerOption{mpb.WithOutput(out), mpb.WithAutoRefresh()}
	if !isTerminal(out) {
		opts = append(opts, mpb.WithWidth(110)) // no terminal to ask its width
	}
	p := mpb.New(opts...)
	b := &bars{p: p, each: map[string]*mpb.Bar{}, totalSize: total}
	b.total = p.AddBar(total,
		mpb.PrependDecorators(decor.Name("all files", decor.WC{W: 28, C: decor.DindentRight}), decor.CountersKibiByte("% .1f / % .1f", decor.WC{W: 22})),
		mpb.AppendDecorators(decor.Percentage(decor.WC{W: 5}), decor.Name(" "), decor.AverageSpeed(decor.SizeB1024(0), "% .1f")),
	)
	return b
}

func (b *bars) start(f uploadFile) io.Reader {
	bar := b.p.AddBar(f.size,
		mpb.PrependDecorators(decor.Name(clipName(f.name, 26), decor.WC{W: 28, C: decor.DindentRight}), decor.CountersKibiByte("% .1f / % .1f", decor.WC{W: 22})),
		mpb.AppendDecorators(decor.OnAbort(decor.OnComplete(decor.Percentage(decor.WC{W: 5}), "done"), "FAILED")),
	)
	b.mu.Lock()
	b.each[f.name] = bar
	b.mu.Unlock()
	return &counter{bar: bar, total: b.total}
}

func (b *bars) done(f uploadFile, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	bar := b.each[f.name]
	if err != nil {
		bar.Abort(false)
		// Keep the overall bar honest: the failed file's other bytes will
		// not come.
		b.totalSize -= f.size - bar.Current()
		b.total.SetTotal(b.totalSize, false)
		fmt.Fprintf(b.p, "failed   %s: %v\n", f.name, err)
		return
	}
	bar.SetTotal(-1, true) // complete even if minio-go read less than the size
}

func (b *bars) wait() {
	b.total.SetTotal(-1, true)
	b.p.Wait()
}

// counter is the reader minio-go reads as it sends: it moves the bars.
type counter struct{ bar, total *mpb.Bar }

func (c *counter) Read(p []byte) (int, error) {
	c.bar.IncrBy(len(p))
	c.total.IncrBy(len(p))
	return len(p), nil
}

func clipName(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
