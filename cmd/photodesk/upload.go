package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/photodesk/photodesk/pipeline"
	"github.com/photodesk/photodesk/pipeline/config"
	"github.com/photodesk/photodesk/pipeline/contract"
	"github.com/photodesk/photodesk/pipeline/gallery"
)

// photoExts are the files a folder upload takes as photos; other files in
// the folder (sidecars, notes, .DS_Store) are left alone.
var photoExts = map[string]bool{
	".jpg": true, ".jpeg": true, ".png": true, ".webp": true, ".tif": true, ".tiff": true,
	".heic": true, ".heif": true, ".avif": true, ".gif": true,
}

type uploadFile struct {
	path, name string
	size       int64
}

func runUpload(ctx context.Context, args []string) error {
	c := newCLI("upload").withTracing()
	fs := c.fs
	gallery := fs.String("gallery", "", "gallery id (a slug); default: the folder's name")
	parallel := fs.Int("parallel", 4, "uploads at once")
	progressMode := fs.String("progress", "auto", "auto (bars on a terminal), bars, or lines")
	wait := fs.Bool("wait", false, "after uploading, follow the gallery until its article is ready (exit 0) or held or failed (exit 1)")
	waitTimeout := fs.Duration("wait-timeout", 10*time.Minute, "give up waiting after this long")
	partMiB := fs.Int64("part-size", 16, "MiB per part of a resumable upload; files over 4 parts' worth resume where an interrupted run stopped")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: photodesk upload [--gallery ID] [--wait] DIR | FILE...\n\nPuts the photos, and gallery.json when present, into the originals bucket under <gallery-id>/.\nMinIO's bucket notification then starts the pipeline.")
		fs.PrintDefaults()
	}
	if err := c.parse(args); err != nil {
		return err
	}
	cfg := c.cfg
	if fs.NArg() == 0 {
		fs.Usage()
		return errUsage
	}
	files, dir, err := collect(fs.Args())
	if err != nil {
		return err
	}
	if *gallery == "" {
		if dir == "" {
			return errors.New("--gallery is required when uploading files rather than a folder")
		}
		*gallery = slugify(filepath.Base(dir))
	}
	if err := contract.ValidGalleryID(*gallery); err != nil {
		return fmt.Errorf("%w; choose one with --gallery", err)
	}

	// Refuse what the pipeline would refuse, here, with the reason.
	var photos []uploadFile
	var manifest *uploadFile
	manifestFirst := false
	refused := 0
	var total int64
	for _, f := range files {
		if f.name == contract.ManifestName {
			m, err := checkManifest(f.path)
			if err != nil {
				fmt.Fprintf(stdout, "refused  %s: %v\n", f.name, err)
				refused++
				continue
			}
			manifest, manifestFirst = &f, len(m.Pictures()) > 0
			total += f.size
			continue
		}
		if err := contract.ValidPhotoName(f.name); err != nil {
			fmt.Fprintf(stdout, "refused  %s: %v\n", f.name, err)
			refused++
			continue
		}
		if f.size == 0 {
			fmt.Fprintf(stdout, "refused  %s: empty file\n", f.name)
			refused++
			continue
		}
		photos = append(photos, f)
		total += f.size
	}
	if *wait && refused > 0 {
		return fmt.Errorf("%d file(s) refused; fix them before waiting for an article", refused)
	}

	store, err := pipeline.NewStore(cfg)
	if err != nil {
		return err
	}
	// Each PUT starts its photo's trace (see putFile).
	tlog := newLogger(os.Stderr, slog.LevelWarn)
	stopTracing, err := c.startTracing(ctx, tlog, "upload")
	if err != nil {
		return err
	}
	defer stopTracing()
	if err := preflight(ctx, store, cfg); err != nil {
		return err
	}
	ann := startAnnouncer(cfg)
	defer ann.close()
	since := time.Now().Add(-time.Second)
	fmt.Fprintf(stdout, "uploading %d photo(s)%s to %s/%s/ on %s\n", len(photos), map[bool]string{true: " and gallery.json", false: ""}[manifest != nil], cfg.OriginalsBucket, *gallery, cfg.S3Endpoint)
	prog := newProgress(stdout, *progressMode, total)
	var (
		mu     sync.Mutex
		failed int
		wg     sync.WaitGroup
		sem    = make(chan struct{}, max(*parallel, 1))
	)
	put := func(f uploadFile) {
		err := putFile(ctx, store, ann, cfg.OriginalsBucket, *gallery, f, prog.start(f), max(*partMiB, 5)<<20)
		if err != nil {
			err = s3Problem(err, cfg)
			mu.Lock()
			failed++
			mu.Unlock()
		}
		prog.done(f, err)
	}
	// A manifest that names its photos goes first: the gallery waits for
	// each of them anyway, and their crops are made around the focal
	// points it gives the first time, not again when it comes. One that
	// names none goes last, as what says the upload is complete.
	if manifestFirst {
		put(*manifest)
	}
	for _, f := range photos {
		wg.Add(1)
		sem <- struct{}{}
		go func() { defer wg.Done(); defer func() { <-sem }(); put(f) }()
	}
	wg.Wait()
	if manifest != nil && !manifestFirst {
		put(*manifest)
	}
	prog.wait()
	fmt.Fprintf(stdout, "gallery %s: %d uploaded, %d refused, %d failed\n", *gallery, len(photos)+boolInt(manifest != nil)-failed, refused, failed)
	if failed > 0 || refused > 0 {
		return fmt.Errorf("%d file(s) not uploaded", failed+refused)
	}
	if !*wait {
		return nil
	}
	return waitArticle(ctx, stdout, cfg, *gallery, since, *waitTimeout)
}

