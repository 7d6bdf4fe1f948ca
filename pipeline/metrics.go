package pipeline

import (
	"context"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics is the process's Prometheus registry; the ops HTTP server
// serves it at /metrics.
var Metrics = prometheus.NewRegistry()

var (
	jobsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "photodesk_jobs_total",
		Help: "Jobs finished, by role and outcome: done, retry (will be redelivered), failed (a failure event), released (at shutdown), skipped (addressed to other roles).",
	}, []string{"role", "outcome"})
	jobSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "photodesk_job_duration_seconds",
		Help:    "Time a handler took, by role and outcome.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
	}, []string{"role", "outcome"})
	jobsInFlight = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "photodesk_jobs_in_flight",
		Help: "Jobs being worked on now, by role.",
	}, []string{"role"})
	redeliveries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "photodesk_redeliveries_total",
		Help: "Deliveries of a message seen before (a retry, or a process that died holding it), by role.",
	}, []string{"role"})
	failures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "photodesk_failures_total",
		Help: "Failure events published, by stage and reason: bad_input (the photo or event itself, failed at once) or gave_up (retries exhausted, or JetStream stopped delivering it after max deliveries).",
	}, []string{"stage", "reason"})
	s3Bytes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "photodesk_s3_bytes_total",
		Help: "Bytes read from and written to object storage by this process.",
	}, []string{"direction"})
)

func init() {
	Metrics.MustRegister(jobsTotal, jobSeconds, jobsInFlight, redeliveries, failures, s3Bytes,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
}

var consumerMetricsOnce sync.Once

// RegisterConsumerMetrics adds per-consumer gauges (pending, ack pending,
// redelivered, processes pulling), read through js at each scrape. The
// first call in a process wins; later ones do nothing.
func RegisterConsumerMetrics(js jetstream.JetStream) {
	consumerMetricsOnce.Do(func() { Metrics.MustRegister(&consumerCollector{js: js}) })
}

type consumerCollector struct{ js jetstream.JetStream }

var (
	pendingDesc     = prometheus.NewDesc("photodesk_consumer_pending", "Messages not yet delivered to the role's consumer.", []string{"role"}, nil)
	ackPendingDesc  = prometheus.NewDesc("photodesk_consumer_ack_pending", "Messages delivered and not yet acked.", []string{"role"}, nil)
	redeliveredDesc = prometheus.NewDesc("photodesk_consumer_redelivered", "Messages delivered more than once and not yet acked.", []string{"role"}, nil)
	waitingDesc     = prometheus.NewDesc("photodesk_consumer_waiting_pulls", "Pull requests waiting: roughly the processes ready for work.", []string{"role"}, nil)
)

func (c *consumerCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- pendingDesc
	ch <- ackPendingDesc
	ch <- redeliveredDesc
	ch <- waitingDesc
}

func (c *consumerCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	for _, spec := range Consumers {
		cons, err := c.js.Consumer(ctx, spec.Stream, spec.Role)
		if err != nil {
			continue
		}
		info, err := cons.Info(ctx)
		if err != nil {
			continue
		}
		ch <- prometheus.MustNewConstMetric(pendingDesc, prometheus.GaugeValue, float64(info.NumPending), spec.Role)
		ch <- prometheus.MustNewConstMetric(ackPendingDesc, prometheus.GaugeValue, float64(info.NumAckPending), spec.Role)
		ch <- prometheus.MustNewConstMetric(redeliveredDesc, prometheus.GaugeValue, float64(info.NumRedelivered), spec.Role)
		ch <- prometheus.MustNewConstMetric(waitingDesc, prometheus.GaugeValue, float64(info.NumWaiting), spec.Role)
	}
}
