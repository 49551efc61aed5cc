package awsenv

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/ses"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// clearAWSEnv unsets every AWS_ variable for the test and points the SDK's
// shared files at nothing, so that both loaders see only what a case sets.
// IMDS is off for the SDK: Lambda has none, and a test may not reach its
// address.
func clearAWSEnv(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "AWS_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	dir := t.TempDir()
	t.Setenv("HOME", dir)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "no-config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "no-credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// credsServer is a container credentials endpoint. Its paths: /creds
// (credentials valid until 2099), /soon (expiring in two minutes, inside
// the SDK's five-minute refresh window) and /account (with an account ID).
type credsServer struct {
	*httptest.Server
	mu    sync.Mutex
	auths []string
}

func newCredsServer(t *testing.T, tls bool) *credsServer {
	s := &credsServer{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.auths = append(s.auths, r.Header.Get("Authorization"))
		s.mu.Unlock()
		body := map[string]string{"AccessKeyId": "ASIACONTAINER", "SecretAccessKey": "container-secret", "Token": "container-token", "Expiration": "2099-01-01T00:00:00Z"}
		switch r.URL.Path {
		case "/creds":
		case "/soon":
			body["Expiration"] = time.Now().Add(2 * time.Minute).UTC().Format(time.RFC3339)
		case "/account":
			body["AccountId"] = "444455556666"
		default:
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(body)
	})
	s.Server = quietServer(h, tls)
	t.Cleanup(s.Close)
	return s
}

func (s *credsServer) takeAuths() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.auths
	s.auths = nil
	return a
}

// quietServer starts an httptest server that does not log the TLS
// handshakes the untrusting clients break off.
func quietServer(h http.Handler, withTLS bool) *httptest.Server {
	s := httptest.NewUnstartedServer(h)
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	if withTLS {
		s.StartTLS()
	} else {
		s.Start()
	}
	return s
}

// fixtures are the servers and files the cases' environments refer to.
type fixtures struct {
	creds, tlsCreds        *credsServer
	tlsService             *httptest.Server // a DynamoDB stand-in over TLS
	bundle, notPEM, tokens string
	tokenNL                string
}

func newFixtures(t *testing.T) *fixtures {
	fx := &fixtures{creds: newCredsServer(t, false), tlsCreds: newCredsServer(t, true)}
	fx.tlsService = quietServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := []byte(`{"TableNames":[]}`)
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.Header().Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE(body)), 10))
		_, _ = w.Write(body)
	}), true)
	t.Cleanup(fx.tlsService.Close)
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// The bundle vouches for both TLS servers' certificate (httptest uses one).
	fx.bundle = write("ca.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: fx.tlsService.Certificate().Raw})))
	fx.notPEM = write("not.pem", "not a certificate\n")
	fx.tokens = write("token", "file-token")
	fx.tokenNL = write("token-nl", "file-token\n")
	return fx
}

// outcome is what a configuration resolves to, as the SDK's clients use it.
type outcome struct {
	LoadFailed bool
	Region     string
	Logger     string
	// Credentials as retrieved twice (the second from the cache or, inside
	// the refresh window, from the endpoint again), or the failure.
	Credentials      aws.Credentials
	CredentialsError bool
	Refetched        bool
	// EndpointAuths is what the container credentials endpoint received
	// for the two retrievals.
	EndpointAuths []string
	// Requests maps a service to the URL its client sends a call to and
	// the credential scope it signs with, or to why it could not.
	Requests map[string]string
	// Retry settings of the configuration and of a client built from it.
	RetryMaxAttempts  int
	RetryMode         aws.RetryMode
	ClientMaxAttempts int
	Retryer           string
	// TLSCall is the result of a DynamoDB call to the TLS stand-in, for
	// the cases about AWS_CA_BUNDLE.
	TLSCall string
}

// errCaptured stops a call once its request is built and signed.
type errCaptured struct{ url, scope string }

func (e *errCaptured) Error() string { return "captured " + e.url }

