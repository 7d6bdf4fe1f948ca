package pipeline

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
)

// Entries returns the current value of every key in kv, by key. It lists
// the keys from the stream's per-subject counts, one server-side
// snapshot, and reads each. A watcher's end-of-current-values marker is
// not such a snapshot: with History 1, a key written while the watcher
// starts can arrive after the marker, so a gallery being updated or a
// process refreshing its presence went missing from the list.
func Entries(ctx context.Context, js jetstream.JetStream, kv jetstream.KeyValue) ([]jetstream.KeyValueEntry, error) {
	bucket := kv.Bucket()
	stream, err := js.Stream(ctx, "KV_"+bucket)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", bucket, err)
	}
	prefix := "$KV." + bucket + "."
	info, err := stream.Info(ctx, jetstream.WithSubjectFilter(prefix+">"))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", bucket, err)
	}
	keys := make([]string, 0, len(info.State.Subjects))
	for subj := range info.State.Subjects {
		keys = append(keys, strings.TrimPrefix(subj, prefix))
	}
	slices.Sort(keys)
	out := make([]jetstream.KeyValueEntry, 0, len(keys))
	for _, key := range keys {
		e, err := kv.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
			continue // deleted or expired since the snapshot
		}
		if err != nil {
			return nil, fmt.Errorf("read %s %s: %w", bucket, key, err)
		}
		out = append(out, e)
	}
	return out, nil
}
