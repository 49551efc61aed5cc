package documents

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Upload limits: the presigned policy enforces the size, the request's
// document count is kept by the store.
const (
	// MaxUploadBytes is the largest document a requester may upload (10 MiB).
	MaxUploadBytes = 10 << 20
	// MaxUploads is how many documents one request may receive by upload.
	MaxUploads = 5
)

// Server-side encryption of uploads (UploadConfig.SSE).
const (
	SSES3  = "AES256"
	SSEKMS = "aws:kms"
)

// Default and longest life of a presigned upload form.
const (
	DefaultFormTTL = time.Hour
	MaxFormTTL     = 12 * time.Hour
)

// UploadConfig says where uploads go and how they are encrypted.
type UploadConfig struct {
	Bucket string
	// Prefix holds every upload (default "uploads/"): a file the browser
	// posts lands under Prefix+"incoming/<request ID>/<name>" and stays
	// there until checked; a document kept is copied to
	// Prefix+"documents/<request ID>/<name>". The bucket's lifecycle expires
	// incoming/ after a day, so that a file nobody confirmed does not stay.
	Prefix string
	// SSE is the encryption each object must be written with: SSES3
	// (default) or SSEKMS with KMSKeyID (a key ARN).
	SSE      string
	KMSKeyID string
	// FormTTL is how long a presigned form may be used (default
	// DefaultFormTTL, at most MaxFormTTL).
	FormTTL time.Duration
}

// uploadClient is the part of the S3 client uploads use.
type uploadClient interface {
	HeadObject(ctx context.Context, in *s3.HeadObjectInput, optFns ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	CopyObject(ctx context.Context, in *s3.CopyObjectInput, optFns ...func(*s3.Options)) (*s3.CopyObjectOutput, error)
	DeleteObject(ctx context.Context, in *s3.DeleteObjectInput, optFns ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
}

// postPresigner is the part of s3.PresignClient uploads use.
type postPresigner interface {
	PresignPostObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.PresignPostOptions)) (*s3.PresignedPostRequest, error)
}

// Uploads receives documents that requesters' browsers post straight to S3
// through presigned forms (S3 POST Object with a signed policy), so that no
// file passes through the privacy center or DynamoDB. The object keys name
// the request; nothing here logs them.
type Uploads struct {
	client  uploadClient
	presign postPresigner
	cfg     UploadConfig
}

// NewUploads checks cfg and returns uploads over c.
func NewUploads(c *s3.Client, cfg UploadConfig) (*Uploads, error) {
	return newUploads(c, s3.NewPresignClient(c), cfg)
}

func newUploads(c uploadClient, p postPresigner, cfg UploadConfig) (*Uploads, error) {
	if cfg.Prefix == "" {
		cfg.Prefix = "uploads/"
	}
	if cfg.SSE == "" {
		cfg.SSE = SSES3
	}
	if cfg.FormTTL == 0 {
		cfg.FormTTL = DefaultFormTTL
	}
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	return &Uploads{client: c, presign: p, cfg: cfg}, nil
}

// Check reports configuration mistakes (after defaults).
func (c UploadConfig) Check() error {
	var errs []error
	if c.Bucket == "" {
		errs = append(errs, errors.New("upload bucket is empty"))
	}
	if c.Prefix != "" && (!strings.HasSuffix(c.Prefix, "/") || strings.HasPrefix(c.Prefix, "/") || !validKeyPart(strings.TrimSuffix(c.Prefix, "/"), true)) {
		errs = append(errs, errors.New("upload prefix must be letters, digits, '-', '_' and '/' and end with '/'"))
	}
	switch c.SSE {
	case "", SSES3:
		if c.KMSKeyID != "" {
			errs = append(errs, errors.New("a KMS key is set but encryption is not aws:kms"))
		}
	case SSEKMS:
		if !strings.HasPrefix(c.KMSKeyID, "arn:") {
			errs = append(errs, errors.New("aws:kms encryption needs a KMS key ARN"))
		}
	default:
		errs = append(errs, fmt.Errorf("upload encryption %q is not %s or %s", c.SSE, SSES3, SSEKMS))
	}
	if c.FormTTL < 0 || c.FormTTL > MaxFormTTL {
		errs = append(errs, fmt.Errorf("upload form lifetime must be at most %s", MaxFormTTL))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("uploads: %w", err)
	}
	return nil
}

func validKeyPart(s string, slash bool) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || slash && c == '/') {
			return false
		}
	}
	return true
}

// Bucket is the bucket uploads go to.
func (u *Uploads) Bucket() string { return u.cfg.Bucket }

// FormTTL is how long a presigned form may be used.
func (u *Uploads) FormTTL() time.Duration { return u.cfg.FormTTL }

// nameLen is the length of an upload's object name: 16 random bytes in hex.
const nameLen = 32

// NewName is a fresh random object name for one upload.
func NewName() string {
	var b [nameLen / 2]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}

