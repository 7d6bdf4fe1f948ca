package imaging

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/photodesk/photodesk/pipeline"
)

// specVersion changes when the rendering code changes what it writes, so
// derivatives made by an older build are made again.
const specVersion = "1"

// Deriver is what both image roles do for one uploaded original: plan its
// derivatives, skip those already stored for this source ETag and these
// settings, decode the original once per preset for the rest, store them,
// and say what was written.
type Deriver struct {
	Role    string // "renditions" or "watermark"; names failures and the event
	Subject string // event subject prefix
	Store   *pipeline.Store
	Bucket  string // derivatives bucket
	Presets []Preset
	Limits  Limits
	Options Options
	// Suffix goes between the preset name and the extension in keys
	// (".wm" for watermarked copies), so the roles never share a key.
	Suffix string
	// settings is the part of every spec fingerprint outside the preset.
	settings string
}

// Plan is one derivative a Deriver will make or reuse.
type plan struct {
	preset Preset
	format Format
	key    string
	spec   string
}

// NewDeriver drops the formats this libvips cannot write, saying so once.
func NewDeriver(d Deriver, log *slog.Logger) *Deriver {
	Start(log)
	var ps []Preset
	for _, p := range d.Presets {
		var fs []Format
		for _, f := range p.Formats {
			if CanWrite(f) {
				fs = append(fs, f)
			} else if log != nil {
				log.Warn("this libvips cannot write the format; preset made without it", "role", d.Role, "preset", p.Name, "format", f)
			}
		}
		p.Formats = fs
		ps = append(ps, p)
	}
	d.Presets = ps
	if d.Options.Mark != nil {
		c := d.Options.Mark.cfg
		d.settings = fmt.Sprintf("wm|%s|%s|%g|%s|%g|%g", c.Text, c.Font, c.Size, c.Position, c.Margin, c.Opacity)
	}
	return &d
}

// Worker is the role as the runtime runs it.
func (d *Deriver) Worker(concurrency int) pipeline.Worker {
	return pipeline.Worker{Role: d.Role, Handler: d.Handle, Concurrency: concurrency}
}

func (d *Deriver) plans(ev pipeline.PhotoUploaded) []plan {
	var out []plan
	for _, p := range d.Presets {
		for _, f := range p.Formats {
			s := fmt.Sprintf("v%s|%s|%d|%d|%s|%s", specVersion, p.Name, p.Size, p.Quality, f, d.settings)
			if f == AVIF {
				s += "|effort" + strconv.Itoa(d.Options.AVIFEffort)
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
)

// Handle makes the derivatives of one photo.uploaded event.
func (d *Deriver) Handle(ctx context.Context, m *pipeline.Message) ([]pipeline.Output, error) {
	var ev pipeline.PhotoUploaded
	if err := pipeline.Decode(m.Subject, m.Data, &ev); err != nil {
		return nil, pipeline.Permanent(err)
	}
	if d.Limits.MaxBytes > 0 && ev.Size > d.Limits.MaxBytes {
		return nil, pipeline.Permanentf("the file is %s, over the %s limit", mib(ev.Size), mib(d.Limits.MaxBytes))
	}
	etag := strings.Trim(ev.ETag, `"`)
	plans := d.plans(ev)
	res := pipeline.PhotoDerivatives{Ref: ev.Ref, Role: d.Role, Derivatives: make([]pipeline.Derivative, len(plans))}

	// A redelivery finds its work done: reuse what matches, make the rest.
	missing := map[string][]int{} // preset -> indexes into plans
	for i, p := range plans {
		meta, oetag, size, ok, err := d.Store.Meta(ctx, d.Bucket, p.key)
		if err != nil {
			return nil, err
		}
		if ok && meta[metaSourceETag] == etag && meta[metaSpec] == p.spec {
			w, _ := strconv.Atoi(meta[metaWidth])
			h, _ := strconv.Atoi(meta[metaHeight])
			res.Derivatives[i] = d.derivative(p, w, h, size, oetag, true)
			sw, _ := strconv.Atoi(meta[metaSourceWidth])
			sh, _ := strconv.Atoi(meta[metaSourceHeight])
			ss, _ := strconv.ParseInt(meta[metaSourceSize], 10, 64)
			res.Source = pipeline.ImageSource{Format: meta[metaSourceFormat], Width: sw, Height: sh, Size: ss}
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
			m.Log.Info("original replaced or deleted since this event; skipped")
			return nil, nil
		}
	} else {
		data, err := d.Store.Get(ctx, ev.Bucket, ev.Key, ev.ETag, d.Limits.MaxBytes)
		switch {
		case errors.Is(err, pipeline.ErrSuperseded):
			m.Log.Info("original replaced or deleted since this event; skipped", "err", err)
			return nil, nil
		case errors.Is(err, pipeline.ErrTooLarge):
			return nil, pipeline.Permanent(err)
		case err != nil:
			return nil, err
		}
		src, err := Open(data, d.Limits)
		if err != nil {
			return nil, classify(err)
		}
		res.Source = pipeline.ImageSource{Format: src.Format, Width: src.Width, Height: src.Height, Size: src.Size()}
		srcMeta := map[string]string{
			metaSourceETag: etag, metaSourceFormat: src.Format, metaSourceSize: strconv.FormatInt(src.Size(), 10),
			metaSourceWidth: strconv.Itoa(src.Width), metaSourceHeight: strconv.Itoa(src.Height),
		}
		for _, p := range d.Presets {
			idx := missing[p.Name]
			if len(idx) == 0 {
				continue
			}
			formats := make([]Format, len(idx))
			for j, i := range idx {
				formats[j] = plans[i].format
			}
			out, err := src.Render(ctx, p, formats, d.Options)
			if err != nil {
				return nil, classify(err)
			}
			for j, r := range out {
				pl := plans[idx[j]]
				meta := map[string]string{metaSpec: pl.spec, metaWidth: strconv.Itoa(r.Width), metaHeight: strconv.Itoa(r.Height)}
				for k, v := range srcMeta {
					meta[k] = v
				}
				oetag, err := d.Store.Put(ctx, d.Bucket, pl.key, r.Data, r.Format.ContentType(), meta)
				if err != nil {
					return nil, fmt.Errorf("store %s: %w", pl.key, err)
				}
				res.Derivatives[idx[j]] = d.derivative(pl, r.Width, r.Height, int64(len(r.Data)), oetag, false)
			}
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
	}
	out, err := pipeline.JSONOutput(pipeline.GallerySubject(d.Subject, ev.Gallery), pipeline.ResultMsgID(d.Role, ev.Ref, res.Run, made...), res)
	if err != nil {
		return nil, err
	}
	return []pipeline.Output{out}, nil
}

func (d *Deriver) derivative(p plan, w, h int, size int64, etag string, reused bool) pipeline.Derivative {
	return pipeline.Derivative{
		Preset: p.preset.Name, Format: string(p.format), Bucket: d.Bucket, Key: p.key,
		ContentType: p.format.ContentType(), Width: w, Height: h, Size: size,
		ETag: strings.Trim(etag, `"`), Watermarked: p.preset.Watermark && d.Options.Mark != nil, Reused: reused,
	}
}

func countMade(ds []pipeline.Derivative) int {
	n := 0
	for _, d := range ds {
		if !d.Reused {
			n++
		}
	}
	return n
}

// classify makes a photo's own fault permanent; anything else may pass.
func classify(err error) error {
	if errors.Is(err, ErrBadInput) {
		return pipeline.Permanent(err)
	}
	return err
}
