package awsenv

import (
	"context"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
)

func lookupIn(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}
}

func TestFromLookupErrors(t *testing.T) {
	keys := map[string]string{"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "s3cr3t-value"}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{"AWS_REGION": "cn-north-1"}
		for k, v := range keys {
			m[k] = v
		}
		for k, v := range extra {
			if v == "" {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
		return m
	}
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"no region", with(map[string]string{"AWS_REGION": ""}), "AWS_REGION is not set"},
		{"id without secret", with(map[string]string{"AWS_SECRET_ACCESS_KEY": ""}), "must be set together"},
		{"secret without id", with(map[string]string{"AWS_ACCESS_KEY_ID": ""}), "must be set together"},
		{"plain http full uri to a remote host", with(map[string]string{"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://creds.example.com/x?tok=s3cr3t-value"}), "want https"},
		{"relative full uri", with(map[string]string{"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_CONTAINER_CREDENTIALS_FULL_URI": "/creds"}), "not an absolute URL"},
		{"bad max attempts", with(map[string]string{"AWS_MAX_ATTEMPTS": "0"}), "AWS_MAX_ATTEMPTS"},
		{"bad retry mode", with(map[string]string{"AWS_RETRY_MODE": "s3cr3t-value"}), "AWS_RETRY_MODE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := FromLookup(lookupIn(tt.env))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to say %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Fatalf("the error quotes a value: %v", err)
			}
		})
	}
}

