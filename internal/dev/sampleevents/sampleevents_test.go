package sampleevents

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dynamotypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"
	env "github.com/caarlos0/env/v11"

	"dsrflow/internal/anchor"
	"dsrflow/internal/dev/devstack"
	"dsrflow/internal/dev/dynamotest"
	"dsrflow/internal/dev/invoke"
	"dsrflow/internal/dev/samtemplate"
	"dsrflow/internal/dsr"
	"dsrflow/internal/lambdaedge"
	"dsrflow/internal/partner"
	"dsrflow/internal/partner/export/s3bucket"
	"dsrflow/internal/secretstore"
	"dsrflow/internal/webintake"
	"dsrflow/internal/workflow"
)

// check says whether a run of a handler on a sample event went as it must.
type check func(out []byte, err error) error

// succeeds: no error (for API Gateway functions also no 5xx answer).
func succeeds(out []byte, err error) error {
	if err != nil {
		return fmt.Errorf("handler error: %w", err)
	}
	var resp struct {
		StatusCode int `json:"statusCode"`
	}
	if json.Unmarshal(out, &resp) == nil && resp.StatusCode >= 500 {
		return fmt.Errorf("answered %d: %.300s", resp.StatusCode, out)
	}
	return nil
}

// acceptsInput: the task handler took the input (it may still fail on the
// request's state, e.g. RequestNotFound for a request this test did not
// create), but not with InvalidInput or a decoding error.
func acceptsInput(_ []byte, err error) error {
	if err == nil {
		return nil
	}
	var invalid *workflow.InvalidInput
	var pinvalid *partner.InvalidInput
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	if errors.As(err, &invalid) || errors.As(err, &pinvalid) || errors.As(err, &syntax) || errors.As(err, &typ) {
		return fmt.Errorf("input rejected: %w", err)
	}
	return nil
}

// function is how the test runs one function's handler.
type function struct {
	handler any // func(ctx, In) (Out, error) or func(ctx, In) error
	check   check
}

