package pipeline

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// Check reports the first part of the pipeline that is not up: NATS and
// JetStream, the streams and consumers, the buckets, the bucket notification.
func Check(ctx context.Context, js jetstream.JetStream, store *Store) error {
	if _, err := js.AccountInfo(ctx); err != nil {
		return fmt.Errorf("JetStream: %w", err)
	}
	if err := CheckStreams(ctx, js); err != nil {
		return err
	}
	for _, b := range store.Buckets() {
		ok, err := store.BucketExists(ctx, b)
		if err != nil {
			return fmt.Errorf("object store at %s: %w", store.EndpointURL().Host, err)
		}
		if !ok {
			return fmt.Errorf("bucket %s does not exist", b)
		}
	}
	return store.CheckNotification(ctx, store.cfg.NotifyRegion)
}