// captureRequest is a client option that records the request instead of
// sending it.
func captureRequest(stack *middleware.Stack) error {
	return stack.Deserialize.Add(middleware.DeserializeMiddlewareFunc("awsenvCapture",
		func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
			req, ok := in.Request.(*smithyhttp.Request)
			if !ok {
				return middleware.DeserializeOutput{}, middleware.Metadata{}, errors.New("not an HTTP request")
			}
			u := *req.URL
			u.RawQuery = ""
			scope := req.Header.Get("Authorization")
			if _, after, ok := strings.Cut(scope, "Credential="); ok {
				scope, _, _ = strings.Cut(after, ",")
				// key/date/region/service/aws4_request: drop the date.
				if parts := strings.Split(scope, "/"); len(parts) == 5 {
					scope = parts[0] + "/" + parts[2] + "/" + parts[3]
				}
			}
			return middleware.DeserializeOutput{}, middleware.Metadata{}, &errCaptured{url: u.String(), scope: scope}
		}), middleware.After)
}

// requests builds each service's client from cfg and records the call it
// would make.
func requests(ctx context.Context, cfg aws.Config) map[string]string {
	got := map[string]string{}
	record := func(service string, err error) {
		var c *errCaptured
		switch {
		case errors.As(err, &c):
			got[service] = c.url + " " + c.scope
		case err == nil:
			got[service] = "sent without capture"
		default:
			got[service] = "failed"
		}
	}
	add := func(stack *[]func(*middleware.Stack) error) { *stack = append(*stack, captureRequest) }
	_, err := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { add(&o.APIOptions) }).ListTables(ctx, &dynamodb.ListTablesInput{})
	record("dynamodb", err)
	_, err = sfn.NewFromConfig(cfg, func(o *sfn.Options) { add(&o.APIOptions) }).ListStateMachines(ctx, &sfn.ListStateMachinesInput{})
	record("sfn", err)
	_, err = s3.NewFromConfig(cfg, func(o *s3.Options) { add(&o.APIOptions) }).ListBuckets(ctx, &s3.ListBucketsInput{})
	record("s3", err)
	_, err = ses.NewFromConfig(cfg, func(o *ses.Options) { add(&o.APIOptions) }).ListIdentities(ctx, &ses.ListIdentitiesInput{})
	record("ses", err)
	return got
}

func resolve(t *testing.T, load func(context.Context) (aws.Config, error), fx *fixtures, tlsCall bool) outcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	fx.creds.takeAuths()
	fx.tlsCreds.takeAuths()
	cfg, err := load(ctx)
	if err != nil {
		return outcome{LoadFailed: true}
	}
	o := outcome{Region: cfg.Region, Logger: fmt.Sprintf("%T", cfg.Logger), RetryMaxAttempts: cfg.RetryMaxAttempts, RetryMode: cfg.RetryMode}
	c1, err1 := cfg.Credentials.Retrieve(ctx)
	c2, err2 := cfg.Credentials.Retrieve(ctx)
	o.Credentials, o.CredentialsError = c1, err1 != nil || err2 != nil
	o.EndpointAuths = append(fx.creds.takeAuths(), fx.tlsCreds.takeAuths()...)
	o.Refetched = len(o.EndpointAuths) > 1 || (err2 == nil && c2 != c1)
	o.Requests = requests(ctx, cfg)
	opts := dynamodb.NewFromConfig(cfg).Options()
	o.ClientMaxAttempts, o.Retryer = opts.Retryer.MaxAttempts(), fmt.Sprintf("%T", opts.Retryer)
	if tlsCall {
		_, err := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
			o.BaseEndpoint = aws.String(fx.tlsService.URL)
			o.RetryMaxAttempts = 1
		}).ListTables(ctx, &dynamodb.ListTablesInput{})
		o.TLSCall = "ok"
		if err != nil {
			o.TLSCall = "failed"
		}
	}
	return o
}

