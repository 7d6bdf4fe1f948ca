// Package derive is the handler both image roles run; renditions and
// watermark are two configurations of it.
package derive

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"golang.org/x/sync/errgroup"

	"github.com/photodesk/photodesk/internal/imaging"
	"github.com/photodesk/photodesk/pipeline"
	"github.com/photodesk/photodesk/pipeline/contract"
)

// specVersion changes when the rendering code changes what it writes, so
// derivatives made by an older build are made again.
const specVersion = "1"

// Store is what a Deriver needs of the object store (*pipeline.Store):
// the original's bytes, a derivative's metadata, and somewhere to put one.
type Store interface {
	Get(ctx context.Context, bucket, key, etag string, max int64) ([]byte, error)
	Meta(ctx context.Context, bucket, key string) (meta map[string]string, etag string, size int64, ok bool, err error)
	Put(ctx context.Context, bucket, key string, data []byte, contentType string, meta map[string]string) (string, error)
}

// Deriver is what both image roles do for one uploaded original: plan its
// derivatives, skip those already stored for this source ETag and these
// settings, decode the original once per preset for the rest, store them,
// and say what was written.
type Deriver struct {
	Role    string // "renditions" or "watermark"; names failures and the event
	Subject string // event subject prefix
	Store   Store
	Bucket  string // derivatives bucket
	Presets []imaging.Preset
	Limits  imaging.Limits
	Options imaging.Options
	// Suffix goes between the preset name and the extension in keys
	// (".wm" for watermarked copies), so the roles never share a key.
	Suffix string
	// Shared, when the process runs both image roles, shares each
	// original's decode between them.
	Shared *imaging.Decodes
	// FocusOf is the photo's focal point from its gallery.json, which its
	// crops are centred on (nil: none), asked only when a preset is a
	// crop; default: ManifestFocus over Store.
	FocusOf func(context.Context, contract.PhotoUploaded) (*contract.Focus, error)
	// settings is the part of every spec fingerprint outside the preset.
	settings string
	crops    bool // a preset is a crop
}

// Plan is one derivative a Deriver will make or reuse.
type plan struct {
	preset imaging.Preset
	format imaging.Format
	key    string
	spec   string
}

// NewDeriver drops the formats this libvips cannot write, saying so once.
func NewDeriver(d Deriver, log *slog.Logger) *Deriver {
	imaging.Start(log)
	var ps []imaging.Preset
	for _, p := range d.Presets {
		var fs []imaging.Format
		for _, f := range p.Formats {
			if imaging.CanWrite(f) {
				fs = append(fs, f)
			} else if log != nil {
				log.Warn("this libvips cannot write the format; preset made without it", "role", d.Role, "preset", p.Name, "format", f)
			}
		}
		p.Formats = fs
		ps = append(ps, p)
	}
	d.Presets = ps
	d.crops = slices.ContainsFunc(ps, imaging.Preset.Crop)
	if d.crops && d.FocusOf == nil {
		d.FocusOf = ManifestFocus(d.Store)
	}
	if d.Shared != nil {
		d.Shared.Join(ps)
	}
	if d.Options.Mark != nil {
		d.settings = d.Options.Mark.Fingerprint()
	}
	return &d
}

// Worker is the role as the runtime runs it.
func (d *Deriver) Worker(concurrency int) pipeline.Worker {
	return pipeline.Worker{Role: d.Role, Handler: d.Handle, Concurrency: concurrency}
}

// plans lists the derivatives of the photo; focus is its gallery's focal
// point, part of its crops' fingerprints so that a new one makes them again.
func (d *Deriver) plans(ev contract.PhotoUploaded, focus *contract.Focus) []plan {
	var out []plan
	for _, p := range d.Presets {
		for _, f := range p.Formats {
			s := fmt.Sprintf("v%s|%s|%d|%d|%s|%s", specVersion, p.Name, p.Size, p.Quality, f, d.settings)
			switch f {
			case imaging.AVIF:
				s += "|effort" + strconv.Itoa(d.Options.AVIFEffort)
			case imaging.WebP:
				s += "|effort" + strconv.Itoa(d.Options.WebPEffort)
			}
			if p.Crop() {
				s += "|aspect" + p.Aspect.String() + "|focus" + contract.FocusKey(focus)
			}
			sum := sha256.Sum256([]byte(s))
			out = append(out, plan{
				preset: p, format: f,
				key:  ev.Gallery + "/" + ev.Photo + "/" + p.Name + d.Suffix + "." + f.Ext(),
				spec: hex.EncodeToString(sum[:8]),
			})
		}
	}
	return out
}

