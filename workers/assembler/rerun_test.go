package assembler

import (
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/photodesk/photodesk/pipeline/contract"
)

func TestRerunStages(t *testing.T) {
	for h, want := range map[string]string{
		"":                    "exif renditions watermark",
		"watermark,assembler": "watermark",
		"assembler":           "",
		"exif, renditions":    "exif renditions",
	} {
		hdr := nats.Header{}
		if h != "" {
			hdr.Set(contract.RolesHeader, h)
		}
		if got := strings.Join(rerunStages(hdr), " "); got != want {
			t.Errorf("%q: stages %q, want %q", h, got, want)
		}
	}
}

// TestPublicHrefNamesTheVersion: under a public base URL the href carries
// the derivative's ETag, so new bytes under the same key get a new URL.
func TestPublicHrefNamesTheVersion(t *testing.T) {
	r := &Role{Cfg: DefaultConfig()}
	r.Cfg.PublicBaseURL = "https://img.example.com/d"
	got, err := r.href(t.Context(), contract.Derivative{Key: "g/a b.jpg/large.wm.jpg", ETag: "0a1b"})
	if err != nil || got != "https://img.example.com/d/g/a%20b.jpg/large.wm.jpg?v=0a1b" {
		t.Errorf("href %q, %v", got, err)
	}
}
