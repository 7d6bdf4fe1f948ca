package pipeline_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/photodesk/photodesk/pipeline"
	"github.com/photodesk/photodesk/pipeline/contract"
)

// metric reads one sample from the process registry (0 when absent).
func metric(t *testing.T, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := pipeline.Metrics.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if v, ok := labels[l.GetName()]; ok && v != l.GetValue() {
					continue next
				}
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			case m.Histogram != nil:
				return float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return 0
}

// TestRuntimeMetrics: jobs are counted by outcome and timed, bad input is
// a failure by reason, and the consumer gauges read JetStream.
func TestRuntimeMetrics(t *testing.T) {
	e := newEnv(t)
	pipeline.RegisterConsumerMetrics(e.js)
	role := "watermark"
	done0 := metric(t, "photodesk_jobs_total", map[string]string{"role": role, "outcome": "done"})
	failed0 := metric(t, "photodesk_jobs_total", map[string]string{"role": role, "outcome": "failed"})
	bad0 := metric(t, "photodesk_failures_total", map[string]string{"stage": role, "reason": "bad_input"})
	timed0 := metric(t, "photodesk_job_duration_seconds", map[string]string{"role": role, "outcome": "done"})
	w := pipeline.Worker{Role: role, Handler: func(_ context.Context, m *pipeline.Message) ([]contract.Output, error) {
		if m.Ref.Photo == "bad.jpg" {
			return nil, pipeline.Permanentf("bad input: not an image")
		}
		return nil, nil
	}}
	stop := start(t, e.runtime(t), w)
	defer stop()
	for i := range 3 {
		e.upload(t, "m1", fmt.Sprintf("p%d.jpg", i))
	}
	e.upload(t, "m1", "bad.jpg")
	e.settle(t, role)
	time.Sleep(100 * time.Millisecond) // counted just after the ack
	if got := metric(t, "photodesk_jobs_total", map[string]string{"role": role, "outcome": "done"}) - done0; got != 3 {
		t.Errorf("done jobs %v, want 3", got)
	}
	if got := metric(t, "photodesk_jobs_total", map[string]string{"role": role, "outcome": "failed"}) - failed0; got != 1 {
		t.Errorf("failed jobs %v, want 1", got)
	}
	if got := metric(t, "photodesk_failures_total", map[string]string{"stage": role, "reason": "bad_input"}) - bad0; got != 1 {
		t.Errorf("bad-input failures %v, want 1", got)
	}
	if got := metric(t, "photodesk_job_duration_seconds", map[string]string{"role": role, "outcome": "done"}) - timed0; got != 3 {
		t.Errorf("timed jobs %v, want 3", got)
	}
	// The exif consumer has the four events waiting (no exif worker runs).
	if got := metric(t, "photodesk_consumer_pending", map[string]string{"role": "exif"}); got != 4 {
		t.Errorf("exif pending %v, want 4", got)
	}
}