// Metadata names on derivative objects (x-amz-meta-photodesk-*).
const (
	metaSourceETag   = "photodesk-source-etag"
	metaSpec         = "photodesk-spec"
	metaWidth        = "photodesk-width"
	metaHeight       = "photodesk-height"
	metaSourceFormat = "photodesk-source-format"
	metaSourceWidth  = "photodesk-source-width"
	metaSourceHeight = "photodesk-source-height"
	metaSourceSize   = "photodesk-source-size"
	metaSourceSHA256 = "photodesk-source-sha256"
	// A crop's focus ("x,y,source") and note (URL-escaped: S3 metadata is
	// ASCII).
	metaFocus = "photodesk-focus"
	metaNote  = "photodesk-note"
)

// Handle makes the derivatives of one photo.uploaded event.
func (d *Deriver) Handle(ctx context.Context, m *pipeline.Message) ([]contract.Output, error) {
	var ev contract.PhotoUploaded
	if err := contract.Decode(m.Subject, m.Data, &ev); err != nil {
		return nil, pipeline.Permanent(err)
	}
	if problem := d.Limits.OverSize(ev.Size); problem != "" {
		return nil, pipeline.Permanentf("%s", problem)
	}
	etag := strings.Trim(ev.ETag, `"`)
	var focus *contract.Focus
	if d.crops {
		var err error
		if focus, err = d.FocusOf(ctx, ev); err != nil {
			return nil, err
		}
	}
	plans := d.plans(ev, focus)
	res := contract.PhotoDerivatives{Ref: ev.Ref, Role: d.Role, Derivatives: make([]contract.Derivative, len(plans))}

	// A redelivery finds its work done: reuse what matches, make the rest.
	// A first delivery of an upload has nothing to find (derivative keys
	// are per photo, and JetStream drops a repeated photo.uploaded of one
	// ETag within the duplicate window; past it, making them again gives
	// the same bytes), so it skips the look: one HEAD per derivative.
	look := m.Attempt > 1 || ev.Reprocess != nil || ev.Refocus != ""
	missing := map[string][]int{} // preset -> indexes into plans
	for i, p := range plans {
		if !look {
			missing[p.preset.Name] = append(missing[p.preset.Name], i)
			continue
		}
		meta, oetag, size, ok, err := d.Store.Meta(ctx, d.Bucket, p.key)
		if err != nil {
			return nil, err
		}
		if ok && meta[metaSourceETag] == etag && meta[metaSpec] == p.spec {
			w, _ := strconv.Atoi(meta[metaWidth])
			h, _ := strconv.Atoi(meta[metaHeight])
			res.Derivatives[i] = d.derivative(p, w, h, size, oetag, true)
			if p.preset.Crop() {
				res.Derivatives[i].Focus, res.Derivatives[i].Note = parseFocusMeta(meta[metaFocus]), unescape(meta[metaNote])
			}
			sw, _ := strconv.Atoi(meta[metaSourceWidth])
			sh, _ := strconv.Atoi(meta[metaSourceHeight])
			ss, _ := strconv.ParseInt(meta[metaSourceSize], 10, 64)
			res.Source = contract.ImageSource{Format: meta[metaSourceFormat], Width: sw, Height: sh, Size: ss, SHA256: meta[metaSourceSHA256]}
			continue
		}
		missing[p.preset.Name] = append(missing[p.preset.Name], i)
	}

	if len(missing) == 0 {
		// All reused: still make sure this event is about the current
		// original, as the read below would.
		_, cur, _, ok, err := d.Store.Meta(ctx, ev.Bucket, ev.Key)
		if err != nil {
			return nil, err
		}
		if !ok || strings.Trim(cur, `"`) != etag {
			m.Superseded(pipeline.ErrSuperseded)
			return nil, nil
		}
	} else {
		src, err := d.source(ctx, ev)
		if m.Superseded(err) {
			return nil, nil
		}
		if err != nil {
			return nil, pipeline.PermanentIf(err, imaging.ErrBadInput, pipeline.ErrTooLarge)
		}
		res.Source = contract.ImageSource{Format: src.Format, Width: src.Width, Height: src.Height, Size: src.Size(), SHA256: src.SHA256}
		srcMeta := map[string]string{
			metaSourceETag: etag, metaSourceSHA256: src.SHA256, metaSourceFormat: src.Format, metaSourceSize: strconv.FormatInt(src.Size(), 10),
			metaSourceWidth: strconv.Itoa(src.Width), metaSourceHeight: strconv.Itoa(src.Height),
		}
		var jobs []imaging.Job
		for _, p := range d.Presets {
			if idx := missing[p.Name]; len(idx) > 0 {
				j := imaging.Job{Preset: p}
				for _, i := range idx {
					j.Formats = append(j.Formats, plans[i].format)
				}
				jobs = append(jobs, j)
			}
		}
		// Stores run while the next preset renders, a preset's formats side
		// by side: one PUT after another was most of a small photo's time
		// in the pipeline beyond the image work (BenchmarkPipeline).
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(storesAtOnce)
		opts := d.Options
		opts.Focus = focus
		err = imaging.RenderSet(gctx, src, jobs, opts, func(j imaging.Job, out []imaging.Result) error {
			idx := missing[j.Preset.Name]
			for k, r := range out {
				i, pl := idx[k], plans[idx[k]]
				meta := map[string]string{metaSpec: pl.spec, metaWidth: strconv.Itoa(r.Width), metaHeight: strconv.Itoa(r.Height)}
				for k, v := range srcMeta {
					meta[k] = v
				}
				if r.Focus != nil {
					meta[metaFocus] = focusMeta(r.Focus)
				}
				if r.Note != "" {
					meta[metaNote] = url.QueryEscape(r.Note)
				}
				g.Go(func() error {
					sctx, span := imaging.StepSpan(gctx, "store", attribute.String("photodesk.key", pl.key), attribute.Int("photodesk.bytes", len(r.Data)))
					oetag, err := d.Store.Put(sctx, d.Bucket, pl.key, r.Data, r.Format.ContentType(), meta)
					pipeline.EndSpan(span, err)
					if err != nil {
						return fmt.Errorf("store %s: %w", pl.key, err)
					}
					res.Derivatives[i] = d.derivative(pl, r.Width, r.Height, int64(len(r.Data)), oetag, false)
					res.Derivatives[i].Focus, res.Derivatives[i].Note = r.Focus, r.Note
					return nil
				})
			}
			return nil
		})
		// A failed store cancels the rendering; its error is the one to report.
		if serr := g.Wait(); serr != nil {
			return nil, serr
		}
		if err != nil {
			return nil, pipeline.PermanentIf(err, imaging.ErrBadInput)
		}
	}
	m.Log.Info("derivatives ready", "made", countMade(res.Derivatives), "reused", len(plans)-countMade(res.Derivatives),
		"source", fmt.Sprintf("%s %dx%d", res.Source.Format, res.Source.Width, res.Source.Height))
	if ev.Reprocess != nil {
		res.Run = ev.Reprocess.Run
	}
	// The Msg-Id names what was made, so new derivatives (new settings) are
	// announced while a redelivery that reused them is dropped.
	made := make([]string, len(res.Derivatives))
	for i, dv := range res.Derivatives {
		made[i] = dv.Key + "@" + dv.ETag
		if dv.Focus != nil {
			// A crop around a new focus can come out byte for byte as
			// before; the assembler must still hear which focus it has.
			made[i] += "@" + focusMeta(dv.Focus)
		}
	}
	out, err := contract.JSONOutput(contract.GallerySubject(d.Subject, ev.Gallery), contract.ResultMsgID(d.Role, ev.Ref, res.Run, made...), res)
	if err != nil {
		return nil, err
	}
	return []contract.Output{out}, nil
}

