package mailintake

import (
	"bytes"
	"context"
	"fmt"
	"mime"
	"path"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"dsrflow/internal/mail"
	"dsrflow/internal/store"
)

// safeExt is a file name extension kept in an attachment's key.
var safeExt = regexp.MustCompile(`^\.[a-z0-9]{1,8}$`)

// AttachmentKey is the S3 key of a request's n-th attachment (from 1):
// <prefix><request ID>/<n, two digits><.ext>, the extension taken from the
// sent filename when it is 1–8 letters or digits. The filename itself can
// name a person and is not part of the key.
func AttachmentKey(prefix, requestID string, n int, filename string) string {
	ext := strings.ToLower(path.Ext(strings.ReplaceAll(filename, "\\", "/")))
	if !safeExt.MatchString(ext) {
		ext = ""
	}
	return fmt.Sprintf("%s%s/%02d%s", prefix, requestID, n, ext)
}

// putAttachments writes a request's documents next to the raw message and
// returns them as documents. Keys are deterministic, so a redelivery overwrites
// instead of adding copies. The objects are encrypted at rest (SSE-S3) and
// carry the sent filename in Content-Disposition (RFC 2231 encoded), where
// it stays with the document it names.
func (h *Handler) putAttachments(ctx context.Context, bucket, requestID string, atts []mail.Attachment) ([]store.Document, error) {
	var docs []store.Document
	for i, a := range atts {
		key := AttachmentKey(h.prefix(), requestID, i+1, a.Filename)
		ct := a.ContentType
		if ct == "" {
			ct = "application/octet-stream"
		}
		in := &s3.PutObjectInput{
			Bucket:               aws.String(bucket),
			Key:                  aws.String(key),
			Body:                 bytes.NewReader(a.Data),
			ContentLength:        aws.Int64(int64(len(a.Data))),
			ContentType:          aws.String(ct),
			ServerSideEncryption: s3types.ServerSideEncryptionAes256,
		}
		if cd := mime.FormatMediaType("attachment", map[string]string{"filename": a.Filename}); a.Filename != "" && cd != "" {
			in.ContentDisposition = aws.String(cd)
		}
		if _, err := h.s3.PutObject(ctx, in); err != nil {
			return nil, fmt.Errorf("put attachment %d of request %s: %w", i+1, requestID, err)
		}
		docs = append(docs, store.Document{Bucket: bucket, Key: key, ContentType: ct, Size: int64(len(a.Data)), FileName: a.Filename, Source: "mail"})
	}
	return docs, nil
}
