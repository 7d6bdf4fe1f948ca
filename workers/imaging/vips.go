package imaging

/*
#cgo pkg-config: vips
#include <stdlib.h>
#include <malloc.h>
#include <vips/vips.h>

// Two malloc arenas instead of glibc's 8 per core: libvips's worker
// threads each take an arena, and the freed tiles left spread across them
// kept 290-315 MiB resident in a worker at --concurrency 2 on 24 MP photos;
// with 2 it is 210-220 MiB at the same speed (make bench). An operator's
// MALLOC_ARENA_MAX wins.
static void photodesk_malloc_arenas(void) {
	if (getenv("MALLOC_ARENA_MAX") == NULL) {
		mallopt(M_ARENA_MAX, 2);
	}
}

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
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/davidbyttow/govips/v2/vips"
)

// ErrBadInput marks a failure caused by the photo itself (not an image, too
// large, corrupt): retrying cannot help.
var ErrBadInput = errors.New("bad input")

func badInput(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadInput, fmt.Sprintf(format, args...))
}

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
		C.photodesk_malloc_arenas()
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

// vipsErr turns a libvips error into one line: govips appends a Go stack
// trace to every message, which has no place in a failure event.
func vipsErr(err error) string {
	s := err.Error()
	if i := strings.Index(s, "\nStack:"); i >= 0 {
		s = s[:i]
	}
	s = strings.Join(strings.Fields(s), " ")
	return strings.TrimSpace(s)
}