// preflight reaches the originals bucket once, so an unreachable server or
// bad credentials fail with one clear message, not one per file.
func preflight(ctx context.Context, store *pipeline.Store, cfg config.Config) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	ok, err := store.BucketExists(ctx, cfg.OriginalsBucket)
	if err != nil {
		return s3Problem(err, cfg)
	}
	if !ok {
		return fmt.Errorf("S3 at %s has no bucket %q: is this photodesk's storage? (photodesk dev or photodesk worker --setup create it)", cfg.S3Endpoint, cfg.OriginalsBucket)
	}
	return nil
}

// s3Problem says what went wrong talking to S3 in the photographer's terms.
func s3Problem(err error, cfg config.Config) error {
	var nerr *net.OpError
	switch code := minio.ToErrorResponse(err).Code; {
	case errors.As(err, &nerr), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("cannot reach S3 at %s (is photodesk dev running, or --s3-endpoint right?): %v", cfg.S3Endpoint, err)
	case code == "InvalidAccessKeyId", code == "SignatureDoesNotMatch", code == "AccessDenied":
		return fmt.Errorf("S3 at %s refused the credentials for access key %q (%s): check --s3-access-key and --s3-secret-key", cfg.S3Endpoint, cfg.S3AccessKey, code)
	}
	return err
}

// collect lists the files to upload: a folder's photos and manifest, or
// the files named.
func collect(args []string) ([]uploadFile, string, error) {
	if len(args) == 1 {
		if st, err := os.Stat(args[0]); err == nil && st.IsDir() {
			dir := args[0]
			entries, err := os.ReadDir(dir)
			if err != nil {
				return nil, "", err
			}
			var files []uploadFile
			for _, e := range entries {
				name := e.Name()
				if !e.Type().IsRegular() || strings.HasPrefix(name, ".") {
					continue
				}
				if name != contract.ManifestName && !photoExts[strings.ToLower(filepath.Ext(name))] {
					continue
				}
				info, err := e.Info()
				if err != nil {
					return nil, "", err
				}
				files = append(files, uploadFile{path: filepath.Join(dir, name), name: name, size: info.Size()})
			}
			if len(files) == 0 {
				return nil, "", fmt.Errorf("%s holds no photos (%s) and no %s", dir, strings.Join(sortedKeys(photoExts), " "), contract.ManifestName)
			}
			abs, _ := filepath.Abs(dir)
			return files, abs, nil
		}
	}
	var files []uploadFile
	for _, p := range args {
		st, err := os.Stat(p)
		if err != nil {
			return nil, "", err
		}
		if !st.Mode().IsRegular() {
			return nil, "", fmt.Errorf("%s is not a regular file", p)
		}
		files = append(files, uploadFile{path: p, name: filepath.Base(p), size: st.Size()})
	}
	return files, "", nil
}

