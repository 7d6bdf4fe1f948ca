package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/photodesk/photodesk/internal/imaging"
)

// impl=imgproxy of BenchmarkDerivativeSet: imgproxy (Go + libvips, the
// image server most users would pick instead; issue 20) makes the nine
// outputs of impl=roles-nocrops from the same 24 MP JPEG, one HTTP request
// per output, one request at a time. `make bench` builds imgproxy from
// ../shared/peers (bench/imgproxy.sh) and names it in
// PHOTODESK_BENCH_IMGPROXY; without it the sub-benchmark is skipped and
// says why. bench/doc.go says how the options map to the roles'.

// imgproxyServer is one running imgproxy on loopback.
type imgproxyServer struct {
	cmd  *exec.Cmd
	base string
	done chan struct{}
	log  string
}

// startImgproxy starts imgproxy on a free loopback port, serving the files
// under root (IMGPROXY_LOCAL_FILESYSTEM_ROOT), with the watermark image at
// mark and env on top of the common settings, and waits for /health.
func startImgproxy(b *testing.B, path, root, mark string, env ...string) *imgproxyServer {
	b.Helper()
	addr := e2eFreeAddr(b)
	s := &imgproxyServer{base: "http://" + addr, done: make(chan struct{}), log: filepath.Join(b.TempDir(), "imgproxy.log")}
	logFile, err := os.Create(s.log)
	if err != nil {
		b.Fatal(err)
	}
	s.cmd = exec.Command(path)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "IMGPROXY_") {
			s.cmd.Env = append(s.cmd.Env, kv)
		}
	}
	s.cmd.Env = append(s.cmd.Env,
		"IMGPROXY_BIND="+addr, // loopback only
		"IMGPROXY_LOCAL_FILESYSTEM_ROOT="+root,
		"IMGPROXY_WATERMARK_PATH="+mark,
		"IMGPROXY_WEBP_EFFORT="+fmt.Sprint(webpEffort),
		// Its default, said here: the roles strip metadata too.
		"IMGPROXY_STRIP_METADATA=true",
	)
	s.cmd.Env = append(s.cmd.Env, env...)
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	if err := s.cmd.Start(); err != nil {
		b.Fatal(err)
	}
	go func() { _ = s.cmd.Wait(); logFile.Close(); close(s.done) }()
	b.Cleanup(func() { _ = s.cmd.Process.Kill(); <-s.done })
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(s.base + "/health"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		select {
		case <-s.done:
			s.fail(b, "imgproxy exited at start-up (%v)", s.cmd.ProcessState)
		default:
		}
		if time.Now().After(deadline) {
			s.fail(b, "imgproxy not healthy on %s after a minute", addr)
		}
	}
}

func (s *imgproxyServer) fail(b *testing.B, format string, args ...any) {
	b.Helper()
	log, _ := os.ReadFile(s.log)
	b.Fatalf("%s\nimgproxy's log (last 2 KiB):\n%s", fmt.Sprintf(format, args...), log[max(0, len(log)-2048):])
}

// get fetches one processed image.
func (s *imgproxyServer) get(ctx context.Context, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", s.base+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s %s", path, resp.Status, data)
	}
	return data, nil
}

// imgproxyRequest is one output as an imgproxy request.
type imgproxyRequest struct {
	name   string // output.name + "." + ext
	full   bool   // the full-size copy: served by the baseline-JPEG server
	path   string
	format imaging.Format
	preset imaging.Preset
}

// imgproxyRequests maps the outputs (crops left out: the nine outputs the
// issue compares) to imgproxy's processing options:
//
//   - size: rs:fit:S:S (long edge S, never enlarged); the full-size copy
//     has no resize;
//   - quality: q:Q, the preset's (the full-size copy's, 90);
//   - format: @jpg or @webp; WebP effort is server-wide (IMGPROXY_WEBP_EFFORT);
//   - watermark: wm:1:soea:X:Y:SCALE, the same PNG the CLI baseline
//     composites on the large (the role's text, em size and opacity,
//     rendered for 2048 px), at the bottom right, offset by the role's
//     margin (a fraction of the width: X as is, Y as a fraction of the
//     height), scaled to the same fraction of each output's width.
func (s *derivSetup) imgproxyRequests(b *testing.B, source string) []imgproxyRequest {
	b.Helper()
	ov, ok := s.overlays["large.wm"]
	if !ok {
		b.Fatal("no large.wm overlay: imgproxy's watermark is mapped from it")
	}
	w, h := photoW, photoH // the aspect, for the margin's Y
	var lw int
	for _, o := range s.outputs {
		if o.name == "large.wm" {
			lw, _ = expectedSize(o.preset)
		}
	}
	margin := s.cfg.Watermark.Margin
	scale := float64(ov.w) / float64(lw)
	var reqs []imgproxyRequest
	for _, o := range s.outputs {
		if o.preset.Crop() {
			continue
		}
		var opts []string
		if o.preset.Size != 0 {
			opts = append(opts, fmt.Sprintf("rs:fit:%d:%d", o.preset.Size, o.preset.Size))
		}
		opts = append(opts, fmt.Sprintf("q:%d", o.preset.Quality))
		if o.marked {
			opts = append(opts, fmt.Sprintf("wm:1:soea:%g:%g:%.4f", margin, margin*float64(w)/float64(h), scale))
		}
		for _, f := range o.preset.Formats {
			ext := map[imaging.Format]string{imaging.JPEG: "jpg", imaging.WebP: "webp"}[f]
			if ext == "" {
				b.Fatalf("%s: no imgproxy mapping for %s", o.name, f)
			}
			reqs = append(reqs, imgproxyRequest{
				name: o.name + "." + f.Ext(), full: o.preset.Size == 0, format: f, preset: o.preset,
				path: "/insecure/" + strings.Join(opts, "/") + "/plain/" + source + "@" + ext,
			})
		}
	}
	return reqs
}

