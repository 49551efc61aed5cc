package documents

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"dsrflow/internal/dev/s3post"
)

const (
	testBucket   = "mailbox"
	testRequest  = "r-abcdefghijklmnopqrstuvwxyz"
	testRedirect = "https://privacy.example.cn/requests/" + testRequest + "/documents/received?token=t&ticket=x"
)

// newTestUploads is Uploads over the local S3 emulator (gofakes3 behind
// s3post, path style), as the local stack serves it.
func newTestUploads(t *testing.T, cfg UploadConfig) (*Uploads, *s3.Client) {
	t.Helper()
	faker := gofakes3.New(s3mem.New(), gofakes3.WithTimeSkewLimit(0), gofakes3.WithoutVersioning(), gofakes3.WithLogger(gofakes3.DiscardLog()))
	srv := httptest.NewServer(s3post.Wrap(faker.Server(), s3post.Options{AccessKeyID: "AKID", SecretAccessKey: "secret", Region: "cn-north-1"}))
	t.Cleanup(srv.Close)
	c := s3.New(s3.Options{Region: "cn-north-1", BaseEndpoint: aws.String(srv.URL), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", "")})
	if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(testBucket)}); err != nil {
		t.Fatal(err)
	}
	if cfg.Bucket == "" {
		cfg.Bucket = testBucket
	}
	u, err := NewUploads(c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return u, c
}

// browserPost posts file through form as a browser does and returns the
// answer (redirects not followed).
func browserPost(t *testing.T, form PostForm, file []byte) *http.Response {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, f := range form.Fields {
		if err := mw.WriteField(f.Name, f.Value); err != nil {
			t.Fatal(err)
		}
	}
	fw, _ := mw.CreateFormFile("file", "proof.pdf")
	fw.Write(file)
	mw.Close()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Post(form.URL, mw.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestUploadFormKeepsADocument(t *testing.T) {
	ctx := context.Background()
	u, c := newTestUploads(t, UploadConfig{})
	name := NewName()
	form, err := u.Form(ctx, testRequest, name, TypePDF, testRedirect)
	if err != nil {
		t.Fatal(err)
	}
	fields := map[string]string{}
	for _, f := range form.Fields {
		fields[f.Name] = f.Value
	}
	incoming := "uploads/incoming/" + testRequest + "/" + name
	for k, want := range map[string]string{"key": incoming, "Content-Type": TypePDF, "success_action_redirect": testRedirect, "x-amz-server-side-encryption": "AES256"} {
		if fields[k] != want {
			t.Errorf("form field %s = %q, want %q", k, fields[k], want)
		}
	}
	if form.Fields[0].Name != "key" || form.Fields[1].Name != "policy" || fields["X-Amz-Signature"] == "" {
		t.Errorf("form fields = %v", form.Fields)
	}
	if !strings.HasPrefix(form.URL, "http://127.0.0.1:") || form.Origin() != strings.TrimSuffix(form.URL, "/"+testBucket) {
		t.Errorf("URL %q, origin %q", form.URL, form.Origin())
	}

	resp := browserPost(t, form, samplePDF)
	if resp.StatusCode != http.StatusSeeOther {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("post: %d %s", resp.StatusCode, b)
	}
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if loc.Query().Get("key") != incoming || loc.Query().Get("ticket") != "x" {
		t.Errorf("redirected to %s", loc)
	}

	in, err := u.Inspect(ctx, testRequest, name, TypePDF)
	if err != nil || in.Verdict != VerdictOK || in.Size != int64(len(samplePDF)) {
		t.Fatalf("Inspect = %+v, %v; want ok, %d bytes", in, err, len(samplePDF))
	}
	if kept, err := u.Kept(ctx, testRequest, name); err != nil || kept {
		t.Fatalf("Kept before Keep = %v, %v", kept, err)
	}
	key, err := u.Keep(ctx, testRequest, name, in.ETag)
	if err != nil || key != "uploads/documents/"+testRequest+"/"+name {
		t.Fatalf("Keep = %q, %v", key, err)
	}
	if kept, err := u.Kept(ctx, testRequest, name); err != nil || !kept {
		t.Errorf("Kept after Keep = %v, %v", kept, err)
	}
	obj, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(testBucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(obj.Body)
	obj.Body.Close()
	if !bytes.Equal(got, samplePDF) || aws.ToString(obj.ContentType) != TypePDF {
		t.Errorf("kept object: %q, Content-Type %q", got, aws.ToString(obj.ContentType))
	}
	if in, err := u.Inspect(ctx, testRequest, name, TypePDF); err != nil || in.Verdict != VerdictMissing {
		t.Errorf("incoming object after Keep: %+v, %v; want missing", in, err)
	}
}

func TestInspectVerdicts(t *testing.T) {
	ctx := context.Background()
	u, c := newTestUploads(t, UploadConfig{})
	put := func(name, contentType string, data []byte) {
		t.Helper()
		key, _ := u.IncomingKey(testRequest, name)
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String(key), Body: bytes.NewReader(data), ContentType: aws.String(contentType)}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name     string
		stored   string // Content-Type stored; "" for no object
		data     []byte
		asType   string
		want     Verdict
		wantSize int64
	}{
		{"PNG as PNG", TypePNG, samplePNG, TypePNG, VerdictOK, int64(len(samplePNG))},
		{"JPEG as JPEG", TypeJPEG, sampleJPEG, TypeJPEG, VerdictOK, int64(len(sampleJPEG))},
		{"JPEG bytes posted as PDF", TypePDF, sampleJPEG, TypePDF, VerdictWrongType, int64(len(sampleJPEG))},
		{"HTML posted as PNG", TypePNG, []byte("<html><script>alert(1)</script>"), TypePNG, VerdictWrongType, 31},
		{"PDF stored as text/html", "text/html", samplePDF, TypePDF, VerdictWrongType, int64(len(samplePDF))},
		{"empty", TypePDF, []byte{}, TypePDF, VerdictEmpty, 0},
		{"too large", TypePDF, append(bytes.Clone(samplePDF), make([]byte, MaxUploadBytes)...), TypePDF, VerdictTooLarge, int64(len(samplePDF) + MaxUploadBytes)},
		{"nothing posted", "", nil, TypePDF, VerdictMissing, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := NewName()
			if tt.stored != "" {
				put(name, tt.stored, tt.data)
			}
			got, err := u.Inspect(ctx, testRequest, name, tt.asType)
			if err != nil || got.Verdict != tt.want || got.Size != tt.wantSize {
				t.Errorf("Inspect = %+v, %v; want %s, %d bytes", got, err, tt.want, tt.wantSize)
			}
			if err := u.Discard(ctx, testRequest, name); err != nil {
				t.Errorf("Discard: %v", err)
			}
			if again, _ := u.Inspect(ctx, testRequest, name, tt.asType); again.Verdict != VerdictMissing {
				t.Errorf("after Discard: %s", again.Verdict)
			}
		})
	}
}

func TestUploadConfigAndNames(t *testing.T) {
	for _, tt := range []struct {
		cfg UploadConfig
		ok  bool
	}{
		{UploadConfig{Bucket: "b"}, true},
		{UploadConfig{Bucket: "b", Prefix: "docs/web/", SSE: SSEKMS, KMSKeyID: "arn:aws-cn:kms:cn-north-1:1:key/x", FormTTL: 2 * time.Hour}, true},
		{UploadConfig{}, false},
		{UploadConfig{Bucket: "b", Prefix: "no-slash"}, false},
		{UploadConfig{Bucket: "b", Prefix: "/abs/"}, false},
		{UploadConfig{Bucket: "b", Prefix: "a b/"}, false},
		{UploadConfig{Bucket: "b", SSE: SSEKMS}, false},
		{UploadConfig{Bucket: "b", KMSKeyID: "arn:x"}, false},
		{UploadConfig{Bucket: "b", SSE: "none"}, false},
		{UploadConfig{Bucket: "b", FormTTL: 13 * time.Hour}, false},
	} {
		_, err := newUploads(nil, nil, tt.cfg)
		if (err == nil) != tt.ok {
			t.Errorf("config %+v: err %v, want ok=%v", tt.cfg, err, tt.ok)
		}
	}
	u, _ := newUploads(nil, nil, UploadConfig{Bucket: "b"})
	n := NewName()
	if !ValidName(n) || n == NewName() {
		t.Errorf("NewName = %q", n)
	}
	for _, bad := range []string{"", "ABCDEF0123456789abcdef0123456789", "../../../etc/passwd000000000000", n + "0", n[:31] + "/"} {
		if ValidName(bad) {
			t.Errorf("ValidName(%q) = true", bad)
		}
		if _, err := u.IncomingKey(testRequest, bad); err == nil {
			t.Errorf("IncomingKey accepted name %q", bad)
		}
	}
	for _, bad := range []string{"", "r-1/../r-2", "r 1", strings.Repeat("r", 65)} {
		if _, err := u.DocumentKey(bad, n); err == nil {
			t.Errorf("DocumentKey accepted request %q", bad)
		}
	}
	ctx := context.Background()
	if _, err := u.Form(ctx, testRequest, n, "text/html", testRedirect); err == nil {
		t.Error("Form accepted text/html")
	}
	if _, err := u.Form(ctx, testRequest, n, TypePDF, "/relative"); err == nil {
		t.Error("Form accepted a relative redirect")
	}
}

// forbiddenHead answers every HeadObject 403, as S3 does for a missing
// object when the caller may not list the bucket.
type forbiddenHead struct{ uploadClient }

func (forbiddenHead) HeadObject(context.Context, *s3.HeadObjectInput, ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	return nil, &awshttp.ResponseError{ResponseError: &smithyhttp.ResponseError{
		Response: &smithyhttp.Response{Response: &http.Response{StatusCode: http.StatusForbidden}},
		Err:      errors.New("Forbidden"),
	}}
}

// TestMissingWithoutListBucket: without s3:ListBucket a missing object
// answers 403; it is missing, not an error.
func TestMissingWithoutListBucket(t *testing.T) {
	u, err := newUploads(forbiddenHead{}, nil, UploadConfig{Bucket: testBucket})
	if err != nil {
		t.Fatal(err)
	}
	name := NewName()
	if in, err := u.Inspect(context.Background(), testRequest, name, TypePDF); err != nil || in.Verdict != VerdictMissing {
		t.Errorf("Inspect = %+v, %v; want missing", in, err)
	}
	if kept, err := u.Kept(context.Background(), testRequest, name); err != nil || kept {
		t.Errorf("Kept = %v, %v; want false", kept, err)
	}
}

// BenchmarkForm measures presigning one upload form (a page carries one
// per type): local signing, no request.
func BenchmarkForm(b *testing.B) {
	c := s3.New(s3.Options{Region: "cn-north-1", Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", "token")})
	u, err := NewUploads(c, UploadConfig{Bucket: testBucket})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for b.Loop() {
		if _, err := u.Form(ctx, testRequest, NewName(), TypePDF, testRedirect); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSniff(b *testing.B) {
	for b.Loop() {
		if Sniff(samplePDF) != TypePDF {
			b.Fatal("not a PDF")
		}
	}
}
