// Package s3anchor keeps audit anchors (internal/anchor) in an S3 bucket
// with Object Lock: it implements anchor.Sink and anchor.Source on the AWS
// SDK's S3 client.
//
// The bucket (template.yaml, AuditAnchorBucket) has Object Lock in
// compliance mode with a default retention, so every anchor version is kept
// unchanged and undeletable for that long, by anyone, root included; its
// policy also denies deleting objects, which would otherwise hide them
// behind a delete marker. Put sends no retention of its own: the object gets
// the bucket's default. S3 refuses a PutObject to such a bucket without an
// integrity checksum ("Content-MD5 OR x-amz-checksum- HTTP header is
// required for Put Object requests with Object Lock parameters"), so Put
// sends both Content-MD5 and x-amz-checksum-sha256, computed over the body.
//
// It is a package of its own so that only what writes or reads anchors
// links the S3 client (internal/dev/coldstart).
package s3anchor

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"dsrflow/internal/anchor"
)

// Prefix is where anchors live in the bucket.
const Prefix = "anchors/"

// Client is the part of the S3 client the package uses.
type Client interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, optFns ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
}

// Bucket is the anchor bucket.
type Bucket struct {
	Client Client
	Name   string
}

var (
	_ anchor.Sink   = (*Bucket)(nil)
	_ anchor.Source = (*Bucket)(nil)
)

// New is the bucket name reached through c.
func New(c Client, name string) *Bucket { return &Bucket{Client: c, Name: name} }

// Open is New with a client made from cfg (its endpoint comes from
// AWS_ENDPOINT_URL[_S3]; S3_USE_PATH_STYLE=true for emulators).
func Open(cfg aws.Config, name string, pathStyle bool) *Bucket {
	return New(s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = pathStyle }), name)
}

// Put stores body under Prefix+name, with the checksums Object Lock
// requires, and the bucket's default retention.
func (b *Bucket) Put(ctx context.Context, name string, body []byte) error {
	md := md5.Sum(body)
	sum := sha256.Sum256(body)
	_, err := b.Client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:            aws.String(b.Name),
		Key:               aws.String(Prefix + name),
		Body:              bytes.NewReader(body),
		ContentLength:     aws.Int64(int64(len(body))),
		ContentType:       aws.String("application/json"),
		ContentMD5:        aws.String(base64.StdEncoding.EncodeToString(md[:])),
		ChecksumAlgorithm: s3types.ChecksumAlgorithmSha256,
		ChecksumSHA256:    aws.String(base64.StdEncoding.EncodeToString(sum[:])),
	})
	if err != nil {
		return fmt.Errorf("put s3://%s/%s%s: %w", b.Name, Prefix, name, err)
	}
	return nil
}

// List returns the names under Prefix after the name after, in name order.
func (b *Bucket) List(ctx context.Context, after string) ([]string, error) {
	in := &s3.ListObjectsV2Input{Bucket: aws.String(b.Name), Prefix: aws.String(Prefix)}
	if after != "" {
		in.StartAfter = aws.String(Prefix + after)
	}
	var names []string
	p := s3.NewListObjectsV2Paginator(b.Client, in)
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list s3://%s/%s: %w", b.Name, Prefix, err)
		}
		for _, o := range out.Contents {
			if name, ok := strings.CutPrefix(aws.ToString(o.Key), Prefix); ok && name != "" {
				names = append(names, name)
			}
		}
	}
	return names, nil
}

// Read returns the object Prefix+name, at most limit bytes
// (anchor.ErrTooLarge otherwise).
func (b *Bucket) Read(ctx context.Context, name string, limit int64) ([]byte, error) {
	out, err := b.Client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b.Name), Key: aws.String(Prefix + name)})
	if err != nil {
		return nil, fmt.Errorf("get s3://%s/%s%s: %w", b.Name, Prefix, name, err)
	}
	defer out.Body.Close()
	if out.ContentLength != nil && *out.ContentLength > limit {
		return nil, fmt.Errorf("get %s: %w (%d bytes)", name, anchor.ErrTooLarge, limit)
	}
	body, err := io.ReadAll(io.LimitReader(out.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("get s3://%s/%s%s: %w", b.Name, Prefix, name, err)
	}
	if int64(len(body)) > limit {
		return nil, fmt.Errorf("get %s: %w (%d bytes)", name, anchor.ErrTooLarge, limit)
	}
	return body, nil
}
