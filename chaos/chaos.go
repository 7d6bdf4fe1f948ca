// Package chaos is photodesk's chaos run (issue 7): the whole pipeline as
// real processes on real servers — NATS (embedded nats-server in a child
// process, JetStream on disk), MinIO (its child process, with its
// notification queue dir) and `photodesk worker` processes of every role —
// takes galleries uploaded through S3 while a driver, at random moments
// from a seeded RNG, SIGKILLs worker processes, restarts NATS on the same
// store and restarts MinIO on the same data and queue dirs. At the end,
// within a deadline, it checks that nothing was lost and nothing came
// twice, from the events on the streams, the records in the articles
// bucket and every derivative they name, and the consumers' state.
//
// `go test ./chaos` runs a short run (TestChaosShort); `make chaos` the
// full one (≥ 50 galleries). Run's Report prints the table.
package chaos

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/photodesk/photodesk/internal/cluster"
	"github.com/photodesk/photodesk/pipeline"
	"github.com/photodesk/photodesk/pipeline/config"
	"github.com/photodesk/photodesk/pipeline/contract"
	"github.com/photodesk/photodesk/pipeline/devstack"
)

// Options shape a run. Zero values take the defaults of the short run.
type Options struct {
	Galleries int // galleries uploaded (default 5)
	Photos    int // good photos per gallery (default 3); every third gallery also gets a broken one
	// Seed fixes the galleries and the driver's choices (which fault,
	// which process, how long down, the gaps); Report and the log print it.
	Seed   uint64
	Dir    string // work dir: NATS store, MinIO data and queue, logs (required)
	Self   string // this executable, started as the NATS child (see devstack.ServeNATSChild; required)
	Binary string // the photodesk binary; built into Dir when empty

	// Procs is how many processes of each role run (default 1 ingest,
	// 2 of every other role).
	Procs map[string]int
	// AckWait of every role's consumer: short, so a killed process's
	// messages come back quickly (default 5s).
	AckWait time.Duration
	// MaxDeliver of every role's consumer. Generous (default 20) on
	// purpose: when a process dies holding a message on its last allowed
	// delivery, JetStream stops redelivering it and only publishes a
	// MAX_DELIVERIES advisory. A handful of kills, NATS restarts and
	// MinIO outages must never use up a message's deliveries here; this
	// run tests that nothing is lost on the way, not that limit.
	MaxDeliver int

	// Faults come at random gaps in [GapMin, GapMax] (default 2s–5s).
	GapMin, GapMax time.Duration
	// Every kind of fault (kill, NATS restart, MinIO restart) happens at
	// least once; then the driver goes on until the uploads are done and
	// ChaosUntil of the galleries have their outcome (default 0.6), or
	// ChaosMax has passed since the first upload (default 3m).
	ChaosUntil float64
	ChaosMax   time.Duration
	// Hard stops NATS and MinIO with SIGKILL (a crash) instead of SIGTERM.
	Hard bool
	// UploadParallel PUTs at once (default 2), each uploader pausing up
	// to UploadPause between two PUTs (default 400ms), so uploads go on
	// while faults happen.
	UploadParallel int
	UploadPause    time.Duration
	// Settle bounds the wait, after the last fault, for every gallery's
	// outcome and idle consumers (default 3m).
	Settle time.Duration

	Log io.Writer // progress lines (default: discarded)
}

