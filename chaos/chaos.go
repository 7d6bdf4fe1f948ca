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
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/photodesk/photodesk/pipeline"
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
	Self   string // this executable, started as the NATS child (see ServeNATSChild; required)
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
	cfg                       pipeline.Config
	nats                      *natsProc
	minio                     *minioProc
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
	if n := r.minio.queued(); n > 0 {
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

// startStack starts NATS and MinIO, and sets up what `photodesk setup`
// would: streams, consumers (with this run's ack wait and max deliver),
// buckets, the notification, and a proven trigger.
func (r *run) startStack(ctx context.Context) error {
	o := r.o
	if err := os.MkdirAll(filepath.Join(o.Dir, "logs"), 0o755); err != nil {
		return err
	}
	if o.Binary == "" {
		r.logf("building photodesk")
		bin, err := buildPhotodesk(ctx, o.Dir)
		if err != nil {
			return err
		}
		r.o.Binary = bin
	}
	natsLog, err := os.Create(filepath.Join(o.Dir, "logs", "nats.log"))
	if err != nil {
		return err
	}
	r.nats = &natsProc{self: o.Self, storeDir: filepath.Join(o.Dir, "nats"), addr: "127.0.0.1:0", log: natsLog}
	if err := r.nats.start(ctx); err != nil {
		return err
	}
	cfg := pipeline.DefaultConfig()
	cfg.NATSURL = r.nats.url()
	cfg.AckWait, cfg.MaxDeliver = o.AckWait, o.MaxDeliver
	r.nc, r.js, err = pipeline.Connect(cfg, "photodesk-chaos")
	if err != nil {
		return err
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := pipeline.EnsureStreams(sctx, r.js, cfg); err != nil {
		return fmt.Errorf("set up streams: %w", err)
	}

	minioLog, err := os.Create(filepath.Join(o.Dir, "logs", "minio.log"))
	if err != nil {
		return err
	}
	r.minio = &minioProc{opts: devstack.MinIOOptions{
		DataDir: filepath.Join(o.Dir, "minio"), QueueDir: filepath.Join(o.Dir, "minio-queue"), Addr: "127.0.0.1:0",
		AccessKey: cfg.S3AccessKey, SecretKey: cfg.S3SecretKey, NATSAddr: r.nats.addr, Output: minioLog,
	}}
	if err := r.minio.start(ctx); err != nil {
		return err
	}
	cfg.S3Endpoint = r.minio.opts.Addr
	r.cfg = cfg
	if r.store, err = pipeline.NewStore(cfg); err != nil {
		return err
	}
	if err := r.store.EnsureBuckets(sctx); err != nil {
		return err
	}
	if err := r.store.EnsureNotificationWait(sctx, "", 30*time.Second); err != nil {
		return err
	}
	if _, err := r.store.ProveTrigger(ctx, r.js, "", 90*time.Second, nil); err != nil {
		return err
	}
	r.logf("NATS on %s, MinIO on %s: streams, consumers (ack wait %s, max deliver %d), buckets and the proven trigger are set up",
		r.nats.addr, r.minio.opts.Addr, o.AckWait, o.MaxDeliver)
	return nil
}

func (r *run) startWorkers(ctx context.Context) error {
	for _, role := range contract.StageNames(contract.Stages) {
		for i := range r.o.Procs[role] {
			addr, err := freeAddr()
			if err != nil {
				return err
			}
			name := fmt.Sprintf("%s-%d", role, i+1)
			w := &worker{
				role: role, name: name, logPath: filepath.Join(r.o.Dir, "logs", name+".log"), httpAddr: addr, done: make(chan struct{}),
				args: []string{"worker", "--role", role, "--http", addr, "--setup=false",
					"--nats", r.cfg.NATSURL, "--s3-endpoint", r.cfg.S3Endpoint,
					"--ack-wait", r.o.AckWait.String(), "--max-deliver", fmt.Sprint(r.o.MaxDeliver), "--concurrency", "2"},
			}
			r.workers = append(r.workers, w)
			go w.supervise(ctx, r.o.Binary, func() time.Duration { return r.restarts.between(200*time.Millisecond, 2*time.Second) }, r.logf)
		}
	}
	r.logf("started %d worker processes: %v", len(r.workers), r.o.Procs)
	return nil
}

// Kinds of fault.
const (
	faultKill  = "kill"
	faultNATS  = "nats"
	faultMinIO = "minio"
)

// chaos injects faults at random moments until the uploads are done, each
// kind has happened, and enough galleries have their outcome (or ChaosMax
// has passed).
func (r *run) chaos(ctx context.Context, began time.Time, upDone <-chan error) error {
	// The first faults are one of each kind, in a random order; then
	// kills are three times as likely as either restart.
	first := []string{faultKill, faultNATS, faultMinIO}
	r.faults.mu.Lock()
	r.faults.r.Shuffle(len(first), func(i, j int) { first[i], first[j] = first[j], first[i] })
	r.faults.mu.Unlock()
	uploaded := false
	for n := 0; ; n++ {
		sleepCtx(ctx, r.faults.between(r.o.GapMin, r.o.GapMax))
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !uploaded {
			select {
			case err := <-upDone:
				if err != nil {
					return err
				}
				uploaded = true
				r.logf("uploads done")
			default:
			}
		}
		if uploaded && n >= len(first) {
			done := r.outcomes(ctx)
			if float64(done) >= r.o.ChaosUntil*float64(len(r.galleries)) || time.Since(began) > r.o.ChaosMax {
				return nil
			}
		}
		kind := faultKill
		if n < len(first) {
			kind = first[n]
		} else if x := r.faults.float(); x < 0.2 {
			kind = faultNATS
		} else if x < 0.4 {
			kind = faultMinIO
		}
		if err := r.fault(ctx, kind); err != nil {
			return err
		}
	}
}

func (r *run) fault(ctx context.Context, kind string) error {
	sig, how := syscall.SIGTERM, "restart"
	if r.o.Hard {
		sig, how = syscall.SIGKILL, "kill and restart"
	}
	switch kind {
	case faultKill:
		// One process, or now and then every process of a role; half the
		// time one that is in the middle of a job, if any is.
		var busy []*worker
		for _, w := range r.workers {
			if w.inFlight() > 0 {
				busy = append(busy, w)
			}
		}
		// Always the same draws, whatever is busy, so a seed replays the
		// driver's other choices.
		w, preferBusy, which, all := r.workers[r.faults.intN(len(r.workers))], r.faults.intN(2) == 0, r.faults.float(), r.faults.intN(4) == 0
		if preferBusy && len(busy) > 0 {
			w = busy[int(which*float64(len(busy)))]
		}
		var killed []string
		for _, x := range r.workers {
			if (x == w || (all && x.role == w.role)) && x.kill() {
				killed = append(killed, x.name)
			}
		}
		r.report.Kills += len(killed)
		r.logf("SIGKILL %v (%d of %d processes busy)", killed, len(busy), len(r.workers))
	case faultNATS:
		down := r.faults.between(500*time.Millisecond, 4*time.Second)
		r.logf("NATS: %s (down for %s)", how, down.Round(time.Millisecond))
		r.nats.stop(sig)
		sleepCtx(ctx, down)
		if err := r.nats.start(ctx); err != nil {
			return fmt.Errorf("restart NATS: %w", err)
		}
		r.report.NATSRestarts++
		r.logf("NATS: up again")
	case faultMinIO:
		// Up to 8 s: longer than minio-go's own retries of a PUT.
		down := r.faults.between(500*time.Millisecond, 8*time.Second)
		r.logf("MinIO: %s (down for %s)", how, down.Round(time.Millisecond))
		if err := r.minio.stop(r.o.Hard); err != nil {
			r.logf("MinIO stop: %v", err)
		}
		sleepCtx(ctx, down)
		if err := r.minio.start(ctx); err != nil {
			return fmt.Errorf("restart MinIO: %w", err)
		}
		r.report.MinIORestarts++
		r.logf("MinIO: up again")
	}
	return nil
}

// outcomes counts the galleries that have their outcome on the stream:
// an article event, or a held event for those meant to be held.
func (r *run) outcomes(ctx context.Context) int {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	s, err := r.js.Stream(cctx, contract.EventsStream)
	if err != nil {
		return 0
	}
	count := func(prefix string) map[string]uint64 {
		info, err := s.Info(cctx, jetstream.WithSubjectFilter(prefix+".>"))
		if err != nil {
			return nil
		}
		return info.State.Subjects
	}
	ready, held := count(contract.SubjectArticleReady), count(contract.SubjectGalleryHeld)
	n := 0
	for _, g := range r.galleries {
		subj, m := contract.GallerySubject(contract.SubjectArticleReady, g.ID), ready
		if g.Held {
			subj, m = contract.GallerySubject(contract.SubjectGalleryHeld, g.ID), held
		}
		if m[subj] > 0 {
			n++
		}
	}
	return n
}

// settle waits until every gallery has its outcome, every durable consumer
// is idle and MinIO's queue dir is empty, three checks in a row a second
// apart, or Settle passes.
func (r *run) settle(ctx context.Context) bool {
	calm := 0
	for deadline := time.Now().Add(r.o.Settle); time.Now().Before(deadline); sleepCtx(ctx, time.Second) {
		if ctx.Err() != nil {
			return false
		}
		ok := r.outcomes(ctx) == len(r.galleries) && r.minio.queued() == 0
		if ok {
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			cs, err := consumers(cctx, r.js)
			cancel()
			ok = err == nil
			for _, c := range cs {
				if c.Pending != 0 || c.AckPending != 0 {
					ok = false
				}
			}
		}
		if !ok {
			calm = 0
			continue
		}
		if calm++; calm == 3 {
			return true
		}
	}
	return false
}

// waiting says, for a run that did not settle, what each unfinished
// gallery waits for (the assembler's own view) and which consumers are busy.
func (r *run) waiting(ctx context.Context) string {
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	var out []string
	if kv, err := r.js.KeyValue(cctx, pipeline.GalleriesKV); err == nil {
		for _, g := range r.galleries {
			e, err := kv.Get(cctx, g.ID)
			if err != nil {
				out = append(out, g.ID+": no state ("+err.Error()+")")
				continue
			}
			if st, err := decodeState(e.Value()); err == nil {
				rd := st.Evaluate()
				if st.Published == nil && !(g.Held && len(rd.Failed) > 0) {
					out = append(out, fmt.Sprintf("%s waits for %v (failed %v)", g.ID, rd.Waiting, rd.Failed))
				}
			}
		}
	}
	if cs, err := consumers(cctx, r.js); err == nil {
		for _, c := range cs {
			if c.Pending != 0 || c.AckPending != 0 {
				out = append(out, fmt.Sprintf("consumer %s: %d pending, %d unacked", c.Name, c.Pending, c.AckPending))
			}
		}
	}
	if n := r.minio.queued(); n > 0 {
		out = append(out, fmt.Sprintf("MinIO queue dir: %d events", n))
	}
	return strings.Join(out, "; ")
}

// shutdown stops the workers (SIGTERM), then MinIO, then NATS.
func (r *run) shutdown() {
	var wg sync.WaitGroup
	for _, w := range r.workers {
		wg.Add(1)
		go func() { defer wg.Done(); w.stop() }()
	}
	// The supervisors no longer restart anything: Run cancelled their
	// context (a later defer) before this runs.
	wg.Wait()
	if r.nc != nil {
		r.nc.Close()
	}
	if r.minio != nil {
		_ = r.minio.stop(false)
	}
	if r.nats != nil {
		r.nats.stop(syscall.SIGTERM)
	}
}