// TestMatchesLoadDefaultConfig is the differential test: for each
// environment, as Lambda (or an operator, for the endpoint, retry and CA
// settings) sets it, Load and config.LoadDefaultConfig must resolve the same
// region, credentials (and what the credentials endpoint is sent), request
// URLs and signing scopes for every client the functions use, retry
// settings and trusted CAs.
func TestMatchesLoadDefaultConfig(t *testing.T) {
	fx := newFixtures(t)
	keys := map[string]string{
		"AWS_REGION": "cn-north-1", "AWS_DEFAULT_REGION": "cn-north-1",
		"AWS_ACCESS_KEY_ID": "ASIALAMBDA", "AWS_ACCESS_KEY": "ASIALAMBDA",
		"AWS_SECRET_ACCESS_KEY": "lambda-secret", "AWS_SESSION_TOKEN": "lambda-token",
	}
	with := func(base map[string]string, kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "-" {
				delete(m, kv[i])
			} else {
				m[kv[i]] = kv[i+1]
			}
		}
		return m
	}
	region := map[string]string{"AWS_REGION": "cn-northwest-1"}
	container := func(path string) map[string]string {
		return with(region, "AWS_CONTAINER_CREDENTIALS_FULL_URI", fx.creds.URL+path, "AWS_CONTAINER_AUTHORIZATION_TOKEN", "plain-token")
	}
	localhostURL := strings.Replace(fx.creds.URL, "127.0.0.1", "localhost", 1)

	tests := []struct {
		name string
		env  map[string]string
		// tlsCall: also call the TLS stand-in (the CA bundle cases).
		tlsCall bool
		// bothFail: Load rejects what LoadDefaultConfig accepts and then
		// fails on; only require that neither configuration works.
		bothFail bool
		// want checks the outcome is the case's point, not merely equal.
		want func(outcome) bool
	}{
		{name: "Lambda execution role keys", env: keys,
			want: func(o outcome) bool { return o.Credentials.SessionToken == "lambda-token" }},
		{name: "keys and AWS_ACCOUNT_ID in us-east-1 (account-based DynamoDB endpoint)",
			env:  with(keys, "AWS_REGION", "us-east-1", "AWS_DEFAULT_REGION", "-", "AWS_ACCOUNT_ID", "111122223333"),
			want: func(o outcome) bool { return strings.Contains(o.Requests["dynamodb"], "111122223333.ddb.us-east-1") }},
		{name: "AWS_DEFAULT_REGION alone", env: with(keys, "AWS_REGION", "-"),
			want: func(o outcome) bool { return o.Region == "cn-north-1" }},
		{name: "AWS_REGION wins over AWS_DEFAULT_REGION", env: with(keys, "AWS_REGION", "cn-northwest-1"),
			want: func(o outcome) bool { return o.Region == "cn-northwest-1" }},
		{name: "no region", env: with(keys, "AWS_REGION", "-", "AWS_DEFAULT_REGION", "-"),
			want: func(o outcome) bool { return o.Region == "" && o.Requests["dynamodb"] == "failed" }},
		{name: "AWS_ACCESS_KEY and AWS_SECRET_KEY aliases",
			env:  with(region, "AWS_ACCESS_KEY", "AKIDALIAS", "AWS_SECRET_KEY", "alias-secret"),
			want: func(o outcome) bool { return o.Credentials.AccessKeyID == "AKIDALIAS" }},
		{name: "key id without secret and nothing else", env: with(region, "AWS_ACCESS_KEY_ID", "AKIDALONE"),
			want: func(o outcome) bool { return o.CredentialsError && o.Requests["sfn"] == "failed" }},
		{name: "key id without secret falls through to the container endpoint",
			env:  with(container("/creds"), "AWS_ACCESS_KEY_ID", "AKIDALONE"),
			want: func(o outcome) bool { return o.Credentials.AccessKeyID == "ASIACONTAINER" }},
		{name: "keys win over the container endpoint", env: with(container("/creds"), "AWS_ACCESS_KEY_ID", "AKIDENV", "AWS_SECRET_ACCESS_KEY", "x"),
			want: func(o outcome) bool { return o.Credentials.AccessKeyID == "AKIDENV" && len(o.EndpointAuths) == 0 }},
		{name: "container endpoint with a token", env: container("/creds"),
			want: func(o outcome) bool {
				return o.Credentials.SessionToken == "container-token" && reflect.DeepEqual(o.EndpointAuths, []string{"plain-token"})
			}},
		{name: "container endpoint with a token file", env: with(container("/creds"), "AWS_CONTAINER_AUTHORIZATION_TOKEN", "-", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", fx.tokens),
			want: func(o outcome) bool { return reflect.DeepEqual(o.EndpointAuths, []string{"file-token"}) }},
		{name: "the token file wins over the token", env: with(container("/creds"), "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", fx.tokens),
			want: func(o outcome) bool { return reflect.DeepEqual(o.EndpointAuths, []string{"file-token"}) }},
		{name: "a token file ending in a newline is sent as it is (and refused by net/http)",
			env:  with(container("/creds"), "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", fx.tokenNL, "AWS_MAX_ATTEMPTS", "1"),
			want: func(o outcome) bool { return o.CredentialsError }},
		{name: "container endpoint at localhost", env: with(container("/creds"), "AWS_CONTAINER_CREDENTIALS_FULL_URI", localhostURL+"/creds"),
			want: func(o outcome) bool { return o.Credentials.AccessKeyID == "ASIACONTAINER" }},
		{name: "container credentials inside the refresh window are fetched again", env: container("/soon"),
			want: func(o outcome) bool { return o.Refetched && len(o.EndpointAuths) == 2 }},
		{name: "container credentials with an account ID (account-based DynamoDB endpoint)", env: with(container("/account"), "AWS_REGION", "us-east-1"),
			want: func(o outcome) bool { return strings.Contains(o.Requests["dynamodb"], "444455556666.ddb.us-east-1") }},
		{name: "plain http to a remote credentials host is refused", env: with(container("/creds"), "AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://10.0.0.1/creds"),
			want: func(o outcome) bool { return o.LoadFailed }},
		{name: "a credentials URI without a host is refused", env: with(container("/creds"), "AWS_CONTAINER_CREDENTIALS_FULL_URI", "/creds"),
			want: func(o outcome) bool { return o.LoadFailed }},
		{name: "https credentials endpoint: AWS_CA_BUNDLE is not used for it",
			env:  with(container("/creds"), "AWS_CONTAINER_CREDENTIALS_FULL_URI", fx.tlsCreds.URL+"/creds", "AWS_CA_BUNDLE", fx.bundle),
			want: func(o outcome) bool { return o.CredentialsError }},
		{name: "AWS_ENDPOINT_URL for every service", env: with(keys, "AWS_ENDPOINT_URL", "http://127.0.0.1:4566"),
			want: func(o outcome) bool { return strings.HasPrefix(o.Requests["ses"], "http://127.0.0.1:4566") }},
		{name: "AWS_ENDPOINT_URL_<SERVICE> for some", env: with(keys, "AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:8000", "AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9000"),
			want: func(o outcome) bool {
				return strings.HasPrefix(o.Requests["dynamodb"], "http://127.0.0.1:8000") && strings.Contains(o.Requests["sfn"], "amazonaws.com.cn")
			}},
		{name: "a service's own endpoint wins over AWS_ENDPOINT_URL",
			env: with(keys, "AWS_ENDPOINT_URL", "http://127.0.0.1:4566", "AWS_ENDPOINT_URL_SFN", "http://127.0.0.1:8083", "AWS_ENDPOINT_URL_SES", "http://127.0.0.1:8025"),
			want: func(o outcome) bool {
				return strings.HasPrefix(o.Requests["sfn"], "http://127.0.0.1:8083") && strings.HasPrefix(o.Requests["dynamodb"], "http://127.0.0.1:4566")
			}},
		{name: "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", env: with(keys, "AWS_ENDPOINT_URL", "http://127.0.0.1:4566", "AWS_ENDPOINT_URL_SFN", "http://127.0.0.1:8083", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "TRUE"),
			want: func(o outcome) bool { return strings.Contains(o.Requests["sfn"], "amazonaws.com.cn") }},
		{name: "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS not a boolean", env: with(keys, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "yes"),
			want: func(o outcome) bool { return o.LoadFailed }},
		{name: "one attempt, standard mode", env: with(keys, "AWS_MAX_ATTEMPTS", "1", "AWS_RETRY_MODE", "standard"),
			want: func(o outcome) bool { return o.ClientMaxAttempts == 1 }},
		{name: "five attempts, adaptive mode", env: with(keys, "AWS_MAX_ATTEMPTS", "5", "AWS_RETRY_MODE", "adaptive"),
			want: func(o outcome) bool { return o.ClientMaxAttempts == 5 && o.RetryMode == aws.RetryModeAdaptive }},
		{name: "AWS_MAX_ATTEMPTS=0 is the default", env: with(keys, "AWS_MAX_ATTEMPTS", "0"),
			want: func(o outcome) bool {
				return o.RetryMaxAttempts == 0 && o.ClientMaxAttempts == dynamodb.NewFromConfig(aws.Config{}).Options().Retryer.MaxAttempts()
			}},
		{name: "AWS_MAX_ATTEMPTS not a number", env: with(keys, "AWS_MAX_ATTEMPTS", "three"),
			want: func(o outcome) bool { return o.LoadFailed }},
		{name: "AWS_RETRY_MODE unknown", env: with(keys, "AWS_RETRY_MODE", "legacy"),
			want: func(o outcome) bool { return o.LoadFailed }},
		{name: "without AWS_CA_BUNDLE a private CA is not trusted", env: keys, tlsCall: true,
			want: func(o outcome) bool { return o.TLSCall == "failed" }},
		{name: "AWS_CA_BUNDLE is trusted", env: with(keys, "AWS_CA_BUNDLE", fx.bundle), tlsCall: true,
			want: func(o outcome) bool { return o.TLSCall == "ok" }},
		{name: "AWS_CA_BUNDLE missing", env: with(keys, "AWS_CA_BUNDLE", filepath.Join(t.TempDir(), "missing.pem")),
			want: func(o outcome) bool { return o.LoadFailed }},
		{name: "AWS_CA_BUNDLE without a certificate", env: with(keys, "AWS_CA_BUNDLE", fx.notPEM), tlsCall: true, bothFail: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearAWSEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			got := resolve(t, Load, fx, tt.tlsCall)
			want := resolve(t, func(ctx context.Context) (aws.Config, error) { return config.LoadDefaultConfig(ctx) }, fx, tt.tlsCall)
			if tt.bothFail {
				works := func(o outcome) bool { return !o.LoadFailed && o.TLSCall != "failed" }
				if works(got) || works(want) {
					t.Fatalf("a configuration works:\nawsenv:            %+v\nLoadDefaultConfig: %+v", got, want)
				}
				return
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("awsenv and LoadDefaultConfig differ:\nawsenv:            %+v\nLoadDefaultConfig: %+v", got, want)
			}
			if tt.want != nil && !tt.want(got) {
				t.Fatalf("both resolve to %+v, which misses the case's point", got)
			}
		})
	}
}

