// Package api is photodesk's HTTP API for photographers and newsroom
// systems: galleries, uploads streamed to the originals bucket, the
// manifest, status, records and previews, and live status over
// Server-Sent Events fed from JetStream. Everything it writes goes to
// MinIO; MinIO's notification stays the pipeline's one trigger.
package api

import (
	"bufio"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/photodesk/photodesk/internal/photometa"
	"github.com/photodesk/photodesk/pipeline"
	"github.com/photodesk/photodesk/pipeline/config"
	"github.com/photodesk/photodesk/pipeline/contract"
	"github.com/photodesk/photodesk/pipeline/gallery"
)

// RegistryKV holds who created each gallery through the API.
const RegistryKV = "PHOTODESK_API_GALLERIES"

//go:embed openapi.json
var openAPI []byte

// Server serves /v1.
type Server struct {
	JS        jetstream.JetStream
	Store     *pipeline.Store
	Cfg       config.Config
	Log       *slog.Logger
	MaxUpload int64 // bytes per photo
	// Limits bound headers, bodies and their timing (HTTPServer).
	Limits Limits

	tokens   []Token
	registry jetstream.KeyValue
	state    jetstream.KeyValue
}

// New prepares a server: the registry bucket is created if missing.
func New(ctx context.Context, js jetstream.JetStream, store *pipeline.Store, cfg config.Config, tokens []Token, maxUpload int64, log *slog.Logger) (*Server, error) {
	reg, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: RegistryKV, Description: "photodesk API: who created each gallery", Storage: jetstream.FileStorage, Replicas: cfg.Replicas})
	if err != nil {
		return nil, fmt.Errorf("key-value bucket %s: %w", RegistryKV, err)
	}
	st, err := js.KeyValue(ctx, pipeline.GalleriesKV)
	if err != nil {
		return nil, fmt.Errorf("key-value bucket %s: %w", pipeline.GalleriesKV, err)
	}
	return &Server{JS: js, Store: store, Cfg: cfg, Log: log, MaxUpload: maxUpload, Limits: DefaultLimits(), tokens: tokens, registry: reg, state: st}, nil
}

// Handler routes every endpoint.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/openapi.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(openAPI)
	})
	mux.Handle("POST /v1/galleries", s.auth(RolePhotographer, s.createGallery))
	mux.Handle("GET /v1/galleries", s.auth("", s.listGalleries))
	mux.Handle("GET /v1/scheduled", s.auth("", s.scheduled))
	mux.Handle("GET /v1/galleries/{id}", s.auth("", s.gallery(s.status)))
	mux.Handle("PUT /v1/galleries/{id}/photos/{name}", s.auth(RolePhotographer, s.gallery(s.uploadPhoto)))
	mux.Handle("PUT /v1/galleries/{id}/manifest", s.auth(RolePhotographer, s.gallery(s.putManifest)))
	mux.Handle("GET /v1/galleries/{id}/article", s.auth("", s.gallery(s.article)))
	mux.Handle("GET /v1/galleries/{id}/preview", s.auth("", s.gallery(s.preview)))
	mux.Handle("GET /v1/galleries/{id}/events", s.auth("", s.gallery(s.events)))
	mux.HandleFunc("GET /{$}", page("index.html", "text/html; charset=utf-8"))
	mux.HandleFunc("GET /app.js", page("app.js", "text/javascript; charset=utf-8"))
	mux.HandleFunc("GET /app.css", page("app.css", "text/css; charset=utf-8"))
	mux.HandleFunc("/v1/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no such endpoint: "+r.Method+" "+r.URL.Path+" (see /v1/openapi.json)")
	})
	return securityHeaders(mux)
}

func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "no-referrer")
		h.ServeHTTP(w, r)
	})
}

type ctxKey int

const callerKey ctxKey = 0

