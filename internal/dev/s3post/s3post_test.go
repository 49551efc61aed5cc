package s3post

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

const (
	testAccessKey = "AKIDLOCAL"
	testSecret    = "local-secret"
	testRegion    = "cn-north-1"
	testBucket    = "uploads"
	testKey       = "uploads/incoming/r-1/0123456789abcdef0123456789abcdef"
	testRedirect  = "https://privacy.example.cn/requests/r-1/documents/received?token=t&ticket=x"
)

// emulator is gofakes3 in memory behind Wrap, with a client presigning for
// it, path style, as the local stack has them.
type emulator struct {
	srv     *httptest.Server
	client  *s3.Client
	presign *s3.PresignClient
	now     time.Time
}

func newEmulator(t *testing.T, secret string) *emulator {
	t.Helper()
	e := &emulator{now: time.Now()}
	faker := gofakes3.New(s3mem.New(), gofakes3.WithTimeSkewLimit(0), gofakes3.WithoutVersioning(), gofakes3.WithLogger(gofakes3.DiscardLog()))
	e.srv = httptest.NewServer(Wrap(faker.Server(), Options{
		AccessKeyID: testAccessKey, SecretAccessKey: testSecret, Region: testRegion,
		Clock: func() time.Time { return e.now }, MaxBody: 1 << 20,
	}))
	t.Cleanup(e.srv.Close)
	e.client = s3.New(s3.Options{
		Region: testRegion, BaseEndpoint: aws.String(e.srv.URL), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(testAccessKey, secret, ""),
	})
	e.presign = s3.NewPresignClient(e.client)
	if _, err := e.client.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(testBucket)}); err != nil {
		t.Fatal(err)
	}
	return e
}

// form presigns the upload of testKey as the privacy center does: a size
// range, the Content-Type, encryption and the redirect.
func (e *emulator) form(t *testing.T, maxSize int) (string, map[string]string) {
	t.Helper()
	fields := map[string]string{
		"Content-Type":                 "application/pdf",
		"success_action_redirect":      testRedirect,
		"x-amz-server-side-encryption": "AES256",
	}
	conds := []any{[]any{"content-length-range", 1, maxSize}}
	for k, v := range fields {
		conds = append(conds, map[string]string{k: v})
	}
	out, err := e.presign.PresignPostObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String(testKey)},
		func(o *s3.PresignPostOptions) { o.Conditions = conds; o.Expires = time.Hour })
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range out.Values {
		fields[k] = v
	}
	return out.URL, fields
}

// post sends fields and then file as a browser does, not following the
// redirect.
func post(t *testing.T, target string, fields map[string]string, order []string, file []byte) *http.Response {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	if order == nil {
		for k := range fields {
			order = append(order, k)
		}
	}
	for _, k := range order {
		if err := mw.WriteField(k, fields[k]); err != nil {
			t.Fatal(err)
		}
	}
	if file != nil {
		fw, err := mw.CreateFormFile("file", "birth-certificate.pdf")
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(file)
	}
	mw.Close()
	req, err := http.NewRequest(http.MethodPost, target, &body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

var pdf = []byte("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n")

func TestPostStoresAndRedirects(t *testing.T) {
	e := newEmulator(t, testSecret)
	target, fields := e.form(t, 1<<20)
	if want := e.srv.URL + "/" + testBucket; target != want {
		t.Fatalf("presigned URL = %q, want %q", target, want)
	}
	resp := post(t, target, fields, nil, pdf)
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("status %d, want 303: %s", resp.StatusCode, body)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	q := loc.Query()
	if loc.Host != "privacy.example.cn" || loc.Path != "/requests/r-1/documents/received" || q.Get("token") != "t" || q.Get("ticket") != "x" ||
		q.Get("bucket") != testBucket || q.Get("key") != testKey || q.Get("etag") == "" {
		t.Errorf("Location = %s", loc)
	}
	head, err := e.client.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(testBucket), Key: aws.String(testKey)})
	if err != nil {
		t.Fatalf("the object was not stored: %v", err)
	}
	if aws.ToString(head.ContentType) != "application/pdf" || aws.ToInt64(head.ContentLength) != int64(len(pdf)) {
		t.Errorf("stored object: Content-Type %q, %d bytes", aws.ToString(head.ContentType), aws.ToInt64(head.ContentLength))
	}
}

