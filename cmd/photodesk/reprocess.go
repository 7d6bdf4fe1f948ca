package main

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/photodesk/photodesk/pipeline"
	"github.com/photodesk/photodesk/pipeline/contract"
)

// reprocessRoles are the roles reprocess can address (contract.Stage.
// Reprocess): those that act on photo.uploaded (ingest reads MinIO's
// notifications, which reprocess goes around; webhooks follows the
// assembler's article events).
var reprocessRoles = contract.StageNames(contract.ReprocessStages())

// runReprocess is `photodesk reprocess`: pipeline.Reprocess for one
// gallery or all of them, so the roles run again on existing originals
// (after the watermark text or a preset changed, say).
func runReprocess(ctx context.Context, args []string) error {
	c := newCLI("reprocess")
	fs := c.fs
	var o pipeline.ReprocessOptions
	fs.StringVar(&o.Gallery, "gallery", "", "the gallery to reprocess")
	fs.BoolVar(&o.All, "all", false, "reprocess every gallery in the originals bucket")
	roles := fs.String("role", "", "re-run only these roles, comma separated: "+strings.Join(reprocessRoles, ", ")+" (default: all of them)")
	fs.Float64Var(&o.Rate, "rate", 10, "announce at most this many photos per second, so fresh uploads are not queued behind a long run (0: no bound)")
	if err := c.parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 || (o.Gallery == "") == !o.All || o.Rate < 0 {
		fs.Usage()
		return fmt.Errorf("%w: give --gallery ID or --all (and a --rate of 0 or more)", errUsage)
	}
	if o.Gallery != "" {
		if err := contract.ValidGalleryID(o.Gallery); err != nil {
			return err
		}
	}
	if *roles != "" {
		for r := range strings.SplitSeq(*roles, ",") {
			r = strings.TrimSpace(r)
			if !slices.Contains(reprocessRoles, r) {
				return fmt.Errorf("--role %q: reprocess re-runs %s", r, strings.Join(reprocessRoles, ", "))
			}
			if !slices.Contains(o.Roles, r) {
				o.Roles = append(o.Roles, r)
			}
		}
	}
	if err := c.validate(); err != nil {
		return err
	}
	cfg := c.cfg
	nc, js, store, err := connectAll(cfg, "reprocess")
	if err != nil {
		return err
	}
	defer nc.Close()
	_, err = pipeline.Reprocess(ctx, stdout, js, store, cfg.OriginalsBucket, o)
	return err
}
