package deploy_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/photodesk/photodesk/pipeline"
	"github.com/photodesk/photodesk/pipeline/config"
	"github.com/photodesk/photodesk/pipeline/contract"
	"github.com/photodesk/photodesk/pipeline/devstack"
)

// metricInfo is what the process registry says of one metric name.
type metricInfo struct {
	labels    []string
	histogram bool
}

var (
	descName   = regexp.MustCompile(`fqName: "([^"]+)"`)
	descLabels = regexp.MustCompile(`variableLabels: \{([^}]*)\}\}$`)
)

// photodeskMetrics is every metric photodesk's processes serve at
// /metrics: the names and labels of everything registered in
// pipeline.Metrics (the per-consumer gauges included), and their types as
// gathered after one real job ran through the worker runtime.
func photodeskMetrics(t *testing.T) map[string]metricInfo {
	t.Helper()
	cfg := config.Default()
	cfg.AckWait = 2 * time.Second
	cfg, js := devstack.NATSForTest(t, cfg)
	pipeline.RegisterConsumerMetrics(js)

	ref := contract.Ref{Gallery: "g", Photo: "p.jpg", Bucket: "originals", Key: "g/p.jpg", ETag: "e1"}
	out, err := contract.JSONOutput(contract.GallerySubject(contract.SubjectPhotoUploaded, "g"), contract.MsgID("uploaded", ref), contract.PhotoUploaded{Ref: ref})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(context.Background(), out.Subject, out.Data, jetstream.WithMsgID(out.MsgID)); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{}, 1)
	w := pipeline.Worker{Role: "exif", Concurrency: 1, Handler: func(context.Context, *pipeline.Message) ([]contract.Output, error) {
		done <- struct{}{}
		return nil, nil
	}}
	rt := &pipeline.Runtime{JS: js, Cfg: cfg, PollWait: 200 * time.Millisecond, ShutdownGrace: time.Second, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- rt.Run(ctx, w) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the job never ran")
	}
	devstack.Settle(t, js, contract.EventsStream, "exif", 10*time.Second)
	cancel()
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}

	metrics := map[string]metricInfo{}
	descs := make(chan *prometheus.Desc)
	go func() { pipeline.Metrics.Describe(descs); close(descs) }()
	for d := range descs {
		s := d.String()
		n, l := descName.FindStringSubmatch(s), descLabels.FindStringSubmatch(s)
		if n == nil || l == nil {
			t.Fatalf("cannot read %s", s)
		}
		var labels []string
		if l[1] != "" {
			labels = strings.Split(l[1], ",")
		}
		metrics[n[1]] = metricInfo{labels: labels}
	}
	mfs, err := pipeline.Metrics.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetType() == dto.MetricType_HISTOGRAM {
			mi := metrics[mf.GetName()]
			mi.histogram = true
			metrics[mf.GetName()] = mi
		}
	}
	if !metrics["photodesk_job_duration_seconds"].histogram || metrics["photodesk_consumer_pending"].labels == nil {
		t.Fatalf("the registry does not look like photodesk's: %v", metrics)
	}
	return metrics
}

// dashboard is the part of a Grafana dashboard this test reads.
type dashboard struct {
	Title      string  `json:"title"`
	UID        string  `json:"uid"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Query any    `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID         int    `json:"id"`
	Type       string `json:"type"`
	Title      string `json:"title"`
	Datasource *struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	} `json:"datasource"`
	GridPos struct{ X, Y, W, H int } `json:"gridPos"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // a collapsed row's
}

var (
	promIdent  = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	promBy     = regexp.MustCompile(`\b(?:by|without)\s*\(([^)]*)\)`)
	promLabels = regexp.MustCompile(`\{([^}]*)\}`)
	promMatch  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)`)
)

// TestGrafanaDashboard parses deploy/grafana/photodesk.json and checks
// that every PromQL expression (panels and variables) uses only metrics
// photodesk serves, with their labels, and shows the views.
func TestGrafanaDashboard(t *testing.T) {
	b, err := os.ReadFile("grafana/photodesk.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("grafana/photodesk.json: %v", err)
	}
	if d.Title == "" || d.UID == "" || len(d.Panels) == 0 {
		t.Fatalf("not a dashboard: title %q, uid %q, %d panels", d.Title, d.UID, len(d.Panels))
	}
	metrics := photodeskMetrics(t)

	var exprs []string
	ids := map[int]bool{}
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			if ids[p.ID] {
				t.Errorf("panel id %d is used twice", p.ID)
			}
			ids[p.ID] = true
			walk(p.Panels)
			if p.Type == "row" {
				continue
			}
			if p.Datasource == nil || p.Datasource.Type != "prometheus" || len(p.Targets) == 0 || p.GridPos.W == 0 || p.GridPos.H == 0 {
				t.Errorf("panel %q: no Prometheus data source, query or size", p.Title)
			}
			for _, tg := range p.Targets {
				exprs = append(exprs, tg.Expr)
			}
		}
	}
	walk(d.Panels)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		q, _ := json.Marshal(v.Query)
		for _, m := range regexp.MustCompile(`label_values\(([a-z_]+),\s*([a-z_]+)\)`).FindAllStringSubmatch(string(q), -1) {
			if mi, ok := metrics[m[1]]; !ok || !slices.Contains(mi.labels, m[2]) {
				t.Errorf("variable %s: %s has no label %s", v.Name, m[1], m[2])
			}
		}
	}

	used := map[string]bool{}
	for _, e := range exprs {
		var labels []string // the labels of the metrics e uses
		n := 0
		for _, id := range promIdent.FindAllString(e, -1) {
			if !strings.HasPrefix(id, "photodesk_") {
				continue
			}
			n++
			mi, ok := metrics[id]
			if !ok {
				for _, suffix := range []string{"_bucket", "_sum", "_count"} {
					if base, cut := strings.CutSuffix(id, suffix); cut && metrics[base].histogram {
						mi, ok = metrics[base], true
						if suffix == "_bucket" {
							mi.labels = append(slices.Clone(mi.labels), "le")
						}
						used[base] = true
					}
				}
			}
			if !ok {
				t.Errorf("%s is not a metric photodesk serves (in %s)", id, e)
				continue
			}
			used[id] = true
			labels = append(labels, mi.labels...)
		}
		if n == 0 {
			t.Errorf("expression uses no photodesk metric: %s", e)
			continue
		}
		var named []string
		for _, m := range promBy.FindAllStringSubmatch(e, -1) {
			for _, l := range strings.Split(m[1], ",") {
				named = append(named, strings.TrimSpace(l))
			}
		}
		for _, m := range promLabels.FindAllStringSubmatch(e, -1) {
			for _, mm := range promMatch.FindAllStringSubmatch(m[1], -1) {
				named = append(named, mm[1])
			}
		}
		for _, l := range named {
			if l != "" && !slices.Contains(labels, l) {
				t.Errorf("label %q is not one of %v (in %s)", l, labels, e)
			}
		}
	}
	// The views issue 6 asks for.
	for _, m := range []string{"photodesk_jobs_total", "photodesk_job_duration_seconds", "photodesk_jobs_in_flight", "photodesk_consumer_pending",
		"photodesk_consumer_ack_pending", "photodesk_failures_total", "photodesk_s3_bytes_total", "photodesk_redeliveries_total"} {
		if !used[m] {
			t.Errorf("the dashboard does not show %s", m)
		}
	}
}
