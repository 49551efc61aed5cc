// Package s3post gives the local S3 emulator browser uploads as S3 does
// them: POST Object with a signed POST policy (AWS Signature Version 4).
//
// The emulator (gofakes3) stores a browser POST without checking its
// policy or signature, and answers 200 with no redirect, which leaves a
// browser without JavaScript on a blank page. Wrap puts a handler in front
// of it that does what S3 does with such a post (Amazon S3 API Reference,
// "POST Object" and "Creating a POST Policy"):
//
//   - the signature: hex(HMAC-SHA256(signing key, policy)), the signing
//     key derived from the secret key, the credential's date, region and
//     service as SigV4 derives it; the credential must name the access key
//     and region configured here;
//   - the policy: not expired; every condition holds (exact match,
//     starts-with, content-length-range on the file); every form field but
//     policy, x-amz-signature, file and x-ignore-* is named by a condition;
//   - then it stores the file by a plain PUT to the emulator, with the
//     form's Content-Type and x-amz-* fields as headers, and redirects the
//     browser (303) to success_action_redirect with bucket, key and etag
//     added, or answers success_action_status (default 204).
//
// Errors are S3's XML errors: AccessDenied (403) for a policy that does not
// hold, SignatureDoesNotMatch (403), EntityTooLarge and EntityTooSmall
// (400), InvalidArgument or MalformedPOSTRequest (400). Anything else
// (GET, PUT, a POST with a query such as ?delete, or not multipart) goes to
// the emulator unchanged.
//
// It is part of the local platform: no Lambda function links it.
package s3post

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Options are the emulator's credentials and limits.
type Options struct {
	// AccessKeyID and SecretAccessKey are the credentials the presigning
	// clients use (the local stack's static ones).
	AccessKeyID, SecretAccessKey string
	// Region is the region the credential must name.
	Region string
	// Clock is the time policies expire by (default time.Now): the wall
	// clock, as the SDK signs with it.
	Clock func() time.Time
	// MaxBody caps a post's body (default 64 MiB).
	MaxBody int64
}

// Limits of a post's form fields (besides the file).
const (
	maxFields     = 64
	maxFieldBytes = 20 << 10
)

// Wrap returns next with browser POST uploads handled as S3 handles them.
func Wrap(next http.Handler, o Options) http.Handler {
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.MaxBody <= 0 {
		o.MaxBody = 64 << 20
	}
	return &handler{next: next, o: o}
}

type handler struct {
	next http.Handler
	o    Options
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	bucket, ok := browserPost(r)
	if !ok {
		h.next.ServeHTTP(w, r)
		return
	}
	h.post(w, r, bucket)
}

// browserPost reports whether r is a POST Object upload: POST /<bucket>
// with no query, multipart/form-data. Virtual-host addressing is not
// served (the local stack uses path style).
func browserPost(r *http.Request) (bucket string, ok bool) {
	if r.Method != http.MethodPost || r.URL.RawQuery != "" {
		return "", false
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		return "", false
	}
	bucket = strings.Trim(r.URL.Path, "/")
	if bucket == "" || strings.Contains(bucket, "/") {
		return "", false
	}
	return bucket, true
}

// s3Error is an S3 error answer.
type s3Error struct {
	Status  int
	Code    string
	Message string
}

func (e *s3Error) Error() string { return e.Code + ": " + e.Message }

func denied(format string, args ...any) *s3Error {
	return &s3Error{http.StatusForbidden, "AccessDenied", "Invalid according to Policy: " + fmt.Sprintf(format, args...)}
}

func malformed(msg string) *s3Error {
	return &s3Error{http.StatusBadRequest, "MalformedPOSTRequest", "The body of your POST request is not well-formed multipart/form-data. " + msg}
}

func writeError(w http.ResponseWriter, e *s3Error) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(e.Status)
	_ = xml.NewEncoder(w).Encode(struct {
		XMLName xml.Name `xml:"Error"`
		Code    string
		Message string
	}{Code: e.Code, Message: e.Message})
}

// form is a parsed post: its fields by lower-case name (S3 compares field
// names without regard to case) in the order they came, and the file.
type form struct {
	names    []string          // lower-case, in order
	values   map[string]string // by lower-case name
	file     []byte
	fileName string
	hasFile  bool
}

func (f *form) get(name string) string { return f.values[strings.ToLower(name)] }

