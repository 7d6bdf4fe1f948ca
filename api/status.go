package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/photodesk/photodesk/pipeline"
	"github.com/photodesk/photodesk/pipeline/contract"
	"github.com/photodesk/photodesk/pipeline/gallery"
)

// PhotoStatus is one photo's progress through the stages.
type PhotoStatus struct {
	Name     string            `json:"name"`
	ETag     string            `json:"etag"`
	Stages   map[string]string `json:"stages"` // stage -> pending, done or failed
	Failures map[string]string `json:"failures,omitempty"`
	// Provenance is what the original's Content Credentials (C2PA) were,
	// once the exif role has read them.
	Provenance *contract.Provenance `json:"provenance,omitempty"`
}

// GalleryStatus is what GET /v1/galleries/{id} answers.
type GalleryStatus struct {
	Gallery       string               `json:"gallery"`
	Manifest      string               `json:"manifest"` // missing, valid or invalid
	ManifestError string               `json:"manifest_error,omitempty"`
	Ready         bool                 `json:"ready"`
	Published     *gallery.Publication `json:"published,omitempty"`
	Waiting       []string             `json:"waiting,omitempty"`
	Failed        []contract.HeldPhoto `json:"failed,omitempty"`
	// PublishAt and Embargo are gallery.json's; Scheduled is set while
	// the gallery is complete and waits for its time.
	PublishAt *time.Time    `json:"publish_at,omitempty"`
	Embargo   bool          `json:"embargo,omitempty"`
	Scheduled *time.Time    `json:"scheduled,omitempty"`
	Photos    []PhotoStatus `json:"photos"`
}

func (s *Server) status(w http.ResponseWriter, r *http.Request, id string) {
	st := &gallery.State{Gallery: id}
	e, err := s.state.Get(r.Context(), id)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
	case err != nil:
		writeError(w, http.StatusServiceUnavailable, "unavailable", err.Error())
		return
	default:
		if err := json.Unmarshal(e.Value(), st); err != nil {
			writeError(w, http.StatusInternalServerError, "state", err.Error())
			return
		}
	}
	out := GalleryStatus{Gallery: id, Manifest: "missing", Published: st.Published, Photos: []PhotoStatus{}}
	switch {
	case st.ManifestError != "":
		out.Manifest, out.ManifestError = "invalid", st.ManifestError
	case st.Manifest != nil:
		out.Manifest = "valid"
		out.PublishAt, out.Embargo = st.Manifest.PublishAt, st.Manifest.Embargo
	}
	out.Scheduled = st.Scheduled
	if st.Photos != nil {
		rd := st.Evaluate()
		// The assembler's --require-provenance is its own; a gallery.json
		// that asks is seen here.
		rd.RequireProvenance(st.Manifest, false)
		out.Ready, out.Waiting, out.Failed = rd.Ready, rd.Waiting, rd.Failed
	}
	for _, name := range st.PhotoNames() {
		out.Photos = append(out.Photos, photoStatus(st.PhotoProgress(gallery.MPhoto{File: name})))
	}
	writeJSON(w, http.StatusOK, out)
}

// ScheduledGallery is one gallery waiting for its publish_at.
type ScheduledGallery struct {
	ID        string    `json:"id"`
	PublishAt time.Time `json:"publish_at"`
	Embargo   bool      `json:"embargo,omitempty"`
	// State: scheduled (complete, waiting for its time) or waiting (not
	// complete yet).
	State string `json:"state"`
}

// scheduled lists the galleries whose publish_at is still to come.
func (s *Server) scheduled(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r)
	entries, err := pipeline.Entries(r.Context(), s.JS, s.state)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "unavailable", err.Error())
		return
	}
	now := time.Now()
	out := []ScheduledGallery{}
	for _, e := range entries {
		var st gallery.State
		if json.Unmarshal(e.Value(), &st) != nil || st.Manifest == nil || st.Manifest.PublishAt == nil ||
			!st.Manifest.PublishAt.After(now) || st.Manifest.Withdrawn() || !s.owns(r, c, e.Key()) {
			continue
		}
		g := ScheduledGallery{ID: e.Key(), PublishAt: *st.Manifest.PublishAt, Embargo: st.Manifest.Embargo, State: "waiting"}
		if st.Scheduled != nil {
			g.State = "scheduled"
		}
		out = append(out, g)
	}
	slices.SortFunc(out, func(a, b ScheduledGallery) int { return a.PublishAt.Compare(b.PublishAt) })
	writeJSON(w, http.StatusOK, map[string]any{"scheduled": out})
}