func TestPostRefused(t *testing.T) {
	small := []byte("%PDF-1.4 small")
	tests := []struct {
		name     string
		secret   string // the presigning client's secret
		maxSize  int
		edit     func(map[string]string)
		file     []byte
		advance  time.Duration
		status   int
		wantCode string
	}{
		{name: "other Content-Type", edit: func(f map[string]string) { f["Content-Type"] = "text/html" }, file: small, status: 403, wantCode: "AccessDenied"},
		{name: "other key", edit: func(f map[string]string) { f["key"] = "uploads/documents/r-1/x" }, file: small, status: 403, wantCode: "AccessDenied"},
		{name: "other redirect", edit: func(f map[string]string) { f["success_action_redirect"] = "https://evil.example/" }, file: small, status: 403, wantCode: "AccessDenied"},
		{name: "no encryption", edit: func(f map[string]string) { delete(f, "x-amz-server-side-encryption") }, file: small, status: 403, wantCode: "AccessDenied"},
		{name: "a field outside the policy", edit: func(f map[string]string) { f["x-amz-meta-note"] = "hi" }, file: small, status: 403, wantCode: "AccessDenied"},
		{name: "x-ignore- fields are allowed", edit: func(f map[string]string) { f["x-ignore-submit"] = "send" }, file: small, status: 303},
		{name: "too large", maxSize: 8, file: small, status: 400, wantCode: "EntityTooLarge"},
		{name: "empty file", file: []byte{}, status: 400, wantCode: "EntityTooSmall"},
		{name: "no file", status: 400, wantCode: "InvalidArgument"},
		{name: "expired", file: small, advance: 61 * time.Minute, status: 403, wantCode: "AccessDenied"},
		{name: "signed with another secret", secret: "not-the-secret", file: small, status: 403, wantCode: "SignatureDoesNotMatch"},
		{name: "tampered policy", edit: func(f map[string]string) {
			doc, _ := base64.StdEncoding.DecodeString(f["policy"])
			f["policy"] = base64.StdEncoding.EncodeToString(bytes.Replace(doc, []byte("application/pdf"), []byte("text/html"), 1))
			f["Content-Type"] = "text/html"
		}, file: small, status: 403, wantCode: "SignatureDoesNotMatch"},
		{name: "no signature", edit: func(f map[string]string) { delete(f, "X-Amz-Signature") }, file: small, status: 400, wantCode: "InvalidArgument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			secret := testSecret
			if tt.secret != "" {
				secret = tt.secret
			}
			e := newEmulator(t, secret)
			maxSize := tt.maxSize
			if maxSize == 0 {
				maxSize = 1 << 20
			}
			target, fields := e.form(t, maxSize)
			if tt.edit != nil {
				tt.edit(fields)
			}
			e.now = e.now.Add(tt.advance)
			resp := post(t, target, fields, nil, tt.file)
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status || !strings.Contains(string(body), tt.wantCode) {
				t.Fatalf("status %d, body %s; want %d %s", resp.StatusCode, body, tt.status, tt.wantCode)
			}
			_, err := e.client.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(testBucket), Key: aws.String(testKey)})
			if stored := err == nil; stored != (tt.status == 303) {
				t.Errorf("object stored = %v after a %d", stored, tt.status)
			}
		})
	}
}

// TestFieldsAfterTheFileIgnored: S3 ignores fields after the file; they
// cannot satisfy a condition.
func TestFieldsAfterTheFileIgnored(t *testing.T) {
	e := newEmulator(t, testSecret)
	target, fields := e.form(t, 1<<20)
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range fields {
		if k != "Content-Type" {
			mw.WriteField(k, v)
		}
	}
	fw, _ := mw.CreateFormFile("file", "a.pdf")
	fw.Write(pdf)
	mw.WriteField("Content-Type", "application/pdf")
	mw.Close()
	resp, err := http.Post(target, mw.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("status %d, want 403", resp.StatusCode)
	}
}

// TestOtherRequestsPassThrough: what is not a browser POST reaches the
// emulator as it is.
func TestOtherRequestsPassThrough(t *testing.T) {
	e := newEmulator(t, testSecret)
	ctx := context.Background()
	if _, err := e.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String("a/b"), Body: strings.NewReader("x")}); err != nil {
		t.Fatal(err)
	}
	_, err := e.client.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(testBucket),
		Delete: &s3types.Delete{Objects: []s3types.ObjectIdentifier{{Key: aws.String("a/b")}}}})
	if err != nil {
		t.Fatalf("DeleteObjects (a POST with ?delete): %v", err)
	}
	if _, err := e.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(testBucket), Key: aws.String("a/b")}); err == nil {
		t.Error("DeleteObjects did not delete the object")
	}
}
