package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	_ "image/jpeg" // decodes the JPEG derivatives
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"

	_ "golang.org/x/image/webp" // decodes the WebP derivatives

	"github.com/photodesk/photodesk/pipeline/contract"
	"github.com/photodesk/photodesk/workers/assembler"
)

// record is the part of a ninjs record the check reads.
type record struct {
	URI          string `json:"uri"`
	Version      string `json:"version"`
	Associations []struct {
		Name       string                `json:"name"`
		URI        string                `json:"uri"`
		Renditions []assembler.Rendition `json:"renditions"`
	} `json:"associations"`
}

// checkRecords reads each gallery's current record from the articles
// bucket: version 1, every listed photo in order with the ETag uploaded,
// and every rendition fetched through its link and decoded.
func (r *run) checkRecords(ctx context.Context, c *checker, gs []*galleryPlan) {
	type fetch struct {
		key, what string
		rd        assembler.Rendition
	}
	var fetches []fetch
	for _, g := range gs {
		data, err := r.store.Get(ctx, r.cfg.ArticlesBucket, g.ID+"/article.json", "", 8<<20)
		if err != nil {
			c.lose(g.ID+"/"+contract.ManifestName, "record of %s: %v", g.ID, err)
			continue
		}
		var rec record
		if err := json.Unmarshal(data, &rec); err != nil {
			c.problem("record of %s: %v", g.ID, err)
			continue
		}
		if rec.Version != "1" || rec.URI != "urn:photodesk:gallery:"+g.ID {
			c.problem("record of %s: uri %q version %q, want version 1", g.ID, rec.URI, rec.Version)
		}
		var want []string
		keyOf := map[string]string{}
		for _, p := range g.Photos {
			if p.Listed {
				uri := "urn:photodesk:photo:" + p.key() + "@" + p.etag
				want = append(want, uri)
				keyOf[uri] = p.key()
			}
		}
		var got []string
		for _, a := range rec.Associations {
			got = append(got, a.URI)
			if len(a.Renditions) == 0 {
				c.problem("record of %s: %s has no renditions", g.ID, a.URI)
			}
			for _, rd := range a.Renditions {
				key := strings.TrimPrefix(a.URI, "urn:photodesk:photo:")
				if i := strings.LastIndex(key, "@"); i >= 0 {
					key = key[:i]
				}
				fetches = append(fetches, fetch{key: key, what: g.ID + " " + a.Name + " " + rd.Name, rd: rd})
			}
		}
		for _, w := range want {
			if !slices.Contains(got, w) {
				c.lose(keyOf[w], "%s is not in the record of %s", w, g.ID)
			}
		}
		if !slices.Equal(got, want) && len(got) == len(want) {
			c.problem("record of %s: photos %v, want %v in manifest order", g.ID, got, want)
		}
		if len(got) > len(want) {
			c.dups += len(got) - len(want)
			c.problem("record of %s: %d photos, the manifest lists %d: %v", g.ID, len(got), len(want), got)
		}
	}

	// Fetch and decode every derivative, two at a time.
	var mu sync.Mutex
	work := make(chan fetch)
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range work {
				if err := checkRendition(ctx, f.rd); err != nil {
					mu.Lock()
					c.lose(f.key, "derivative %s: %v", f.what, err)
					mu.Unlock()
				}
			}
		}()
	}
	for _, f := range fetches {
		work <- f
	}
	close(work)
	wg.Wait()
	r.report.Derivatives = len(fetches)
}

// checkRendition GETs a rendition through its link and decodes it whole.
func checkRendition(ctx context.Context, rd assembler.Rendition) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rd.Href, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET: %s", resp.Status)
	}
	if int64(len(body)) != rd.SizeInBytes {
		return fmt.Errorf("%d bytes, the record says %d", len(body), rd.SizeInBytes)
	}
	img, format, err := image.Decode(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("does not decode: %w", err)
	}
	if "image/"+format != rd.ContentType {
		return fmt.Errorf("is %s, the record says %s", format, rd.ContentType)
	}
	if b := img.Bounds(); b.Dx() != rd.Width || b.Dy() != rd.Height {
		return fmt.Errorf("is %dx%d, the record says %dx%d", b.Dx(), b.Dy(), rd.Width, rd.Height)
	}
	return nil
}
