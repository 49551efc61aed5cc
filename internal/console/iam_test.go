package console

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"dsrflow/internal/dev/dynamotest"
)

// iamProxy stands in front of a local AWS endpoint the way IAM stands in
// front of AWS: every call goes through, and is recorded, unless allow
// refuses its action; a refused call gets the service's own AccessDenied
// answer, which the SDK reads as it reads AWS's.
type iamProxy struct {
	URL   string
	mu    sync.Mutex
	calls []string
}

// Calls are the actions called so far ("dynamodb:Query", "s3:GetObject").
func (p *iamProxy) Calls() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.calls...)
}

// dynamoProxy proxies DynamoDB to endpoint.
func dynamoProxy(t testing.TB, endpoint, principal string, allow func(action string) bool) *iamProxy {
	return jsonProxy(t, endpoint, "dynamodb", principal, allow)
}

// jsonProxy proxies a JSON-protocol service (the action is in
// X-Amz-Target: DynamoDB, Step Functions) to endpoint; service is the IAM
// prefix ("dynamodb", "states").
func jsonProxy(t testing.TB, endpoint, service, principal string, allow func(action string) bool) *iamProxy {
	t.Helper()
	target, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	p := &iamProxy{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, op, _ := strings.Cut(r.Header.Get("X-Amz-Target"), ".")
		action := service + ":" + op
		p.mu.Lock()
		p.calls = append(p.calls, action)
		p.mu.Unlock()
		if allow != nil && !allow(action) {
			w.Header().Set("Content-Type", "application/x-amz-json-1.0")
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"__type":"com.amazon.coral.service#AccessDeniedException","Message":"User: %s is not authorized to perform: %s because no identity-based policy allows the %s action"}`, principal, action, action)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}

// s3Proxy proxies S3 (path style: the method and path say the action;
// here GET of an object is s3:GetObject, PUT s3:PutObject) to endpoint.
func s3Proxy(t testing.TB, endpoint string, allow func(action string) bool) (*iamProxy, *s3.Client) {
	t.Helper()
	target, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	p := &iamProxy{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		action := "s3:" + map[string]string{http.MethodGet: "GetObject", http.MethodPut: "PutObject", http.MethodHead: "HeadObject", http.MethodDelete: "DeleteObject"}[r.Method]
		p.mu.Lock()
		p.calls = append(p.calls, action)
		p.mu.Unlock()
		if allow != nil && !allow(action) {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message><RequestId>TEST</RequestId></Error>`)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	return p, s3.New(s3.Options{
		Region: dynamotest.Region, BaseEndpoint: aws.String(srv.URL), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
}

// readOnly is the auditors' policy (template.yaml AuditorsPolicy):
// DynamoDB reads and the executions' state, no S3.
func readOnly(action string) bool {
	switch action {
	case "dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:Scan", "dynamodb:DescribeTable",
		"states:DescribeExecution", "states:GetExecutionHistory", "states:ListExecutions":
		return true
	}
	return false
}
