package imaging

/*
#cgo pkg-config: vips
#include <stdlib.h>
#include <malloc.h>
#include <vips/vips.h>

// glibc's malloc as libvips needs it. Its defaults keep freed pixel
// buffers resident: 8 arenas per core, which libvips's worker threads
// spread their tiles across, and an mmap threshold that rises to the
// largest block ever freed, after which whole-image buffers (a 2048 px
// rendition is 8 MiB) come from the arenas and fragment them. One arena
// and a fixed 256 KiB threshold took an image role at --concurrency 2 on
// 24 MP photos from 280-320 to 200-210 MiB peak for about 3% more CPU
// (a 4-run probe, with a Go memory limit). An operator's MALLOC_* or
// GLIBC_TUNABLES settings win. It runs as the binary loads: set later, it
// misses the threads that already have an arena (the peak stayed at
// 220-235 MiB).
static int photodesk_malloc_tuned;

__attribute__((constructor)) static void photodesk_malloc_tuning(void) {
	if (getenv("GLIBC_TUNABLES") != NULL) {
		return;
	}
	if (getenv("MALLOC_ARENA_MAX") == NULL) {
		photodesk_malloc_tuned += mallopt(M_ARENA_MAX, 1);
	}
	if (getenv("MALLOC_MMAP_THRESHOLD_") == NULL) {
		photodesk_malloc_tuned += mallopt(M_MMAP_THRESHOLD, 256 * 1024);
	}
}

static int photodesk_malloc_tunings(void) { return photodesk_malloc_tuned; }

static void photodesk_allow_loaders(void) {
	// Every loader off, then only the formats photodesk accepts back on:
	// PDF, SVG, matlab and friends never see a byte of an upload, whatever
	// it claims to be.
	vips_operation_block_set("VipsForeignLoad", TRUE);
	vips_operation_block_set("VipsForeignLoadJpeg", FALSE);
	vips_operation_block_set("VipsForeignLoadPng", FALSE);
	vips_operation_block_set("VipsForeignLoadWebp", FALSE);
	vips_operation_block_set("VipsForeignLoadTiff", FALSE);
	vips_operation_block_set("VipsForeignLoadHeif", FALSE);
	vips_operation_block_set("VipsForeignLoadNsgif", FALSE);
}
*/
import "C"

import (
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/davidbyttow/govips/v2/vips"

	"github.com/photodesk/photodesk/internal/photometa"
)

// ErrBadInput marks a failure caused by the photo itself (not an image, too
// large, corrupt): retrying cannot help. It is photometa's, so one mark
// says "bad photo" whichever library found it.
var ErrBadInput = photometa.ErrBadInput

var badInput = photometa.BadInput

var (
	startOnce sync.Once
	support   struct {
		heifLoad, avifSave, webpSave bool
	}
)

// Start starts libvips once per process, with the operation cache off (a
// pipeline never repeats an operation, and the cache would pin buffers) and
// only the accepted loaders enabled. log receives libvips warnings.
func Start(log *slog.Logger) {
	startOnce.Do(func() {
		if log == nil {
			log = slog.Default()
		}
		vips.LoggingSettings(func(domain string, level vips.LogLevel, msg string) {
			log.Debug("libvips", "domain", domain, "level", int(level), "msg", msg)
		}, vips.LogLevelWarning)
		vips.Startup(&vips.Config{ConcurrencyLevel: 0, MaxCacheFiles: 0, MaxCacheMem: 0, MaxCacheSize: 0})
		C.photodesk_allow_loaders()
		support.heifLoad = vips.IsTypeSupported(vips.ImageTypeHEIF)
		support.webpSave = canSave(WebP)
		support.avifSave = canSave(AVIF)
	})
}

// CanWrite reports whether this libvips build can write f.
func CanWrite(f Format) bool {
	Start(nil)
	switch f {
	case JPEG:
		return true
	case WebP:
		return support.webpSave
	case AVIF:
		return support.avifSave
	}
	return false
}

// CanRead reports whether this libvips build reads the sniffed format.
func CanRead(format string) bool {
	Start(nil)
	switch format {
	case "jpeg", "png", "webp", "tiff", "gif":
		return true
	case "heif":
		return support.heifLoad
	}
	return false
}

// canSave encodes a tiny image to find out whether a saver works here.
func canSave(f Format) bool {
	img, err := vips.Black(8, 8)
	if err != nil {
		return false
	}
	defer img.Close()
	if err := img.ToColorSpace(vips.InterpretationSRGB); err != nil {
		return false
	}
	b, err := export(img, f, 50, Options{AVIFEffort: 1, WebPEffort: 0}, "")
	return err == nil && len(b) > 0
}

// mallocTunings is how many of the two malloc settings the process start
// applied (mallopt returns 1 for each it took).
func mallocTunings() int { return int(C.photodesk_malloc_tunings()) }

// vipsErr turns a libvips error into one line: govips appends a Go stack
// trace to every message, which has no place in a failure event.
func vipsErr(err error) string {
	s := err.Error()
	if i := strings.Index(s, "\nStack:"); i >= 0 {
		s = s[:i]
	}
	s = strings.Join(strings.Fields(s), " ")
	if s = strings.TrimSpace(s); s == "" {
		return noReason
	}
	return s
}

// noReason stands in for libvips' message when there is none (see
// vipsJobs).
const noReason = "libvips gave no reason"

// vipsJobs lets a failure be run again alone. libvips keeps one error
// buffer per process: govips reads and clears it only after a failure, so
// a job's reason can be lost to another job's failure, or come back with
// messages that work which did not fail left behind (and libvips drops
// messages while any thread has errors frozen). Jobs do their libvips
// work under the read lock; one that fails as bad input runs once more
// under the write lock, with no other job in libvips and the buffer
// cleared, and reports that reason: a photo fails the same way every
// time, and the photographer is owed the reason. Bad photos are rare, so
// the second run costs little.
var vipsJobs sync.RWMutex

// rerunWait bounds how long a failed job waits to run again alone. A job
// abandoned at its deadline while stuck in libvips keeps the read lock as
// long as libvips keeps it; a writer blocked on it would stop every image
// job of the process behind it. So the rerun only tries the lock, between
// the other jobs' libvips work, and past rerunWait keeps the first
// reason.
var rerunWait = time.Minute

// withReason runs f, a whole unit of libvips work that takes no lock of
// its own, as vipsJobs says.
func withReason[T any](f func() (T, error)) (T, error) {
	vipsJobs.RLock()
	v, err := f()
	vipsJobs.RUnlock()
	if !errors.Is(err, ErrBadInput) {
		return v, err
	}
	for give := time.Now().Add(rerunWait); !vipsJobs.TryLock(); time.Sleep(2 * time.Millisecond) {
		if time.Now().After(give) {
			return v, err
		}
	}
	defer vipsJobs.Unlock()
	C.vips_error_clear()
	return f()
}

// GoMemoryLimit is a soft limit for the Go heap of a process that runs jobs
// image jobs at once. A job holds its original and, while it encodes, an
// uncompressed copy of a rendition (up to 12 MiB at 2048 px) in Go memory,
// and drops both when done; with Go's default of collecting when the heap
// has doubled, that garbage added 20-30 MiB to an image role's peak at
// --concurrency 2 (a 3-run probe on 24 MP photos). The limit is soft: a
// job with a larger original costs more collections, not a failure.
func GoMemoryLimit(jobs int) int64 {
	return 24<<20 + int64(max(jobs, 1))*(20<<20)
}
