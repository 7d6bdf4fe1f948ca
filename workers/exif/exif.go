// Package exif is the exif role: it reads each uploaded photo's capture
// date, camera facts and embedded caption, byline and rights fields from
// the head of the original, and its Content Credentials (C2PA): the
// whole file is read only when it carries a manifest to validate.
package exif

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"time"

	"github.com/photodesk/photodesk/internal/photometa"
	"github.com/photodesk/photodesk/pipeline"
	"github.com/photodesk/photodesk/pipeline/contract"
)

// Store is what the role reads originals through (*pipeline.Store): a
// range of one version of an object, failing with pipeline.ErrSuperseded
// once that version is gone.
type Store interface {
	ReadRange(ctx context.Context, bucket, key, etag string, off, length int64) ([]byte, error)
}

// Role is the exif role.
type Role struct {
	Store Store
	// Zone is the newsroom's time zone, for EXIF times without an offset.
	Zone *time.Location
	// Anchors are the C2PA trust anchors originals' Content Credentials
	// are checked against; nil: none is trusted.
	Anchors []*x509.Certificate
}

// Worker is the exif role as the runtime runs it.
func (r *Role) Worker(concurrency int) pipeline.Worker {
	return pipeline.Worker{Role: contract.StageExif, Handler: r.Handle, Concurrency: concurrency}
}

// Handle reads one photo's EXIF and publishes photo.exif.
func (r *Role) Handle(ctx context.Context, m *pipeline.Message) ([]contract.Output, error) {
	var ev contract.PhotoUploaded
	if err := contract.Decode(m.Subject, m.Data, &ev); err != nil {
		return nil, pipeline.Permanent(err)
	}
	head := photometa.NewHeadReader(func(off, n int64) ([]byte, error) {
		return r.Store.ReadRange(ctx, ev.Bucket, ev.Key, ev.ETag, off, n)
	}, ev.Size, 0)
	x, err := photometa.Extract(head, ev.Size, r.Zone)
	if m.Superseded(err) {
		return nil, nil
	}
	if err != nil {
		return nil, pipeline.PermanentIf(err, photometa.ErrBadInput)
	}
	res := contract.PhotoExif{Ref: ev.Ref, Exif: data(x)}
	prov, whole, err := r.provenance(ctx, ev, x.Format, head)
	if m.Superseded(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	res.Exif.Provenance, res.BytesRead = prov, head.Fetched()+whole
	m.Log.Info("exif read", "captured_at", res.Exif.CapturedAt, "date_source", res.Exif.DateSource,
		"caption_source", res.Exif.CaptionSource, "byline_source", res.Exif.BylineSource, "provenance", res.Exif.Provenance, "bytes_read", res.BytesRead)
	if ev.Reprocess != nil {
		res.Run = ev.Reprocess.Run
	}
	// The Msg-Id names the facts read, so a changed reading (a reprocess
	// after a reader fix) is announced and a redelivery is dropped.
	facts, err := json.Marshal(res.Exif)
	if err != nil {
		return nil, err
	}
	out, err := contract.JSONOutput(contract.GallerySubject(contract.SubjectPhotoExif, ev.Gallery), contract.ResultMsgID("exif", ev.Ref, res.Run, string(facts)), res)
	if err != nil {
		return nil, err
	}
	return []contract.Output{out}, nil
}

// data maps the reader's result onto the event schema.
func data(x *photometa.Exif) contract.ExifData {
	d := contract.ExifData{
		Format: x.Format, Present: x.Present, CapturedAt: x.CapturedAt,
		DateSource: x.DateSource, ZoneSource: x.ZoneSource,
		Make: x.Make, Model: x.Model, Artist: x.Artist, Copyright: x.Copyright,
		Orientation: x.Orientation,
		Width:       x.Width, Height: x.Height, Notes: x.Notes,
		Caption: x.Caption, CaptionSource: x.CaptionSource,
		Byline: x.Byline, BylineSource: x.BylineSource, Rights: x.Rights,
	}
	if x.GPS != nil {
		d.GPS = &contract.GPS{Lat: x.GPS.Lat, Lon: x.GPS.Lon, Alt: x.GPS.Alt}
	}
	return d
}
