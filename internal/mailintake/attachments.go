package mailintake

import (
	"bytes"
	"context"
	"fmt"
	"mime"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"dsrflow/internal/mail"
	"dsrflow/internal/store"
)

// putAttachments writes the documents of message dedupeKey, for request
// requestID, next to the raw message and returns them as documents. Keys are
// mail.AttachmentKey's, deterministic, so a redelivery overwrites instead of
// adding copies, and a follow-up's documents never take the keys of the
// request's first ones. The objects are encrypted at rest by the bucket's
// default (template.yaml: the data key, SSE-KMS; no algorithm is named here,
// and the bucket refuses any other) and carry the sent filename in
// Content-Disposition (RFC 2231 encoded), where it stays with the document
// it names.
func (h *Handler) putAttachments(ctx context.Context, bucket, requestID, dedupeKey string, atts []mail.Attachment) ([]store.Document, error) {
	var docs []store.Document
	for i, a := range atts {
		key := mail.AttachmentKey(h.attachmentPrefix, dedupeKey, i, a)
		ct := a.ContentType
		if ct == "" {
			ct = "application/octet-stream"
		}
		in := &s3.PutObjectInput{
			Bucket:        aws.String(bucket),
			Key:           aws.String(key),
			Body:          bytes.NewReader(a.Data),
			ContentLength: aws.Int64(int64(len(a.Data))),
			ContentType:   aws.String(ct),
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
