package localstack

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// watchMailDrop polls the mail drop and delivers every .eml in it.
func (s *Stack) watchMailDrop(ctx context.Context) {
	t := time.NewTicker(s.opts.MailPoll)
	defer t.Stop()
	for {
		s.deliverMailDrop(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// deliverMailDrop delivers the .eml files in the mail drop, oldest name
// first, and moves each to processed/ (failed/ when intake-mail failed; the
// log names the file).
func (s *Stack) deliverMailDrop(ctx context.Context) {
	entries, err := os.ReadDir(s.MailDrop)
	if err != nil {
		s.log.Warn("mail drop", "error", err.Error())
		return
	}
	var names []string
	for _, e := range entries {
		if e.Type().IsRegular() && strings.HasSuffix(strings.ToLower(e.Name()), ".eml") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	for _, name := range names {
		if ctx.Err() != nil {
			return
		}
		path := filepath.Join(s.MailDrop, name)
		// A file still being written may change: wait until it has been
		// quiet for one polling period.
		if info, err := os.Stat(path); err != nil || time.Since(info.ModTime()) < s.opts.MailPoll {
			continue
		}
		dest := "processed"
		raw, err := os.ReadFile(path)
		if err != nil {
			s.log.Error("mail drop: read", "file", name, "error", err.Error())
			continue
		}
		key, err := s.DeliverMail(ctx, raw)
		if err != nil {
			dest = "failed"
			s.log.Error("mail drop: delivery failed", "file", name, "error", err.Error())
		} else {
			s.log.Info("mail drop: delivered", "file", name, "key", key)
		}
		if err := os.MkdirAll(filepath.Join(s.MailDrop, dest), 0o755); err != nil {
			s.log.Error("mail drop", "error", err.Error())
			return
		}
		if err := os.Rename(path, filepath.Join(s.MailDrop, dest, name)); err != nil {
			s.log.Error("mail drop: move", "file", name, "error", err.Error())
			return
		}
	}
}

// DeliverMail puts a raw message into the mailbox bucket under
// InboxPrefix, as the mail receiver does, and hands intake-mail the S3 event
// the bucket notification would send. It returns the object key.
func (s *Stack) DeliverMail(ctx context.Context, raw []byte) (string, error) {
	key, err := s.putMail(ctx, raw)
	if err != nil {
		return "", err
	}
	return key, s.MailHandler(ctx, s.ObjectCreated(key, raw))
}

func (s *Stack) putMail(ctx context.Context, raw []byte) (string, error) {
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return "", err
	}
	// Like SES receipt rules: the object is named by a message ID.
	key := InboxPrefix + hex.EncodeToString(id)
	if _, err := s.S3.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(MailboxBucket), Key: aws.String(key), Body: bytes.NewReader(raw),
		ContentType: aws.String("message/rfc822"),
	}); err != nil {
		return "", fmt.Errorf("put mail into %s: %w", MailboxBucket, err)
	}
	return key, nil
}

// ObjectCreated is the S3 event notification (event version 2.1) for a
// new object, in the shape S3 sends it: the key URL-encoded with '+' for
// spaces.
func (s *Stack) ObjectCreated(key string, raw []byte) events.S3Event {
	sum := md5.Sum(raw)
	seq := make([]byte, 8)
	_, _ = rand.Read(seq)
	now := s.Clock.Now().UTC()
	return events.S3Event{Records: []events.S3EventRecord{{
		EventVersion: "2.1",
		EventSource:  "aws:s3",
		AWSRegion:    Region,
		EventTime:    now,
		EventName:    "ObjectCreated:Put",
		PrincipalID:  events.S3UserIdentity{PrincipalID: "AWS:AROALOCALSTACKMAIL:ses"},
		RequestParameters: events.S3RequestParameters{
			SourceIPAddress: "127.0.0.1",
		},
		ResponseElements: map[string]string{
			"x-amz-request-id": strings.ToUpper(hex.EncodeToString(seq)),
			"x-amz-id-2":       hex.EncodeToString(sum[:]),
		},
		S3: events.S3Entity{
			SchemaVersion:   "1.0",
			ConfigurationID: "dsrflow-mailbox-inbox",
			Bucket: events.S3Bucket{
				Name:          MailboxBucket,
				OwnerIdentity: events.S3UserIdentity{PrincipalID: "LOCALSTACKOWNER"},
				Arn:           "arn:aws:s3:::" + MailboxBucket,
			},
			Object: events.S3Object{
				Key:       eventKey(key),
				Size:      int64(len(raw)),
				ETag:      hex.EncodeToString(sum[:]),
				Sequencer: strings.ToUpper(hex.EncodeToString(seq)),
			},
		},
	}}}
}

// eventKey encodes an object key as S3 event notifications do: URL-encoded
// with '+' for spaces, '/' kept.
func eventKey(key string) string {
	return strings.ReplaceAll(url.QueryEscape(key), "%2F", "/")
}