// photoStatus is a photo's line of the answer: every photo stage, and
// any other stage that failed it.
func photoStatus(pp gallery.PhotoProgress) PhotoStatus {
	ps := PhotoStatus{Name: pp.Name, ETag: pp.Photo.ETag, Stages: map[string]string{}}
	if pp.Result != nil && pp.Result.Exif != nil {
		ps.Provenance = pp.Result.Exif.Provenance
	}
	for _, sp := range append(pp.Stages, pp.Other...) {
		ps.Stages[sp.Stage.Name] = sp.State
		if sp.State == gallery.Failed {
			if ps.Failures == nil {
				ps.Failures = map[string]string{}
			}
			ps.Failures[sp.Stage.Name] = sp.Reason
		}
	}
	return ps
}

func (s *Server) article(w http.ResponseWriter, r *http.Request, id string) {
	s.serveRecord(w, r, id+"/article.json", "application/json; charset=utf-8")
}

func (s *Server) preview(w http.ResponseWriter, r *http.Request, id string) {
	// The preview has no script; this policy keeps it that way even if a
	// caption tried.
	w.Header().Set("Content-Security-Policy", "default-src 'none'; img-src http: https:; style-src 'unsafe-inline'; frame-ancestors 'none'")
	s.serveRecord(w, r, id+"/index.html", "text/html; charset=utf-8")
}

func (s *Server) serveRecord(w http.ResponseWriter, r *http.Request, key, ctype string) {
	obj, err := s.Store.GetObject(r.Context(), s.Cfg.ArticlesBucket, key, minio.GetObjectOptions{})
	if err == nil {
		defer obj.Close()
		var info minio.ObjectInfo
		if info, err = obj.Stat(); err == nil {
			w.Header().Set("Content-Type", ctype)
			w.Header().Set("Cache-Control", "no-cache")
			w.Header().Set("ETag", `"`+strings.Trim(info.ETag, `"`)+`"`)
			_, _ = io.Copy(w, obj)
			return
		}
	}
	if minio.ToErrorResponse(err).Code == "NoSuchKey" {
		writeError(w, http.StatusNotFound, "no_article", "the gallery has no published article yet; GET /v1/galleries/{id} says what it is waiting for")
		return
	}
	writeError(w, http.StatusBadGateway, "storage", err.Error())
}

// events streams the gallery's events as Server-Sent Events, from the
// start of the stream (or after Last-Event-ID, a stream sequence), so a
// page that reconnects misses nothing.
func (s *Server) events(w http.ResponseWriter, r *http.Request, id string) {
	fl, ok := w.(http.Flusher)
	if !ok {
		writeError(w, http.StatusInternalServerError, "no_streaming", "streaming unsupported")
		return
	}
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{
		"photodesk.photo.*." + id, "photodesk.gallery.*." + id, "photodesk.article.*." + id, "photodesk.failed.*." + id,
	}}
	if last := r.Header.Get("Last-Event-ID"); last != "" {
		var seq uint64
		if _, err := fmt.Sscan(last, &seq); err == nil {
			cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, seq+1
		}
	}
	cons, err := s.JS.OrderedConsumer(r.Context(), contract.EventsStream, cfg)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "unavailable", err.Error())
		return
	}
	// A stream outlives the server's write timeout, which counts from the
	// request: each write gets its own instead, so a client that stops
	// reading is still let go. (Reading, net/http waits for nothing more
	// without a deadline once the request is in.)
	rc := http.NewResponseController(w)
	writeBy := func() {
		if s.Limits.WriteTimeout > 0 {
			_ = rc.SetWriteDeadline(time.Now().Add(s.Limits.WriteTimeout))
		}
	}
	writeBy()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, ": photodesk events for "+id+"\n\n")
	fl.Flush()
	ctx := r.Context()
	for ctx.Err() == nil {
		fctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		b, err := cons.Fetch(50, jetstream.FetchContext(fctx))
		if err != nil {
			cancel()
			return
		}
		n := 0
		for m := range b.Messages() {
			n++
			meta, _ := m.Metadata()
			kind := strings.TrimSuffix(strings.TrimPrefix(m.Subject(), "photodesk."), "."+id)
			var seq uint64
			if meta != nil {
				seq = meta.Sequence.Stream
			}
			writeBy()
			fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", seq, kind, compactJSON(m.Data()))
			if err := rc.Flush(); err != nil {
				cancel()
				return // the client is gone, or stopped reading
			}
		}
		cancel()
		if n == 0 {
			writeBy()
			fmt.Fprint(w, ": keep-alive\n\n")
			if err := rc.Flush(); err != nil {
				return
			}
		}
	}
}

// compactJSON puts an event on one SSE data line.
func compactJSON(b []byte) []byte {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return []byte(strings.ReplaceAll(string(b), "\n", " "))
	}
	return buf.Bytes()
}
