package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/photodesk/photodesk/internal/fixture"
	"github.com/photodesk/photodesk/pipeline"
	"github.com/photodesk/photodesk/pipeline/contract"
)

// Kinds of really broken photo: the roles must fail them, with a reason.
const (
	brokenTruncated = "truncated"    // a JPEG cut off after 60 %
	brokenText      = "not-an-image" // a text file named .jpg
)

// galleryPlan is one gallery of the run and what must come of it.
type galleryPlan struct {
	ID     string
	Photos []*photoPlan
	// Held: a broken photo is listed in the manifest, so the assembler
	// must hold the gallery (photodesk.gallery.held) and publish nothing.
	// Otherwise broken photos are uploaded but not listed, and the gallery
	// must be published with every listed photo.
	Held     bool
	Manifest []byte
	// Order is the upload order of the objects: the photos and, at a
	// random place, gallery.json (nil).
	Order []*photoPlan

	manifestETag string
}

// photoPlan is one uploaded photo.
type photoPlan struct {
	Gallery, Name string
	Broken        string // "" for a good photo
	Listed        bool
	W, H          int
	Seed          int64
	Taken         string // EXIF DateTimeOriginal

	etag string // as the PUT returned it
}

func (p *photoPlan) key() string { return p.Gallery + "/" + p.Name }

// plan makes the galleries of the run from the seed: every third gallery
// has a broken photo (truncated and not-an-image by turns), and every
// third of those lists it, so that gallery is held.
func plan(rng *rand.Rand, galleries, photos int) []*galleryPlan {
	var out []*galleryPlan
	for i := range galleries {
		g := &galleryPlan{ID: fmt.Sprintf("chaos-g%03d", i+1)}
		type mphoto struct {
			File    string `json:"file"`
			Caption string `json:"caption"`
		}
		var listed []mphoto
		for j := range photos {
			long := 800 + rng.IntN(801)
			short := long * 2 / 3
			w, h := long, short
			if rng.IntN(4) == 0 {
				w, h = short, long
			}
			p := &photoPlan{
				Gallery: g.ID, Name: fmt.Sprintf("p%02d.jpg", j+1), Listed: true, W: w, H: h, Seed: rng.Int64(),
				Taken: fmt.Sprintf("2026:07:%02d %02d:%02d:%02d", 28+rng.IntN(3), 8+rng.IntN(12), rng.IntN(60), rng.IntN(60)),
			}
			g.Photos = append(g.Photos, p)
		}
		if i%3 == 1 {
			k := i / 3
			p := &photoPlan{Gallery: g.ID, Broken: brokenTruncated, W: 1000, H: 667, Seed: rng.Int64(), Taken: "2026:07:29 12:00:00"}
			if k%2 == 1 {
				p.Broken = brokenText
			}
			p.Name = "broken-" + p.Broken + ".jpg"
			g.Held = k%3 == 1
			p.Listed = g.Held
			// The broken photo goes somewhere in the middle of the order.
			at := rng.IntN(len(g.Photos) + 1)
			g.Photos = append(g.Photos[:at], append([]*photoPlan{p}, g.Photos[at:]...)...)
		}
		for _, p := range g.Photos {
			if p.Listed {
				listed = append(listed, mphoto{File: p.Name, Caption: "混沌测试：" + g.ID + " 的 " + p.Name + "，上传时进程被杀、服务器被重启。"})
			}
		}
		g.Manifest, _ = json.MarshalIndent(map[string]any{
			"headline": "高清大图|混沌测试 " + g.ID,
			"byline":   []string{"张晓明", "李文涛"},
			"source":   "工人日报",
			"dateline": "北京",
			"photos":   listed,
		}, "", "  ")
		g.Order = append([]*photoPlan(nil), g.Photos...)
		rng.Shuffle(len(g.Order), func(a, b int) { g.Order[a], g.Order[b] = g.Order[b], g.Order[a] })
		// The manifest may come before, between or after the photos.
		at := rng.IntN(len(g.Order) + 1)
		g.Order = append(g.Order[:at], append([]*photoPlan{nil}, g.Order[at:]...)...)
		out = append(out, g)
	}
	return out
}

// body makes the photo's bytes: a generated scene with its EXIF date, or
// the broken file.
func (p *photoPlan) body() ([]byte, error) {
	if p.Broken == brokenText {
		return []byte(strings.Repeat("this is a caption draft, saved as .jpg by mistake\n", 40)), nil
	}
	b, err := fixture.JPEG(fixture.Scene(p.W, p.H, p.Seed), 85, &fixture.EXIF{
		DateTimeOriginal: p.Taken, Make: "Canon", Model: "Canon EOS R6",
	})
	if err != nil {
		return nil, err
	}
	if p.Broken == brokenTruncated {
		b = b[:len(b)*6/10]
	}
	return b, nil
}

// uploader puts every gallery into the originals bucket, several PUTs at
// once, retrying each PUT until it succeeds: while MinIO is down or
// starting, as a photographer's uploader would.
type uploader struct {
	store    *pipeline.Store
	bucket   string
	parallel int
	pause    time.Duration // at most this long between two PUTs of one uploader
	rng      func() float64
	logf     func(string, ...any)

	retries atomic.Int64
	puts    atomic.Int64
}

func (u *uploader) run(ctx context.Context, gs []*galleryPlan) error {
	work := make(chan *galleryPlan)
	errs := make(chan error, u.parallel)
	var wg sync.WaitGroup
	for range u.parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for g := range work {
				if err := u.gallery(ctx, g); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	go func() {
		defer close(work)
		for _, g := range gs {
			select {
			case work <- g:
			case <-ctx.Done():
				return
			}
		}
	}()
	wg.Wait()
	close(errs)
	return <-errs
}

func (u *uploader) gallery(ctx context.Context, g *galleryPlan) error {
	for _, p := range g.Order {
		sleepCtx(ctx, time.Duration(u.rng()*float64(u.pause)))
		var (
			key, ctype = g.ID + "/" + contract.ManifestName, "application/json"
			body       = g.Manifest
			err        error
		)
		if p != nil {
			key, ctype = p.key(), "image/jpeg"
			if body, err = p.body(); err != nil {
				return fmt.Errorf("make %s: %w", key, err)
			}
		}
		etag, err := u.put(ctx, key, ctype, body)
		if err != nil {
			return err
		}
		if p != nil {
			p.etag = etag
		} else {
			g.manifestETag = etag
		}
	}
	return nil
}

// put PUTs one object until MinIO takes it; it returns the ETag.
func (u *uploader) put(ctx context.Context, key, ctype string, body []byte) (string, error) {
	delay := 250 * time.Millisecond
	for attempt := 1; ; attempt++ {
		pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		info, err := u.store.PutObject(pctx, u.bucket, key, bytes.NewReader(body), int64(len(body)), minio.PutObjectOptions{ContentType: ctype})
		cancel()
		if err == nil {
			u.puts.Add(1)
			return strings.Trim(info.ETag, `"`), nil
		}
		if ctx.Err() != nil {
			return "", fmt.Errorf("upload %s: gave up after %d attempts: %w", key, attempt, err)
		}
		u.retries.Add(1)
		if attempt == 1 || attempt%10 == 0 {
			u.logf("upload %s: attempt %d failed, retrying: %v", key, attempt, err)
		}
		sleepCtx(ctx, delay)
		delay = min(delay*2, 2*time.Second)
	}
}
