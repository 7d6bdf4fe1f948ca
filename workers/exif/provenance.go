package exif

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/photodesk/photodesk/internal/c2pa"
	"github.com/photodesk/photodesk/pipeline/contract"
)

// maxProvenanceBytes bounds the original read whole to validate its
// Content Credentials (the hard binding hashes every byte).
const maxProvenanceBytes = 256 << 20

// provenance reads and validates the original's Content Credentials. Only
// the headers are read to find a manifest; the whole file only when one
// is there. What it finds never fails the photo: a store that does not
// validate is a finding (invalid, with the reason), not an error.
func (r *Role) provenance(ctx context.Context, ev contract.PhotoUploaded, format string, head io.ReaderAt) (_ *contract.Provenance, read int64, err error) {
	if format != "jpeg" && format != "webp" {
		return nil, 0, nil
	}
	where, err := c2pa.Locate(head, ev.Size, format)
	if errors.Is(err, c2pa.ErrNoManifest) {
		return &contract.Provenance{State: contract.ProvenanceNone}, 0, nil
	}
	if err != nil {
		// The headers were read for the EXIF block already; a file whose
		// segments do not walk has no manifest to read.
		return &contract.Provenance{State: contract.ProvenanceNone, Reason: err.Error()}, 0, nil
	}
	if ev.Size > maxProvenanceBytes {
		return &contract.Provenance{State: contract.ProvenanceInvalid, Codes: []string{"general.error"},
			Reason: fmt.Sprintf("the original is %d MiB, over the %d MiB read to validate its manifest", ev.Size>>20, maxProvenanceBytes>>20)}, 0, nil
	}
	file, err := r.Store.ReadRange(ctx, ev.Bucket, ev.Key, ev.ETag, 0, ev.Size)
	if err != nil {
		return nil, 0, err
	}
	rep := c2pa.Read(file, format, r.Anchors)
	p := &contract.Provenance{
		State: rep.State, Signer: rep.Signer, Issuer: rep.Issuer, Generator: rep.Generator,
		Manifest: rep.Active, Actions: rep.Actions, GenerativeAI: rep.GenerativeAI, DigitalSourceType: rep.DigitalSourceType,
		StoreStart: int64(where.Start), StoreLength: int64(where.Length),
	}
	if !rep.SignedAt.IsZero() {
		t := rep.SignedAt.UTC()
		p.SignedAt = &t
	}
	var why []string
	for _, s := range rep.Failure {
		p.Codes = append(p.Codes, s.Code)
		if s.Explanation != "" && !slices.Contains(why, s.Explanation) {
			why = append(why, s.Explanation)
		}
	}
	p.Reason = contract.Clip(strings.Join(why, "; "), 400)
	for _, s := range rep.Success {
		p.Passed = append(p.Passed, s.Code)
	}
	return p, int64(len(file)), nil
}
