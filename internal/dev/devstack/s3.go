package devstack

import (
	"context"
	"dsrflow/internal/dev/s3post"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3afero"
)

// newS3 is the S3 emulator (gofakes3) keeping objects as files under dir
// (its afero backend), so the mailbox survives a restart.
func newS3(dir string) (http.Handler, error) {
	fs, err := s3afero.FsPath(dir, s3afero.FsPathCreateAll)
	if err != nil {
		return nil, fmt.Errorf("S3 emulator folder: %w", err)
	}
	backend, err := s3afero.MultiBucket(fs)
	if err != nil {
		return nil, fmt.Errorf("S3 emulator: %w", err)
	}
	faker := gofakes3.New(backend, gofakes3.WithTimeSkewLimit(0), gofakes3.WithoutVersioning(), gofakes3.WithLogger(gofakes3.DiscardLog()))
	// Browser uploads (presigned POST) are checked as S3 checks them.
	return s3post.Wrap(faker.Server(), s3post.Options{AccessKeyID: AccessKeyID, SecretAccessKey: SecretAccessKey, Region: Region}), nil
}

func (s *Stack) ensureBucket(ctx context.Context, bucket string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := s.S3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)})
	var owned *s3types.BucketAlreadyOwnedByYou
	var exists *s3types.BucketAlreadyExists
	if err != nil && !errors.As(err, &owned) && !errors.As(err, &exists) {
		return fmt.Errorf("create bucket %s: %w", bucket, err)
	}
	return nil
}
