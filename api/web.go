package api

import (
	"embed"
	"net/http"
)

//go:embed web
var web embed.FS

// pageCSP lets the page run only its own script and style, and show the
// photos being uploaded (blob:) and the preview's images (presigned URLs);
// inline style only for the preview shown in an iframe.
const pageCSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' blob: http: https:; frame-src 'self' blob:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// page serves the upload page's three files, embedded in the binary.
func page(name, ctype string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		b, err := web.ReadFile("web/" + name)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", ctype)
		w.Header().Set("Content-Security-Policy", pageCSP)
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = w.Write(b)
	}
}