// readForm reads the multipart body: fields up to the file; S3 ignores
// what follows the file.
func readForm(r io.Reader, boundary string, maxBody int64) (*form, *s3Error) {
	mr := multipart.NewReader(r, boundary)
	f := &form{values: map[string]string{}}
	total := 0
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return f, nil
		}
		if err != nil {
			return nil, malformed("")
		}
		name := strings.ToLower(p.FormName())
		if name == "" {
			continue
		}
		if name == "file" {
			data, err := io.ReadAll(io.LimitReader(p, maxBody+1))
			if err != nil {
				return nil, malformed("")
			}
			if int64(len(data)) > maxBody {
				return nil, &s3Error{http.StatusBadRequest, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size"}
			}
			f.file, f.fileName, f.hasFile = data, p.FileName(), true
			return f, nil
		}
		v, err := io.ReadAll(io.LimitReader(p, maxFieldBytes+1))
		if err != nil {
			return nil, malformed("")
		}
		total += len(v)
		if total > maxFieldBytes || len(f.names) >= maxFields {
			return nil, &s3Error{http.StatusBadRequest, "MaxPostPreDataLengthExceeded", "Your POST request fields preceeding the upload file was too large."}
		}
		if _, dup := f.values[name]; dup {
			return nil, &s3Error{http.StatusBadRequest, "InvalidArgument", "Field " + name + " is given more than once."}
		}
		f.names = append(f.names, name)
		f.values[name] = string(v)
	}
}

func (h *handler) post(w http.ResponseWriter, r *http.Request, bucket string) {
	_, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	body := http.MaxBytesReader(w, r.Body, h.o.MaxBody)
	f, e := readForm(body, params["boundary"], h.o.MaxBody)
	if e == nil {
		e = h.check(f, bucket)
	}
	if e != nil {
		writeError(w, e)
		return
	}
	key := strings.ReplaceAll(f.get("key"), "${filename}", f.fileName)
	etag, e := h.store(r, bucket, key, f)
	if e != nil {
		writeError(w, e)
		return
	}
	if redirect := f.get("success_action_redirect"); redirect != "" {
		if u, err := url.Parse(redirect); err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" {
			q := u.Query()
			q.Set("bucket", bucket)
			q.Set("key", key)
			q.Set("etag", etag)
			u.RawQuery = q.Encode()
			w.Header().Set("Location", u.String())
			w.Header().Set("ETag", etag)
			w.WriteHeader(http.StatusSeeOther)
			return
		}
	}
	status := http.StatusNoContent
	switch f.get("success_action_status") {
	case "200":
		status = http.StatusOK
	case "201":
		status = http.StatusCreated
	}
	w.Header().Set("ETag", etag)
	if status != http.StatusCreated {
		w.WriteHeader(status)
		return
	}
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	_ = xml.NewEncoder(w).Encode(struct {
		XMLName xml.Name `xml:"PostResponse"`
		Bucket  string
		Key     string
		ETag    string
	}{Bucket: bucket, Key: key, ETag: etag})
}

