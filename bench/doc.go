// Package bench holds photodesk's performance benchmarks (`make bench`,
// `make bench-short`); it has no code of its own outside its tests.
//
//   - BenchmarkDerivativeSet: the per-photo cost of every derivative the two
//     image roles make of one 24 MP JPEG (renditions: thumb, medium and large
//     in JPEG and WebP; watermark: large JPEG+WebP and a full-size JPEG, with
//     the source line drawn), done by the roles' code in process
//     (impl=roles) and by the libvips command-line tools with one process
//     per output, as an ops script would (impl=cli). ns/op is wall time;
//     cpu-s/op is user+system CPU (of this process for roles, whose libvips
//     threads run in it; of the children for cli).
//
//   - BenchmarkDerivativeBreakdown: the same work split by output; it runs
//     only when PHOTODESK_BENCH_BREAKDOWN=1:
//
//     PHOTODESK_BENCH_BREAKDOWN=1 go test -run '^$' -bench Breakdown -benchtime 3x -count 5 ./bench >b.txt
//     go run golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da -col /impl b.txt
//
//   - BenchmarkWorkerPeakRSS: the peak resident set (VmHWM) of a real
//     `photodesk worker` process of one role at --concurrency 2 while it
//     works through a batch of 24 MP uploads, end to end through MinIO's
//     notification, JetStream and the ingest role. Also: photos/s, end to
//     end from the first upload to the last result (it includes the up to
//     3 s MinIO holds a notification in its queue dir before sending it);
//     worker-photos/s, from a batch's first photo.uploaded event to its
//     last result, by the stream's timestamps; and the worker's CPU time
//     per photo.
//
//   - BenchmarkPipeline: the pipeline's own overhead on small photos
//     (640×427): 1,000 photos in 10 galleries (with their gallery.json)
//     through every stage, each role a separate `photodesk worker` process
//     exporting spans to an OTLP receiver in the benchmark. photos/s from
//     the first S3 event to the last per-photo completion (a photo's last
//     result), wall-photos/s from the first PUT; p50/p99 latency from a
//     photo's S3 event to its completion; and, from the spans, the part of
//     it that is queue wait (MinIO sends events in 3 s bursts), image work
//     (image.* spans) and overhead (the rest). pipeline_test.go defines each
//     figure.
//
//   - BenchmarkScaleOut: photos/s with 1, 2 and 3 worker processes per
//     role on 150 small photos, and the CPU time per photo of each role,
//     of MinIO and of NATS (this process): the role with the most CPU per
//     photo is the next bottleneck. Its finding is noted in
//     scaleout_test.go.
//
//   - BenchmarkEndToEnd: the end-to-end figure. A gallery of 30
//     24 MP JPEGs (photos=30; 4 with -short) and its gallery.json are
//     uploaded, 4 PUTs at a time as `photodesk upload` does, to one real
//     `photodesk dev` process (default settings, free loopback ports); each
//     op is a new gallery. ns/op and e2e-s are the time from the first PUT
//     to the gallery's article.ready event on JetStream; it includes the
//     0–3 s MinIO holds a notification in its queue dir. cpu-s/photo is the
//     CPU time of the dev process and its MinIO child during the op, per
//     photo; floor-s is that CPU time over the machine's cores, the
//     shortest the op could take here for the work it did; peak-MiB is the
//     dev process's VmHWM. With -v each op logs when each kind of event
//     came and how long each role's jobs took.
//
//     shape=procs is the production shape: each role its own `photodesk
//     worker` process (--concurrency 2), the API its own `photodesk api`,
//     NATS (in the benchmark process) and MinIO as the test stack runs
//     them, uploads through the API; cpu-s/photo sums every one of them
//     (the benchmark's own uploading included, in the NATS process).
//
// Issue 20 (`make bench BASELINE=<commit>`, default f3de3da): the
// benchmarks that run photodesk processes (EndToEnd, WorkerPeakRSS,
// Pipeline, ScaleOut) run each binary as a sub-benchmark, bin=head (the
// work tree's, built by the benchmark) and, when PHOTODESK_BENCH_BASELINE
// names one, bin=base: bench/baseline.sh builds the commit's
// ./cmd/photodesk from `git archive` once into
// ~/.cache/photodesk/baseline-<commit>/. `make bench` runs BENCH_COUNT
// rounds of `go test -count 1`, base and head in turn in each (head first
// in odd rounds, PHOTODESK_BENCH_ROUND), and bench/report divides each
// round's head by its base: the median of those ratios, with its 95%
// interval. A baseline is given the stack it expects (its own `setup`
// makes the streams), and a baseline without the crops (f3de3da) is
// compared with a head that makes none either (--crops=), so both do the
// same image work; what else came since (the assembler stamping metadata
// into every published file, issue 16, and publishing them) has no switch
// and is part of head's cost. BenchmarkDerivativeSet runs the roles' code in this process,
// which cannot be the baseline's: against the baseline, the per-photo
// figures are end to end (dev, and shape=procs) and the worker's, and
// the derivative set is compared with imgproxy instead.
//
//   - BenchmarkDerivativeSet/impl=imgproxy: imgproxy (built by
//     bench/imgproxy.sh from ../shared/peers/imgproxy into
//     ~/.cache/photodesk/imgproxy-<version>/, named by
//     PHOTODESK_BENCH_IMGPROXY; skipped, saying so, without it) makes the
//     nine outputs of impl=roles-nocrops from the same 24 MP JPEG, served
//     from a local file (IMGPROXY_LOCAL_FILESYSTEM_ROOT), one request per
//     output, one at a time, to imgproxy on 127.0.0.1. The mapping:
//     rs:fit:S:S for a long edge S (no resize for the full-size copy),
//     q:Q the preset's quality, @jpg/@webp, IMGPROXY_WEBP_EFFORT the
//     roles' effort (2); the roles write presets progressive and the
//     full-size copy baseline, and imgproxy sets that per server
//     (IMGPROXY_JPEG_PROGRESSIVE), so two servers run, one for each
//     (imgproxy always optimises Huffman tables, the roles only for
//     presets). The watermark is the CLI baseline's PNG for the large
//     (the role's text, em size 0.03 of the width and opacity 0.85, drawn
//     by the same code) as IMGPROXY_WATERMARK_PATH, placed with
//     wm:1:soea:0.02:0.03:SCALE: bottom right, the role's margin (0.02 of
//     the width; imgproxy's Y offset is a fraction of the height), scaled
//     to the same fraction of each output's width. cpu-s/op is both
//     servers' user+system CPU (/proc) per set; peak-MiB the larger VmHWM.
//
//   - BenchmarkScaleOut also reports, for bin=head, image-cpu-ms/photo
//     (the image roles' own work on the small photos, in process, before
//     the stack starts) and orch/image: all the CPU per photo of every
//     process less that, over it (issue 20's orchestration figure).
//
// bench-short (in `make test`) runs every benchmark once, small, on the
// work tree's binary; impl=imgproxy only when imgproxy is already built
// (its build takes minutes); then EndToEnd/photos=4/upload=api with the
// work tree's own binary as the baseline, for the bin=base plumbing.
//
// They measure; they assert only that the work was done (the outputs exist
// with the right sizes, no photo failed), never how fast it was.
package bench
