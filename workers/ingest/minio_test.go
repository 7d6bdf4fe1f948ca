package ingest_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/photodesk/photodesk/pipeline"
	"github.com/photodesk/photodesk/pipeline/contract"
	"github.com/photodesk/photodesk/pipeline/devstack"
	"github.com/photodesk/photodesk/workers/ingest"
)

// TestRealMinIONotification puts objects into a real MinIO and reads the
// notifications it wrote to JetStream: escaped keys, user metadata and
// multipart uploads come out as ParseS3Event expects.
func TestRealMinIONotification(t *testing.T) {
	s := devstack.ForTest(t)
	ctx := context.Background()
	store, err := pipeline.NewStore(s.Config)
	if err != nil {
		t.Fatal(err)
	}
	// Set-up runs at every start: a second run changes nothing.
	for range 2 {
		if err := store.EnsureNotification(ctx, ""); err != nil {
			t.Fatalf("EnsureNotification again: %v", err)
		}
	}
	if err := store.CheckNotification(ctx, ""); err != nil {
		t.Fatal(err)
	}
	put := func(key string, body []byte, opts minio.PutObjectOptions) {
		t.Helper()
		if _, err := store.PutObject(ctx, s.Config.OriginalsBucket, key, bytes.NewReader(body), int64(len(body)), opts); err != nil {
			t.Fatal(err)
		}
	}
	put("g1/a b+c.jpg", []byte("x"), minio.PutObjectOptions{UserMetadata: map[string]string{"Caption": "Opening day"}})
	put("g1/图片.jpg", []byte("y"), minio.PutObjectOptions{})
	// 6 MiB with a 5 MiB part size: a multipart upload.
	put("g1/big.jpg", bytes.Repeat([]byte{1}, 6<<20), minio.PutObjectOptions{PartSize: 5 << 20})

	nc, js, err := pipeline.Connect(s.Config, t.Name())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	cons, err := js.OrderedConsumer(ctx, contract.S3EventsStream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]ingest.Upload{}
	// MinIO queues notifications; a loaded machine delays them.
	deadline := time.Now().Add(60 * time.Second)
	for len(got) < 3 && time.Now().Before(deadline) {
		b, err := cons.Fetch(3, jetstream.FetchMaxWait(500*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		for m := range b.Messages() {
			ups, err := ingest.ParseS3Event(m.Data())
			if err != nil {
				t.Fatalf("parse real MinIO event: %v\n%s", err, m.Data())
			}
			for _, u := range ups {
				got[u.Key] = u
			}
		}
	}
	a, ok := got["g1/a b+c.jpg"]
	if !ok {
		t.Fatalf("no event for the key with a space and a plus; got %v", keys(got))
	}
	if a.Metadata["caption"] != "Opening day" || a.Size != 1 || a.ETag == "" || a.Bucket != s.Config.OriginalsBucket || !a.IsCreation() {
		t.Errorf("upload = %+v", a)
	}
	if _, ok := got["g1/图片.jpg"]; !ok {
		t.Errorf("no event for the unicode key; got %v", keys(got))
	}
	big, ok := got["g1/big.jpg"]
	if !ok || big.EventName != "s3:ObjectCreated:CompleteMultipartUpload" || big.Size != 6<<20 || !big.IsCreation() {
		t.Errorf("multipart upload = %+v", big)
	}
}

func keys(m map[string]ingest.Upload) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}
