package s3post

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// fuzzNow is the fuzz handler's clock; fuzzPolicy expires after it.
var fuzzNow = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

const fuzzPolicy = `{"expiration":"2026-03-02T10:00:00Z","conditions":[{"bucket":"uploads"},` +
	`["content-length-range",1,64],{"Content-Type":"application/pdf"},["starts-with","$key","uploads/"],` +
	`{"X-Amz-Algorithm":"AWS4-HMAC-SHA256"},{"X-Amz-Credential":"AKIDLOCAL/20260302/cn-north-1/s3/aws4_request"},` +
	`{"X-Amz-Date":"20260302T090000Z"}]}`

// signedPost is a valid post of fuzzPolicy: fields, then the file.
func signedPost(file []byte) (body []byte, contentType string) {
	p := base64.StdEncoding.EncodeToString([]byte(fuzzPolicy))
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	_ = mw.SetBoundary("fuzzboundary")
	for _, kv := range [][2]string{
		{"key", "uploads/a"}, {"Content-Type", "application/pdf"}, {"policy", p},
		{"X-Amz-Algorithm", "AWS4-HMAC-SHA256"}, {"X-Amz-Credential", "AKIDLOCAL/20260302/cn-north-1/s3/aws4_request"},
		{"X-Amz-Date", "20260302T090000Z"}, {"X-Amz-Signature", hex.EncodeToString(signature(testSecret, "20260302", "cn-north-1", "s3", p))},
	} {
		_ = mw.WriteField(kv[0], kv[1])
	}
	fw, _ := mw.CreateFormFile("file", "a.pdf")
	_, _ = fw.Write(file)
	_ = mw.Close()
	return b.Bytes(), mw.FormDataContentType()
}

func FuzzParsePolicy(f *testing.F) {
	f.Add([]byte(fuzzPolicy))
	f.Add([]byte(`{"expiration":"2026-03-02T10:00:00.000Z","conditions":[["eq","$key","k"],["content-length-range",0,0]]}`))
	f.Add([]byte(`{"expiration":"x","conditions":[]}`))
	f.Add([]byte(`{"conditions":[{"a":"b","c":"d"}]}`))
	f.Add([]byte(`{"expiration":"2026-03-02T10:00:00Z","conditions":[["content-length-range",5,1],[1,2,3],"x"]}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		p, err := ParsePolicy(doc)
		if err != nil {
			if !errors.Is(err, ErrPolicy) {
				t.Fatalf("error %v does not wrap ErrPolicy", err)
			}
			return
		}
		if len(doc) > MaxPolicyBytes || len(p.Conditions) > MaxConditions {
			t.Fatalf("accepted a policy over the limits: %d bytes, %d conditions", len(doc), len(p.Conditions))
		}
		for _, c := range p.Conditions {
			switch c.Op {
			case OpRange:
				if c.Min < 0 || c.Max < c.Min {
					t.Fatalf("range %d..%d accepted", c.Min, c.Max)
				}
			case OpEq, OpStartsWith:
				if c.Field == "" {
					t.Fatal("a condition without a field")
				}
			default:
				t.Fatalf("operator %q accepted", c.Op)
			}
		}
	})
}

// FuzzPost: any body answers an S3 status, and nothing reaches the store
// unless the post carries a valid signature and holds to its policy.
func FuzzPost(f *testing.F) {
	valid, ct := signedPost([]byte("%PDF-1.7 fuzz"))
	f.Add(valid, ct)
	f.Add(valid[:len(valid)/2], ct)
	f.Add(bytes.Replace(valid, []byte("application/pdf"), []byte("text/html"), 1), ct)
	f.Add([]byte("--fuzzboundary\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nx\r\n--fuzzboundary--\r\n"), ct)
	f.Add([]byte("not multipart"), "multipart/form-data")
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		stored, passed := 0, 0
		next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.Method {
			case http.MethodPut:
				stored++
			case http.MethodPost:
				passed++
			}
			w.Header().Set("ETag", `"e"`)
		})
		h := Wrap(next, Options{AccessKeyID: testAccessKey, SecretAccessKey: testSecret, Region: "cn-north-1",
			Clock: func() time.Time { return fuzzNow }, MaxBody: 4096})
		req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:9000/uploads", bytes.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if _, ok := browserPost(req); !ok {
			// Not a browser upload: the emulator gets it as it is.
			if passed != 1 || stored != 0 {
				t.Fatalf("a post that is not an upload: %d passed on, %d stored", passed, stored)
			}
			return
		}
		switch rec.Code {
		case http.StatusOK, http.StatusNoContent, http.StatusCreated, http.StatusSeeOther:
			if stored != 1 {
				t.Fatalf("status %d with %d stores", rec.Code, stored)
			}
		case http.StatusBadRequest, http.StatusForbidden, http.StatusRequestEntityTooLarge:
			if stored != 0 {
				t.Fatalf("refused with %d but stored", rec.Code)
			}
		default:
			t.Fatalf("status %d", rec.Code)
		}
		if stored == 1 && !bytes.Contains(body, []byte(hex.EncodeToString(signature(testSecret, "20260302", "cn-north-1", "s3", base64.StdEncoding.EncodeToString([]byte(fuzzPolicy)))))) {
			t.Fatal("stored a post without the valid signature")
		}
	})
}
