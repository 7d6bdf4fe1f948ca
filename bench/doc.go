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
// They measure; they assert only that the work was done (the outputs exist
// with the right sizes, no photo failed), never how fast it was.
package bench
