package main

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// The chart's size in pixels, for a README or an issue comment.
const (
	chartWidth  = 1200
	chartHeight = 700
	chartDPI    = 96
)

var (
	colMeets  = color.RGBA{0x2e, 0x9d, 0x4f, 0xff}
	colMisses = color.RGBA{0xd6, 0x27, 0x28, 0xff}
	colInfo   = color.RGBA{0x3b, 0x6e, 0xb5, 0xff}
	colGrey   = color.RGBA{0x80, 0x80, 0x80, 0xff}
)

// writeChart draws two panels side by side into a PNG of w×h pixels: each
// measure with a target as measured÷target, and scale-out throughput by
// process count, with the machine line under both.
func writeChart(path string, res *results, rows []row, w, h int) error {
	img := vgimg.NewWith(
		vgimg.UseWH(vg.Length(w)*vg.Inch/chartDPI, vg.Length(h)*vg.Inch/chartDPI),
		vgimg.UseDPI(chartDPI),
	)
	dc := draw.New(img)

	caption := fmt.Sprintf("%s · %s · bars: medians, whiskers: 95%% CI (golang.org/x/perf/benchmath)",
		machine(res), runsRange(res))
	capStyle := textStyle(11)
	capStyle.Color = colGrey
	capH := capStyle.Height(caption) + 8
	dc.FillText(capStyle, vg.Point{X: dc.Min.X + 10, Y: dc.Min.Y + 6}, caption)

	body := draw.Crop(dc, 0, 0, capH, 0)
	split := body.Min.X + (body.Max.X-body.Min.X)*0.64
	left := draw.Crop(body, 0, split-body.Max.X, 0, 0)
	right := draw.Crop(body, split-body.Min.X, 0, 0, 0)

	tp, err := targetPlot(rows, left.Max.X-left.Min.X, left.Max.Y-left.Min.Y)
	if err != nil {
		return fmt.Errorf("drawing chart: %w", err)
	}
	sp, err := scaleOutPlot(rows)
	if err != nil {
		return fmt.Errorf("drawing chart: %w", err)
	}
	tp.Draw(draw.Crop(left, 10, -12, 0, -6))
	sp.Draw(draw.Crop(right, 12, -10, 0, -6))

	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("writing chart: %w", err)
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("writing chart %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing chart %s: %w", path, err)
	}
	return nil
}

func textStyle(pt float64) text.Style {
	return text.Style{
		Color:   color.Black,
		Font:    font.From(plot.DefaultFont, vg.Points(pt)),
		Handler: plot.DefaultTextHandler,
	}
}

// styleAxes sets the font sizes used in both panels.
func styleAxes(p *plot.Plot) {
	p.Title.TextStyle.Font.Size = vg.Points(15)
	p.Title.Padding = vg.Points(10)
	p.X.Label.TextStyle.Font.Size = vg.Points(12)
	p.Y.Label.TextStyle.Font.Size = vg.Points(12)
	p.X.Tick.Label.Font.Size = vg.Points(12)
	p.Y.Tick.Label.Font.Size = vg.Points(12)
}

// normalized is a row's checked value (the ratio for side-by-side rows,
// else the median) divided by its target, inverted for ≥ targets so that
// below 1 always meets; lo and hi bound it by the median's 95% interval
// (NaN when unbounded, and for a ratio of medians, which has none; a
// paired ratio's is its rounds'). Any of them is
// ±Inf when the median or an end of its interval is 0 for a ≥ target.
func normalized(r row) (v, lo, hi float64) {
	v, lo, hi = r.own.Center, r.own.Lo, r.own.Hi
	if r.pairs.ran {
		// Paired rounds: the ratio has an interval of its own.
		lo, hi = r.pairs.Lo, r.pairs.Hi
	} else if r.Baseline != "" {
		lo, hi = math.NaN(), math.NaN()
	}
	if !finite(lo) || !finite(hi) {
		lo, hi = math.NaN(), math.NaN()
	}
	if r.Baseline != "" {
		v = r.ratio
	}
	t := r.Target.Value
	if r.Target.Op == atLeastOp {
		return t / v, t / hi, t / lo
	}
	return v / t, lo / t, hi / t
}

