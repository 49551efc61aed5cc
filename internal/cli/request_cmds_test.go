package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"dsrflow/internal/dev/asl"
	"dsrflow/internal/dev/dynamotest"
	api "dsrflow/internal/dev/sfnapi"
	"dsrflow/internal/dev/sfnapi/sfnapitest"
	"dsrflow/internal/dsr"
	"dsrflow/internal/intake"
	"dsrflow/internal/operator"
	"dsrflow/internal/store"
	"dsrflow/internal/workflow"
)

// Secrets of the request stack.
var (
	stackSubjectSecret = strings.Repeat("k", 32)
	stackStatusSecret  = strings.Repeat("s", 32)
)

// requestStack is the workflow on one machine for the request commands:
// dynalite, the local engine behind the Step Functions API, the real task
// handlers with an outbox, and the environment dsr reads (loopback
// endpoints and DSR_LOCAL_PRINCIPAL).
type requestStack struct {
	t      *testing.T
	table  string
	st     *store.Store
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
	clock := asl.VirtualClock(time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC)).(*asl.Virtual)
	logger := slog.New(slog.NewJSONHandler(&bytes.Buffer{}, nil))
	st := store.New(store.Config{Table: emu.NewTable(t)}, store.Deps{DB: emu.Client(), Clock: clock.Now})
	resolver := asl.Handlers{}
	engine := asl.NewEngine(asl.Options{Clock: clock, Resolver: resolver, Logger: logger})
	srv := api.New(api.ASL(engine), api.Options{Logger: logger, Now: clock.Now})
	client, sfnURL := sfnapitest.Serve(t, srv, "us-east-1")
	// Not t.TempDir: executions the test no longer waits for may still
	// write a message as it ends, and t.TempDir fails on a late file.
	outbox, err := os.MkdirTemp("", "dsr-cli-outbox-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if os.RemoveAll(outbox) != nil {
			time.Sleep(100 * time.Millisecond)
			_ = os.RemoveAll(outbox)
		}
	})
	h, err := workflow.New(workflow.Config{
		TableName: st.Table(), CodeSecret: strings.Repeat("c", 32), SubjectKeySecret: stackSubjectSecret, StatusTokenSecret: stackStatusSecret,
		PublicBaseURL: "http://localhost:8080", OutboxDir: outbox, MailFrom: "privacy@example.cn", RepeatLimit: 1,
		BackupRotation: 35 * 24 * time.Hour, ContactRetention: 30 * 24 * time.Hour,
	}, workflow.Deps{Store: st, SFN: client, Clock: clock.Now, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
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
	starter, err := intake.NewStarter(intake.StarterConfig{StateMachineArn: smArn}, intake.StarterDeps{Store: st, SFN: client, Clock: clock.Now, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	in, err := intake.New(intake.Config{SubjectSecret: []byte(stackSubjectSecret)}, intake.Deps{Store: st, Starter: starter, Clock: clock.Now, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	setAWSEnv(t, emu.Endpoint, st.Table())
	t.Setenv("AWS_ENDPOINT_URL_SFN", sfnURL)
	return &requestStack{t: t, table: st.Table(), st: st, sfn: client, smArn: smArn, intake: in, h: h, outbox: outbox, clock: clock}
}

// submit sends a web access request through intake (which starts the
// execution) and returns its ID.
func (s *requestStack) submit(v dsr.Validated, key string) string {
	s.t.Helper()
	v.Kind, v.Locale = dsr.KindAccess, dsr.LocaleZhCN
	if v.Details == "" {
		v.Details = "王芳CLI测试"
	}
	res, err := s.intake.Submit(context.Background(), intake.Submission{Validated: v, Channel: dsr.ChannelWeb, NaturalKey: key})
	if err != nil {
		s.t.Fatal(err)
	}
	return res.Request.ID
}

// eventually polls cond for up to a minute of real time.
func (s *requestStack) eventually(what string, cond func() (bool, string)) {
	s.t.Helper()
	last := ""
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		var ok bool
		if ok, last = cond(); ok {
			return
		}
	}
	s.t.Fatalf("timed out waiting for %s (last seen: %s)", what, last)
}

// waitOperator waits until request id waits for an operator at stage.
func (s *requestStack) waitOperator(id string, stage operator.Stage) {
	s.t.Helper()
	s.eventually(id+" to wait for a "+string(stage)+" decision", func() (bool, string) {
		w, err := s.st.GetOperatorWait(context.Background(), id, string(stage))
		if err != nil {
			s.t.Fatal(err)
		}
		return w != nil && w.TaskToken != "" && w.Decided == nil, s.status(id)
	})
}

// waitStatus waits until request id is in status want.
func (s *requestStack) waitStatus(id string, want dsr.Status) {
	s.t.Helper()
	s.eventually(id+" to be "+string(want), func() (bool, string) {
		got := s.status(id)
		return got == string(want), got
	})
}

func (s *requestStack) status(id string) string {
	r, err := s.st.GetRequest(context.Background(), id)
	if err != nil {
		return err.Error()
	}
	return string(r.Status)
}

func runDSR(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(context.Background(), args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// waiting is `dsr requests list --waiting --json` as ID → what waits.
func waiting(t *testing.T) map[string]string {
	t.Helper()
	code, out, errOut := runDSR(t, "requests", "list", "--waiting", "--json")
	if code != ExitOK {
		t.Fatalf("requests list --waiting: exit %d, %s", code, errOut)
	}
	var rows []requestRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range rows {
		got[r.ID] = r.WaitingFor
	}
	return got
}

// TestRequestCommands runs dsr verify, identity, review, requests list and
// show against dynalite and the local Step Functions API, with the real
// workflow: every decision is recorded under the local principal.
func TestRequestCommands(t *testing.T) {
	emu, err := dynamotest.StartEmulator(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emu.Stop)
	s := newRequestStack(t, emu)
	t.Setenv("DSR_LOCAL_PRINCIPAL", "li.na")
	const actor = "operator:local:li.na"

	// A guardian's request waits for manual verification, before it has a
	// due date: the default list and --waiting show it.
	guardian := dsr.Validated{Role: dsr.RoleGuardian, Email: "wang.fang.cli@example.cn", SubjectName: "王小明", SubjectEmail: "wang.xiaoming.cli@example.cn"}
	id := s.submit(guardian, "cli-1")
	s.waitOperator(id, operator.StageVerification)
	if got := waiting(t); got[id] != "verification" {
		t.Errorf("requests list --waiting = %v, want %s waiting for verification", got, id)
	}
	if code, out, errOut := runDSR(t, "requests", "list"); code != ExitOK || !strings.Contains(out, id) || !strings.Contains(out, "verification") {
		t.Errorf("requests list: exit %d, stderr %q; want %s listed as waiting for verification:\n%s", code, errOut, id, out)
	}

	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{"unknown reason", []string{"verify", "refuse", id, "--reason", "because"}, ExitUsage, "", `unknown refusal reason "because"`},
		{"refuse without reason", []string{"verify", "refuse", id}, ExitUsage, "", "refuse needs --reason CODE"},
		{"not waiting for review", []string{"review", "approve", id}, ExitFailure, "", "is not waiting for a decision on review"},
		{"not waiting for identity", []string{"identity", "approve", id}, ExitFailure, "", "is not waiting for a decision on identity"},
		{"unknown request", []string{"verify", "approve", "r-nope"}, ExitFailure, "", "request r-nope not found"},
		{"--operator is gone", []string{"verify", "approve", id, "--operator", "li"}, ExitUsage, "", "--operator is gone: dsr records the caller's IAM principal"},
		{"no table", []string{"show", id, "--table", ""}, ExitOK, "", ""},
		{"approve", []string{"verify", "approve", id, "--reason", "guardianship document checked"}, ExitOK, "verification " + id + ": approved by " + actor, ""},
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
	s.waitStatus(id, dsr.StatusCompleted)

	t.Run("show", func(t *testing.T) {
		code, out, errOut := runDSR(t, "show", id)
		if code != ExitOK {
			t.Fatalf("dsr show: exit %d, %s", code, errOut)
		}
		for _, want := range []string{"status                   completed", "due", "note=guardianship document checked", "replied", "audit chain: verified"} {
			if !strings.Contains(out, want) {
				t.Errorf("dsr show output lacks %q:\n%s", want, out)
			}
		}
		if !regexp.MustCompile(regexp.QuoteMeta(actor) + ` +operator_decision `).MatchString(out) {
			t.Errorf("dsr show: no operator_decision by %s:\n%s", actor, out)
		}
		for _, pii := range []string{"wang.fang.cli", "wang.xiaoming", "王芳", "王小明"} {
			if strings.Contains(out, pii) {
				t.Errorf("dsr show prints personal data %q", pii)
			}
		}
	})
	t.Run("show after the purge", func(t *testing.T) {
		if _, err := s.st.PurgePersonal(context.Background(), id); err != nil {
			t.Fatal(err)
		}
		code, out, errOut := runDSR(t, "show", id)
		if code != ExitOK || !regexp.MustCompile(`contact details purged on \d{4}-\d{2}-\d{2}`).MatchString(out) {
			t.Errorf("dsr show after the purge: exit %d, %s; want \"contact details purged on <date>\":\n%s", code, errOut, out)
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
		if !got.ChainOK || got.Request.Status != dsr.StatusCompleted || got.Request.DueAt == nil || len(got.Events) < 8 {
			t.Errorf("show --json: chainOk %v, status %s, dueAt %v, %d events", got.ChainOK, got.Request.Status, got.Request.DueAt, len(got.Events))
		}
		decisions := 0
		for _, e := range got.Events {
			if e.Type == "operator_decision" {
				decisions++
				if e.Actor != actor || e.Data["stage"] != "verification" || e.Data["result"] != "approved" {
					t.Errorf("decision event %+v, want verification approved by %s", e, actor)
				}
			}
		}
		if decisions != 1 {
			t.Errorf("%d operator decisions in the audit trail, want 1", decisions)
		}
	})
	t.Run("show unknown", func(t *testing.T) {
		if code, _, errOut := runDSR(t, "show", "r-nope"); code != ExitFailure || !strings.Contains(errOut, "not found") {
			t.Errorf("exit %d, %q; want 1, not found", code, errOut)
		}
	})

	// The same subject again, by themself: beyond the repeat limit (1),
	// manual review.
	s.clock.Advance(time.Hour)
	id2 := s.submit(dsr.Validated{Role: dsr.RoleSelf, Email: guardian.SubjectEmail}, "cli-2")
	code := s.code(id2)
	if res, err := s.h.Verification().SubmitCode(context.Background(), id2, s.statusToken(id2), code); err != nil || res.Outcome != "verified" {
		t.Fatalf("SubmitCode: %+v, %v", res, err)
	}
	s.waitOperator(id2, operator.StageReview)
	if got := waiting(t); got[id2] != "review" {
		t.Errorf("requests list --waiting = %v, want %s waiting for review", got, id2)
	}
	if c, out, errOut := runDSR(t, "review", "refuse", id2, "--reason", "groundless_repetition"); c != ExitOK || !strings.Contains(out, "refused (groundless_repetition) by "+actor) {
		t.Fatalf("dsr review refuse: exit %d, %q, %q", c, out, errOut)
	}
	s.waitStatus(id2, dsr.StatusRefused)
	if c, out, _ := runDSR(t, "show", id2); c != ExitOK || !strings.Contains(out, "refusal reason           groundless_repetition (policy 五.5)") || !strings.Contains(out, actor) {
		t.Errorf("dsr show after refusal: exit %d\n%s", c, out)
	}

	// A guardian who names no identifier of the subject: once the
	// guardianship is approved, nothing about the subject is proved, so an
	// operator decides on the identity.
	id3 := s.submit(dsr.Validated{Role: dsr.RoleGuardian, Email: "zhao.min.cli@example.cn", SubjectName: "赵小敏"}, "cli-3")
	s.waitOperator(id3, operator.StageVerification)
	if c, _, errOut := runDSR(t, "verify", "approve", id3); c != ExitOK {
		t.Fatalf("dsr verify approve: exit %d, %s", c, errOut)
	}
	s.waitOperator(id3, operator.StageIdentity)
	if got := waiting(t); got[id3] != "identity" || len(got) != 1 {
		t.Errorf("requests list --waiting = %v, want only %s, waiting for identity", got, id3)
	}
	if c, out, errOut := runDSR(t, "identity", "approve", id3); c != ExitFailure || !strings.Contains(errOut, "request "+id3+" names no identifier of the subject") {
		t.Errorf("dsr identity approve without identifiers: exit %d, %q, %q; want 1, names no identifier", c, out, errOut)
	}
	if c, out, errOut := runDSR(t, "identity", "refuse", id3, "--reason", "identity_not_verified"); c != ExitOK || !strings.Contains(out, "identity "+id3+": refused (identity_not_verified) by "+actor) {
		t.Fatalf("dsr identity refuse: exit %d, %q, %q", c, out, errOut)
	}
	s.waitStatus(id3, dsr.StatusRefused)
	if got := waiting(t); len(got) != 0 {
		t.Errorf("requests list --waiting = %v after every decision, want none", got)
	}

	t.Run("broken chain", func(t *testing.T) {
		// Edit the third event's type behind the store's back.
		events, err := s.st.ListEvents(context.Background(), id)
		if err != nil || len(events) < 3 {
			t.Fatalf("ListEvents: %d events, %v", len(events), err)
		}
		if n, err := emu.EditItems(context.Background(), s.table, map[string]string{"hash": events[2].Hash}, map[string]string{"type": "forged"}); n != 1 || err != nil {
			t.Fatalf("EditItems = %d, %v; want the event edited", n, err)
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
	var code string
	s.eventually("a code message for "+id, func() (bool, string) {
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
					code = m[1]
					return true, ""
				}
			}
		}
		return false, s.status(id)
	})
	return code
}

func (s *requestStack) statusToken(id string) string {
	return verificationToken([]byte(stackStatusSecret), id)
}
