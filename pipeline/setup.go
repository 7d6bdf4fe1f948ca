package pipeline

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/photodesk/photodesk/pipeline/contract"
)

// IsARNMissing reports whether err is MinIO refusing a bucket notification
// because it knows no target by that ARN: it loads its targets in the
// background after it reports ready, so this is normal for a few seconds
// after a start; for longer, the target is not configured (or the ARN's
// region is not MinIO's).
func IsARNMissing(err error) bool {
	return err != nil && strings.Contains(err.Error(), "ARN does not exist")
}

// EnsureNotificationWait is EnsureNotification, retried for up to limit
// while MinIO says the target's ARN does not exist.
func (s *Store) EnsureNotificationWait(ctx context.Context, arnRegion string, limit time.Duration) error {
	if err := s.checkNotifyRegion(ctx, arnRegion); err != nil {
		return err
	}
	deadline := time.Now().Add(limit)
	for {
		err := s.EnsureNotification(ctx, arnRegion)
		if !IsARNMissing(err) {
			return err
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%w (MinIO still knows no target %s after %s: set MINIO_NOTIFY_NATS_*_%s on every MinIO server, and give the ARN region if MinIO has one configured)",
				err, NotifyARN(arnRegion), time.Since(deadline.Add(-limit)).Round(time.Second), NotifyTargetID)
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// checkNotifyRegion refuses an ARN region other than the one MinIO shows
// on the bucket's rules for our target: MinIO reads rules back with its own
// region, so with the wrong one every run would add a second rule, which
// MinIO refuses as overlapping.
func (s *Store) checkNotifyRegion(ctx context.Context, arnRegion string) error {
	conf, err := s.GetBucketNotification(ctx, s.cfg.OriginalsBucket)
	if err != nil {
		return nil // EnsureNotification says what is wrong
	}
	for _, q := range conf.QueueConfigs {
		f := strings.Split(q.Queue, ":") // arn:minio:sqs:<region>:<id>:nats
		if len(f) != 6 || f[4] != NotifyTargetID || f[3] == arnRegion {
			continue
		}
		if f[3] == "" {
			return fmt.Errorf("bucket %s notifies %s: MinIO has no region configured, so give no ARN region (not %q)", s.cfg.OriginalsBucket, q.Queue, arnRegion)
		}
		return fmt.Errorf("bucket %s notifies %s: MinIO has region %q, so give that as the ARN region (photodesk setup --notify-region %s)",
			s.cfg.OriginalsBucket, q.Queue, f[3], f[3])
	}
	return nil
}

// ProveTrigger proves the one trigger works end to end before anyone
// uploads: it puts a canary object under ReservedPrefix in the originals
// bucket (ingest ignores those) and waits for MinIO's event on the
// S3_EVENTS stream, setting the notification again when none comes (a
// freshly started MinIO has been seen to accept the notification and still
// drop the first uploads' events). It gives up after limit and returns how
// many canary uploads it took.
func (s *Store) ProveTrigger(ctx context.Context, js jetstream.JetStream, arnRegion string, limit time.Duration, log *slog.Logger) (int, error) {
	if log == nil {
		log = slog.Default()
	}
	// A key of its own, so setups running at once never take each
	// other's event for theirs. Hex survives MinIO's URL-encoding of keys.
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	token := hex.EncodeToString(b)
	key := contract.ReservedPrefix + "canary-" + token
	bucket := s.cfg.OriginalsBucket
	deadline := time.Now().Add(limit)
	for attempt := 1; ; attempt++ {
		cons, err := js.OrderedConsumer(ctx, contract.S3EventsStream, jetstream.OrderedConsumerConfig{
			FilterSubjects: []string{contract.S3EventsSubject}, DeliverPolicy: jetstream.DeliverNewPolicy,
		})
		if err != nil {
			return attempt, fmt.Errorf("canary: read stream %s: %w", contract.S3EventsStream, err)
		}
		if _, err := s.PutObject(ctx, bucket, key, strings.NewReader("canary"), 6, minio.PutObjectOptions{}); err != nil {
			return attempt, fmt.Errorf("canary upload to %s: %w", bucket, err)
		}
		// MinIO sends queued events on a 3 s tick.
		for wait := time.Now().Add(10 * time.Second); time.Now().Before(wait) && ctx.Err() == nil; {
			batch, err := cons.Fetch(10, jetstream.FetchMaxWait(500*time.Millisecond))
			if err != nil {
				return attempt, fmt.Errorf("canary: read stream %s: %w", contract.S3EventsStream, err)
			}
			for m := range batch.Messages() {
				if strings.Contains(string(m.Data()), token) {
					_ = s.RemoveObject(ctx, bucket, key, minio.RemoveObjectOptions{})
					return attempt, nil
				}
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			_ = s.RemoveObject(context.WithoutCancel(ctx), bucket, key, minio.RemoveObjectOptions{})
			return attempt, fmt.Errorf("MinIO's bucket notification never reached JetStream stream %s on %s (%d canary uploads in %s): check MINIO_NOTIFY_NATS_ADDRESS_%s and its credentials, and MinIO's log",
				contract.S3EventsStream, contract.S3EventsSubject, attempt, limit, NotifyTargetID)
		}
		log.Warn("no notification for the canary upload; setting the notification again", "attempt", attempt)
		if err := s.EnsureNotificationWait(ctx, arnRegion, 30*time.Second); err != nil {
			return attempt, err
		}
	}
}

// BucketAccess says what anonymous callers may do in a bucket, and whether
// EnsureBucketPolicies had to change its policy to get there.
type BucketAccess struct {
	Bucket  string
	Access  string // what anonymous callers may do, in words
	Changed bool
}

// EnsureBucketPolicies gives photodesk's buckets the anonymous access they
// should have, and no more: none to the originals (unpublished photos)
// and the article records; to the derivatives only when publicDerivatives
// is set (for the assembler's --public-base-url), and then only GET by its
// key of a file a published record links (PublishedTag), never a listing. It drops every statement that
// grants anyone anonymous access it should not have, keeps the rest (a
// Deny, a statement for a named principal), and changes nothing that is
// already right, so it can run at every deploy.
func (s *Store) EnsureBucketPolicies(ctx context.Context, publicDerivatives bool) ([]BucketAccess, error) {
	var out []BucketAccess
	for _, b := range s.Buckets() {
		public := publicDerivatives && b == s.cfg.DerivativesBucket
		old, err := s.GetBucketPolicy(ctx, b)
		if err != nil {
			return out, fmt.Errorf("read policy of bucket %s: %w", b, err)
		}
		doc, changed, err := anonymousPolicy(old, b, public)
		if err != nil {
			return out, fmt.Errorf("policy of bucket %s: %w", b, err)
		}
		if changed {
			if err := s.SetBucketPolicy(ctx, b, doc); err != nil {
				return out, fmt.Errorf("set policy of bucket %s: %w", b, err)
			}
		}
		access := "private: no anonymous access"
		if public {
			access = "anonymous GET of published files, no listing"
		}
		out = append(out, BucketAccess{Bucket: b, Access: access, Changed: changed})
	}
	return out, nil
}

// anonymousPolicy is policy (a bucket policy document, "" for none) with
// anonymous access to bucket reduced to none, or to reading objects when
// public; "" when nothing is left. changed says whether it differs.
func anonymousPolicy(policy, bucket string, public bool) (string, bool, error) {
	doc := map[string]any{}
	if strings.TrimSpace(policy) != "" {
		if err := json.Unmarshal([]byte(policy), &doc); err != nil {
			return "", false, fmt.Errorf("unreadable policy: %w", err)
		}
	}
	var stmts []any
	switch v := doc["Statement"].(type) {
	case []any:
		stmts = v
	case map[string]any:
		stmts = []any{v}
	}
	resource := "arn:aws:s3:::" + bucket + "/*"
	var kept []any
	changed, have := false, false
	for _, st := range stmts {
		m, _ := st.(map[string]any)
		if m == nil || m["Effect"] != "Allow" || !anyone(m["Principal"]) {
			kept = append(kept, st)
			continue
		}
		if public && !have && isReadObjects(m, resource) {
			have = true
			kept = append(kept, st)
			continue
		}
		changed = true // an anonymous grant it should not have
	}
	if public && !have {
		changed = true
		kept = append(kept, map[string]any{
			"Sid":       "PhotodeskPublicDerivatives",
			"Effect":    "Allow",
			"Principal": map[string]any{"AWS": []any{"*"}},
			"Action":    []any{"s3:GetObject"},
			"Resource":  []any{resource},
			"Condition": publishedOnly(),
		})
	}
	if !changed {
		return policy, false, nil
	}
	if len(kept) == 0 {
		return "", true, nil
	}
	if doc["Version"] == nil {
		doc["Version"] = "2012-10-17"
	}
	doc["Statement"] = kept
	b, err := json.Marshal(doc)
	return string(b), true, err
}

// anyone reports whether a statement's Principal is everyone: "*",
// {"AWS": "*"} or {"AWS": ["*"]}.
func anyone(p any) bool {
	if p == "*" {
		return true
	}
	m, _ := p.(map[string]any)
	return slices.Contains(stringList(m["AWS"]), "*")
}

// isReadObjects reports whether an anonymous Allow grants exactly
// s3:GetObject on resource, unconditionally.
func isReadObjects(st map[string]any, resource string) bool {
	a, r := stringList(st["Action"]), stringList(st["Resource"])
	return len(a) == 1 && a[0] == "s3:GetObject" && len(r) == 1 && r[0] == resource &&
		isPublishedOnly(st["Condition"]) && st["NotAction"] == nil && st["NotResource"] == nil
}

// isPublishedOnly says a policy condition is publishedOnly's, as MinIO
// gives it back (a value may come as a list of one).
func isPublishedOnly(c any) bool {
	m, _ := c.(map[string]any)
	eq, _ := m["StringEquals"].(map[string]any)
	v := stringList(eq["s3:ExistingObjectTag/"+PublishedTag])
	return len(m) == 1 && len(eq) == 1 && len(v) == 1 && v[0] == "yes"
}

// publishedOnly is the public grant's condition: the object is tagged as
// linked by a published record (PublishedTag).
func publishedOnly() map[string]any {
	return map[string]any{"StringEquals": map[string]any{"s3:ExistingObjectTag/" + PublishedTag: "yes"}}
}

// stringList reads a policy value that is one string or a list of them.
func stringList(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, x := range v {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