// source downloads and opens the original, or takes it with its decode
// from the other image role of this process (Shared).
func (d *Deriver) source(ctx context.Context, ev contract.PhotoUploaded) (*imaging.Source, error) {
	open := func() (*imaging.Source, error) {
		sctx, span := imaging.StepSpan(ctx, "download", attribute.Int64("photodesk.bytes", ev.Size))
		data, err := d.Store.Get(sctx, ev.Bucket, ev.Key, ev.ETag, d.Limits.MaxBytes)
		pipeline.EndSpan(span, err)
		if err != nil {
			return nil, err
		}
		_, span = imaging.StepSpan(ctx, "image.open")
		src, err := imaging.Open(data, d.Limits)
		pipeline.EndSpan(span, err)
		return src, err
	}
	if d.Shared == nil {
		return open()
	}
	return d.Shared.Take(ctx, ev.Bucket+"/"+ev.Key+"@"+strings.Trim(ev.ETag, `"`), open)
}

// storesAtOnce bounds one job's PUTs in flight.
const storesAtOnce = 4

func (d *Deriver) derivative(p plan, w, h int, size int64, etag string, reused bool) contract.Derivative {
	return contract.Derivative{
		Preset: p.preset.Name, Format: string(p.format), Bucket: d.Bucket, Key: p.key,
		ContentType: p.format.ContentType(), Width: w, Height: h, Size: size,
		ETag: strings.Trim(etag, `"`), Watermarked: p.preset.Watermark && d.Options.Mark != nil, Reused: reused,
		Aspect: p.preset.Aspect.String(),
	}
}

func countMade(ds []contract.Derivative) int {
	n := 0
	for _, d := range ds {
		if !d.Reused {
			n++
		}
	}
	return n
}
