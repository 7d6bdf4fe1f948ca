package assembler

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/photodesk/photodesk/internal/c2pa"
	"github.com/photodesk/photodesk/internal/stamp"
	"github.com/photodesk/photodesk/pipeline/contract"
	"github.com/photodesk/photodesk/pipeline/gallery"
)

// stampVersion changes when stamp writes different bytes for the same
// metadata, or published files need writing again for another reason.
const stampVersion = "3" // 3: published copies are tagged as published

// maxStampBytes bounds a derivative read to stamp it (a full-size copy of
// the largest original allowed is well under it).
const maxStampBytes = 512 << 20

// stampsAtOnce bounds one publish's derivatives in flight (each is read,
// stamped and written whole).
const stampsAtOnce = 4

// stampAll replaces each figure's derivatives with their published copies:
// the same pixels with the figure's metadata spliced in and, when the role
// signs, Content Credentials over the result, under a key that names the
// derivative, the metadata and the signature's inputs. A record version
// therefore links files that say what it says, and a version that changes
// no photo's metadata writes nothing.
func (r *Role) stampAll(ctx context.Context, figs []stamped) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(stampsAtOnce)
	for fi := range figs {
		f := &figs[fi]
		// The key hashes the metadata and what the signature says beyond
		// it: encoded once per figure.
		mj, err := json.Marshal(struct {
			Meta   stamp.Metadata
			Signed string `json:",omitempty"`
		}{f.meta, r.signedBy(f)})
		if err != nil {
			return err
		}
		// The original's manifest store is read once, and only when a
		// published copy is missing: a republish that changes nothing
		// reads nothing.
		f.parentStore = sync.OnceValues(func() ([]byte, error) { return r.parentStore(gctx, f) })
		for i := range f.derivs {
			g.Go(func() error {
				d, err := r.publishCopy(gctx, f.derivs[i], f, mj)
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
	// work is what the figure's Content Credentials say, but for each
	// file's own name, format and actions; src and prov are the original
	// as the image roles and the exif role saw it.
	work c2pa.Work
	src  *contract.ImageSource
	prov *contract.Provenance
	// original locates the uploaded file, for its manifest store.
	bucket, key, etag string
	// parentStore is the original's manifest store, read on first use.
	parentStore func() ([]byte, error)
}

// signedBy names a figure's signature inputs beyond its metadata: the
// signing certificate and the original's manifest, so a new certificate
// or a newly read manifest signs the files again.
func (r *Role) signedBy(f *stamped) string {
	if r.Signer == nil {
		return ""
	}
	s := r.Signer.Identity() + "|" + f.work.Parent.Title + "|" + hex.EncodeToString(f.work.Parent.SHA256)
	if f.prov != nil {
		s += "|" + f.prov.State + "|" + f.prov.Manifest
	}
	return s
}

// maxParentStore bounds an original's manifest store read to carry it
// (the reader refuses larger ones before this is asked).
const maxParentStore = 16 << 20

// parentStore reads the original's manifest store where the exif role
// found it: those bytes only, not the whole original.
func (r *Role) parentStore(ctx context.Context, f *stamped) ([]byte, error) {
	p := f.prov
	if r.Signer == nil || !p.Proven() || p.StoreLength <= 0 || p.StoreLength > maxParentStore {
		return nil, nil
	}
	b, err := r.Store.ReadRange(ctx, f.bucket, f.key, f.etag, p.StoreStart, p.StoreLength)
	if err != nil {
		return nil, fmt.Errorf("read the C2PA store of %s: %w", f.key, err)
	}
	store, err := c2pa.Unwrap(b, f.src.Format)
	if err != nil {
		// The original changed under the same ETag cannot happen; a store
		// that does not read back is published without the chain.
		return nil, nil
	}
	return store, nil
}

// publishCopy writes d stamped with f's metadata (mj is the key's input)
// and signed to its published key, unless it is there already, and
// returns d as published. Formats stamp cannot write into (AVIF) are
// published as rendered.
func (r *Role) publishCopy(ctx context.Context, d contract.Derivative, f *stamped, mj []byte) (contract.Derivative, error) {
	if !stamp.Writes(d.Format) {
		// Linked as rendered: marked so at each publish.
		if err := r.Store.MarkPublished(ctx, d.Bucket, d.Key); err != nil {
			return d, fmt.Errorf("mark %s published: %w", d.Key, err)
		}
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
	out, err := stamp.File(data, d.Format, f.meta)
	if err != nil {
		return d, fmt.Errorf("stamp %s: %w", d.Key, err)
	}
	// Signing is the last write: the hard binding covers every byte
	// stamped above.
	if r.Signer != nil {
		w := f.workFor(d, key)
		if w.Parent.Store, err = f.parentStore(); err != nil {
			return d, err
		}
		if out, err = r.Signer.Sign(ctx, out, d.Format, w); err != nil {
			return d, fmt.Errorf("sign %s: %w", d.Key, err)
		}
	}
	etag, err := r.Store.PutPublished(ctx, d.Bucket, key, out, d.ContentType, map[string]string{"photodesk-stamped-from": d.Key + "@" + d.ETag})
	if err != nil {
		return d, fmt.Errorf("store %s: %w", key, err)
	}
	d.Key, d.Size, d.ETag = key, int64(len(out)), strings.Trim(etag, `"`)
	return d, nil
}

// workFor is what the manifest of d, published as key, says: the
// figure's creative work and what was done to the original to make d.
func (f *stamped) workFor(d contract.Derivative, key string) c2pa.Work {
	w := f.work
	w.Title, w.Format = path.Base(key), d.ContentType
	var acts []c2pa.Action
	if f.src == nil || f.src.Width != d.Width || f.src.Height != d.Height {
		acts = append(acts, c2pa.Action{Action: "c2pa.resized"})
	}
	if f.src == nil || f.src.Format != d.Format {
		acts = append(acts, c2pa.Action{Action: "c2pa.transcoded", Description: "encoded as " + d.Format})
	}
	if d.Watermarked {
		acts = append(acts, c2pa.Action{Action: "c2pa.edited", Description: "visible credit line drawn on the picture"})
	}
	w.Actions = append(acts,
		c2pa.Action{Action: "c2pa.edited.metadata", Description: "byline, credit, caption and rights written (IPTC, XMP, EXIF)"},
		c2pa.Action{Action: "c2pa.published"})
	return w
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

// toStamp is what figure f's files are to say and be signed with.
func (r *Role) toStamp(e gallery.Entry, f Figure, meta stamp.Metadata, a *Article) stamped {
	s := stamped{
		derivs: append(append([]contract.Derivative(nil), e.Current.Renditions...), e.Current.Watermarked...),
		meta:   meta, src: e.Current.Source,
		bucket: r.OriginalsBucket, key: a.Gallery + "/" + e.Name, etag: e.Photo.ETag,
		work: c2pa.Work{
			Authors: f.Rights.Creator, Publisher: firstOf(f.Rights.CopyrightHolder, a.Source),
			Copyright: f.Rights.CopyrightNotice, Caption: f.Caption,
			Parent: c2pa.Parent{Title: e.Name},
		},
	}
	if src := e.Current.Source; src != nil {
		s.work.Parent.Format = "image/" + src.Format
		s.work.Parent.SHA256, _ = hex.DecodeString(src.SHA256)
	}
	if f.Provenance != nil {
		s.prov = f.Provenance
		for _, c := range s.prov.Passed {
			s.work.Parent.Results = append(s.work.Parent.Results, c2pa.Status{Code: c})
		}
	}
	return s
}