// targetPlot is the left panel: one horizontal bar per measure with a
// target, top to bottom in the table's order.
func targetPlot(rows []row, width, height vg.Length) (*plot.Plot, error) {
	p := plot.New()
	styleAxes(p)
	p.Title.Text = "Against target: green meets, red misses"
	p.X.Label.Text = "measured ÷ target  (for ≥ targets: target ÷ measured);  dashed line: the target"

	var trows []row
	for _, r := range rows {
		if r.Target.Op != info {
			trows = append(trows, r)
		}
	}
	n := len(trows)
	if n == 0 {
		return p, nil
	}

	lblStyle := textStyle(11)
	lblStyle.YAlign = text.YCenter
	names := make([]string, n)
	for i, r := range trows {
		names[n-1-i] = r.Short
	}
	p.NominalY(names...)
	p.Y.Min, p.Y.Max = -0.6, float64(n)-0.4
	// The data area is the panel less the names on the left and some
	// padding; labels are laid out in it by their width in points.
	var namesW vg.Length
	for _, s := range names {
		namesW = max(namesW, p.Y.Tick.Label.Width(s))
	}
	dataW := width - namesW - vg.Points(40)

	var labels plotter.XYLabels
	var lblStyles []text.Style
	var lblFracs []float64 // label width / data area width
	var errXYs plotter.XYs
	var errs plotter.XErrors
	// Bars take about half of each row's height, at most a thick bar.
	barW := min(height*0.5/vg.Length(n), vg.Points(34))

	for i, r := range trows {
		y := float64(n - 1 - i)
		st := lblStyle
		if !r.ran {
			st.Color = colGrey
			labels.XYs = append(labels.XYs, plotter.XY{X: 0, Y: y})
			labels.Labels = append(labels.Labels, "  not run")
			lblStyles = append(lblStyles, st)
			lblFracs = append(lblFracs, float64(st.Width("  not run")/dataW))
			continue
		}
		v, lo, hi := normalized(r)
		if !finite(v) {
			// E.g. 0 photos/s against a ≥ target: no bar can show it.
			labels.XYs = append(labels.XYs, plotter.XY{X: 0, Y: y})
			labels.Labels = append(labels.Labels, "  "+barLabel(r))
			st.Color = colMisses
			lblStyles = append(lblStyles, st)
			lblFracs = append(lblFracs, float64(st.Width("  "+barLabel(r))/dataW))
			continue
		}
		// One far miss (35x) would squash every other bar to a sliver:
		// bars stop at offScale, and the label says how far it goes.
		lblExtra := ""
		if v > offScale {
			lblExtra = fmt.Sprintf(" — %.0f× the target, bar cut", v)
			v, lo, hi = offScale, math.NaN(), math.NaN()
		}
		bc, err := plotter.NewBarChart(plotter.Values{v}, barW)
		if err != nil {
			return nil, err
		}
		bc.Horizontal = true
		bc.XMin = y
		bc.LineStyle.Width = 0
		bc.Color = colMisses
		if r.meets {
			bc.Color = colMeets
		}
		p.Add(bc)

		end := v
		if finite(lo) && finite(hi) {
			errXYs = append(errXYs, plotter.XY{X: v, Y: y})
			errs = append(errs, struct{ Low, High float64 }{v - lo, hi - v})
			end = max(end, hi)
		}
		lbl := "  " + barLabel(r) + lblExtra
		labels.XYs = append(labels.XYs, plotter.XY{X: end, Y: y})
		labels.Labels = append(labels.Labels, lbl)
		lblStyles = append(lblStyles, st)
		lblFracs = append(lblFracs, float64(st.Width(lbl)/dataW))
	}

	// The X range ends where the longest label does. A label that would
	// run across the target line starts right of it instead; that can
	// widen the range, so settle it twice.
	xMax := func() float64 {
		m := 1.3
		for i, xy := range labels.XYs {
			m = max(m, xy.X/math.Max(0.3, 1-lblFracs[i]))
		}
		return m
	}
	for range 2 {
		m := xMax()
		for i, xy := range labels.XYs {
			if xy.X < 1 && xy.X+lblFracs[i]*m > 0.98 {
				labels.XYs[i].X = 1
			}
		}
	}
	p.X.Min, p.X.Max = 0, xMax()
	p.X.Tick.Marker = ratioTicks{}

	if len(errXYs) > 0 {
		eb, err := plotter.NewXErrorBars(struct {
			plotter.XYs
			plotter.XErrors
		}{errXYs, errs})
		if err != nil {
			return nil, err
		}
		eb.LineStyle.Width = vg.Points(1.2)
		eb.CapWidth = barW * 0.5
		p.Add(eb)
	}

	// The target line at 1.
	tl, err := plotter.NewLine(plotter.XYs{{X: 1, Y: -0.6}, {X: 1, Y: float64(n) - 0.4}})
	if err != nil {
		return nil, err
	}
	tl.LineStyle.Width = vg.Points(1.5)
	tl.LineStyle.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
	p.Add(tl)

	lp, err := plotter.NewLabels(labels)
	if err != nil {
		return nil, err
	}
	lp.TextStyle = lblStyles
	p.Add(lp)
	return p, nil
}

