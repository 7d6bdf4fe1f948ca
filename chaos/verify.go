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
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	_ "golang.org/x/image/webp" // decodes the WebP derivatives

	"github.com/photodesk/photodesk/pipeline"
	"github.com/photodesk/photodesk/pipeline/contract"
	"github.com/photodesk/photodesk/pipeline/gallery"
	"github.com/photodesk/photodesk/workers/assembler"
)

// tally is everything the run left on the streams.
type tally struct {
	uploaded  map[string]int            // "<gallery>/<photo>@<etag>" -> photo.uploaded events
	submitted map[string]int            // "<gallery>@<etag>" -> gallery.submitted events
	results   map[string]map[string]int // photo stage -> "<gallery>/<photo>@<etag>" -> events
	failures  []contract.Failure
	held      map[string][]contract.GalleryHeld
	articles  map[string]map[int]int // gallery -> version -> article.ready/updated events
	s3        map[string]int         // originals key -> S3 events
}

// readStream hands every message of stream, from the first to the last
// there now, to take.
func readStream(ctx context.Context, js jetstream.JetStream, stream string, take func(jetstream.Msg)) error {
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return err
	}
	last := info.State.LastSeq
	if info.State.Msgs == 0 {
		return nil
	}
	cons, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return err
	}
	for {
		b, err := cons.Fetch(500, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return err
		}
		n := 0
		for m := range b.Messages() {
			n++
			take(m)
			md, err := m.Metadata()
			if err == nil && md.Sequence.Stream >= last {
				return nil
			}
		}
		if err := b.Error(); err != nil && !pipeline.IsPollEnd(err) {
			return err
		}
		if n == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

func collect(ctx context.Context, js jetstream.JetStream) (*tally, error) {
	t := &tally{
		uploaded: map[string]int{}, submitted: map[string]int{},
		results: map[string]map[string]int{},
		held:    map[string][]contract.GalleryHeld{}, articles: map[string]map[int]int{},
	}
	for _, st := range contract.PhotoStages() {
		t.results[st.Name] = map[string]int{}
	}
	var bad []string
	err := readStream(ctx, js, contract.EventsStream, func(m jetstream.Msg) {
		subj := m.Subject()
		decode := func(v any) bool {
			if err := json.Unmarshal(m.Data(), v); err != nil {
				bad = append(bad, fmt.Sprintf("%s: %v", subj, err))
				return false
			}
			return true
		}
		switch {
		case strings.HasPrefix(subj, contract.SubjectPhotoUploaded+"."):
			var ev contract.PhotoUploaded
			if decode(&ev) {
				t.uploaded[photoKey(ev.Ref)]++
			}
		case strings.HasPrefix(subj, contract.SubjectGallerySubmitted+"."):
			var ev contract.GallerySubmitted
			if decode(&ev) {
				t.submitted[ev.Gallery+"@"+strings.Trim(ev.ETag, `"`)]++
			}
		case strings.HasPrefix(subj, contract.SubjectPhotoExif+"."):
			var ev contract.PhotoExif
			if decode(&ev) {
				t.results[contract.StageExif][photoKey(ev.Ref)]++
			}
		case strings.HasPrefix(subj, contract.SubjectPhotoRenditions+"."), strings.HasPrefix(subj, contract.SubjectPhotoWatermarked+"."):
			var ev contract.PhotoDerivatives
			if decode(&ev) {
				t.results[resultStage(subj)][photoKey(ev.Ref)]++
			}
		case strings.HasPrefix(subj, contract.SubjectFailed+"."):
			var f contract.Failure
			if decode(&f) {
				t.failures = append(t.failures, f)
			}
		case strings.HasPrefix(subj, contract.SubjectGalleryHeld+"."):
			var h contract.GalleryHeld
			if decode(&h) {
				t.held[h.Gallery] = append(t.held[h.Gallery], h)
			}
		case strings.HasPrefix(subj, contract.SubjectArticleReady+"."), strings.HasPrefix(subj, contract.SubjectArticleUpdated+"."):
			var a contract.ArticleEvent
			if decode(&a) {
				if t.articles[a.Gallery] == nil {
					t.articles[a.Gallery] = map[int]int{}
				}
				t.articles[a.Gallery][a.Version]++
				if (a.Version == 1) != strings.HasPrefix(subj, contract.SubjectArticleReady+".") {
					bad = append(bad, fmt.Sprintf("%s announces version %d", subj, a.Version))
				}
			}
		}
	})
	if err != nil {
		return nil, fmt.Errorf("read stream %s: %w", contract.EventsStream, err)
	}
	if t.s3, err = s3Keys(ctx, js); err != nil {
		return nil, err
	}
	if len(bad) > 0 {
		return t, fmt.Errorf("events that do not decode or do not agree with their subject: %s", strings.Join(bad, "; "))
	}
	return t, nil
}

// s3Keys counts MinIO's events on the S3_EVENTS stream by object key.
func s3Keys(ctx context.Context, js jetstream.JetStream) (map[string]int, error) {
	keys := map[string]int{}
	err := readStream(ctx, js, contract.S3EventsStream, func(m jetstream.Msg) {
		var ev struct {
			Records []struct {
				S3 struct {
					Object struct {
						Key string `json:"key"`
					} `json:"object"`
				} `json:"s3"`
			}
		}
		if json.Unmarshal(m.Data(), &ev) != nil {
			return
		}
		for _, r := range ev.Records {
			if k, err := url.QueryUnescape(r.S3.Object.Key); err == nil {
				keys[k]++
			}
		}
	})
	if err != nil {
		return nil, fmt.Errorf("read stream %s: %w", contract.S3EventsStream, err)
	}
	return keys, nil
}

// resultStage is the photo stage whose result subj is.
func resultStage(subj string) string {
	for _, st := range contract.PhotoStages() {
		if strings.HasPrefix(subj, st.Result+".") {
			return st.Name
		}
	}
	return ""
}

func photoKey(r contract.Ref) string {
	return r.Gallery + "/" + r.Photo + "@" + strings.Trim(r.ETag, `"`)
}

// expectedFailures are the stages that must fail a broken photo of each
// kind, and words its reason must contain. The exif role reads only the
// head of a file, so it reads a truncated JPEG's date and says nothing.
var expectedFailures = map[string]map[string][]string{
	brokenTruncated: {contract.StageRenditions: {"bad input", "jpeg"}, contract.StageWatermark: {"bad input", "jpeg"}},
	brokenText:      {contract.StageExif: {"not"}, contract.StageRenditions: {"bad input", "not"}, contract.StageWatermark: {"bad input", "not"}},
}

// checker gathers problems, counting what is lost (photos and manifests
// without their outcome) and what came twice (events beyond one).
type checker struct {
	lostSet          map[string]bool
	dups, unexpected int
	problems         []string
}

// lose marks an upload (a photo or a manifest, by key) as lost.
func (c *checker) lose(key, format string, args ...any) {
	if c.lostSet == nil {
		c.lostSet = map[string]bool{}
	}
	c.lostSet[key] = true
	c.problem("lost: "+format, args...)
}

func (c *checker) lost() int { return len(c.lostSet) }

func (c *checker) problem(format string, args ...any) {
	c.problems = append(c.problems, fmt.Sprintf(format, args...))
}

// count checks that an event about the upload key that must exist once
// does.
func (c *checker) count(key, what string, n int) {
	switch {
	case n == 0:
		c.lose(key, "%s: no event", what)
	case n > 1:
		c.dups += n - 1
		c.problem("duplicate: %s: %d events", what, n)
	}
}

// verify checks the events against the plan, then each published record
// and every derivative it names.
func (r *run) verify(ctx context.Context, t *tally) *checker {
	c, published := checkEvents(r.galleries, t)
	r.checkRecords(ctx, c, published)
	return c
}

// checkEvents checks the events against the plan: one of each event every
// upload must cause, failures only for broken photos and with a reason,
// one record version per gallery, or held. It returns the galleries whose
// record is published.
func checkEvents(gs []*galleryPlan, t *tally) (*checker, []*galleryPlan) {
	c := &checker{}
	failuresOf := map[string][]contract.Failure{} // "<gallery>/<photo>" -> failures
	for _, f := range t.failures {
		failuresOf[f.Gallery+"/"+f.Photo] = append(failuresOf[f.Gallery+"/"+f.Photo], f)
	}
	planned := map[string]*photoPlan{}
	for _, g := range gs {
		manifest := g.ID + "/" + contract.ManifestName
		c.count(manifest, fmt.Sprintf("gallery.submitted %s@%s", g.ID, g.manifestETag), t.submitted[g.ID+"@"+g.manifestETag])
		if t.s3[g.ID+"/"+contract.ManifestName] == 0 {
			c.problem("MinIO sent no event for %s/%s, though its PUT succeeded", g.ID, contract.ManifestName)
		}
		for _, p := range g.Photos {
			planned[p.key()] = p
			pk := p.key() + "@" + p.etag
			if t.s3[p.key()] == 0 {
				c.problem("MinIO sent no event for %s, though its PUT succeeded (ETag %s)", p.key(), p.etag)
			}
			c.count(p.key(), "photo.uploaded "+pk, t.uploaded[pk])
			fs := failuresOf[p.key()]
			if p.Broken == "" {
				for _, role := range contract.StageNames(contract.PhotoStages()) {
					c.count(p.key(), role+" result "+pk, t.results[role][pk])
				}
				continue
			}
			want := expectedFailures[p.Broken]
			for stage, words := range want {
				var got []contract.Failure
				for _, f := range fs {
					if f.Stage == stage {
						got = append(got, f)
					}
				}
				c.count(p.key(), fmt.Sprintf("%s failure of broken %s", stage, pk), len(got))
				for _, f := range got {
					reason := strings.ToLower(f.Reason)
					if !f.Permanent || !containsAll(reason, words) {
						c.problem("%s failure of broken %s: permanent %v, reason %q, want a permanent one that says %q", stage, pk, f.Permanent, f.Reason, words)
					}
				}
				if n := t.results[stage][pk]; n > 0 {
					c.problem("broken %s has %d %s results", pk, n, stage)
				}
			}
			for _, f := range fs {
				if _, ok := want[f.Stage]; !ok && !f.Permanent {
					c.unexpected++
					c.problem("broken %s: unexpected %s failure: %s", pk, f.Stage, f.Reason)
				}
			}
		}
	}
	for _, f := range t.failures {
		if p := planned[f.Gallery+"/"+f.Photo]; p == nil || p.Broken == "" {
			c.unexpected++
			c.problem("failure of a good photo: %s/%s at %s (attempts %d, permanent %v): %s", f.Gallery, f.Photo, f.Stage, f.Attempts, f.Permanent, f.Reason)
		}
	}

	// Each gallery: one record version (nothing changed after the upload),
	// or held with the broken photo named.
	var galleries []*galleryPlan
	for _, g := range gs {
		versions := t.articles[g.ID]
		manifest := g.ID + "/" + contract.ManifestName
		if g.Held {
			if len(versions) > 0 {
				c.dups += len(versions)
				c.problem("held gallery %s was published: versions %v", g.ID, versions)
			}
			if !heldNames(t.held[g.ID], g) {
				c.lose(manifest, "gallery %s lists a broken photo but no photodesk.gallery.held event names it (held events: %+v)", g.ID, t.held[g.ID])
			}
			continue
		}
		if len(t.held[g.ID]) > 0 {
			c.problem("gallery %s lists no broken photo but was held: %+v", g.ID, t.held[g.ID])
		}
		c.count(manifest, "article.ready "+g.ID+" v1", versions[1])
		for v, n := range versions {
			if v != 1 {
				c.dups += n
				c.problem("duplicate: gallery %s has version %d (%d events), though nothing changed after its upload", g.ID, v, n)
			}
		}
		if versions[1] > 0 {
			galleries = append(galleries, g)
		}
	}
	return c, galleries
}

func containsAll(s string, words []string) bool {
	for _, w := range words {
		if !strings.Contains(s, w) {
			return false
		}
	}
	return true
}

// heldNames reports whether a held event names g's listed broken photo
// with a reason.
func heldNames(hs []contract.GalleryHeld, g *galleryPlan) bool {
	for _, h := range hs {
		for _, f := range h.Failed {
			for _, p := range g.Photos {
				if p.Broken != "" && p.Listed && f.Photo == p.Name && f.Reason != "" {
					return true
				}
			}
		}
	}
	return false
}

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

// consumerState is one durable consumer at the end of the run.
type consumerState struct {
	Stream, Name                       string
	Pending, AckPending, Redelivering  uint64
	Deliveries, Messages, Redeliveries uint64
	Filters                            []string
}

// consumers reads every durable consumer of every stream. Redeliveries
// are deliveries beyond one per matching message (all are delivered once
// nothing is pending): every redelivery after a kill, an ack wait or a
// retry, over the whole run, which NumRedelivered (only those unacked
// now) does not say.
func consumers(ctx context.Context, js jetstream.JetStream) ([]consumerState, error) {
	var out []consumerState
	names := js.StreamNames(ctx)
	var streams []string
	for n := range names.Name() {
		streams = append(streams, n)
	}
	if err := names.Err(); err != nil {
		return nil, err
	}
	sort.Strings(streams)
	for _, sn := range streams {
		s, err := js.Stream(ctx, sn)
		if err != nil {
			return nil, err
		}
		list := s.ListConsumers(ctx)
		for info := range list.Info() {
			if info.Config.Durable == "" {
				continue
			}
			filters := info.Config.FilterSubjects
			if info.Config.FilterSubject != "" {
				filters = append(filters, info.Config.FilterSubject)
			}
			if len(filters) == 0 {
				filters = []string{">"}
			}
			var msgs uint64
			for _, f := range filters {
				si, err := s.Info(ctx, jetstream.WithSubjectFilter(f))
				if err != nil {
					return nil, err
				}
				for _, n := range si.State.Subjects {
					msgs += n
				}
			}
			cs := consumerState{
				Stream: sn, Name: info.Name, Pending: info.NumPending, AckPending: uint64(info.NumAckPending),
				Redelivering: uint64(info.NumRedelivered), Deliveries: info.Delivered.Consumer, Messages: msgs, Filters: filters,
			}
			if cs.Deliveries > msgs {
				cs.Redeliveries = cs.Deliveries - msgs
			}
			out = append(out, cs)
		}
		if err := list.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// decodeState reads the assembler's state of a gallery from its KV entry.
func decodeState(b []byte) (*gallery.State, error) {
	var st gallery.State
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, err
	}
	return &st, nil
}