// auth requires a token, and role when not "" (a newsroom token cannot
// write).
func (s *Server) auth(role string, next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := s.authenticate(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="photodesk"`)
			writeError(w, http.StatusUnauthorized, "unauthorized", "a valid bearer token is required (Authorization: Bearer <token>)")
			return
		}
		if role != "" && c.Role != role {
			writeError(w, http.StatusForbidden, "forbidden", fmt.Sprintf("a %s token cannot do this; it needs a %s token", c.Role, role))
			return
		}
		next(w, r.WithContext(context.WithValue(r.Context(), callerKey, c)))
	})
}

func callerOf(r *http.Request) caller { c, _ := r.Context().Value(callerKey).(caller); return c }

// registration is a gallery's API record.
type registration struct {
	Owner   string    `json:"owner"`
	Created time.Time `json:"created"`
}

// gallery checks the id and that the caller may see the gallery: a
// photographer only their own, a newsroom system all.
func (s *Server) gallery(next func(http.ResponseWriter, *http.Request, string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if err := contract.ValidGalleryID(id); err != nil {
			writeError(w, http.StatusBadRequest, "bad_gallery_id", err.Error())
			return
		}
		e, err := s.registry.Get(r.Context(), id)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			writeError(w, http.StatusNotFound, "no_gallery", "no gallery "+id+" (create it with POST /v1/galleries)")
			return
		}
		if err != nil {
			writeError(w, http.StatusServiceUnavailable, "unavailable", "gallery registry: "+err.Error())
			return
		}
		var reg registration
		_ = json.Unmarshal(e.Value(), &reg)
		if c := callerOf(r); c.Role == RolePhotographer && reg.Owner != c.Name {
			writeError(w, http.StatusNotFound, "no_gallery", "no gallery "+id+" of yours")
			return
		}
		next(w, r, id)
	}
}

// owns says the caller may see gallery id: a newsroom system every one,
// a photographer those registered to them (galleries uploaded straight
// to the bucket belong to no photographer).
func (s *Server) owns(r *http.Request, c caller, id string) bool {
	if c.Role != RolePhotographer {
		return true
	}
	e, err := s.registry.Get(r.Context(), id)
	if err != nil {
		return false
	}
	var reg registration
	return json.Unmarshal(e.Value(), &reg) == nil && reg.Owner == c.Name
}

// errorBody is every refusal's JSON.
type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	var b errorBody
	b.Error.Code, b.Error.Message = code, msg
	writeJSON(w, status, b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func (s *Server) createGallery(w http.ResponseWriter, r *http.Request) {
	var req struct {
		ID string `json:"id"`
	}
	body := &bodyReader{r: http.MaxBytesReader(w, r.Body, maxCreateBody)}
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		if body.err != nil {
			bodyError(w, body.err, "the request body", maxCreateBody)
			return
		}
		writeError(w, http.StatusBadRequest, "bad_request", `want {"id": "<gallery-id>"}: `+err.Error())
		return
	}
	if err := contract.ValidGalleryID(req.ID); err != nil {
		writeError(w, http.StatusBadRequest, "bad_gallery_id", err.Error())
		return
	}
	reg := registration{Owner: callerOf(r).Name, Created: time.Now().UTC()}
	b, _ := json.Marshal(reg)
	if _, err := s.registry.Create(r.Context(), req.ID, b); errors.Is(err, jetstream.ErrKeyExists) {
		writeError(w, http.StatusConflict, "gallery_exists", "gallery "+req.ID+" exists already")
		return
	} else if err != nil {
		writeError(w, http.StatusServiceUnavailable, "unavailable", err.Error())
		return
	}
	w.Header().Set("Location", "/v1/galleries/"+req.ID)
	writeJSON(w, http.StatusCreated, map[string]any{"id": req.ID, "owner": reg.Owner, "created": reg.Created})
}

func (s *Server) listGalleries(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r)
	entries, err := pipeline.Entries(r.Context(), s.JS, s.registry)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "unavailable", err.Error())
		return
	}
	type item struct {
		ID      string    `json:"id"`
		Owner   string    `json:"owner"`
		Created time.Time `json:"created"`
	}
	var items []item
	for _, e := range entries {
		var reg registration
		if json.Unmarshal(e.Value(), &reg) != nil || (c.Role == RolePhotographer && reg.Owner != c.Name) {
			continue
		}
		items = append(items, item{ID: e.Key(), Owner: reg.Owner, Created: reg.Created})
	}
	sort.Slice(items, func(i, j int) bool { return items[i].Created.After(items[j].Created) })
	if len(items) > 100 {
		items = items[:100]
	}
	writeJSON(w, http.StatusOK, map[string]any{"galleries": items})
}

func (s *Server) uploadPhoto(w http.ResponseWriter, r *http.Request, id string) {
	name := r.PathValue("name")
	if name == contract.ManifestName {
		writeError(w, http.StatusBadRequest, "bad_photo_name", "put the manifest with PUT /v1/galleries/{id}/manifest")
		return
	}
	if err := contract.ValidPhotoName(name); err != nil {
		writeError(w, http.StatusBadRequest, "bad_photo_name", err.Error())
		return
	}
	switch {
	case r.ContentLength < 0:
		writeError(w, http.StatusLengthRequired, "length_required", "send Content-Length: uploads are streamed to storage with a known size")
		return
	case r.ContentLength == 0:
		writeError(w, http.StatusBadRequest, "empty_file", "the file is empty")
		return
	case r.ContentLength > s.MaxUpload:
		writeError(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("the file is %d bytes; the limit is %d", r.ContentLength, s.MaxUpload))
		return
	}
	s.uploadDeadlines(w, r.ContentLength)
	src := &bodyReader{r: http.MaxBytesReader(w, r.Body, s.MaxUpload)}
	body := bufio.NewReaderSize(src, 4096)
	head, _ := body.Peek(512)
	if src.err != nil {
		bodyError(w, src.err, "the photo", s.MaxUpload)
		return
	}
	format := photometa.Sniff(head)
	if format == "" {
		writeError(w, http.StatusUnsupportedMediaType, "not_an_image", "not an image photodesk reads (JPEG, PNG, WebP, TIFF, HEIF, GIF): the bytes look like "+http.DetectContentType(head))
		return
	}
	ctype := map[string]string{"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp", "tiff": "image/tiff", "gif": "image/gif", "heif": "image/heif"}[format]
	key := id + "/" + name
	ctx, span := s.uploadSpan(r, key)
	defer span.End()
	// One PUT of a known size: S3 makes the object visible only when all of
	// it has arrived, so a broken upload leaves nothing behind.
	info, err := s.Store.PutObject(ctx, s.Cfg.OriginalsBucket, key, body, r.ContentLength, minio.PutObjectOptions{ContentType: ctype, UserMetadata: pipeline.TraceMetadata(ctx)})
	if err != nil {
		pipeline.SpanError(span, err)
		if src.err != nil {
			bodyError(w, src.err, "the photo", s.MaxUpload)
			return
		}
		writeError(w, http.StatusBadGateway, "storage", "storing the photo failed: "+err.Error())
		return
	}
	s.announce(ctx, key)
	writeJSON(w, http.StatusCreated, map[string]any{"gallery": id, "photo": name, "size": info.Size, "etag": info.ETag, "format": format})
}

func (s *Server) putManifest(w http.ResponseWriter, r *http.Request, id string) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxManifestBody))
	if err != nil {
		bodyError(w, err, "gallery.json", maxManifestBody)
		return
	}
	man, err := gallery.ParseManifest(data)
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, "bad_manifest", err.Error())
		return
	}
	ctx, span := s.uploadSpan(r, id+"/"+contract.ManifestName)
	defer span.End()
	info, err := s.Store.PutObject(ctx, s.Cfg.OriginalsBucket, id+"/"+contract.ManifestName, strings.NewReader(string(data)), int64(len(data)), minio.PutObjectOptions{ContentType: "application/json", UserMetadata: pipeline.TraceMetadata(ctx)})
	if err != nil {
		pipeline.SpanError(span, err)
		writeError(w, http.StatusBadGateway, "storage", "storing gallery.json failed: "+err.Error())
		return
	}
	s.announce(ctx, id+"/"+contract.ManifestName)
	out := map[string]any{"gallery": id, "manifest": "submitted", "etag": info.ETag}
	if notes := man.Notes(time.Now()); len(notes) > 0 {
		out["notes"] = notes
	}
	writeJSON(w, http.StatusAccepted, out)
}

// announce publishes the upload's event at once (pipeline.AnnounceUpload).
func (s *Server) announce(ctx context.Context, key string) {
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if err := pipeline.AnnounceUpload(pctx, s.JS, s.Store, s.Cfg.OriginalsBucket, key); err != nil {
		s.Log.Warn("upload stored, but its event was not published; MinIO's notification will start the pipeline", "key", key, "err", err)
	}
}

// uploadSpan starts the span of a PUT to the originals bucket: a child of
// the caller's trace when the request carries a traceparent, else a new
// trace. Its traceparent goes on the object as user metadata, so that the
// pipeline's events for the object continue it.
func (s *Server) uploadSpan(r *http.Request, key string) (context.Context, trace.Span) {
	ctx := pipeline.Propagator.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	return pipeline.StartUploadSpan(ctx, s.Cfg.OriginalsBucket, key)
}
