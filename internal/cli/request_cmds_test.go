package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"dsrflow/internal/dev/asl"
	"dsrflow/internal/dev/dynamotest"
	"dsrflow/internal/dsr"
	"dsrflow/internal/intake"
	"dsrflow/internal/reconcile"
	"dsrflow/internal/workflow"
)

// requestStack is the workflow on one machine for the request commands:
// dynalite, the local engine behind the Step Functions API, the real task
// handlers with an outbox.
type requestStack struct {
	t      *testing.T
	table  string
	sfn    *sfn.Client
	smArn  string
	intake *intake.Service
	h      *workflow.Handlers
	outbox string
	clock  *asl.Virtual
}

func newRequestStack(t *testing.T, emu *dynamotest.Emulator) *requestStack {
	ctx := context.Background()
	root, err := dynamotest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	rawDef, err := os.ReadFile(filepath.Join(root, "statemachines", "dsr.asl.json"))
	if err != nil {
		t.Fatal(err)
	}
	table := emu.NewTable(t)
	clock := asl.VirtualClock(time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC))
	logger := slog.New(slog.NewJSONHandler(&bytes.Buffer{}, nil))
	resolver := asl.Handlers{}
	engine := asl.NewEngine(asl.Options{Clock: clock, Resolver: resolver, Logger: logger})
	srv := sfnapi(engine, logger)
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	client := sfn.New(sfn.Options{Region: "us-east-1", BaseEndpoint: aws.String(hs.URL), Credentials: credentials.NewStaticCredentialsProvider("AKIDLOCAL", "secret", "")})
	outbox := filepath.Join(t.TempDir(), "outbox")
	h, err := workflow.New(workflow.Config{
		TableName: table, CodeSecret: strings.Repeat("c", 32), StatusTokenSecret: strings.Repeat("s", 32),
		PublicBaseURL: "http://localhost:8080", OutboxDir: outbox, MailFrom: "privacy@example.cn", RepeatLimit: 1, BackupRotation: 35 * 24 * time.Hour,
	}, workflow.Clients{DynamoDB: emu.Client(), SFN: client}, logger)
	if err != nil {
		t.Fatal(err)
	}
	h.Now = clock.Now
	h.Store.Now = clock.Now
	h.Verification.Now = clock.Now
	vars := workflow.LocalSubstitutions("aws", "us-east-1", "123456789012")
	for _, f := range workflow.Functions() {
		resolver[vars[f.ArnKey]] = lambda.NewHandler(f.Handler(h))
	}
	def, err := workflow.Substitute(rawDef, vars)
	if err != nil {
		t.Fatal(err)
	}
	smArn, err := srv.CreateStateMachine(ctx, "dsr-workflow", string(def), "arn:aws:iam::123456789012:role/sfn")
	if err != nil {
		t.Fatal(err)
	}
	in := &intake.Service{Store: h.Store, SFN: client, StateMachineArn: smArn, SubjectSecret: []byte(strings.Repeat("k", 32)), Now: clock.Now, Logger: logger}

	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL_DYNAMODB": emu.Endpoint, "AWS_ENDPOINT_URL_SFN": hs.URL, "AWS_REGION": "us-east-1",
		"AWS_ACCESS_KEY_ID": "AKIDLOCAL", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_CONFIG_FILE": filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"), "DSR_TABLE": table, "USER": "tester",
	} {
		t.Setenv(k, v)
	}
	return &requestStack{t: t, table: table, sfn: client, smArn: smArn, intake: in, h: h, outbox: outbox, clock: clock.(*asl.Virtual)}
}

func (s *requestStack) submit(role dsr.Role, key string) string {
	s.t.Helper()
	v := dsr.Validated{Kind: dsr.KindAccess, Role: role, Email: "wang.fang.cli@example.cn", Locale: dsr.LocaleZhCN, Details: "王芳CLI测试"}
	res, err := s.intake.Submit(context.Background(), intake.Submission{Validated: v, Channel: dsr.ChannelWeb, NaturalKey: key})
	if err != nil {
		s.t.Fatal(err)
	}
	return res.Request.ID
}

