package derive

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/photodesk/photodesk/pipeline"
	"github.com/photodesk/photodesk/pipeline/contract"
	"github.com/photodesk/photodesk/pipeline/gallery"
)

// ManifestFocus reads a photo's focal point from its gallery's manifest,
// <gallery>/gallery.json beside the original, when its crops are made. A
// manifest that is absent, too large or unusable gives none: the crops
// centre on what the photo embeds, else on what libvips finds, and when
// the manifest comes (or changes) later, the assembler asks for them
// again (gallery.Result.StaleCrops).
func ManifestFocus(store Store) func(context.Context, contract.PhotoUploaded) (*contract.Focus, error) {
	return func(ctx context.Context, ev contract.PhotoUploaded) (*contract.Focus, error) {
		data, err := store.Get(ctx, ev.Bucket, ev.Gallery+"/"+contract.ManifestName, "", gallery.MaxManifestBytes)
		switch {
		case errors.Is(err, pipeline.ErrSuperseded), errors.Is(err, pipeline.ErrTooLarge):
			return nil, nil
		case err != nil:
			return nil, fmt.Errorf("read %s: %w", contract.ManifestName, err)
		}
		m, err := gallery.ParseManifest(data)
		if err != nil {
			return nil, nil // the assembler reports it
		}
		return m.FocusOf(ev.Photo), nil
	}
}

// focusMeta is a crop's focus as object metadata: "x,y,source".
func focusMeta(f *contract.Focus) string {
	return contract.FocusKey(f) + "," + f.Source
}

// parseFocusMeta reads focusMeta's form back; nil when it is not that.
func parseFocusMeta(s string) *contract.Focus {
	p := strings.Split(s, ",")
	if len(p) != 3 {
		return nil
	}
	x, errx := strconv.ParseFloat(p[0], 64)
	y, erry := strconv.ParseFloat(p[1], 64)
	if errx != nil || erry != nil {
		return nil
	}
	return &contract.Focus{X: x, Y: y, Source: p[2]}
}

func unescape(s string) string {
	u, err := url.QueryUnescape(s)
	if err != nil {
		return ""
	}
	return u
}
