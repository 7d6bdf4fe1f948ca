package pipeline

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// TestEntriesWhileRefreshed: a key rewritten again and again while the
// bucket is listed is never missing (a watcher's end marker lost it on
// the second listing).
func TestEntriesWhileRefreshed(t *testing.T) {
	js := presenceNATS(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "ENTRIES_TEST", History: 1, TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a", "b", "gone"} {
		if _, err := kv.Put(ctx, k, []byte(k)); err != nil {
			t.Fatal(err)
		}
	}
	if err := kv.Delete(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			_, _ = kv.Put(ctx, "b", []byte("b"))
		}
	}()
	for i := range 300 {
		es, err := Entries(ctx, js, kv)
		if err != nil || len(es) != 2 || es[0].Key() != "a" || es[1].Key() != "b" || string(es[1].Value()) != "b" {
			var keys []string
			for _, e := range es {
				keys = append(keys, e.Key())
			}
			t.Fatalf("listing %d: keys %v (%v), want [a b]", i, keys, err)
		}
	}
	cancel()
	<-done
}
