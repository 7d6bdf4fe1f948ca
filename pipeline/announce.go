package pipeline

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/photodesk/photodesk/pipeline/contract"
)

// AnnounceUpload publishes the event of an upload just stored at bucket/key: the
// event ingest makes of MinIO's notification, with the same Nats-Msg-Id,
// so the notification (MinIO's queue store sends it up to 3 s later) is
// dropped as a duplicate and the pipeline starts that much sooner. The
// notification stays the durable path: an upload whose announcement fails
// only waits for it; so while NATS is away it does not try (the uploader
// would wait for nothing), and returns nil. Its producer span is a child of
// ctx's (the upload's).
func AnnounceUpload(ctx context.Context, js jetstream.JetStream, store *Store, bucket, key string) error {
	if js.Conn().Status() != nats.CONNECTED {
		return nil
	}
	o, err := store.Original(ctx, bucket, key)
	if err != nil {
		return fmt.Errorf("announce %s: %w", key, err)
	}
	out, err := contract.OriginalEvent(o)
	if err != nil {
		return err
	}
	sctx, span := StartCreateSpan(ctx, out, bucket, key)
	_, err = js.PublishMsg(sctx, &nats.Msg{Subject: out.Subject, Data: out.Data, Header: InjectHeader(sctx, out.Header)},
		jetstream.WithMsgID(out.MsgID))
	EndSpan(span, err)
	return err
}
