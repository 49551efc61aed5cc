// Package s3bucket keeps export packages in an S3 bucket: it implements
// export.Objects on the AWS SDK's S3 client and presigner.
//
// It is a package of its own so that only the functions that read or write
// exports link the S3 client (internal/dev/coldstart): reply, export-assemble,
// partner-dispatch, partner-escalate and partner-callback.
package s3bucket

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/url"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"dsrflow/internal/partner/export"
)

// Client is the part of the S3 client the package uses.
type Client interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// Presigner is the part of s3.PresignClient the package uses.
type Presigner interface {
	PresignGetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.PresignOptions)) (*v4.PresignedHTTPRequest, error)
}

// Bucket is one S3 bucket.
type Bucket struct {
	Client  Client
	Presign Presigner
	Name    string
}

var _ export.Objects = (*Bucket)(nil)

// New is the bucket name reached through c.
func New(c *s3.Client, name string) *Bucket {
	return &Bucket{Client: c, Presign: s3.NewPresignClient(c), Name: name}
}

// Open is New with a client made from cfg; it is the export.Open that the
// functions which keep exports pass to workflow.FromEnv and
// partner.LazyAWSDispatcher.
func Open(cfg aws.Config, name string) export.Objects {
	return New(s3.NewFromConfig(cfg), name)
}

// Put stores body under key, encrypted at rest as enc says.
func (b *Bucket) Put(ctx context.Context, key, contentType string, body []byte, enc export.Encryption) error {
	in := &s3.PutObjectInput{
		Bucket:      aws.String(b.Name),
		Key:         aws.String(key),
		Body:        bytes.NewReader(body),
		ContentType: aws.String(contentType),
	}
	switch enc.SSE {
	case export.SSES3:
		in.ServerSideEncryption = s3types.ServerSideEncryptionAes256
	case export.SSEKMS:
		in.ServerSideEncryption = s3types.ServerSideEncryptionAwsKms
		if enc.KMSKeyID != "" {
			in.SSEKMSKeyId = aws.String(enc.KMSKeyID)
		}
	default:
		return fmt.Errorf("put %s: unknown server-side encryption %q", key, enc.SSE)
	}
	if _, err := b.Client.PutObject(ctx, in); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

// Get reads the object under key.
func (b *Bucket) Get(ctx context.Context, key string) ([]byte, error) {
	out, err := b.Client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b.Name), Key: aws.String(key)})
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	defer out.Body.Close()
	body, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	return body, nil
}

// PresignGet returns a SigV4 presigned URL that downloads key as filename
// for ttl, and when it expires (from the signature's own X-Amz-Date).
func (b *Bucket) PresignGet(ctx context.Context, key, filename string, ttl time.Duration) (string, time.Time, error) {
	req, err := b.Presign.PresignGetObject(ctx, &s3.GetObjectInput{
		Bucket:                     aws.String(b.Name),
		Key:                        aws.String(key),
		ResponseContentDisposition: aws.String(`attachment; filename="` + filename + `"`),
	}, s3.WithPresignExpires(ttl))
	if err != nil {
		return "", time.Time{}, fmt.Errorf("presign %s: %w", key, err)
	}
	expires := time.Now().Add(ttl)
	if u, perr := url.Parse(req.URL); perr == nil {
		if d, derr := time.Parse("20060102T150405Z", u.Query().Get("X-Amz-Date")); derr == nil {
			expires = d.Add(ttl)
		}
	}
	return req.URL, expires, nil
}
