package pipeline

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/notification"
	"github.com/minio/minio-go/v7/pkg/tags"

	"github.com/photodesk/photodesk/pipeline/config"
	"github.com/photodesk/photodesk/pipeline/contract"
)

// NotifyTargetID is the id of MinIO's NATS notification target
// (MINIO_NOTIFY_NATS_*_<ID>); the bucket notification names it in its ARN.
const NotifyTargetID = "PHOTODESK"

// NotifyARN is the ARN of that target; MinIO leaves the region empty unless
// the server has one configured.
func NotifyARN(region string) notification.Arn {
	return notification.NewArn("minio", "sqs", region, NotifyTargetID, "nats")
}

// Store is plain S3 access through minio-go, so any S3 server could stand in
// for MinIO everywhere but the bucket notification.
type Store struct {
	*minio.Client
	cfg config.Config
}

// NewStore makes a client for cfg's endpoint; it does not dial.
func NewStore(cfg config.Config) (*Store, error) {
	opts := &minio.Options{
		Creds:        credentials.NewStaticV4(cfg.S3AccessKey, cfg.S3SecretKey, ""),
		Secure:       cfg.S3UseTLS || cfg.S3TLSCA != "",
		Region:       cfg.S3Region,
		BucketLookup: bucketLookup(cfg.S3BucketLookup),
	}
	if cfg.S3TLSCA != "" {
		pem, err := os.ReadFile(cfg.S3TLSCA)
		if err != nil {
			return nil, fmt.Errorf("S3 CA bundle: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("S3 CA bundle %s: no PEM certificates in it", cfg.S3TLSCA)
		}
		// minio-go's own transport settings, with our CA.
		tr, err := minio.DefaultTransport(true)
		if err != nil {
			return nil, err
		}
		tr.TLSClientConfig.RootCAs = pool
		opts.Transport = tr
	}
	mc, err := minio.New(cfg.S3Endpoint, opts)
	if err != nil {
		return nil, fmt.Errorf("S3 client for %s: %w", cfg.S3Endpoint, err)
	}
	return &Store{Client: mc, cfg: cfg}, nil
}

func bucketLookup(s string) minio.BucketLookupType {
	switch s {
	case "path":
		return minio.BucketLookupPath
	case "dns":
		return minio.BucketLookupDNS
	}
	return minio.BucketLookupAuto
}

// Buckets are the buckets photodesk uses.
func (s *Store) Buckets() []string {
	return []string{s.cfg.OriginalsBucket, s.cfg.DerivativesBucket, s.cfg.ArticlesBucket}
}

// EnsureBuckets creates any missing bucket.
func (s *Store) EnsureBuckets(ctx context.Context) error {
	for _, b := range s.Buckets() {
		ok, err := s.BucketExists(ctx, b)
		if err != nil {
			return fmt.Errorf("bucket %s: %w", b, err)
		}
		if ok {
			continue
		}
		if err := s.MakeBucket(ctx, b, minio.MakeBucketOptions{Region: s.cfg.S3Region}); err != nil {
			// Another process may have made it in between.
			if ok, _ := s.BucketExists(ctx, b); !ok {
				return fmt.Errorf("make bucket %s: %w", b, err)
			}
		}
	}
	return nil
}

// EnsureNotification makes the originals bucket notify MinIO's NATS target
// of every created object. It leaves other notification rules alone.
func (s *Store) EnsureNotification(ctx context.Context, arnRegion string) error {
	bucket := s.cfg.OriginalsBucket
	conf, err := s.GetBucketNotification(ctx, bucket)
	if err != nil {
		return fmt.Errorf("read notification of %s: %w", bucket, err)
	}
	if !hasCreatedRule(conf, arnRegion) {
		q := notification.NewConfig(NotifyARN(arnRegion))
		q.AddEvents(notification.ObjectCreatedAll)
		conf.AddQueue(q)
	}
	// Put the rules even when ours is there: MinIO checks every target ARN
	// on a put, so this fails until it has loaded its NATS target after a
	// restart, and a caller that retries knows uploads are notified.
	if err := s.SetBucketNotification(ctx, bucket, conf); err != nil {
		return fmt.Errorf("set notification on %s (is MinIO's NATS target %s configured?): %w", bucket, NotifyTargetID, err)
	}
	return nil
}

// CheckNotification reports whether the originals bucket notifies the NATS target.
func (s *Store) CheckNotification(ctx context.Context, arnRegion string) error {
	conf, err := s.GetBucketNotification(ctx, s.cfg.OriginalsBucket)
	if err != nil {
		return fmt.Errorf("read notification of %s: %w", s.cfg.OriginalsBucket, err)
	}
	if !hasCreatedRule(conf, arnRegion) {
		return fmt.Errorf("bucket %s does not notify %s of created objects", s.cfg.OriginalsBucket, NotifyARN(arnRegion))
	}
	return nil
}

// hasCreatedRule reports whether conf sends every created object to our
// target. (minio-go's AddQueue compares filters by pointer, so a rule read
// back from the server never matches a new one: we compare ourselves.)
func hasCreatedRule(conf notification.Configuration, arnRegion string) bool {
	arn := NotifyARN(arnRegion).String()
	for _, q := range conf.QueueConfigs {
		if q.Queue != arn || (q.Filter != nil && len(q.Filter.S3Key.FilterRules) > 0) {
			continue
		}
		for _, e := range q.Events {
			if e == notification.ObjectCreatedAll {
				return true
			}
		}
	}
	return false
}

// ErrSuperseded says the object was replaced or deleted since the event
// that named it: a newer event is on its way, or nothing is left to do.
var ErrSuperseded = errors.New("object replaced or deleted since the event")

// ReadRange reads length bytes of bucket/key from off (fewer at the end),
// only while the object still has etag.
func (s *Store) ReadRange(ctx context.Context, bucket, key, etag string, off, length int64) ([]byte, error) {
	opts, err := ifMatch(etag)
	if err != nil {
		return nil, err
	}
	if err := opts.SetRange(off, off+length-1); err != nil {
		return nil, err
	}
	obj, err := s.GetObject(ctx, bucket, key, opts)
	if err != nil {
		return nil, classifyS3(err)
	}
	defer obj.Close()
	b, err := io.ReadAll(obj)
	if err != nil {
		return nil, classifyS3(err)
	}
	s3Bytes.WithLabelValues("read").Add(float64(len(b)))
	return b, nil
}

// ifMatch are GET options that read the object only while it has etag
// ("" reads whatever is there).
func ifMatch(etag string) (minio.GetObjectOptions, error) {
	opts := minio.GetObjectOptions{}
	if etag != "" {
		if err := opts.SetMatchETag(etag); err != nil {
			return opts, err
		}
	}
	return opts, nil
}

// ErrTooLarge says an object is over the size a role accepts.
var ErrTooLarge = errors.New("object too large")

// Get reads all of bucket/key while the object still has etag, refusing
// (without reading the body) an object over max bytes.
func (s *Store) Get(ctx context.Context, bucket, key, etag string, max int64) ([]byte, error) {
	opts, err := ifMatch(etag)
	if err != nil {
		return nil, err
	}
	obj, err := s.GetObject(ctx, bucket, key, opts)
	if err != nil {
		return nil, classifyS3(err)
	}
	defer obj.Close()
	// Stat sends the GET and reads only the headers.
	info, err := obj.Stat()
	if err != nil {
		return nil, classifyS3(err)
	}
	if max > 0 && info.Size > max {
		return nil, fmt.Errorf("%w: %d bytes, over the limit of %d", ErrTooLarge, info.Size, max)
	}
	b := make([]byte, info.Size)
	if _, err := io.ReadFull(obj, b); err != nil {
		return nil, classifyS3(err)
	}
	s3Bytes.WithLabelValues("read").Add(float64(len(b)))
	return b, nil
}

// Put writes data to bucket/key with its content type and user metadata,
// returning the new object's ETag.
func (s *Store) Put(ctx context.Context, bucket, key string, data []byte, contentType string, meta map[string]string) (string, error) {
	return s.put(ctx, bucket, key, data, contentType, meta, nil)
}

// PublishedTag, set to "yes", marks an object a published record links:
// the only derivatives `photodesk setup --public-derivatives` lets anyone
// read, so an unpublished derivative (a scheduled or embargoed gallery's,
// an unstamped one) is never public.
const PublishedTag = "photodesk-published"

// PutPublished is Put for a file a record is about to link (PublishedTag).
func (s *Store) PutPublished(ctx context.Context, bucket, key string, data []byte, contentType string, meta map[string]string) (string, error) {
	return s.put(ctx, bucket, key, data, contentType, meta, map[string]string{PublishedTag: "yes"})
}

// MarkPublished tags an existing object with PublishedTag.
func (s *Store) MarkPublished(ctx context.Context, bucket, key string) error {
	t, err := tags.NewTags(map[string]string{PublishedTag: "yes"}, true)
	if err != nil {
		return err
	}
	return s.PutObjectTagging(ctx, bucket, key, t, minio.PutObjectTaggingOptions{})
}

func (s *Store) put(ctx context.Context, bucket, key string, data []byte, contentType string, meta, tags map[string]string) (string, error) {
	info, err := s.PutObject(ctx, bucket, key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{
		ContentType:  contentType,
		UserMetadata: meta,
		UserTags:     tags,
		// Derivatives are immutable per key version; let caches keep them.
		CacheControl: "public, max-age=31536000, immutable",
	})
	if err != nil {
		return "", err
	}
	s3Bytes.WithLabelValues("write").Add(float64(len(data)))
	return info.ETag, nil
}

// Meta returns bucket/key's user metadata (names lower-case, without
// x-amz-meta-) and its ETag and size; ok is false when there is no object.
func (s *Store) Meta(ctx context.Context, bucket, key string) (meta map[string]string, etag string, size int64, ok bool, err error) {
	info, err := s.StatObject(ctx, bucket, key, minio.StatObjectOptions{})
	if err != nil {
		if minio.ToErrorResponse(err).Code == "NoSuchKey" {
			return nil, "", 0, false, nil
		}
		return nil, "", 0, false, err
	}
	return userMeta(info.UserMetadata), info.ETag, info.Size, true, nil
}

func userMeta(in map[string]string) map[string]string {
	meta := make(map[string]string, len(in))
	for k, v := range in {
		meta[strings.ToLower(strings.TrimPrefix(strings.ToLower(k), "x-amz-meta-"))] = v
	}
	return meta
}

// Original describes bucket/key as MinIO's notification of its upload
// does, for announcing the upload without waiting for it (AnnounceUpload):
// its HEAD, and a one-key listing for the time (OriginalOf).
func (s *Store) Original(ctx context.Context, bucket, key string) (contract.Original, error) {
	info, err := s.StatObject(ctx, bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return contract.Original{}, err
	}
	var listed minio.ObjectInfo
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for obj := range s.ListObjects(lctx, bucket, minio.ListObjectsOptions{Prefix: key, MaxKeys: 1}) {
		if obj.Err == nil && obj.Key == key {
			listed = obj
		}
		break
	}
	return OriginalOf(bucket, info, listed), nil
}

// OriginalOf is the Original of an object from its HEAD (info) and, when
// listed is the same version (its ETag), the listing's time: MinIO's clock
// in milliseconds as in the notification (a HEAD has whole seconds), so
// that the newest upload of a name wins whichever way each was announced.
func OriginalOf(bucket string, info, listed minio.ObjectInfo) contract.Original {
	at := info.LastModified
	if !listed.LastModified.IsZero() && listed.ETag == info.ETag {
		at = listed.LastModified
	}
	return contract.Original{Bucket: bucket, Key: info.Key, ETag: info.ETag, Size: info.Size, ContentType: info.ContentType,
		VersionID: info.VersionID, Metadata: userMeta(info.UserMetadata), At: at.UTC()}
}

func classifyS3(err error) error {
	switch minio.ToErrorResponse(err).Code {
	case "PreconditionFailed", "NoSuchKey":
		return fmt.Errorf("%w: %v", ErrSuperseded, err)
	}
	return err
}