// Without credentials the configuration loads; a signed call fails and
// says what to set.
func TestNoCredentials(t *testing.T) {
	cfg, err := FromLookup(lookupIn(map[string]string{"AWS_REGION": "cn-north-1", "AWS_ENDPOINT_URL": "http://127.0.0.1:1", "AWS_MAX_ATTEMPTS": "1"}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = dynamodb.NewFromConfig(cfg).ListTables(context.Background(), &dynamodb.ListTablesInput{})
	if !errors.Is(err, errNoCredentials) {
		t.Fatalf("err = %v, want errNoCredentials", err)
	}
}

func TestFromLookupSettings(t *testing.T) {
	cfg, err := FromLookup(lookupIn(map[string]string{
		"AWS_DEFAULT_REGION": "cn-northwest-1", "AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_SESSION_TOKEN": "tok",
		"AWS_MAX_ATTEMPTS": "1", "AWS_RETRY_MODE": "adaptive",
		"AWS_ENDPOINT_URL": "http://127.0.0.1:1", "AWS_ENDPOINT_URL_SFN": "http://127.0.0.1:2",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Region != "cn-northwest-1" || cfg.RetryMaxAttempts != 1 || cfg.RetryMode != aws.RetryModeAdaptive {
		t.Fatalf("region %q attempts %d mode %q", cfg.Region, cfg.RetryMaxAttempts, cfg.RetryMode)
	}
	creds, err := cfg.Credentials.Retrieve(context.Background())
	if err != nil || creds.AccessKeyID != "AKID" || creds.SecretAccessKey != "secret" || creds.SessionToken != "tok" {
		t.Fatalf("credentials %+v, %v", creds, err)
	}
	// The general endpoint applies to a service without its own; a
	// service's own variable wins, as in the SDK's default chain.
	if got := aws.ToString(dynamodb.NewFromConfig(cfg).Options().BaseEndpoint); got != "http://127.0.0.1:1" {
		t.Errorf("DynamoDB endpoint %q", got)
	}
	if got := aws.ToString(sfn.NewFromConfig(cfg).Options().BaseEndpoint); got != "http://127.0.0.1:2" {
		t.Errorf("Step Functions endpoint %q", got)
	}
}

// recorder is a stand-in AWS service that keeps the requests' signatures.
type recorder struct {
	mu    sync.Mutex
	auths []string
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.auths = append(r.auths, req.Header.Get("Authorization"))
	r.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	_, _ = w.Write([]byte(`{"TableNames":[]}`))
}

func (r *recorder) last(t *testing.T) string {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.auths) == 0 {
		t.Fatal("no request reached the service")
	}
	return r.auths[len(r.auths)-1]
}

// TestRequestsAreSignedAndRouted makes real SDK calls through the
// configuration: each reaches its own endpoint, signed for the region with
// the environment's keys or with the container endpoint's credentials.
func TestRequestsAreSignedAndRouted(t *testing.T) {
	ddb := &recorder{}
	ddbSrv := httptest.NewServer(ddb)
	defer ddbSrv.Close()

	var gotToken string
	creds := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotToken = r.Header.Get("Authorization")
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"AccessKeyId":"ASIACONTAINER","SecretAccessKey":"x","Token":"y","Expiration":"2099-01-01T00:00:00Z"}`))
	}))
	defer creds.Close()
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("file-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name      string
		env       map[string]string
		wantKey   string
		wantToken string
	}{
		{"environment keys", map[string]string{"AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "x"}, "AKIDENV", ""},
		{"container endpoint with a token", map[string]string{"AWS_CONTAINER_CREDENTIALS_FULL_URI": creds.URL, "AWS_CONTAINER_AUTHORIZATION_TOKEN": "plain-token"}, "ASIACONTAINER", "plain-token"},
		{"container endpoint with a token file", map[string]string{"AWS_CONTAINER_CREDENTIALS_FULL_URI": creds.URL, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": tokenFile}, "ASIACONTAINER", "file-token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"AWS_REGION": "cn-north-1", "AWS_ENDPOINT_URL_DYNAMODB": ddbSrv.URL, "AWS_MAX_ATTEMPTS": "1"}
			for k, v := range tt.env {
				env[k] = v
			}
			gotToken = ""
			cfg, err := FromLookup(lookupIn(env))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := dynamodb.NewFromConfig(cfg).ListTables(context.Background(), &dynamodb.ListTablesInput{}); err != nil {
				t.Fatal(err)
			}
			auth := ddb.last(t)
			if !strings.Contains(auth, "Credential="+tt.wantKey+"/") || !strings.Contains(auth, "/cn-north-1/dynamodb/aws4_request") {
				t.Errorf("Authorization %q, want key %s in cn-north-1", auth, tt.wantKey)
			}
			if gotToken != tt.wantToken {
				t.Errorf("credentials endpoint saw token %q, want %q", gotToken, tt.wantToken)
			}
		})
	}
}

func TestCredentialsEndpointHosts(t *testing.T) {
	for raw, ok := range map[string]bool{
		"https://creds.example.com/v1":   true,
		"http://127.0.0.1:9000/creds":    true,
		"http://localhost/creds":         true,
		"http://169.254.170.23/v1/creds": true,
		"http://[fd00:ec2::23]/v1":       true,
		"http://[::1]:80/x":              true,
		"http://10.0.0.1/creds":          false,
		"ftp://127.0.0.1/creds":          false,
	} {
		if err := checkCredentialsEndpoint(raw); (err == nil) != ok {
			t.Errorf("%s: err = %v, want allowed %v", raw, err, ok)
		}
	}
}

// The SDK's presigner and S3 client read the same configuration.
func TestS3Endpoint(t *testing.T) {
	cfg, err := FromLookup(lookupIn(map[string]string{"AWS_REGION": "cn-north-1", "AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b", "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:3"}))
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(s3.NewFromConfig(cfg).Options().BaseEndpoint); got != "http://127.0.0.1:3" {
		t.Errorf("S3 endpoint %q", got)
	}
}

// TestCABundle calls a TLS service whose certificate only AWS_CA_BUNDLE
// vouches for: the call fails without the bundle and succeeds with it.
func TestCABundle(t *testing.T) {
	ddb := &recorder{}
	srv := httptest.NewTLSServer(ddb)
	defer srv.Close()
	bundle := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(bundle, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"AWS_REGION": "cn-north-1", "AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b", "AWS_ENDPOINT_URL": srv.URL, "AWS_MAX_ATTEMPTS": "1"}
	call := func() error {
		cfg, err := FromLookup(lookupIn(env))
		if err != nil {
			t.Fatal(err)
		}
		_, err = dynamodb.NewFromConfig(cfg).ListTables(context.Background(), &dynamodb.ListTablesInput{})
		return err
	}
	if err := call(); err == nil {
		t.Fatal("a call to an untrusted certificate succeeded")
	}
	env["AWS_CA_BUNDLE"] = bundle
	if err := call(); err != nil {
		t.Fatalf("with the bundle: %v", err)
	}
	env["AWS_CA_BUNDLE"] = filepath.Join(t.TempDir(), "missing.pem")
	if _, err := FromLookup(lookupIn(env)); err == nil {
		t.Fatal("a missing bundle was accepted")
	}
}
