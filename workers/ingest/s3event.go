package ingest

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// Upload is one created object, as a MinIO bucket notification tells it.
type Upload struct {
	EventName   string
	EventTime   time.Time
	Bucket      string
	Key         string // decoded
	Size        int64
	ETag        string
	ContentType string
	VersionID   string
	// Metadata is the user metadata: names lower-cased, without x-amz-meta-.
	Metadata map[string]string
}

// IsCreation reports whether the event made new object content. MinIO's
// s3:ObjectCreated:* also covers retention, legal-hold and tagging changes,
// which leave the bytes as they were.
func (u Upload) IsCreation() bool {
	switch strings.TrimPrefix(u.EventName, "s3:") {
	case "ObjectCreated:Put", "ObjectCreated:Post", "ObjectCreated:Copy", "ObjectCreated:CompleteMultipartUpload":
		return true
	}
	return false
}

// s3Notification is the message MinIO's NATS target publishes: an S3 event
// (records as in AWS's format) with MinIO's EventName and Key beside it.
type s3Notification struct {
	EventName string     `json:"EventName"`
	Key       string     `json:"Key"`
	Records   []s3Record `json:"Records"`
}

type s3Record struct {
	EventName string `json:"eventName"`
	EventTime string `json:"eventTime"`
	S3        struct {
		Bucket struct {
			Name string `json:"name"`
		} `json:"bucket"`
		Object struct {
			Key          string            `json:"key"`
			Size         int64             `json:"size"`
			ETag         string            `json:"eTag"`
			ContentType  string            `json:"contentType"`
			UserMetadata map[string]string `json:"userMetadata"`
			VersionID    string            `json:"versionId"`
		} `json:"object"`
	} `json:"s3"`
}

// maxRecords bounds what one message may claim; MinIO sends one.
const maxRecords = 100

// ParseS3Event reads the uploads in a MinIO notification. The error says
// what is wrong with the message; no input makes it panic.
func ParseS3Event(data []byte) ([]Upload, error) {
	var n s3Notification
	if err := json.Unmarshal(data, &n); err != nil {
		return nil, fmt.Errorf("S3 event is not JSON: %w", err)
	}
	if len(n.Records) == 0 {
		return nil, errors.New("S3 event has no records")
	}
	if len(n.Records) > maxRecords {
		return nil, fmt.Errorf("S3 event has %d records, more than %d", len(n.Records), maxRecords)
	}
	ups := make([]Upload, 0, len(n.Records))
	for i, r := range n.Records {
		u, err := r.upload()
		if err != nil {
			return nil, fmt.Errorf("S3 event record %d: %w", i, err)
		}
		ups = append(ups, u)
	}
	return ups, nil
}

func (r s3Record) upload() (Upload, error) {
	o := r.S3.Object
	if r.S3.Bucket.Name == "" {
		return Upload{}, errors.New("no bucket name")
	}
	if o.Key == "" {
		return Upload{}, errors.New("no object key")
	}
	// MinIO escapes keys with url.QueryEscape (space as '+').
	key, err := url.QueryUnescape(o.Key)
	if err != nil {
		return Upload{}, fmt.Errorf("object key %q is not URL-encoded: %w", o.Key, err)
	}
	if !utf8.ValidString(key) {
		return Upload{}, fmt.Errorf("object key %q is not valid UTF-8", o.Key)
	}
	if o.Size < 0 {
		return Upload{}, fmt.Errorf("negative object size %d", o.Size)
	}
	u := Upload{
		EventName:   r.EventName,
		Bucket:      r.S3.Bucket.Name,
		Key:         key,
		Size:        o.Size,
		ETag:        strings.Trim(o.ETag, `"`),
		ContentType: o.ContentType,
		VersionID:   o.VersionID,
		Metadata:    userMetadata(o.UserMetadata),
	}
	if t, err := time.Parse(time.RFC3339Nano, r.EventTime); err == nil {
		u.EventTime = t.UTC()
	}
	return u, nil
}

var wordDecoder = mime.WordDecoder{}

// userMetadata keeps the x-amz-meta-* entries, names lower-cased and
// unprefixed; values that S3 clients RFC 2047-encoded (non-ASCII) are decoded.
func userMetadata(in map[string]string) map[string]string {
	var out map[string]string
	for k, v := range in {
		name, ok := cutPrefixFold(k, "x-amz-meta-")
		if !ok || name == "" {
			continue
		}
		if dec, err := wordDecoder.DecodeHeader(v); err == nil {
			v = dec
		}
		if out == nil {
			out = map[string]string{}
		}
		out[strings.ToLower(name)] = v
	}
	return out
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return s, false
	}
	return s[len(prefix):], true
}
