package s3anchor_test

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"dsrflow/internal/anchor"
	"dsrflow/internal/anchor/s3anchor"
	"dsrflow/internal/dev/dynamotest"
	"dsrflow/internal/dsr"
	"dsrflow/internal/store"
)

var emu *dynamotest.Emulator

func TestMain(m *testing.M) { os.Exit(dynamotest.Main(m, &emu)) }

const bucket = "audit-anchors"

// put is one PUT as it reached S3: its key and headers.
type put struct {
	key, md5, sha256, algorithm, lockMode string
}

type recorder struct {
	mu   sync.Mutex
	puts []put
}

// fakeS3 is gofakes3 behind a recorder of PUT requests. gofakes3 does not
// implement Object Lock, so what Object Lock requires of a PUT (a
// Content-MD5 or x-amz-checksum- header) is checked on the recorded
// headers.
func fakeS3(t *testing.T) (*s3.Client, *recorder) {
	t.Helper()
	rec := &recorder{}
	fake := gofakes3.New(s3mem.New(), gofakes3.WithTimeSkewLimit(0)).Server()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := strings.TrimPrefix(r.URL.Path, "/"+bucket+"/")
		if r.Method == http.MethodPut && strings.HasPrefix(key, s3anchor.Prefix) {
			p := put{
				key: key, md5: r.Header.Get("Content-Md5"),
				sha256: r.Header.Get("X-Amz-Checksum-Sha256"), algorithm: r.Header.Get("X-Amz-Sdk-Checksum-Algorithm"),
				lockMode: r.Header.Get("X-Amz-Object-Lock-Mode"),
			}
			rec.mu.Lock()
			rec.puts = append(rec.puts, p)
			rec.mu.Unlock()
		}
		fake.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	c := s3.New(s3.Options{
		Region: dynamotest.Region, BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""), UsePathStyle: true,
	})
	if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	return c, rec
}

func TestPutListRead(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, rec := fakeS3(t)
	b := s3anchor.New(c, bucket)
	names := []string{
		"20260301T090000.000000000Z-daily-00000000000000000000000000000000.json",
		"20260302T090000.000000000Z-daily-11111111111111111111111111111111.json",
		"20260302T120000.000000000Z-closed-22222222222222222222222222222222.json",
	}
	for i, n := range names {
		if err := b.Put(ctx, n, []byte(fmt.Sprintf(`{"n":%d}`, i))); err != nil {
			t.Fatal(err)
		}
	}
	// Something else in the bucket, outside the prefix, is not listed.
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("other/x.json"), Body: strings.NewReader("{}")}); err != nil {
		t.Fatal(err)
	}

	if len(rec.puts) != 3 {
		t.Fatalf("%d PUTs recorded, want 3", len(rec.puts))
	}
	for i, p := range rec.puts {
		body := []byte(fmt.Sprintf(`{"n":%d}`, i))
		md := md5.Sum(body)
		sum := sha256.Sum256(body)
		if p.key != s3anchor.Prefix+names[i] {
			t.Errorf("PUT key %s, want %s", p.key, s3anchor.Prefix+names[i])
		}
		// Object Lock: "Content-MD5 OR x-amz-checksum- HTTP header is required".
		if p.md5 != base64.StdEncoding.EncodeToString(md[:]) || p.sha256 != base64.StdEncoding.EncodeToString(sum[:]) || p.algorithm != "SHA256" {
			t.Errorf("PUT %s: Content-MD5 %q, x-amz-checksum-sha256 %q, algorithm %q; want the body's MD5 and SHA-256", p.key, p.md5, p.sha256, p.algorithm)
		}
		// The retention is the bucket's default, not set per object.
		if p.lockMode != "" {
			t.Errorf("PUT %s sets Object Lock mode %q; want the bucket default", p.key, p.lockMode)
		}
	}

	got, err := b.List(ctx, "")
	if err != nil || !slices.Equal(got, names) {
		t.Errorf("List = %v, %v; want %v", got, err, names)
	}
	got, err = b.List(ctx, "20260302T000000.000000000Z")
	if err != nil || !slices.Equal(got, names[1:]) {
		t.Errorf("List(after) = %v, %v; want %v", got, err, names[1:])
	}
	body, err := b.Read(ctx, names[1], anchor.MaxDocumentBytes)
	if err != nil || string(body) != `{"n":1}` {
		t.Errorf("Read = %q, %v", body, err)
	}
	if _, err := b.Read(ctx, names[1], 3); !errors.Is(err, anchor.ErrTooLarge) {
		t.Errorf("Read over the limit = %v; want ErrTooLarge", err)
	}
	if _, err := b.Read(ctx, "missing.json", 10); err == nil {
		t.Error("Read of a missing anchor: no error")
	}
}

// TestAnchorAndVerifyThroughS3: the anchorer writes to the bucket and
// Verify reads it back; a chain cut after anchoring is named.
func TestAnchorAndVerifyThroughS3(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, _ := fakeS3(t)
	b := s3anchor.New(c, bucket)
	table := emu.NewTable(t)
	st := store.New(store.Config{Table: table}, store.Deps{DB: emu.Client()})
	for _, id := range []string{"r1", "r2"} {
		r := &dsr.Request{ID: id, Kind: dsr.KindErasure, Status: dsr.StatusReceived, Channel: dsr.ChannelWeb, Role: dsr.RoleSelf, Locale: "en"}
		if _, _, err := st.CreateRequest(ctx, r, nil); err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			if _, err := st.AppendEvent(ctx, id, store.Event{Type: fmt.Sprintf("step%d", i), Actor: "test"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	a, err := anchor.New(anchor.Config{}, anchor.Deps{Store: st, Sink: b, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	res, err := a.Anchor(ctx)
	if err != nil || len(res.Anchors) != 1 || res.Chains != 2 {
		t.Fatalf("Anchor = %+v, %v", res, err)
	}
	rep, err := anchor.Verify(ctx, anchor.VerifyConfig{}, b, st)
	if err != nil || !rep.OK() || rep.Anchors != 1 || rep.Chains != 2 {
		t.Fatalf("Verify = %+v, %v; want OK", rep, err)
	}
	if n, err := emu.DeleteItems(ctx, table, map[string]string{"requestId": "r2", "seq": "3"}); err != nil || n != 1 {
		t.Fatalf("DeleteItems = %d, %v", n, err)
	}
	rep, err = anchor.Verify(ctx, anchor.VerifyConfig{Since: time.Now().Add(-time.Hour)}, b, st)
	if err != nil || len(rep.Findings) != 1 || rep.Findings[0].RequestID != "r2" || rep.Findings[0].Kind != anchor.KindTruncated {
		t.Errorf("Verify after the cut = %+v, %v; want r2 truncated", rep, err)
	}
}
