package assembler

import (
	"strings"

	"github.com/nats-io/nats.go"

	"github.com/photodesk/photodesk/pipeline"
	"github.com/photodesk/photodesk/pipeline/contract"
	"github.com/photodesk/photodesk/pipeline/gallery"
)

// rerunStages are the photo stages a reprocess event is addressed to: the
// ones whose answers the gallery's run waits for.
func rerunStages(h nats.Header) []string {
	var out []string
	for _, st := range contract.PhotoStages() {
		if pipeline.ForRole(h, st.Name) {
			out = append(out, st.Name)
		}
	}
	return out
}

// refocus announces a photo again to the stages whose crops are stale
// (gallery.Refocus), as `photodesk reprocess --role` would, but only to
// them: the record waits for their new results, and the Msg-Id (the
// original and the focal point) sends it once, however many events find
// the crops stale.
func (r *Role) refocus(id string, rf gallery.Refocus) (contract.Output, error) {
	ref := contract.Ref{Gallery: id, Photo: rf.Name, Bucket: r.OriginalsBucket, Key: id + "/" + rf.Name, ETag: rf.Photo.ETag}
	ev := contract.PhotoUploaded{Ref: ref, UploadedAt: rf.Photo.UploadedAt, Refocus: contract.FocusKey(rf.Focus)}
	if rf.Result.Source != nil {
		ev.Size = rf.Result.Source.Size
	}
	o, err := contract.JSONOutput(contract.GallerySubject(contract.SubjectPhotoUploaded, id), contract.RefocusMsgID(ref, ev.Refocus), ev)
	if err != nil {
		return o, err
	}
	o.Header = map[string][]string{contract.RolesHeader: {strings.Join(rf.Stages, ",")}}
	return o, nil
}
