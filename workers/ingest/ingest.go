// Package ingest is the ingest role: it turns MinIO's bucket notifications
// into photodesk's own events, photo.uploaded and gallery.submitted.
package ingest

import (
	"context"
	"strings"

	"github.com/photodesk/photodesk/pipeline"
	"github.com/photodesk/photodesk/pipeline/contract"
)

// Role is the ingest role.
type Role struct {
	// Bucket is the originals bucket; notifications of others are ignored.
	Bucket string
}

// Worker is the ingest role as the runtime runs it.
func (r *Role) Worker(concurrency int) pipeline.Worker {
	return pipeline.Worker{
		Role:        contract.StageIngest,
		Handler:     r.Handle,
		Concurrency: concurrency,
		Describe:    Describe,
	}
}

// Describe names the object an S3 event is about, for logs and failures.
func Describe(_ string, data []byte) contract.Ref {
	ups, err := ParseS3Event(data)
	if err != nil || len(ups) == 0 {
		return contract.Ref{}
	}
	ref := contract.Ref{Bucket: ups[0].Bucket, Key: ups[0].Key, ETag: ups[0].ETag}
	if g, name, err := contract.SplitKey(ups[0].Key); err == nil {
		ref.Gallery, ref.Photo = g, name
	} else if g, _, ok := strings.Cut(ups[0].Key, "/"); ok && contract.ValidGalleryID(g) == nil {
		ref.Gallery = g
	}
	return ref
}

// Handle publishes one event per created object. An object outside the
// <gallery-id>/<file> shape fails for good, with the reason.
func (r *Role) Handle(ctx context.Context, m *pipeline.Message) ([]contract.Output, error) {
	ups, err := ParseS3Event(m.Data)
	if err != nil {
		return nil, pipeline.Permanent(err)
	}
	var outs []contract.Output
	for _, u := range ups {
		if !u.IsCreation() {
			m.Log.Debug("not a new object; ignored", "event", u.EventName, "key", u.Key)
			continue
		}
		if strings.HasPrefix(u.Key, contract.ReservedPrefix) {
			m.Log.Debug("photodesk's own object; ignored", "key", u.Key)
			continue
		}
		if strings.HasSuffix(u.Key, "/") && u.Size == 0 {
			// A folder marker, as S3 consoles and tools write when a
			// photographer makes the gallery's folder: nothing to process,
			// and no failure to report on the gallery.
			m.Log.Debug("folder marker; ignored", "key", u.Key)
			continue
		}
		if r.Bucket != "" && u.Bucket != r.Bucket {
			m.Log.Warn("notification for another bucket; ignored", "bucket", u.Bucket, "key", u.Key)
			continue
		}
		out, err := event(u)
		if err != nil {
			return outs, pipeline.Permanent(err)
		}
		continueUpload(ctx, u, &out)
		outs = append(outs, out)
	}
	return outs, nil
}

// event is the photodesk event for one upload.
func event(u Upload) (contract.Output, error) {
	return contract.OriginalEvent(contract.Original{
		Bucket: u.Bucket, Key: u.Key, ETag: u.ETag, Size: u.Size, ContentType: u.ContentType,
		VersionID: u.VersionID, Metadata: u.Metadata, At: u.EventTime,
	})
}