// benchImgproxy times the set's requests. JPEG progressiveness is
// server-wide in imgproxy, and the roles write the presets progressive and
// the full-size copy baseline, so two servers run: one progressive for
// the presets, one baseline for the full-size copy. cpu-s/op is both
// processes' user+system CPU (/proc) per set; peak-MiB the larger VmHWM
// of the two (the full-size copy's, in practice), presets-peak-MiB the
// presets server's.
func benchImgproxy(b *testing.B, s *derivSetup) {
	path := os.Getenv("PHOTODESK_BENCH_IMGPROXY")
	if path == "" {
		b.Skip("PHOTODESK_BENCH_IMGPROXY is unset: `make bench` builds imgproxy from ../shared/peers (bench/imgproxy.sh) and sets it")
	}
	ov := s.overlays["large.wm"]
	root := filepath.Dir(s.in)
	presets := startImgproxy(b, path, root, ov.path, "IMGPROXY_JPEG_PROGRESSIVE=true")
	full := startImgproxy(b, path, root, ov.path, "IMGPROXY_JPEG_PROGRESSIVE=false")
	reqs := s.imgproxyRequests(b, "local:///"+filepath.Base(s.in))
	ctx := context.Background()

	cpu := func() time.Duration {
		var t time.Duration
		for _, srv := range []*imgproxyServer{presets, full} {
			c, err := procCPU(srv.cmd.Process.Pid)
			if err != nil {
				b.Fatal(err)
			}
			t += c
		}
		return t
	}
	got := map[string][]byte{}
	cpu0 := cpu()
	for b.Loop() {
		for _, r := range reqs {
			srv := presets
			if r.full {
				srv = full
			}
			data, err := srv.get(ctx, r.path)
			if err != nil {
				srv.fail(b, "%s: %v", r.name, err)
			}
			got[r.name] = data
		}
	}
	used := cpu() - cpu0
	b.StopTimer()
	peak := int64(0)
	var presetsPeak int64
	for _, srv := range []*imgproxyServer{presets, full} {
		h, err := vmHWM(srv.cmd.Process.Pid)
		if err != nil {
			b.Fatal(err)
		}
		peak = max(peak, h)
		if srv == presets {
			presetsPeak = h
		}
	}
	for _, r := range reqs {
		checkImage(b, "imgproxy "+r.name, got[r.name], r.format, r.preset)
	}
	// The same work: imgproxy's marked large differs from its plain one
	// where the role puts the mark, and hardly anywhere else.
	if marked, plain := got["large.wm.jpg"], got["large.jpg"]; marked != nil && plain != nil {
		m, err1 := jpeg.Decode(bytes.NewReader(marked))
		p, err2 := jpeg.Decode(bytes.NewReader(plain))
		if err := errors.Join(err1, err2); err != nil {
			b.Fatal(err)
		}
		box := image.Rect(ov.x, ov.y, ov.x+ov.w, ov.y+ov.h)
		if d := meanAbsDiff(m, p, box); d < 5 {
			b.Fatalf("imgproxy's large.wm differs from its large by %.2f levels where the mark should be (%v): no watermark there", d, box)
		}
		if d := meanAbsDiff(m, p, image.Rect(0, 0, box.Min.X, box.Min.Y)); d > 1 {
			b.Fatalf("imgproxy's large.wm differs from its large by %.2f levels away from the mark", d)
		}
	}
	b.ReportMetric(used.Seconds()/float64(b.N), "cpu-s/op")
	b.ReportMetric(float64(peak)/(1<<20), "peak-MiB")
	b.ReportMetric(float64(presetsPeak)/(1<<20), "presets-peak-MiB")
}