// Load's errors name the variable, never its value.
func TestLoadErrorsDoNotQuoteValues(t *testing.T) {
	tests := []struct {
		name, key, value, want string
	}{
		{"max attempts", "AWS_MAX_ATTEMPTS", "s3cr3t-value", "AWS_MAX_ATTEMPTS"},
		{"retry mode", "AWS_RETRY_MODE", "s3cr3t-value", "AWS_RETRY_MODE"},
		{"ignore endpoints", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "s3cr3t-value", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"},
		{"plain http to a remote host", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://10.0.0.1/x?tok=s3cr3t-value", "want https"},
		{"relative full uri", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "/s3cr3t-value", "not an absolute URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearAWSEnv(t)
			t.Setenv("AWS_REGION", "cn-north-1")
			t.Setenv(tt.key, tt.value)
			_, err := Load(context.Background())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to say %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Fatalf("the error quotes the value: %v", err)
			}
		})
	}
}

// Without credentials a signed call fails and says what to set.
func TestNoCredentials(t *testing.T) {
	clearAWSEnv(t)
	t.Setenv("AWS_REGION", "cn-north-1")
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
	t.Setenv("AWS_MAX_ATTEMPTS", "1")
	cfg, err := Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	_, err = dynamodb.NewFromConfig(cfg).ListTables(context.Background(), &dynamodb.ListTablesInput{})
	if !errors.Is(err, errNoCredentials) {
		t.Fatalf("err = %v, want errNoCredentials", err)
	}
}

func TestCredentialsEndpointHosts(t *testing.T) {
	for raw, ok := range map[string]bool{
		"https://creds.example.com/v1":   true,
		"http://127.0.0.1:9000/creds":    true,
		"http://localhost/creds":         true,
		"http://169.254.170.2/v2/creds":  true,
		"http://169.254.170.23/v1/creds": true,
		"http://[fd00:ec2::23]/v1":       true,
		"http://[::1]:80/x":              true,
		"http://10.0.0.1/creds":          false,
		"http://169.254.169.254/creds":   false,
		"/creds":                         false,
	} {
		if err := checkCredentialsEndpoint(context.Background(), raw); (err == nil) != ok {
			t.Errorf("%s: err = %v, want allowed %v", raw, err, ok)
		}
	}
}