func (o *Options) defaults() error {
	if o.Dir == "" || o.Self == "" {
		return fmt.Errorf("chaos: Dir and Self are required")
	}
	set := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	setD := func(p *time.Duration, v time.Duration) {
		if *p == 0 {
			*p = v
		}
	}
	set(&o.Galleries, 5)
	set(&o.Photos, 3)
	set(&o.MaxDeliver, 20)
	set(&o.UploadParallel, 2)
	setD(&o.AckWait, 5*time.Second)
	setD(&o.GapMin, 2*time.Second)
	setD(&o.GapMax, 5*time.Second)
	setD(&o.ChaosMax, 3*time.Minute)
	setD(&o.UploadPause, 400*time.Millisecond)
	setD(&o.Settle, 3*time.Minute)
	if o.ChaosUntil == 0 {
		o.ChaosUntil = 0.6
	}
	if o.Procs == nil {
		// Two processes of every role, so a kill leaves one working; one
		// ingest.
		o.Procs = map[string]int{}
		for _, st := range contract.Stages {
			o.Procs[st.Name] = 2
		}
		o.Procs[contract.StageIngest] = 1
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	return nil
}

// Report is what a run did and found.
type Report struct {
	Seed                                 uint64
	Galleries, Photos, Broken, Held      int
	Kills, NATSRestarts, MinIORestarts   int
	WorkerExits                          []string // ends no one caused (e.g. started while NATS was down)
	PutRetries                           int64
	Redeliveries                         map[string]uint64 // by consumer
	MaxDeliveriesAdvisories              int64
	S3EventReplays                       int // S3 events beyond one per PUT (MinIO's queue resending)
	Derivatives                          int // fetched and decoded
	Lost, Duplicates, UnexpectedFailures int
	Problems                             []string
	Took, ChaosTook, SettleTook          time.Duration
	Settled                              bool
}

// OK says the run lost nothing, duplicated nothing and found no problem.
func (r *Report) OK() bool {
	return r.Settled && r.Lost == 0 && r.Duplicates == 0 && r.UnexpectedFailures == 0 && len(r.Problems) == 0
}

// TotalRedeliveries sums the redeliveries of every consumer.
func (r *Report) TotalRedeliveries() uint64 {
	var n uint64
	for _, v := range r.Redeliveries {
		n += v
	}
	return n
}

// Table is the run's summary.
func (r *Report) Table() string {
	var b strings.Builder
	fmt.Fprintf(&b, "chaos run, seed %d: %s in all (chaos %s, then settled in %s)\n",
		r.Seed, r.Took.Round(time.Second), r.ChaosTook.Round(time.Second), r.SettleTook.Round(time.Second))
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "galleries\tphotos\tkills\tNATS restarts\tMinIO restarts\tredeliveries\tlost\tduplicates")
	fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n", r.Galleries, r.Photos, r.Kills, r.NATSRestarts, r.MinIORestarts, r.TotalRedeliveries(), r.Lost, r.Duplicates)
	tw.Flush()
	var roles []string
	for k, v := range r.Redeliveries {
		if v > 0 {
			roles = append(roles, fmt.Sprintf("%s %d", k, v))
		}
	}
	sort.Strings(roles)
	fmt.Fprintf(&b, "broken photos %d (galleries held for one: %d), failures other than theirs %d, derivatives fetched and decoded %d\n",
		r.Broken, r.Held, r.UnexpectedFailures, r.Derivatives)
	fmt.Fprintf(&b, "redeliveries by consumer: %s\n", strings.Join(roles, ", "))
	fmt.Fprintf(&b, "PUT retries %d, S3 events resent by MinIO %d, max-deliveries advisories %d, worker exits not caused by the driver %d\n",
		r.PutRetries, r.S3EventReplays, r.MaxDeliveriesAdvisories, len(r.WorkerExits))
	return b.String()
}

// run is one chaos run in progress.
type run struct {
	o Options
	// Separate random streams from the seed for the driver's faults, the
	// uploads' pauses and the restarts' delays, so a seed replays the same
	// galleries and the same choices of the driver (what the processes are
	// doing at each moment is up to the machine).
	faults, uploads, restarts *lockedRand
	cfg                       config.Config
	nats                      *devstack.NATSChild
	minio                     *minioProc
	cluster                   *cluster.Cluster // instead of nats and minio, on a cluster
	workers                   []*worker
	store                     *pipeline.Store
	nc                        *nats.Conn
	js                        jetstream.JetStream
	galleries                 []*galleryPlan
	report                    *Report
	start                     time.Time
	logMu                     sync.Mutex
}

// lockedRand is a random stream safe for several goroutines.
type lockedRand struct {
	mu sync.Mutex
	r  *rand.Rand
}

func newRand(seed, stream uint64) *lockedRand {
	return &lockedRand{r: rand.New(rand.NewPCG(seed, stream))}
}

func (l *lockedRand) float() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Float64()
}

func (l *lockedRand) intN(n int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.IntN(n)
}

func (l *lockedRand) between(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(l.float()*float64(hi-lo))
}

func (r *run) logf(format string, args ...any) {
	r.logMu.Lock()
	defer r.logMu.Unlock()
	fmt.Fprintf(r.o.Log, "%7s  %s\n", time.Since(r.start).Round(100*time.Millisecond), fmt.Sprintf(format, args...))
}