// TestSampleEvents checks every events/*.json: it belongs to a function of
// template.yaml (by file name: <function>.json or <function>-*.json),
// decodes strictly (no field unknown to the function's input type) and
// runs through that function's real handler against the local stack
// (dynalite, the S3 emulator, the local Step Functions engine).
func TestSampleEvents(t *testing.T) {
	root, err := dynamotest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := samtemplate.Load(filepath.Join(root, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	fns, err := tpl.Functions()
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(root, "events", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no events/*.json (%v)", err)
	}
	owner := map[string]samtemplate.Function{}
	covered := map[string]bool{}
	for _, f := range files {
		base := strings.TrimSuffix(filepath.Base(f), ".json")
		best := ""
		for _, fn := range fns {
			if (base == fn.Name || strings.HasPrefix(base, fn.Name+"-")) && len(fn.Name) > len(best) {
				best = fn.Name
				owner[f] = fn
			}
		}
		if best == "" {
			t.Errorf("%s: no function of template.yaml is named by its file name (<function>[-*].json)", filepath.Base(f))
			continue
		}
		covered[best] = true
	}
	for _, fn := range fns {
		if !covered[fn.Name] {
			t.Errorf("function %s has no sample event events/%s*.json", fn.Name, fn.Name)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	st, err := devstack.Start(ctx, devstack.Options{
		Dir: dir, Root: root, HTTPAddr: "127.0.0.1:0", DynamoDBAddr: "127.0.0.1:0", S3Addr: "127.0.0.1:0",
		SFNAddr: "127.0.0.1:0", PartnersAddr: "127.0.0.1:0", ConsoleAddr: "127.0.0.1:0", ReconcileEvery: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	handlers := wire(ctx, t, tpl, st, dir)
	t.Run("local table is the template's", func(t *testing.T) { checkTable(ctx, t, tpl, st) })

	sort.Strings(files)
	for _, f := range files {
		fn, ok := owner[f]
		if !ok {
			continue
		}
		t.Run(filepath.Base(f), func(t *testing.T) {
			h, ok := handlers[fn.Name]
			if !ok {
				t.Fatalf("this test does not know how to run function %s: add it to wire", fn.Name)
			}
			payload, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			in := reflect.TypeOf(h.handler).In(1)
			dec := json.NewDecoder(bytes.NewReader(payload))
			dec.DisallowUnknownFields()
			if err := dec.Decode(reflect.New(in).Interface()); err != nil {
				t.Fatalf("decode strictly into %s: %v", in, err)
			}
			if in == reflect.TypeFor[events.S3Event]() {
				putObjects(ctx, t, st, payload)
			}
			payload = seedRequest(ctx, t, st, fn.Name, payload)
			out, err := lambda.NewHandler(h.handler).Invoke(ctx, payload)
			if err != nil {
				t.Logf("%s: %T %v", fn.Name, err, err)
			} else {
				t.Logf("%s: %.120s", fn.Name, out)
			}
			if err := h.check(out, err); err != nil {
				t.Errorf("%s on %s: %v", fn.Name, filepath.Base(f), err)
			}
		})
	}
}

// wire builds every function's handler on the local stack, configured from
// the template's environment with the stack's values.
func wire(ctx context.Context, t *testing.T, tpl *samtemplate.Template, st *devstack.Stack, dir string) map[string]function {
	t.Helper()
	// The stack's names and endpoints, as `make run` publishes them.
	if err := st.WriteEnvFile(); err != nil {
		t.Fatal(err)
	}
	local, err := invoke.ReadLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	fnEnv := func(name string) map[string]string {
		fn, err := tpl.Function(name)
		if err != nil {
			t.Fatal(err)
		}
		e, err := invoke.Environment(tpl, fn, local, map[string]string{"PARTNERS_CONFIG": filepath.Join(dir, "partners.json")})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	logger := slog.New(slog.DiscardHandler)
	out := map[string]function{}
	for _, f := range workflow.Functions() {
		out[f.Name] = function{handler: f.Handler(st.Workflow), check: acceptsInput}
	}
	out["intake-mail"] = function{handler: st.MailHandler, check: succeeds}
	out["reconcile"] = function{handler: st.Reconciler.Handle, check: succeeds}
	anchors, err := anchor.New(anchor.Config{}, anchor.Deps{Store: st.Store, Sink: anchor.Dir{Path: filepath.Join(dir, "anchors")}, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	out["anchor-audit"] = function{handler: anchors.Handle, check: succeeds}

	webCfg, err := env.ParseAsWithOptions[webintake.Config](env.Options{Environment: fnEnv("intake-web")})
	if err != nil {
		t.Fatal(err)
	}
	// Its secrets, as the function reads them: the files SECRETS_DIR names.
	if webCfg.SecretsDir == "" {
		t.Fatal("intake-web's local environment names no SECRETS_DIR")
	}
	if webCfg, err = webCfg.WithSecrets(ctx, secretstore.Dir{Path: webCfg.SecretsDir}); err != nil {
		t.Fatal(err)
	}
	web, err := webintake.New(webCfg, webintake.Deps{Store: st.Store, SFN: st.SFN, S3: st.S3, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	// As functions/intake-web serves it: the handler behind the adapter.
	out["intake-web"] = function{handler: httpadapter.NewV2(web).ProxyWithContext, check: succeeds}

	// partner-callback reads its clients from the process environment.
	cbEnv := fnEnv("partner-callback")
	for k, v := range cbEnv {
		t.Setenv(k, v)
	}
	cbCfg, err := partner.FunctionConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	lazy, err := partner.LazyAWSDispatcher(cbCfg, logger, s3bucket.Open)
	if err != nil {
		t.Fatal(err)
	}
	out["partner-callback"] = function{handler: lambdaedge.Lazy(partner.CallbackRoute, lazy, partner.NewCallback), check: succeeds}
	return out
}

// seedKinds are the request kinds the steps that only serve one kind need.
var seedKinds = map[string]dsr.Kind{}

// seedRequest gives a task event ("requestId") a request of its own: it
// creates a new, unverified request under a fresh ID and returns the event
// with that ID, so each step works on a real item unaffected by the other
// events. Steps that need a later status then answer StatusConflict, which
// acceptsInput allows.
func seedRequest(ctx context.Context, t *testing.T, st *devstack.Stack, function string, payload []byte) []byte {
	t.Helper()
	var ev map[string]any
	if json.Unmarshal(payload, &ev) != nil {
		return payload
	}
	if id, _ := ev["requestId"].(string); id == "" {
		return payload
	}
	seq++
	id := fmt.Sprintf("r-sample%04d-%s", seq, strings.ReplaceAll(function, "-", ""))
	ev["requestId"] = id
	kind, ok := seedKinds[function]
	if !ok {
		kind = dsr.KindErasure
	}
	now := time.Now().UTC()
	_, _, err := st.Store.CreateRequest(ctx, &dsr.Request{
		ID: id, Kind: kind, Status: dsr.StatusReceived, Channel: dsr.ChannelWeb,
		Role: dsr.RoleSelf, Locale: "zh-CN", CreatedAt: now, UpdatedAt: now,
	}, &dsr.Personal{Contact: dsr.Contact{Email: "zhang.san@example.cn"}})
	if err != nil {
		t.Fatalf("seed request %s: %v", id, err)
	}
	out, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var seq int

// putObjects stores a small raw message under every object key of an S3
// event, in the event's bucket, as the mailbox would have.
func putObjects(ctx context.Context, t *testing.T, st *devstack.Stack, payload []byte) {
	t.Helper()
	var ev events.S3Event
	if err := json.Unmarshal(payload, &ev); err != nil {
		t.Fatal(err)
	}
	for _, r := range ev.Records {
		bucket := r.S3.Bucket.Name
		_, _ = st.S3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)})
		key := r.S3.Object.URLDecodedKey
		if key == "" {
			key = r.S3.Object.Key
		}
		msg := "From: =?UTF-8?B?5byg5LiJ?= <zhang.san@example.cn>\r\n" +
			"To: privacy@example.cn\r\n" +
			"Subject: =?UTF-8?B?5Yig6Zmk5oiR55qE5Liq5Lq65L+h5oGv?=\r\n" +
			"Message-ID: <" + strings.ReplaceAll(key, "/", ".") + "@example.cn>\r\n" +
			"Date: Mon, 02 Mar 2026 09:00:00 +0800\r\n" +
			"MIME-Version: 1.0\r\n" +
			"Content-Type: text/plain; charset=utf-8\r\n\r\n" +
			"请删除我的账号和所有个人信息。\r\n"
		if _, err := st.S3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader(msg)}); err != nil {
			t.Fatalf("put s3://%s/%s: %v", bucket, key, err)
		}
	}
}

// checkTable compares the local stack's table with RequestsTable of the
// template: key schema and global secondary indexes.
func checkTable(ctx context.Context, t *testing.T, tpl *samtemplate.Template, st *devstack.Stack) {
	out, err := st.DynamoDB.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(devstack.TableName)})
	if err != nil {
		t.Fatal(err)
	}
	keys := func(ks []dynamotypes.KeySchemaElement) string {
		var parts []string
		for _, k := range ks {
			parts = append(parts, aws.ToString(k.AttributeName)+"/"+string(k.KeyType))
		}
		return strings.Join(parts, ",")
	}
	got := map[string]string{"": keys(out.Table.KeySchema)}
	for _, g := range out.Table.GlobalSecondaryIndexes {
		got[aws.ToString(g.IndexName)] = keys(g.KeySchema)
	}
	props := tpl.Resources["RequestsTable"].Properties
	tplKeys := func(v any) string {
		var parts []string
		l, _ := v.([]any)
		for _, e := range l {
			m, _ := e.(map[string]any)
			parts = append(parts, fmt.Sprint(m["AttributeName"])+"/"+fmt.Sprint(m["KeyType"]))
		}
		return strings.Join(parts, ",")
	}
	want := map[string]string{"": tplKeys(props["KeySchema"])}
	gsis, _ := props["GlobalSecondaryIndexes"].([]any)
	for _, g := range gsis {
		m, _ := g.(map[string]any)
		want[fmt.Sprint(m["IndexName"])] = tplKeys(m["KeySchema"])
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("local table keys and indexes = %v, template's = %v", got, want)
	}
}
