// Package watermark is the watermark role: the presets marked for it (and
// optionally a full-size copy) with the source line drawn on, for display.
package watermark

import (
	"fmt"
	"log/slog"

	"github.com/photodesk/photodesk/internal/imaging"
	"github.com/photodesk/photodesk/pipeline/contract"
	"github.com/photodesk/photodesk/workers/derive"
)

// New builds the role; cfg must have been validated. A font that lacks a
// glyph of the text is an error here, at start-up, never a box in a photo.
// shared is nil unless the process also runs the renditions role.
func New(cfg imaging.Config, store derive.Store, bucket string, shared *imaging.Decodes, log *slog.Logger) (*derive.Deriver, error) {
	if len(cfg.Marked()) == 0 {
		return nil, fmt.Errorf("watermark role: no preset is marked wm and watermark-full is off; nothing to make")
	}
	mark, err := imaging.NewMark(cfg.Watermark)
	if err != nil {
		return nil, err
	}
	return derive.NewDeriver(derive.Deriver{
		Role:    contract.StageWatermark,
		Subject: contract.SubjectPhotoWatermarked,
		Store:   store,
		Bucket:  bucket,
		Presets: cfg.Marked(),
		Limits:  imaging.Limits{MaxPixels: cfg.MaxPixels, MaxBytes: cfg.MaxBytes},
		Options: imaging.Options{AVIFEffort: cfg.AVIFEffort, WebPEffort: cfg.WebPEffort, Mark: mark},
		Suffix:  ".wm",
		Shared:  shared,
	}, log), nil
}