// checkManifest applies the assembler's own rules, so a bad gallery.json
// is refused here with the reason rather than failing later.
func checkManifest(path string) (*gallery.Manifest, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m, err := gallery.ParseManifest(b)
	if err != nil {
		return nil, err
	}
	for _, n := range m.Notes(time.Now()) {
		fmt.Fprintln(os.Stderr, "note: "+n)
	}
	return m, nil
}

// putFile uploads one file in a span of its own, the root of the photo's
// trace: its traceparent goes along as user metadata, which MinIO's event
// hands to ingest.
func putFile(ctx context.Context, store *pipeline.Store, ann *announcer, bucket, gallery string, f uploadFile, progress io.Reader, partSize int64) (err error) {
	ctx, span := pipeline.StartUploadSpan(ctx, bucket, gallery+"/"+f.name)
	defer func() { pipeline.EndSpan(span, err) }()
	fh, err := os.Open(f.path)
	if err != nil {
		return err
	}
	defer fh.Close()
	head := make([]byte, 512)
	n, _ := io.ReadFull(fh, head)
	if _, err := fh.Seek(0, io.SeekStart); err != nil {
		return err
	}
	ctype := http.DetectContentType(head[:n])
	if f.name == contract.ManifestName {
		ctype = "application/json"
	}
	if f.size > 4*partSize {
		err = putResumable(ctx, store, bucket, gallery+"/"+f.name, f, ctype, partSize, progress, stdout)
	} else {
		_, err = store.PutObject(ctx, bucket, gallery+"/"+f.name, fh, f.size, minio.PutObjectOptions{ContentType: ctype, Progress: progress, UserMetadata: pipeline.TraceMetadata(ctx)})
	}
	if err == nil {
		ann.announce(ctx, store, bucket, gallery+"/"+f.name)
	}
	return err
}

// announcer publishes each upload's event as soon as it is stored
// (pipeline.AnnounceUpload), when this machine reaches the pipeline's NATS. It
// connects in the background while the first files upload: a photographer
// away from the newsroom's NATS uploads as before (a refused connection
// fails at once, an unanswered one within 2 s), and MinIO's notification
// starts the pipeline a few seconds later.
type announcer struct {
	ready chan struct{} // closed when the connection attempt has ended
	nc    *nats.Conn
	js    jetstream.JetStream
}

func startAnnouncer(cfg config.Config) *announcer {
	a := &announcer{ready: make(chan struct{})}
	go func() {
		defer close(a.ready)
		if nc, js, err := pipeline.Connect(cfg, "photodesk-upload"); err == nil {
			a.nc, a.js = nc, js
		}
	}()
	return a
}

func (a *announcer) announce(ctx context.Context, store *pipeline.Store, bucket, key string) {
	actx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	select {
	case <-a.ready:
	case <-actx.Done():
		return // still connecting: an unreachable NATS costs each upload this once
	}
	if a.js == nil {
		return
	}
	_ = pipeline.AnnounceUpload(actx, a.js, store, bucket, key) // MinIO's notification stands behind it
}

// close closes the connection, or leaves a slow attempt to the process's exit.
func (a *announcer) close() {
	go func() {
		<-a.ready
		if a.nc != nil {
			a.nc.Close()
		}
	}()
}

var nonSlug = regexp.MustCompile(`[^a-z0-9]+`)

// slugify makes a gallery id from a folder name: "Day 1 (Beijing)" -> "day-1-beijing".
func slugify(s string) string {
	s = nonSlug.ReplaceAllString(strings.ToLower(s), "-")
	s = strings.Trim(s, "-")
	if len(s) > 64 {
		s = strings.TrimRight(s[:64], "-")
	}
	return s
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.0f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
