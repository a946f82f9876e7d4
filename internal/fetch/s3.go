package fetch

import (
	"context"
	"errors"
	"strings"
)

// objectStore is the seam where a real S3 client plugs in. It reads at most
// limit bytes of bucket/key; returning more than MaxBytes means too large.
type objectStore interface {
	Get(ctx context.Context, bucket, key string, limit int64) ([]byte, error)
}

func parseS3(path string) (bucket, key string, err error) {
	p := strings.TrimSpace(path)
	if len(p) < 5 || !strings.EqualFold(p[:5], "s3://") {
		return "", "", fail(CodeBadSource, nil, "S3 path must look like s3://bucket/key")
	}
	bucket, key, _ = strings.Cut(p[5:], "/")
	if bucket == "" || key == "" {
		return "", "", fail(CodeBadSource, nil, "S3 path must look like s3://bucket/key")
	}
	return bucket, key, nil
}

func (f *Fetcher) fetchS3(ctx context.Context, path string, check bool) ([]byte, error) {
	bucket, key, err := parseS3(path)
	if err != nil {
		return nil, err
	}
	if f.s3 == nil {
		return nil, fail(CodeS3NotConfigured, nil, "S3 sources are not supported by this server (no S3 client configured)")
	}
	limit := f.cfg.MaxBytes + 1
	if check {
		limit = sniffLen
	}
	data, err := f.s3.Get(ctx, bucket, key, limit)
	if err != nil {
		var fe *Error
		if errors.As(err, &fe) {
			return nil, fe
		}
		return nil, fail(CodeNetwork, err, "reading s3://%s/%s failed", bucket, key)
	}
	if int64(len(data)) > f.cfg.MaxBytes {
		return nil, fail(CodeTooLarge, nil, "document is too large: more than the %s limit", humanBytes(f.cfg.MaxBytes))
	}
	if !hasPDFMagic(data) {
		return nil, notPDF(data, "")
	}
	if check {
		return nil, nil
	}
	return data, nil
}
