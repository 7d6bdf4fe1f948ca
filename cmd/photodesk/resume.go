package main

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/minio/minio-go/v7"

	"github.com/photodesk/photodesk/pipeline"
)

// partUploaded lets tests interrupt an upload after some parts; nil
// outside tests.
var partUploaded func(key string, part int) error

// putResumable uploads a big file as an S3 multipart upload that a later
// run can finish: it looks for an unfinished upload of the same key, keeps
// every part whose MD5 matches the file's bytes at that place, sends the
// rest, and completes. An interrupted upload is left for the next run.
func putResumable(ctx context.Context, store *pipeline.Store, bucket, key string, f uploadFile, ctype string, partSize int64, progress io.Reader, out io.Writer) error {
	core := minio.Core{Client: store.Client}
	fh, err := os.Open(f.path)
	if err != nil {
		return err
	}
	defer fh.Close()

	uploadID, have, err := unfinished(ctx, core, bucket, key)
	if err != nil {
		return err
	}
	if uploadID == "" {
		if uploadID, err = core.NewMultipartUpload(ctx, bucket, key, minio.PutObjectOptions{ContentType: ctype, UserMetadata: pipeline.TraceMetadata(ctx)}); err != nil {
			return err
		}
	}
	var parts []minio.CompletePart
	reused := 0
	for n, off := 1, int64(0); off < f.size; n, off = n+1, off+partSize {
		size := min(partSize, f.size-off)
		sum := md5.New()
		if _, err := io.Copy(sum, io.NewSectionReader(fh, off, size)); err != nil {
			return err
		}
		etag := hex.EncodeToString(sum.Sum(nil))
		if p, ok := have[n]; ok && p.Size == size && strings.Trim(p.ETag, `"`) == etag {
			parts = append(parts, minio.CompletePart{PartNumber: n, ETag: p.ETag})
			reused++
			advance(progress, size)
			continue
		}
		body := io.Reader(io.NewSectionReader(fh, off, size))
		if progress != nil {
			body = io.TeeReader(body, discardTo{progress})
		}
		p, err := core.PutObjectPart(ctx, bucket, key, uploadID, n, body, size, minio.PutObjectPartOptions{})
		if err != nil {
			return fmt.Errorf("part %d: %w (run the upload again to resume)", n, err)
		}
		parts = append(parts, minio.CompletePart{PartNumber: n, ETag: p.ETag})
		if partUploaded != nil {
			if err := partUploaded(key, n); err != nil {
				return fmt.Errorf("after part %d: %w (run the upload again to resume)", n, err)
			}
		}
	}
	if reused > 0 {
		fmt.Fprintf(out, "resumed  %s: %d of %d parts were already uploaded\n", f.name, reused, len(parts))
	}
	_, err = core.CompleteMultipartUpload(ctx, bucket, key, uploadID, parts, minio.PutObjectOptions{ContentType: ctype})
	return err
}

// unfinished finds the newest unfinished multipart upload of key and the
// parts it holds.
func unfinished(ctx context.Context, core minio.Core, bucket, key string) (string, map[int]minio.ObjectPart, error) {
	res, err := core.ListMultipartUploads(ctx, bucket, key, "", "", "", 1000)
	if err != nil {
		return "", nil, err
	}
	var id string
	var newest minio.ObjectMultipartInfo
	for _, u := range res.Uploads {
		if u.Key == key && (id == "" || u.Initiated.After(newest.Initiated)) {
			id, newest = u.UploadID, u
		}
	}
	if id == "" {
		return "", nil, nil
	}
	have := map[int]minio.ObjectPart{}
	for marker := 0; ; {
		lp, err := core.ListObjectParts(ctx, bucket, key, id, marker, 1000)
		if err != nil {
			return "", nil, err
		}
		for _, p := range lp.ObjectParts {
			have[p.PartNumber] = p
		}
		if !lp.IsTruncated {
			break
		}
		marker = lp.NextPartNumberMarker
	}
	return id, have, nil
}

// advance moves a progress reader by n bytes.
func advance(progress io.Reader, n int64) {
	if progress != nil {
		_, _ = io.CopyN(io.Discard, progress, n)
	}
}

// discardTo advances a progress reader by what is written to it.
type discardTo struct{ progress io.Reader }

func (d discardTo) Write(p []byte) (int, error) {
	advance(d.progress, int64(len(p)))
	return len(p), nil
}
