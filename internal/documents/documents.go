// Package documents keeps the documents requesters send as proof of
// identity or authority (mail attachments in the mailbox bucket, uploads):
// it deletes them when a request's personal data is purged, and presigns
// short-lived links for operators to view them. The objects' keys and names
// are personal data: nothing here logs them.
package documents

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Client is the part of the S3 client the package uses.
type Client interface {
	DeleteObject(ctx context.Context, in *s3.DeleteObjectInput, optFns ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
}

// Presigner is the part of s3.PresignClient the package uses.
type Presigner interface {
	PresignGetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.PresignOptions)) (*v4.PresignedHTTPRequest, error)
}

// S3 is document storage in S3.
type S3 struct {
	client  Client
	presign Presigner
}

// New is document storage over c.
func New(c *s3.Client) *S3 { return &S3{client: c, presign: s3.NewPresignClient(c)} }

// Open is New with a client made from cfg.
func Open(cfg aws.Config) *S3 { return New(s3.NewFromConfig(cfg)) }

// Delete deletes one document (no error when it is gone already).
func (d *S3) Delete(ctx context.Context, bucket, key string) error {
	if _, err := d.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}); err != nil {
		return fmt.Errorf("delete document: %w", err)
	}
	return nil
}

// MaxViewTTL bounds a viewing link's life.
const MaxViewTTL = 15 * time.Minute

// ViewURL is a short-lived link that shows a document inline, for an
// operator's browser.
func (d *S3) ViewURL(ctx context.Context, bucket, key, contentType string, ttl time.Duration) (string, error) {
	if ttl <= 0 || ttl > MaxViewTTL {
		ttl = MaxViewTTL
	}
	in := &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), ResponseContentDisposition: aws.String("inline")}
	if contentType != "" {
		in.ResponseContentType = aws.String(contentType)
	}
	req, err := d.presign.PresignGetObject(ctx, in, s3.WithPresignExpires(ttl))
	if err != nil {
		return "", fmt.Errorf("presign document link: %w", err)
	}
	return req.URL, nil
}
