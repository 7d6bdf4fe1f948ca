package assembler

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/photodesk/photodesk/internal/stamp"
	"github.com/photodesk/photodesk/pipeline/contract"
)

// stampVersion changes when stamp writes different bytes for the same
// metadata, so published files are written again.
const stampVersion = "1"

// maxStampBytes bounds a derivative read to stamp it (a full-size copy of
// the largest original allowed is well under it).
const maxStampBytes = 512 << 20

// stampsAtOnce bounds one publish's derivatives in flight (each is read,
// stamped and written whole).
const stampsAtOnce = 4

// stampAll replaces each figure's derivatives with their published copies:
// the same pixels with the figure's metadata spliced in, under a key that
// names the derivative and the metadata. A record version therefore links
// files that say what it says, and a version that changes no photo's
// metadata writes nothing.
func (r *Role) stampAll(ctx context.Context, figs []stamped) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(stampsAtOnce)
	for _, f := range figs {
		// The key hashes the metadata: encoded once per figure.
		mj, err := json.Marshal(f.meta)
		if err != nil {
			return err
		}
		for i := range f.derivs {
			g.Go(func() error {
				d, err := r.publishCopy(gctx, f.derivs[i], f.meta, mj)
				f.derivs[i] = d
				return err
			})
		}
	}
	return g.Wait()
}

// stamped is one figure's derivatives and what they are to say.
type stamped struct {
	derivs []contract.Derivative
	meta   stamp.Metadata
}

// publishCopy writes d stamped with m (mj is m in JSON) to its published
// key, unless it is there already, and returns d as published. Formats
// stamp cannot write into (AVIF) are published as rendered.
func (r *Role) publishCopy(ctx context.Context, d contract.Derivative, m stamp.Metadata, mj []byte) (contract.Derivative, error) {
	if d.Format != "jpeg" && d.Format != "webp" {
		return d, nil
	}
	key := publishedKey(d, mj)
	if _, etag, size, ok, err := r.Store.Meta(ctx, d.Bucket, key); err != nil {
		return d, fmt.Errorf("look for %s: %w", key, err)
	} else if ok {
		d.Key, d.Size, d.ETag = key, size, strings.Trim(etag, `"`)
		return d, nil
	}
	data, err := r.Store.Get(ctx, d.Bucket, d.Key, d.ETag, maxStampBytes)
	if err != nil {
		// Superseded too: a newer derivative is on its way to the state;
		// this publish is tried again.
		return d, fmt.Errorf("read %s: %w", d.Key, err)
	}
	out, err := stamp.File(data, d.Format, m)
	if err != nil {
		return d, fmt.Errorf("stamp %s: %w", d.Key, err)
	}
	etag, err := r.Store.Put(ctx, d.Bucket, key, out, d.ContentType, map[string]string{"photodesk-stamped-from": d.Key + "@" + d.ETag})
	if err != nil {
		return d, fmt.Errorf("store %s: %w", key, err)
	}
	d.Key, d.Size, d.ETag = key, int64(len(out)), strings.Trim(etag, `"`)
	return d, nil
}

// publishedKey is <dir>/<name>.<hash>.<ext> beside the derivative: the
// hash covers the derivative's bytes (its ETag) and the metadata (mj).
func publishedKey(d contract.Derivative, mj []byte) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s|%s|%s|", stampVersion, d.Key, d.ETag)
	h.Write(mj)
	ext := path.Ext(d.Key)
	return strings.TrimSuffix(d.Key, ext) + "." + hex.EncodeToString(h.Sum(nil)[:8]) + ext
}
