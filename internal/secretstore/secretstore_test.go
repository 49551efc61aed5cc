package secretstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"dsrflow/internal/secretstore"
)

// fakeSM speaks Secrets Manager's JSON protocol (GetSecretValue only), so
// the real SDK client is exercised.
type fakeSM struct {
	mu     sync.Mutex
	values map[string]string
	down   bool
	calls  atomic.Int32
}

func (f *fakeSM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.calls.Add(1)
	if r.Header.Get("X-Amz-Target") != "secretsmanager.GetSecretValue" {
		http.Error(w, "unsupported", http.StatusBadRequest)
		return
	}
	var in struct{ SecretId string }
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	v, ok := f.values[in.SecretId]
	down := f.down
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	switch {
	case down:
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"__type":"InternalServiceError","message":"down"}`))
	case !ok:
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"__type":"ResourceNotFoundException","message":"Secrets Manager can't find the specified secret."}`))
	default:
		_ = json.NewEncoder(w).Encode(map[string]any{"ARN": in.SecretId, "Name": in.SecretId, "SecretString": v, "VersionId": "v1"})
	}
}

func (f *fakeSM) set(id, v string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.values[id] = v
}

func newManager(t *testing.T, f *fakeSM, clock func() time.Time) *secretstore.Manager {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	client := secretsmanager.New(secretsmanager.Options{
		Region: "cn-north-1", BaseEndpoint: aws.String(srv.URL),
		Credentials:      credentials.NewStaticCredentialsProvider("k", "s", ""),
		RetryMaxAttempts: 1,
	})
	m, err := secretstore.New(secretstore.Config{Refresh: time.Minute}, secretstore.Deps{Client: client, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestManager(t *testing.T) {
	ctx := context.Background()
	f := &fakeSM{values: map[string]string{
		"dsrflow/app":   `{"SUBJECT_KEY_SECRET":"subject-0123456789abcdef0123456789abcdef","n":1}`,
		"dsrflow/plain": "plain-value",
	}}
	now := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	m := newManager(t, f, clock)

	tests := []struct {
		name, secret, want string
		wantErr            error
		wantErrText        string
	}{
		{name: "whole value", secret: "dsrflow/plain", want: "plain-value"},
		{name: "json key", secret: "dsrflow/app#SUBJECT_KEY_SECRET", want: "subject-0123456789abcdef0123456789abcdef"},
		{name: "missing key", secret: "dsrflow/app#NOPE", wantErr: secretstore.ErrNotFound},
		{name: "non-string key", secret: "dsrflow/app#n", wantErrText: "not a non-empty string"},
		{name: "not json", secret: "dsrflow/plain#KEY", wantErrText: "not a JSON object"},
		{name: "missing secret", secret: "dsrflow/none", wantErr: secretstore.ErrNotFound},
		{name: "empty key", secret: "dsrflow/app#", wantErrText: "empty key"},
		{name: "control character", secret: "dsrflow/app\n", wantErrText: "control"},
		{name: "empty", secret: "", wantErrText: "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := m.Secret(ctx, tt.secret)
			switch {
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("Secret(%q) = %q, %v; want %v", tt.secret, got, err, tt.wantErr)
				}
			case tt.wantErrText != "":
				if err == nil || !strings.Contains(err.Error(), tt.wantErrText) {
					t.Errorf("Secret(%q) = %q, %v; want an error containing %q", tt.secret, got, err, tt.wantErrText)
				}
			case err != nil || string(got) != tt.want:
				t.Errorf("Secret(%q) = %q, %v; want %q", tt.secret, got, err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), "subject-0123") {
				t.Errorf("error %q carries the secret's value", err)
			}
		})
	}

	// Cached: a second read within the refresh period asks nobody.
	calls := f.calls.Load()
	if _, err := m.Secret(ctx, "dsrflow/plain"); err != nil {
		t.Fatal(err)
	}
	if f.calls.Load() != calls {
		t.Errorf("a cached read called Secrets Manager")
	}
	// Rotation is picked up after the refresh period, without a restart.
	f.set("dsrflow/plain", "rotated")
	if v, _ := m.Secret(ctx, "dsrflow/plain"); string(v) != "plain-value" {
		t.Errorf("before refresh = %q, want the cached value", v)
	}
	advance(61 * time.Second)
	if v, err := m.Secret(ctx, "dsrflow/plain"); err != nil || string(v) != "rotated" {
		t.Errorf("after refresh = %q, %v; want rotated", v, err)
	}
	// An outage serves the last value for one more period, then fails.
	f.mu.Lock()
	f.down = true
	f.mu.Unlock()
	advance(61 * time.Second)
	if v, err := m.Secret(ctx, "dsrflow/plain"); err != nil || string(v) != "rotated" {
		t.Errorf("during a short outage = %q, %v; want the last value", v, err)
	}
	advance(2 * time.Minute)
	if _, err := m.Secret(ctx, "dsrflow/plain"); err == nil {
		t.Error("a long outage still served the cached value")
	}
}

func TestManagerConcurrentReadsOnce(t *testing.T) {
	f := &fakeSM{values: map[string]string{"s": "v"}}
	m := newManager(t, f, time.Now)
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if v, err := m.Secret(context.Background(), "s"); err != nil || string(v) != "v" {
				t.Errorf("Secret = %q, %v", v, err)
			}
		}()
	}
	wg.Wait()
	if n := f.calls.Load(); n != 1 {
		t.Errorf("%d GetSecretValue calls for 20 concurrent reads, want 1", n)
	}
}

func TestDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "smtp"), []byte("pa55word\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "aliyun"), []byte(`{"AccessKeyId":"id"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	d := secretstore.Dir{Path: dir}
	tests := []struct {
		name, secret, want string
		wantErr            bool
	}{
		{name: "file, newline trimmed", secret: "smtp", want: "pa55word"},
		{name: "json key", secret: "aliyun#AccessKeyId", want: "id"},
		{name: "missing", secret: "nope", wantErr: true},
		{name: "traversal", secret: "../smtp", wantErr: true},
		{name: "dot", secret: ".", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := d.Secret(context.Background(), tt.secret)
			if (err != nil) != tt.wantErr || (!tt.wantErr && string(got) != tt.want) {
				t.Errorf("Secret(%q) = %q, %v; want %q (error %v)", tt.secret, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// TestRead: an empty name reads nothing; a short value and a missing
// secret are errors that name the variable and the secret, not the value.
func TestRead(t *testing.T) {
	src := secretstore.Static{"long": []byte("0123456789abcdef0123456789abcdef"), "short": []byte("hunter2")}
	tests := []struct {
		name, secret string
		want         string
		wantErr      []string
	}{
		{name: "unset", secret: ""},
		{name: "long enough", secret: "long", want: "0123456789abcdef0123456789abcdef"},
		{name: "short", secret: "short", wantErr: []string{"X_SECRET_ID", "short", "shorter than 32"}},
		{name: "missing", secret: "gone", wantErr: []string{"X_SECRET_ID", "gone"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := secretstore.Read(context.Background(), src, "X_SECRET_ID", tt.secret, 32)
			if string(got) != tt.want || (err != nil) != (tt.wantErr != nil) {
				t.Fatalf("Read(%q) = %q, %v; want %q (error %v)", tt.secret, got, err, tt.want, tt.wantErr)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if err != nil && strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error quotes the secret: %v", err)
			}
		})
	}
	if _, ok := secretstore.Open(aws.Config{}, t.TempDir()).(secretstore.Dir); !ok {
		t.Error("Open with a folder is not a Dir")
	}
	if _, ok := secretstore.Open(aws.Config{}, "").(*secretstore.Manager); !ok {
		t.Error("Open without a folder is not a Secrets Manager reader")
	}
}

func FuzzSplitName(f *testing.F) {
	for _, s := range []string{"a", "a#b", "#b", "a#", "arn:aws-cn:secretsmanager:cn-north-1:1:secret:x-AbCdEf#K", "a\x00b", strings.Repeat("x", 3000)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		id, key, err := secretstore.SplitName(name)
		if err != nil {
			return
		}
		if id == "" || strings.ContainsAny(id+key, " \t\r\n\x00") {
			t.Errorf("SplitName(%q) = %q, %q accepted", name, id, key)
		}
		if key != "" && id+"#"+key != name {
			t.Errorf("SplitName(%q) = %q, %q: does not rebuild the name", name, id, key)
		}
	})
}