// ValidName reports whether s has the shape of NewName's names.
func ValidName(s string) bool {
	if len(s) != nameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// ErrInvalidUpload is returned (wrapped) for a request ID, name or content
// type that cannot name an upload.
var ErrInvalidUpload = errors.New("invalid upload")

func (u *Uploads) keyFor(stage, requestID, name string) (string, error) {
	if !validKeyPart(requestID, false) || len(requestID) > 64 || !ValidName(name) {
		return "", ErrInvalidUpload
	}
	return u.cfg.Prefix + stage + "/" + requestID + "/" + name, nil
}

// IncomingKey is where the browser posts upload name of request requestID.
func (u *Uploads) IncomingKey(requestID, name string) (string, error) {
	return u.keyFor("incoming", requestID, name)
}

// DocumentKey is where upload name of request requestID is kept once
// checked.
func (u *Uploads) DocumentKey(requestID, name string) (string, error) {
	return u.keyFor("documents", requestID, name)
}

// Field is one form field of a presigned upload form.
type Field struct{ Name, Value string }

// PostForm is a presigned browser upload: a multipart/form-data POST to
// URL with Fields, then the file as the field "file", last.
type PostForm struct {
	URL    string
	Fields []Field
}

// Origin is scheme://host of the form's URL: what a page's CSP form-action
// must allow.
func (f PostForm) Origin() string {
	u, err := url.Parse(f.URL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// Form presigns the upload of one document of contentType (one of
// UploadTypes) as request requestID's upload name. S3 takes the post only
// before the form expires (FormTTL), with exactly the incoming key, that
// Content-Type, this encryption, a file of 1 byte to MaxUploadBytes, and
// the redirect: the browser is sent to redirect, with bucket, key and etag
// added to its query, once the file is stored. Every field of the form is
// in the signed policy.
func (u *Uploads) Form(ctx context.Context, requestID, name, contentType, redirect string) (PostForm, error) {
	key, err := u.IncomingKey(requestID, name)
	if err != nil {
		return PostForm{}, fmt.Errorf("presign upload form of %s: %w", requestID, err)
	}
	if !UploadType(contentType) {
		return PostForm{}, fmt.Errorf("presign upload form of %s: content type: %w", requestID, ErrInvalidUpload)
	}
	if r, err := url.Parse(redirect); err != nil || (r.Scheme != "https" && r.Scheme != "http") || r.Host == "" {
		return PostForm{}, fmt.Errorf("presign upload form of %s: redirect is not an absolute http(s) URL", requestID)
	}
	fields := []Field{
		{"Content-Type", contentType},
		{"success_action_redirect", redirect},
		{"x-amz-server-side-encryption", u.cfg.SSE},
	}
	if u.cfg.SSE == SSEKMS {
		fields = append(fields, Field{"x-amz-server-side-encryption-aws-kms-key-id", u.cfg.KMSKeyID})
	}
	conditions := []any{[]any{"content-length-range", 1, MaxUploadBytes}}
	for _, f := range fields {
		conditions = append(conditions, map[string]string{f.Name: f.Value})
	}
	out, err := u.presign.PresignPostObject(ctx, &s3.PutObjectInput{Bucket: aws.String(u.cfg.Bucket), Key: aws.String(key)},
		func(o *s3.PresignPostOptions) {
			o.Expires = u.cfg.FormTTL
			o.Conditions = conditions
		})
	if err != nil {
		return PostForm{}, fmt.Errorf("presign upload form of %s: %w", requestID, err)
	}
	for k, v := range out.Values {
		fields = append(fields, Field{k, v})
	}
	// The presigner's fields come from a map: sort for a stable page, key
	// and policy first as S3's own examples have them.
	slices.SortFunc(fields, func(a, b Field) int { return strings.Compare(fieldRank(a.Name), fieldRank(b.Name)) })
	return PostForm{URL: out.URL, Fields: fields}, nil
}

func fieldRank(name string) string {
	switch strings.ToLower(name) {
	case "key":
		return "0"
	case "policy":
		return "1"
	}
	return "2" + strings.ToLower(name)
}

// Verdict is what Inspect found of an upload.
type Verdict string

const (
	// VerdictOK: the file is there, of its type, within the size limit.
	VerdictOK Verdict = "ok"
	// VerdictMissing: no file under the upload's incoming key.
	VerdictMissing Verdict = "missing"
	// VerdictEmpty: the file has no bytes.
	VerdictEmpty Verdict = "empty"
	// VerdictTooLarge: the file is over MaxUploadBytes.
	VerdictTooLarge Verdict = "too_large"
	// VerdictWrongType: its Content-Type is not the form's, or its first
	// bytes are not of that type (Sniff).
	VerdictWrongType Verdict = "wrong_type"
)

// Inspection is what Inspect found.
type Inspection struct {
	Verdict Verdict
	Size    int64
	// ETag pins the object inspected: Keep copies only that one.
	ETag string
}

// Inspect checks upload name of request requestID, which the browser
// posted as contentType: its size (HeadObject), its Content-Type, and that
// its first bytes are of that type (a ranged GetObject of the object the
// HEAD saw). It reads at most SniffLen bytes.
func (u *Uploads) Inspect(ctx context.Context, requestID, name, contentType string) (Inspection, error) {
	key, err := u.IncomingKey(requestID, name)
	if err != nil {
		return Inspection{}, fmt.Errorf("inspect upload of %s: %w", requestID, err)
	}
	head, err := u.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(u.cfg.Bucket), Key: aws.String(key)})
	if isNotFound(err) || headForbidden(err) {
		return Inspection{Verdict: VerdictMissing}, nil
	}
	if err != nil {
		return Inspection{}, fmt.Errorf("inspect upload of %s: %w", requestID, err)
	}
	in := Inspection{Size: aws.ToInt64(head.ContentLength), ETag: aws.ToString(head.ETag)}
	switch {
	case in.Size <= 0:
		in.Verdict = VerdictEmpty
		return in, nil
	case in.Size > MaxUploadBytes:
		in.Verdict = VerdictTooLarge
		return in, nil
	}
	if mt, _, err := mime.ParseMediaType(aws.ToString(head.ContentType)); err != nil || mt != contentType {
		in.Verdict = VerdictWrongType
		return in, nil
	}
	get := &s3.GetObjectInput{Bucket: aws.String(u.cfg.Bucket), Key: aws.String(key), Range: aws.String(fmt.Sprintf("bytes=0-%d", SniffLen-1))}
	if in.ETag != "" {
		get.IfMatch = aws.String(in.ETag)
	}
	obj, err := u.client.GetObject(ctx, get)
	if isNotFound(err) {
		return Inspection{Verdict: VerdictMissing}, nil
	}
	if err != nil {
		return Inspection{}, fmt.Errorf("inspect upload of %s: read its first bytes: %w", requestID, err)
	}
	defer obj.Body.Close()
	first, err := io.ReadAll(io.LimitReader(obj.Body, SniffLen))
	if err != nil {
		return Inspection{}, fmt.Errorf("inspect upload of %s: read its first bytes: %w", requestID, err)
	}
	if Sniff(first) != contentType {
		in.Verdict = VerdictWrongType
		return in, nil
	}
	in.Verdict = VerdictOK
	return in, nil
}

// Keep copies the inspected upload (etag: Inspection.ETag, "" for any) from
// its incoming key to its document key, encrypted as configured, and
// deletes the incoming object. It returns the document key.
func (u *Uploads) Keep(ctx context.Context, requestID, name, etag string) (string, error) {
	src, err := u.IncomingKey(requestID, name)
	if err != nil {
		return "", fmt.Errorf("keep upload of %s: %w", requestID, err)
	}
	dst, _ := u.DocumentKey(requestID, name) // valid when src is
	in := &s3.CopyObjectInput{
		Bucket:               aws.String(u.cfg.Bucket),
		Key:                  aws.String(dst),
		CopySource:           aws.String(url.PathEscape(u.cfg.Bucket) + "/" + src),
		ServerSideEncryption: types.ServerSideEncryption(u.cfg.SSE),
	}
	if u.cfg.SSE == SSEKMS {
		in.SSEKMSKeyId = aws.String(u.cfg.KMSKeyID)
	}
	if etag != "" {
		in.CopySourceIfMatch = aws.String(etag)
	}
	if _, err := u.client.CopyObject(ctx, in); err != nil {
		return "", fmt.Errorf("keep upload of %s: copy: %w", requestID, err)
	}
	if err := u.Discard(ctx, requestID, name); err != nil {
		return "", err
	}
	return dst, nil
}

// Kept reports whether upload name of request requestID has been kept
// (its document object exists).
func (u *Uploads) Kept(ctx context.Context, requestID, name string) (bool, error) {
	key, err := u.DocumentKey(requestID, name)
	if err != nil {
		return false, fmt.Errorf("look up upload of %s: %w", requestID, err)
	}
	_, err = u.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(u.cfg.Bucket), Key: aws.String(key)})
	switch {
	case isNotFound(err), headForbidden(err):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("look up upload of %s: %w", requestID, err)
	}
	return true, nil
}