// Run performs a chaos run. The error is for a run that could not be
// carried out; what the run found is in the Report (see Report.OK).
func Run(ctx context.Context, o Options) (*Report, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	r := &run{o: o, faults: newRand(o.Seed, 1), uploads: newRand(o.Seed, 2), restarts: newRand(o.Seed, 3), start: time.Now()}
	r.report = &Report{Seed: o.Seed, Redeliveries: map[string]uint64{}}
	defer func() { r.report.Took = time.Since(r.start) }()
	r.galleries = plan(rand.New(rand.NewPCG(o.Seed, 0)), o.Galleries, o.Photos)
	for _, g := range r.galleries {
		r.report.Galleries++
		if g.Held {
			r.report.Held++
		}
		for _, p := range g.Photos {
			r.report.Photos++
			if p.Broken != "" {
				r.report.Broken++
			}
		}
	}
	r.logf("seed %d: %d galleries, %d photos (%d broken), work dir %s", o.Seed, r.report.Galleries, r.report.Photos, r.report.Broken, o.Dir)
	defer r.shutdown()
	if err := r.startStack(ctx); err != nil {
		return r.report, err
	}

	// Count the advisories JetStream sends when it gives up on a message.
	var advisories atomic.Int64
	if sub, err := r.nc.Subscribe("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.>", func(*nats.Msg) { advisories.Add(1) }); err == nil {
		defer sub.Unsubscribe()
	}

	wctx, stopWorkers := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWorkers()
	if err := r.startWorkers(wctx); err != nil {
		return r.report, err
	}

	up := &uploader{store: r.store, bucket: r.cfg.OriginalsBucket, parallel: o.UploadParallel, pause: o.UploadPause, rng: r.uploads.float, logf: r.logf}
	upDone := make(chan error, 1)
	uploadStart := time.Now()
	uctx, stopUploads := context.WithCancel(ctx)
	var uploading sync.WaitGroup
	uploading.Add(1)
	go func() { defer uploading.Done(); upDone <- up.run(uctx, r.galleries) }()
	// A run that ends early stops its uploads before it returns.
	defer func() { stopUploads(); uploading.Wait() }()

	chaosErr := r.chaos(ctx, uploadStart, upDone)
	r.report.PutRetries = up.retries.Load()
	r.report.ChaosTook = time.Since(uploadStart)
	if chaosErr != nil {
		return r.report, chaosErr
	}
	r.logf("chaos over: %d kills, %d NATS restarts, %d MinIO restarts; %d PUTs (%d retried); waiting for the pipeline to settle",
		r.report.Kills, r.report.NATSRestarts, r.report.MinIORestarts, up.puts.Load(), up.retries.Load())

	settleStart := time.Now()
	r.report.Settled = r.settle(ctx)
	r.report.SettleTook = time.Since(settleStart)
	if !r.report.Settled {
		r.report.Problems = append(r.report.Problems, fmt.Sprintf("not settled after %s: %s", o.Settle, r.waiting(ctx)))
	}
	r.report.MaxDeliveriesAdvisories = advisories.Load()

	vctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Minute)
	defer cancel()
	t, err := collect(vctx, r.js)
	if err != nil {
		return r.report, err
	}
	for _, n := range t.s3 {
		if n > 1 {
			r.report.S3EventReplays += n - 1
		}
	}
	c := r.verify(vctx, t)
	cs, err := consumers(vctx, r.js)
	if err != nil {
		return r.report, fmt.Errorf("read consumers: %w", err)
	}
	for _, s := range cs {
		r.report.Redeliveries[s.Name] = s.Redeliveries
		if s.Pending != 0 || s.AckPending != 0 || s.Redelivering != 0 {
			c.problem("consumer %s on %s is not idle: %d pending, %d unacked, %d being redelivered", s.Name, s.Stream, s.Pending, s.AckPending, s.Redelivering)
		}
	}
	if n := r.queued(); n > 0 {
		c.problem("MinIO still holds %d events in its queue dir", n)
	}
	if r.report.MaxDeliveriesAdvisories > 0 {
		c.problem("JetStream gave up on %d messages (MAX_DELIVERIES advisories)", r.report.MaxDeliveriesAdvisories)
	}
	for _, w := range r.workers {
		w.mu.Lock()
		r.report.WorkerExits = append(r.report.WorkerExits, w.exits...)
		w.mu.Unlock()
	}
	r.report.Lost, r.report.Duplicates, r.report.UnexpectedFailures = c.lost(), c.dups, c.unexpected
	r.report.Problems = append(r.report.Problems, c.problems...)
	return r.report, nil
}
