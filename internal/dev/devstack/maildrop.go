package devstack

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
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
// new object, as the Lambda runtime hands it to intake-mail: the JSON S3
// sends (ObjectCreatedJSON), decoded by aws-lambda-go.
func (s *Stack) ObjectCreated(key string, raw []byte) events.S3Event {
	var ev events.S3Event
	// The document is built here from strings and numbers: it always decodes.
	_ = json.Unmarshal(s.ObjectCreatedJSON(key, raw), &ev)
	return ev
}

// ObjectCreatedJSON is the S3 event notification for a new object exactly
// as S3 sends it: the key URL-encoded with '+' for spaces.
func (s *Stack) ObjectCreatedJSON(key string, raw []byte) []byte {
	sum := md5.Sum(raw)
	seq := make([]byte, 8)
	_, _ = rand.Read(seq)
	now := time.Now().UTC()
	doc := map[string]any{"Records": []any{map[string]any{
		"eventVersion":      "2.1",
		"eventSource":       "aws:s3",
		"awsRegion":         Region,
		"eventTime":         now.Format("2006-01-02T15:04:05.000Z"),
		"eventName":         "ObjectCreated:Put",
		"userIdentity":      map[string]any{"principalId": "AWS:AROALOCALSTACKMAIL:ses"},
		"requestParameters": map[string]any{"sourceIPAddress": "127.0.0.1"},
		"responseElements": map[string]any{
			"x-amz-request-id": strings.ToUpper(hex.EncodeToString(seq)),
			"x-amz-id-2":       hex.EncodeToString(sum[:]),
		},
		"s3": map[string]any{
			"s3SchemaVersion": "1.0",
			"configurationId": "dsrflow-mailbox-inbox",
			"bucket": map[string]any{
				"name":          MailboxBucket,
				"ownerIdentity": map[string]any{"principalId": "LOCALSTACKOWNER"},
				"arn":           "arn:aws:s3:::" + MailboxBucket,
			},
			"object": map[string]any{
				"key":       eventKey(key),
				"size":      len(raw),
				"eTag":      hex.EncodeToString(sum[:]),
				"sequencer": strings.ToUpper(hex.EncodeToString(seq)),
			},
		},
	}}}
	b, _ := json.Marshal(doc)
	return b
}

// eventKey encodes an object key as S3 event notifications do: URL-encoded
// with '+' for spaces, '/' kept.
func eventKey(key string) string {
	return strings.ReplaceAll(url.QueryEscape(key), "%2F", "/")
}