// offScale is where a bar of measured / target is cut.
const offScale = 3.0

func finite(x float64) bool { return !math.IsInf(x, 0) && !math.IsNaN(x) }

// ratioTicks marks round steps that always include 1, the target, which
// gonum's default ticks may step over (0, 0.9, 1.8).
type ratioTicks struct{}

func (ratioTicks) Ticks(lo, hi float64) []plot.Tick {
	step := 0.5
	switch {
	case hi > 8:
		step = math.Ceil(hi / 8)
	case hi > 4:
		step = 1
	}
	var ts []plot.Tick
	for i := 0; float64(i)*step <= hi; i++ {
		x := float64(i) * step
		ts = append(ts, plot.Tick{Value: x, Label: strconv.FormatFloat(x, 'f', -1, 64)})
	}
	return ts
}

// barLabel is the measured value and target beside a bar.
func barLabel(r row) string {
	if r.Baseline != "" {
		return fmt.Sprintf("%s/%s %.2f (target %s %s)", shortName(r.Bench), shortName(r.Baseline),
			r.ratio, r.Target.symbol(), r.Target.number())
	}
	return fmt.Sprintf("%s %s (target %s %s)", num(r.own.Center), r.Show, r.Target.symbol(), r.Target.number())
}

// scaleOutPlot is the right panel: throughput by number of processes,
// with the speed-up over the first above each bar.
func scaleOutPlot(rows []row) (*plot.Plot, error) {
	p := plot.New()
	styleAxes(p)
	p.Title.Text = "Scale-out throughput"

	var srows []row
	for _, r := range rows {
		if r.SpeedupOver != "" {
			srows = append(srows, r)
		}
	}
	if len(srows) == 0 {
		p.HideAxes()
		return p, nil
	}
	unit := srows[0].Show
	p.Y.Label.Text = unit + " (higher is better)"

	names := make([]string, len(srows))
	var labels plotter.XYLabels
	var lblStyles []text.Style
	var errXYs plotter.XYs
	var errs plotter.YErrors
	yMax := 0.0
	lblStyle := textStyle(12)
	lblStyle.XAlign = text.XCenter
	for i, r := range srows {
		names[i] = r.Short
		x := float64(i)
		if !r.own.ran {
			labels.XYs = append(labels.XYs, plotter.XY{X: x, Y: 0})
			labels.Labels = append(labels.Labels, "not run")
			st := lblStyle
			st.Color = colGrey
			lblStyles = append(lblStyles, st)
			continue
		}
		bc, err := plotter.NewBarChart(plotter.Values{r.own.Center}, vg.Points(48))
		if err != nil {
			return nil, err
		}
		bc.XMin = x
		bc.Color = colInfo
		bc.LineStyle.Width = 0
		p.Add(bc)
		top := r.own.Center
		if finite(r.own.Lo) && finite(r.own.Hi) {
			errXYs = append(errXYs, plotter.XY{X: x, Y: r.own.Center})
			errs = append(errs, struct{ Low, High float64 }{r.own.Center - r.own.Lo, r.own.Hi - r.own.Center})
			top = r.own.Hi
		}
		yMax = max(yMax, top)
		lbl := num(r.own.Center)
		if r.base.ran && r.Bench != r.SpeedupOver {
			lbl = fmt.Sprintf("%s  (%.2f×)", lbl, r.ratio)
		}
		labels.XYs = append(labels.XYs, plotter.XY{X: x, Y: top})
		labels.Labels = append(labels.Labels, lbl)
		lblStyles = append(lblStyles, lblStyle)
	}
	if len(errXYs) > 0 {
		eb, err := plotter.NewYErrorBars(struct {
			plotter.XYs
			plotter.YErrors
		}{errXYs, errs})
		if err != nil {
			return nil, err
		}
		eb.LineStyle.Width = vg.Points(1.2)
		eb.CapWidth = vg.Points(16)
		p.Add(eb)
	}
	lp, err := plotter.NewLabels(labels)
	if err != nil {
		return nil, err
	}
	lp.TextStyle = lblStyles
	lp.Offset = vg.Point{Y: vg.Points(6)}
	p.Add(lp)

	p.NominalX(names...)
	p.X.Min, p.X.Max = -0.6, float64(len(srows))-0.4
	p.Y.Min = 0
	if yMax == 0 {
		// Nothing ran: no scale to show, only the "not run" labels.
		yMax = 1
		p.Title.Text += " (not run)"
		p.HideY()
		p.Y.Label.Text = ""
		for i := range lp.XYs {
			lp.XYs[i].Y = 0.5
		}
	}
	p.Y.Max = yMax * 1.18
	return p, nil
}
