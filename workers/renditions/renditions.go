// Package renditions is the renditions role: every configured preset of
// every uploaded photo, in each of its formats, into the derivatives bucket.
package renditions

import (
	"log/slog"

	"github.com/photodesk/photodesk/internal/imaging"
	"github.com/photodesk/photodesk/pipeline/contract"
	"github.com/photodesk/photodesk/workers/derive"
)

// New builds the role; cfg must have been validated. shared is nil unless
// the process also runs the watermark role.
func New(cfg imaging.Config, store derive.Store, bucket string, shared *imaging.Decodes, log *slog.Logger) *derive.Deriver {
	return derive.NewDeriver(derive.Deriver{
		Role:    contract.StageRenditions,
		Subject: contract.SubjectPhotoRenditions,
		Store:   store,
		Bucket:  bucket,
		Presets: cfg.Presets,
		Limits:  imaging.Limits{MaxPixels: cfg.MaxPixels, MaxBytes: cfg.MaxBytes},
		Options: imaging.Options{AVIFEffort: cfg.AVIFEffort, WebPEffort: cfg.WebPEffort},
		Shared:  shared,
	}, log)
}
