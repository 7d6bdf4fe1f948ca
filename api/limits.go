package api

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"
)

// Limits bound what one client can make the API hold: header bytes, the
// time to send a request, body sizes, idle connections. Uploads of large
// photos from a slow network need a long body read, so the server-wide
// read timeout stays short and an upload sets its own deadline, from its
// size (Content-Length) and the slowest rate it accepts; event streams
// clear theirs.
type Limits struct {
	// MaxHeaderBytes bounds the request line and headers (431 beyond).
	MaxHeaderBytes int
	// ReadHeaderTimeout is the time to send them (slowloris).
	ReadHeaderTimeout time.Duration
	// ReadTimeout is the time to send a whole request other than an
	// upload; an upload gets ReadTimeout plus its size at UploadMinRate.
	ReadTimeout time.Duration
	// UploadMinRate is the slowest average upload accepted, in bytes per
	// second.
	UploadMinRate int64
	// WriteTimeout is the time a client has to take an answer; an event
	// stream gets it for every write.
	WriteTimeout time.Duration
	// IdleTimeout closes a kept-alive connection with no request.
	IdleTimeout time.Duration
}

// DefaultLimits: 64 KiB of headers, sent within 10 s; a minute for a
// request; an upload gets a minute plus its size at 32 KiB/s (about 14
// minutes for a 25 MB photo, under 2 hours for 200 MiB).
func DefaultLimits() Limits {
	return Limits{
		MaxHeaderBytes:    64 << 10,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		UploadMinRate:     32 << 10,
		WriteTimeout:      time.Minute,
		IdleTimeout:       2 * time.Minute,
	}
}

// Body limits of the JSON endpoints.
const (
	maxCreateBody   = 4 << 10 // POST /v1/galleries: {"id": "..."}
	maxManifestBody = 1 << 20 // PUT /v1/galleries/{id}/manifest
)

// HTTPServer is an http.Server for s.Handler with s.Limits.
func (s *Server) HTTPServer() *http.Server {
	l := s.Limits
	return &http.Server{
		Handler:           s.Handler(),
		MaxHeaderBytes:    l.MaxHeaderBytes,
		ReadHeaderTimeout: l.ReadHeaderTimeout,
		ReadTimeout:       l.ReadTimeout,
		WriteTimeout:      l.WriteTimeout,
		IdleTimeout:       l.IdleTimeout,
	}
}

// uploadDeadlines gives an upload of n bytes the time to arrive at the
// slowest accepted rate, and to take the answer after that.
func (s *Server) uploadDeadlines(w http.ResponseWriter, n int64) {
	l := s.Limits
	d := l.ReadTimeout
	if l.UploadMinRate > 0 {
		d += time.Duration(float64(n) / float64(l.UploadMinRate) * float64(time.Second))
	}
	if d <= 0 {
		return // no limits set
	}
	end := time.Now().Add(d)
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(end)
	if l.WriteTimeout > 0 {
		_ = rc.SetWriteDeadline(end.Add(l.WriteTimeout))
	}
}

// bodyReader remembers the error reading a request body hit, to tell a
// client's fault (too slow, too big, cut off) from storage's.
type bodyReader struct {
	r   io.Reader
	err error
}

func (b *bodyReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		b.err = err
	}
	return n, err
}

// bodyError answers a request whose body could not be read: 413 when it
// was larger than limit, 408 when it came too slowly, 400 when cut off.
func bodyError(w http.ResponseWriter, err error, what string, limit int64) {
	var tooLarge *http.MaxBytesError
	var ne net.Error
	switch {
	case errors.As(err, &tooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, "too_large", what+" is limited to "+size(limit))
	case errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		w.Header().Set("Connection", "close")
		writeError(w, http.StatusRequestTimeout, "too_slow", what+" did not arrive in time: "+err.Error())
	default:
		writeError(w, http.StatusBadRequest, "cut_off", what+" was cut off: "+err.Error())
	}
}

// size says n bytes the way people say it.
func size(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