// check verifies the post's signature and policy as S3 does.
func (h *handler) check(f *form, bucket string) *s3Error {
	if !f.hasFile {
		return &s3Error{http.StatusBadRequest, "InvalidArgument", "POST requires exactly one file upload per request."}
	}
	for _, name := range []string{"key", "policy", "x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-signature"} {
		if f.get(name) == "" {
			return &s3Error{http.StatusBadRequest, "InvalidArgument", "Bucket POST must contain a field named '" + name + "'."}
		}
	}
	if f.get("x-amz-algorithm") != "AWS4-HMAC-SHA256" {
		return &s3Error{http.StatusBadRequest, "InvalidArgument", "Unsupported x-amz-algorithm."}
	}
	// <access key>/<yyyymmdd>/<region>/s3/aws4_request
	cred := strings.Split(f.get("x-amz-credential"), "/")
	date := f.get("x-amz-date")
	if len(cred) != 5 || cred[4] != "aws4_request" || cred[3] != "s3" || len(date) < 8 || cred[1] != date[:8] {
		return &s3Error{http.StatusBadRequest, "InvalidArgument", "Malformed x-amz-credential."}
	}
	if cred[0] != h.o.AccessKeyID {
		return &s3Error{http.StatusForbidden, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records."}
	}
	if cred[2] != h.o.Region {
		return &s3Error{http.StatusBadRequest, "AuthorizationQueryParametersError", "The credential names region " + cred[2] + ", not " + h.o.Region + "."}
	}
	policyB64 := f.get("policy")
	want := signature(h.o.SecretAccessKey, cred[1], cred[2], cred[3], policyB64)
	got, err := hex.DecodeString(f.get("x-amz-signature"))
	if err != nil || !hmac.Equal(got, want) {
		return &s3Error{http.StatusForbidden, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided."}
	}
	doc, err := base64.StdEncoding.DecodeString(policyB64)
	if err != nil {
		return &s3Error{http.StatusBadRequest, "InvalidPolicyDocument", "Invalid Policy: Invalid Simple-Base64 value."}
	}
	p, err := ParsePolicy(doc)
	if err != nil {
		return &s3Error{http.StatusBadRequest, "InvalidPolicyDocument", "Invalid Policy: " + err.Error()}
	}
	if !h.o.Clock().Before(p.Expiration) {
		return denied("Policy expired.")
	}
	return evaluate(p, f, bucket)
}

// evaluate checks every condition, and that every field is named by one.
func evaluate(p Policy, f *form, bucket string) *s3Error {
	named := map[string]bool{}
	for _, c := range p.Conditions {
		if c.Op == OpRange {
			size := int64(len(f.file))
			if size > c.Max {
				return &s3Error{http.StatusBadRequest, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size"}
			}
			if size < c.Min {
				return &s3Error{http.StatusBadRequest, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size"}
			}
			continue
		}
		named[c.Field] = true
		value, present := f.values[c.Field]
		if c.Field == "bucket" {
			value, present = bucket, true
		}
		switch {
		case c.Op == OpEq && (!present || value != c.Value):
			return denied(`Policy Condition failed: ["eq", "$%s", %q]`, c.Field, c.Value)
		case c.Op == OpStartsWith && (!present || !strings.HasPrefix(value, c.Value)):
			return denied(`Policy Condition failed: ["starts-with", "$%s", %q]`, c.Field, c.Value)
		}
	}
	for _, name := range f.names {
		switch {
		case name == "policy", name == "x-amz-signature", strings.HasPrefix(name, "x-ignore-"):
		case !named[name]:
			return denied("Extra input fields: %s", name)
		}
	}
	return nil
}

// signature is the SigV4 POST signature of policy (its base64 text).
func signature(secret, date, region, service, policy string) []byte {
	mac := func(key []byte, data string) []byte {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(data))
		return m.Sum(nil)
	}
	key := mac([]byte("AWS4"+secret), date)
	key = mac(key, region)
	key = mac(key, service)
	key = mac(key, "aws4_request")
	return mac(key, policy)
}

// headerFields are the form fields sent on as headers of the PUT: the
// object's metadata and encryption; the signature fields are not.
func headerField(name string) bool {
	switch name {
	case "x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-signature", "x-amz-security-token":
		return false
	}
	return strings.HasPrefix(name, "x-amz-") || name == "content-type" || name == "content-disposition" ||
		name == "content-encoding" || name == "cache-control" || name == "expires"
}

// store writes the file with a PUT to the emulator and returns its ETag.
func (h *handler) store(r *http.Request, bucket, key string, f *form) (string, *s3Error) {
	if key == "" || len(key) > 1024 {
		return "", &s3Error{http.StatusBadRequest, "KeyTooLongError", "Your key is too long"}
	}
	target := "/" + url.PathEscape(bucket) + "/" + escapeKey(key)
	put, err := http.NewRequestWithContext(r.Context(), http.MethodPut, target, bytes.NewReader(f.file))
	if err != nil {
		return "", &s3Error{http.StatusBadRequest, "InvalidArgument", "The key cannot be stored."}
	}
	put.Host = r.Host
	put.ContentLength = int64(len(f.file))
	put.Header.Set("Content-Length", strconv.Itoa(len(f.file)))
	for _, name := range f.names {
		if headerField(name) {
			put.Header.Set(name, f.values[name])
		}
	}
	rec := httptest.NewRecorder()
	h.next.ServeHTTP(rec, put)
	if rec.Code/100 != 2 {
		return "", &s3Error{rec.Code, "InternalError", "The emulator refused to store the object: " + strings.TrimSpace(rec.Body.String())}
	}
	return rec.Header().Get("ETag"), nil
}

// escapeKey escapes a key for a path, keeping its slashes.
func escapeKey(key string) string {
	parts := strings.Split(key, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}