func (s *requestStack) execArn(id string) string {
	return reconcile.ExecutionArn(s.smArn, id)
}

// waitState waits until the execution has entered state (and, for a task,
// submitted it).
func (s *requestStack) waitState(id, state string) {
	s.t.Helper()
	for range 2000 {
		h, err := s.sfn.GetExecutionHistory(context.Background(), &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(s.execArn(id)), MaxResults: 1000})
		if err != nil {
			s.t.Fatal(err)
		}
		entered := ""
		for _, ev := range h.Events {
			if ev.StateEnteredEventDetails != nil {
				entered = aws.ToString(ev.StateEnteredEventDetails.Name)
			}
			if entered == state && (ev.Type == sfntypes.HistoryEventTypeTaskSubmitted || ev.Type == sfntypes.HistoryEventTypeSucceedStateEntered) {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	h, _ := s.sfn.GetExecutionHistory(context.Background(), &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(s.execArn(id)), MaxResults: 1000})
	var b strings.Builder
	for _, ev := range h.Events {
		b.WriteString(string(ev.Type))
		if d := ev.StateEnteredEventDetails; d != nil {
			b.WriteString(" " + aws.ToString(d.Name))
		}
		if d := ev.LambdaFunctionFailedEventDetails; d != nil {
			b.WriteString(" " + aws.ToString(d.Error) + " " + aws.ToString(d.Cause))
		}
		b.WriteString("\n")
	}
	s.t.Fatalf("execution %s never reached %s:\n%s", id, state, b.String())
}

func runDSR(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(context.Background(), args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// TestRequestCommands runs dsr verify, dsr review and dsr show against
// dynalite and the local Step Functions API, with the real workflow.
func TestRequestCommands(t *testing.T) {
	emu, err := dynamotest.StartEmulator(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emu.Stop)
	s := newRequestStack(t, emu)

	// A guardian's request waits for manual verification.
	id := s.submit(dsr.RoleGuardian, "cli-1")
	s.waitState(id, "ManualVerification")

	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{"unknown reason", []string{"verify", "refuse", id, "--reason", "because"}, ExitUsage, "", `unknown refusal reason "because"`},
		{"refuse without reason", []string{"verify", "refuse", id}, ExitUsage, "", "refuse needs --reason CODE"},
		{"not waiting for review", []string{"review", "approve", id}, ExitFailure, "", "is not waiting for a review decision"},
		{"unknown request", []string{"verify", "approve", "r-nope"}, ExitFailure, "", "request r-nope not found"},
		{"no table", []string{"show", id, "--table", ""}, ExitOK, "", ""},
		{"approve", []string{"verify", "approve", id, "--reason", "guardianship document checked", "--operator", "li"}, ExitOK, "verification " + id + ": approved", ""},
		{"approve again", []string{"verify", "approve", id}, ExitFailure, "", "already decided"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runDSR(t, tt.args...)
			if code != tt.wantCode || !strings.Contains(out, tt.wantOut) || !strings.Contains(errOut, tt.wantErr) {
				t.Errorf("dsr %v: exit %d, stdout %q, stderr %q; want exit %d, stdout with %q, stderr with %q", tt.args, code, out, errOut, tt.wantCode, tt.wantOut, tt.wantErr)
			}
		})
	}
	s.waitState(id, "Completed")

	t.Run("show", func(t *testing.T) {
		code, out, errOut := runDSR(t, "show", id)
		if code != ExitOK {
			t.Fatalf("dsr show: exit %d, %s", code, errOut)
		}
		for _, want := range []string{"status                   completed", "due", "operator:li", "operator_decision", "note=guardianship document checked", "replied", "audit chain: verified"} {
			if !strings.Contains(out, want) {
				t.Errorf("dsr show output lacks %q:\n%s", want, out)
			}
		}
		for _, pii := range []string{"wang.fang.cli", "王芳"} {
			if strings.Contains(out, pii) {
				t.Errorf("dsr show prints personal data %q", pii)
			}
		}
	})
	t.Run("show --json", func(t *testing.T) {
		code, out, errOut := runDSR(t, "show", id, "--json")
		if code != ExitOK {
			t.Fatalf("dsr show --json: exit %d, %s", code, errOut)
		}
		var got showOutput
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatal(err)
		}
		if !got.ChainOK || got.Request.Status != dsr.StatusCompleted || got.Request.DueAt == nil || len(got.Events) < 8 || got.Late {
			t.Errorf("show --json: chainOk %v, status %s, dueAt %v, %d events, late %v", got.ChainOK, got.Request.Status, got.Request.DueAt, len(got.Events), got.Late)
		}
	})
	t.Run("show unknown", func(t *testing.T) {
		if code, _, errOut := runDSR(t, "show", "r-nope"); code != ExitFailure || !strings.Contains(errOut, "not found") {
			t.Errorf("exit %d, %q; want 1, not found", code, errOut)
		}
	})

	// The same subject again: beyond the repeat limit (1), manual review.
	s.clock.Advance(time.Hour)
	id2 := s.submit(dsr.RoleSelf, "cli-2")
	code := s.code(id2)
	s.waitState(id2, "VerifyIdentity")
	if res, err := s.h.Verification.SubmitCode(context.Background(), id2, s.statusToken(id2), code); err != nil || res.Outcome != "verified" {
		t.Fatalf("SubmitCode: %+v, %v", res, err)
	}
	s.waitState(id2, "ManualReview")
	if c, out, errOut := runDSR(t, "review", "refuse", id2, "--reason", "groundless_repetition"); c != ExitOK || !strings.Contains(out, "refused (groundless_repetition)") {
		t.Fatalf("dsr review refuse: exit %d, %q, %q", c, out, errOut)
	}
	s.waitState(id2, "Refused")
	if c, out, _ := runDSR(t, "show", id2); c != ExitOK || !strings.Contains(out, "refusal reason           groundless_repetition (policy 五.5)") {
		t.Errorf("dsr show after refusal: exit %d\n%s", c, out)
	}

	t.Run("broken chain", func(t *testing.T) {
		// Edit the third event's type in place.
		_, err := emu.Client().UpdateItem(context.Background(), &dynamodb.UpdateItemInput{
			TableName: aws.String(s.table),
			Key: map[string]dbtypes.AttributeValue{
				"PK": &dbtypes.AttributeValueMemberS{Value: "REQ#" + id},
				"SK": &dbtypes.AttributeValueMemberS{Value: "EVT#0000000003"},
			},
			UpdateExpression:          aws.String("SET #t = :t"),
			ExpressionAttributeNames:  map[string]string{"#t": "type"},
			ExpressionAttributeValues: map[string]dbtypes.AttributeValue{":t": &dbtypes.AttributeValueMemberS{Value: "forged"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		code, out, errOut := runDSR(t, "show", id)
		if code != ExitFailure || !strings.Contains(out, "audit chain: BROKEN") || !strings.Contains(out, "#3: edited") || !strings.Contains(errOut, "broken at event #3") {
			t.Errorf("tampered chain: exit %d\nstdout:\n%s\nstderr: %s", code, out, errOut)
		}
	})
}

var cliCodeRE = regexp.MustCompile(`验证码：(\d{6})`)

// code reads the verification code of a request from the outbox.
func (s *requestStack) code(id string) string {
	s.t.Helper()
	for range 2000 {
		entries, _ := os.ReadDir(s.outbox)
		for _, e := range entries {
			if strings.Contains(e.Name(), id) && strings.Contains(e.Name(), "verification_code") {
				b, err := os.ReadFile(filepath.Join(s.outbox, e.Name()))
				if err != nil {
					s.t.Fatal(err)
				}
				env, err := readEnvelope(b)
				if err != nil {
					s.t.Fatal(err)
				}
				if m := cliCodeRE.FindStringSubmatch(env); m != nil {
					return m[1]
				}
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.t.Fatalf("no code message for %s", id)
	return ""
}

func (s *requestStack) statusToken(id string) string {
	return verificationToken([]byte(strings.Repeat("s", 32)), id)
}