// Discard deletes upload name's incoming object (no error when it is gone).
func (u *Uploads) Discard(ctx context.Context, requestID, name string) error {
	key, err := u.IncomingKey(requestID, name)
	if err != nil {
		return fmt.Errorf("discard upload of %s: %w", requestID, err)
	}
	if _, err := u.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(u.cfg.Bucket), Key: aws.String(key)}); err != nil {
		return fmt.Errorf("discard upload of %s: %w", requestID, err)
	}
	return nil
}

// headForbidden reports whether a HeadObject failed with 403. S3 answers
// 403, not 404, for a missing object when the caller may not list the
// bucket (s3:ListBucket), and the privacy center is not given that: it
// would let it list every key in the mailbox bucket. Its role may read the
// upload prefixes (s3:GetObject), so a 403 there means the object is not
// there.
func headForbidden(err error) bool {
	var re *awshttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() == http.StatusForbidden
}

// isNotFound reports whether err says the object does not exist: NotFound
// (HEAD), NoSuchKey (GET), or any 404.
func isNotFound(err error) bool {
	if err == nil {
		return false
	}
	var nf *types.NotFound
	var nsk *types.NoSuchKey
	var re *awshttp.ResponseError
	return errors.As(err, &nf) || errors.As(err, &nsk) || (errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotFound)
}
