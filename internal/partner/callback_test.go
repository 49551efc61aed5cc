package partner_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"dsrflow/internal/dev/partnersim"
	"dsrflow/internal/dsr"
	"dsrflow/internal/partner"
	"dsrflow/internal/store"
)

func completedBody(id, receipt string) string {
	return `{"subject_request_id":"` + id + `","request_status":"completed","receipt":"` + receipt + `"}`
}

// TestCallbackRefusals: every refusal the callback documents, through the
// HTTP handler, with its status and code; nothing changes on a refused
// callback. Then the good one is recorded and answers the waiting state,
// and later reports are sorted out: progress noted, a repeat already
// recorded, another outcome a conflict.
func TestCallbackRefusals(t *testing.T) {
	t.Parallel()
	f := newFixture(t,
		simSpec{id: "voice", mode: partner.ModeAsync, ids: acctOnly, b: partnersim.Behavior{ManualCallback: true}},
		simSpec{id: "other", mode: partner.ModeAsync, ids: acctOnly, b: partnersim.Behavior{ManualCallback: true}},
		simSpec{id: "sms", mode: partner.ModeAsync, ids: phone, b: partnersim.Behavior{ManualCallback: true}},
	)
	ctx := t.Context()
	req := f.request(t, dsr.KindErasure, func(r *newRequest) { r.Identity.Subject.Phones = nil })
	if _, err := f.d.Plan(ctx, partner.PlanInput{RequestID: req.ID}); err != nil {
		t.Fatal(err)
	}
	it := f.run(t, req.ID, "voice")
	if it.Err != nil || it.Out.Status != store.PartnerAwaitingCallback {
		t.Fatalf("Run = %+v, %v", it.Out, it.Err)
	}
	before := f.task(t, req.ID, "voice")
	head := f.head(t, req.ID)
	good := completedBody(req.ID, "R-1")
	now := time.Now()
	sec := f.secrets["voice"]
	sign := func(b string) (string, string) { return partner.Sign(sec, now, []byte(b)) }
	tests := []struct {
		name      string
		partner   string
		body      string
		sign      func(body string) (ts, sig string)
		wantCode  int
		wantError string
	}{
		{"missing signature", "voice", good, func(string) (string, string) { return "", "" }, 401, "missing_signature"},
		{"timestamp without signature", "voice", good, func(b string) (string, string) { ts, _ := sign(b); return ts, "" }, 401, "missing_signature"},
		{"signature without timestamp", "voice", good, func(b string) (string, string) { _, sig := sign(b); return "", sig }, 401, "missing_signature"},
		{"bad signature", "voice", good, func(b string) (string, string) { return partner.Sign([]byte("not-the-secret-0123456"), now, []byte(b)) }, 401, "bad_signature"},
		{"another partner's secret", "voice", good, func(b string) (string, string) { return partner.Sign(f.secrets["other"], now, []byte(b)) }, 401, "bad_signature"},
		{"stale timestamp", "voice", good, func(b string) (string, string) { return partner.Sign(sec, now.Add(-10*time.Minute), []byte(b)) }, 401, "stale_timestamp"},
		{"future timestamp", "voice", good, func(b string) (string, string) { return partner.Sign(sec, now.Add(10*time.Minute), []byte(b)) }, 401, "stale_timestamp"},
		{"signed for another body", "voice", good, func(string) (string, string) { return sign(good + " ") }, 401, "bad_signature"},
		{"unknown partner", "ghost", good, sign, 400, "unknown_partner"},
		{"unknown request", "voice", completedBody("nope", "R"), sign, 400, "unknown_request"},
		{"partner not yet reached", "other", completedBody(req.ID, "R"), func(b string) (string, string) { return partner.Sign(f.secrets["other"], now, []byte(b)) }, 400, "unknown_request"},
		{"partner without data", "sms", completedBody(req.ID, "R"), func(b string) (string, string) { return partner.Sign(f.secrets["sms"], now, []byte(b)) }, 400, "unknown_request"},
		{"not JSON", "voice", `completed!`, sign, 400, "malformed"},
		{"no request ID", "voice", `{"request_status":"completed","receipt":"R"}`, sign, 400, "malformed"},
		{"wrong shape", "voice", `{"subject_request_id":"` + req.ID + `","request_status":7}`, sign, 400, "malformed_wrong_shape"},
		{"unknown status", "voice", `{"subject_request_id":"` + req.ID + `","request_status":"done"}`, sign, 400, "malformed_unknown_status"},
		{"completed without receipt", "voice", `{"subject_request_id":"` + req.ID + `","request_status":"completed"}`, sign, 400, "malformed_missing_receipt"},
		{"receipt with markup", "voice", completedBody(req.ID, "<b>R</b>"), sign, 400, "malformed_bad_receipt"},
		{"receipt too long", "voice", completedBody(req.ID, strings.Repeat("R", partner.MaxReceiptLen+1)), sign, 400, "malformed_bad_receipt"},
		{"bad error code", "voice", `{"subject_request_id":"` + req.ID + `","request_status":"failed","error_code":"no such user"}`, sign, 400, "malformed_bad_code"},
		{"bad changed", "voice", `{"subject_request_id":"` + req.ID + `","request_status":"completed","receipt":"R","changed":["a b"]}`, sign, 400, "malformed_bad_changed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts, sig := tt.sign(tt.body)
			code, res := f.post(t, tt.partner, tt.body, ts, sig)
			if code != tt.wantCode || res.Error != tt.wantError || res.Result != "" {
				t.Errorf("callback = %d %+v, want %d %q", code, res, tt.wantCode, tt.wantError)
			}
		})
	}
	if after := f.task(t, req.ID, "voice"); after.Version != before.Version || after.Status != store.PartnerAwaitingCallback {
		t.Errorf("refused callbacks changed the task: %s v%d → %s v%d", before.Status, before.Version, after.Status, after.Version)
	}
	if f.head(t, req.ID) != head || len(f.sfn.Calls()) != 0 {
		t.Errorf("refused callbacks appended events or answered Step Functions")
	}

	// The good one is recorded and answers the waiting state.
	code, res := f.signed(t, "voice", good)
	if code != 200 || res.Result != "recorded" || res.SubjectRequestID != req.ID {
		t.Fatalf("good callback = %d %+v, want 200 recorded", code, res)
	}
	it.answeredWith(t, f.sfn.For(it.Token), store.PartnerCompleted, "")
	if tk := f.task(t, req.ID, "voice"); tk.Status != store.PartnerCompleted || tk.Receipt != "R-1" {
		t.Errorf("task %s %q, want completed R-1", tk.Status, tk.Receipt)
	}
	done := f.task(t, req.ID, "voice")
	later := []struct {
		name, body string
		code       int
		result     string
		err        string
	}{
		{"progress report", `{"subject_request_id":"` + req.ID + `","request_status":"in_progress"}`, 200, "noted", ""},
		{"redelivery", good, 200, "already_recorded", ""},
		{"another receipt", completedBody(req.ID, "R-2"), 409, "", "conflict"},
		{"failure after completion", `{"subject_request_id":"` + req.ID + `","request_status":"failed","error_code":"oops"}`, 409, "", "conflict"},
	}
	for _, tt := range later {
		code, res := f.signed(t, "voice", tt.body)
		if code != tt.code || res.Result != tt.result || res.Error != tt.err {
			t.Errorf("%s: %d %+v, want %d %q %q", tt.name, code, res, tt.code, tt.result, tt.err)
		}
	}
	if tk := f.task(t, req.ID, "voice"); tk.Version != done.Version || tk.Receipt != "R-1" {
		t.Errorf("later reports changed the task (v%d → v%d, receipt %q)", done.Version, tk.Version, tk.Receipt)
	}
	if n := len(f.sfn.Calls()); n != 1 {
		t.Errorf("%d answers to Step Functions, want 1", n)
	}
}

// TestCallbackHeaders: every answer is JSON and not cached.
func TestCallbackHeaders(t *testing.T) {
	t.Parallel()
	f := newFixture(t, simSpec{id: "voice", mode: partner.ModeAsync, ids: allIDs})
	for _, tt := range []struct {
		partner, body, ts, sig string
		want                   int
	}{{"voice", `{}`, "", "", 401}, {"ghost", `{}`, "", "", 400}} {
		resp, err := http.Post(f.cbURL+"/partners/"+tt.partner+"/callbacks", "application/json", strings.NewReader(tt.body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want || resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: %d %q %q, want %d application/json no-store", tt.partner, resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"), tt.want)
		}
	}
}

// TestCallbackFailureReports: progress is noted; a failure report fails the
// waiting state with PartnerFailed (the Catch escalates it); a repeat is
// already recorded; a completion after it is a conflict, after escalation
// a late completion.
func TestCallbackFailureReports(t *testing.T) {
	t.Parallel()
	f := newFixture(t,
		simSpec{id: "fails", mode: partner.ModeAsync, ids: allIDs, b: partnersim.Behavior{ManualCallback: true, Outcome: partner.StatusFailed, FailCode: "account_locked"}},
		simSpec{id: "cancels", mode: partner.ModeAsync, ids: allIDs, b: partnersim.Behavior{ManualCallback: true, Outcome: partner.StatusCancelled}},
	)
	ctx := t.Context()
	req := f.request(t, dsr.KindErasure, nil)
	its := map[string]iteration{}
	for _, id := range []string{"fails", "cancels"} {
		its[id] = f.run(t, req.ID, id)
		if its[id].Err != nil {
			t.Fatal(its[id].Err)
		}
	}
	progress := `{"subject_request_id":"` + req.ID + `","request_status":"in_progress","expected_completion_time":"2030-01-01T00:00:00Z"}`
	if code, res := f.signed(t, "fails", progress); code != 200 || res.Result != "noted" {
		t.Errorf("progress = %d %+v, want 200 noted", code, res)
	}
	if len(f.sfn.Calls()) != 0 || f.task(t, req.ID, "fails").Status != store.PartnerAwaitingCallback {
		t.Errorf("a progress report answered the state or moved the task")
	}
	for id, code := range map[string]string{"fails": "failed_account_locked", "cancels": "failed_cancelled"} {
		if err := f.sims[id].Complete(ctx, req.ID); err != nil {
			t.Fatal(err)
		}
		its[id].answeredWith(t, f.sfn.For(its[id].Token), "", "PartnerFailed")
		if tk := f.task(t, req.ID, id); tk.Status != store.PartnerFailed || tk.LastError != code {
			t.Errorf("%s task %s %q, want failed %s", id, tk.Status, tk.LastError, code)
		}
		if evs := f.events(t, req.ID, id); evs[len(evs)-1].Type != "partner.failed" || evs[len(evs)-1].Data["via"] != "callback" || evs[len(evs)-1].Data["code"] != code {
			t.Errorf("%s last event %+v, want partner.failed via callback", id, evs[len(evs)-1])
		}
	}
	v := f.task(t, req.ID, "fails").Version
	if err := f.sims["fails"].Complete(ctx, req.ID); err != nil {
		t.Errorf("redelivered failure: %v", err)
	}
	if cbs := f.sims["fails"].Callbacks(); cbs[len(cbs)-1].Status != 200 || f.task(t, req.ID, "fails").Version != v || len(f.sfn.For(its["fails"].Token)) != 1 {
		t.Errorf("redelivered failure answered %d, changed the task or answered again", cbs[len(cbs)-1].Status)
	}
	if code, res := f.signed(t, "fails", completedBody(req.ID, "R")); code != 409 || res.Error != "conflict" {
		t.Errorf("completion after failure = %d %+v, want 409 conflict", code, res)
	}
	// The Catch escalates it with the partner's code.
	out, err := f.d.Escalate(ctx, partner.EscalateInput{RequestID: req.ID, PartnerID: "fails", Error: "PartnerFailed"})
	if err != nil || out.Status != store.PartnerEscalated || out.Error != "failed_account_locked" {
		t.Fatalf("Escalate = %+v, %v; want escalated failed_account_locked", out, err)
	}
	if code, res := f.signed(t, "fails", `{"subject_request_id":"`+req.ID+`","request_status":"failed"}`); code != 200 || res.Result != "already_recorded" {
		t.Errorf("failure after escalation = %d %+v, want 200 already_recorded", code, res)
	}
}

// callbackFirst is a partner that reports completion (or failure) on the
// callback endpoint before it answers 202 to the request itself: the
// callback arrives while Run is still waiting for the answer.
type callbackFirst struct {
	secret []byte
	status partner.RequestStatus
	got    chan int
}

func (c *callbackFirst) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if err := partner.Verify(c.secret, r.Header.Get(partner.HeaderTimestamp), r.Header.Get(partner.HeaderSignature), body, time.Now()); err != nil {
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var req partner.Request
	_ = json.Unmarshal(body, &req)
	resp := partner.Response{SubjectRequestID: req.SubjectRequestID, RequestStatus: c.status, Receipt: "EAGER-1", ErrorCode: "no_such_user"}
	if c.status != partner.StatusCompleted {
		resp.Receipt = ""
	}
	cb, _ := json.Marshal(resp)
	ts, sig := partner.Sign(c.secret, time.Now(), cb)
	creq, _ := http.NewRequestWithContext(r.Context(), http.MethodPost, req.StatusCallbackURLs[0], bytes.NewReader(cb))
	creq.Header.Set(partner.HeaderTimestamp, ts)
	creq.Header.Set(partner.HeaderSignature, sig)
	status := 0
	if cresp, err := http.DefaultClient.Do(creq); err == nil {
		status = cresp.StatusCode
		cresp.Body.Close()
	}
	c.got <- status
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_ = json.NewEncoder(w).Encode(partner.Response{SubjectRequestID: req.SubjectRequestID, RequestStatus: partner.StatusPending})
}

// TestCallbackBeforeRunReturns: the token is stored before the partner is
// called, so a callback that overtakes the partner's 202 answers it; Run
// then reports the recorded outcome without an error and without answering
// the token again.
func TestCallbackBeforeRunReturns(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		status   partner.RequestStatus
		want     store.PartnerStatus
		wantFail string
	}{
		{partner.StatusCompleted, store.PartnerCompleted, ""},
		{partner.StatusFailed, store.PartnerFailed, "PartnerFailed"},
	} {
		t.Run(string(tt.status), func(t *testing.T) {
			t.Parallel()
			eager := &callbackFirst{secret: []byte("secret-of-eager-0123456789"), status: tt.status, got: make(chan int, 1)}
			f := newFixture(t, simSpec{id: "eager", mode: partner.ModeAsync, ids: allIDs, handler: eager})
			req := f.request(t, dsr.KindErasure, nil)
			it := f.run(t, req.ID, "eager")
			if code := <-eager.got; code != 200 {
				t.Fatalf("early callback answered %d, want 200", code)
			}
			if it.Err != nil || it.Out.Status != tt.want {
				t.Fatalf("Run = %+v, %v; want %s without an error", it.Out, it.Err, tt.want)
			}
			it.answeredWith(t, it.Answers, tt.want, tt.wantFail)
			tk := f.task(t, req.ID, "eager")
			if tk.Status != tt.want || !tk.TokenAnswered || tk.Attempts != 1 {
				t.Errorf("task %+v, want %s, answered, one attempt", tk, tt.want)
			}
			if got := eventTypes(f.events(t, req.ID, "eager")); slices.Contains(got, "partner.accepted") {
				t.Errorf("events %v: the acceptance was recorded over the outcome", got)
			}
		})
	}
}

// TestCallbackAfterDeadline: the wait timed out and the Catch escalated the
// partner; its completion is still recorded (late), answers no iteration,
// and wakes the reply only when it was the last partner to act.
func TestCallbackAfterDeadline(t *testing.T) {
	t.Parallel()
	f := newFixture(t,
		simSpec{id: "late1", mode: partner.ModeAsync, ids: allIDs, b: partnersim.Behavior{ManualCallback: true}},
		simSpec{id: "late2", mode: partner.ModeAsync, ids: allIDs, b: partnersim.Behavior{ManualCallback: true}},
	)
	ctx := t.Context()
	req := f.request(t, dsr.KindErasure, nil)
	for _, id := range []string{"late1", "late2"} {
		if it := f.run(t, req.ID, id); it.Err != nil || it.Out.Status != store.PartnerAwaitingCallback {
			t.Fatalf("Run(%s) = %+v, %v", id, it.Out, it.Err)
		}
		out, err := f.d.Escalate(ctx, partner.EscalateInput{RequestID: req.ID, PartnerID: id, Error: "States.Timeout"})
		if err != nil || out.Status != store.PartnerEscalated || out.Error != "deadline_passed" {
			t.Fatalf("Escalate(%s) = %+v, %v; want deadline_passed", id, out, err)
		}
	}
	if err := f.st.PutTaskToken(ctx, req.ID, partner.ReplyWait, "tok-reply"); err != nil {
		t.Fatal(err)
	}
	// The iterations' tokens are gone: answering them would fail.
	f.sfn.setErr(&sfntypes.TaskTimedOut{Message: aws.String("Task Timed Out")})

	code, res := f.signed(t, "late1", completedBody(req.ID, "L-1"))
	if code != 200 || res.Result != "recorded_late" {
		t.Fatalf("late callback = %d %+v, want 200 recorded_late", code, res)
	}
	tk := f.task(t, req.ID, "late1")
	if tk.Status != store.PartnerCompleted || !tk.Late || tk.Receipt != "L-1" || tk.LastError != "" {
		t.Errorf("late task %+v, want completed late with its receipt", tk)
	}
	if got := eventTypes(f.events(t, req.ID, "late1")); got[len(got)-1] != "partner.completed_late" {
		t.Errorf("events %v, want partner.completed_late last", got)
	}
	if c := f.sfn.Calls(); len(c) != 0 {
		t.Errorf("Step Functions told %+v while late2 has not acted", c)
	}
	// A redelivery changes nothing and answers nothing.
	head := f.head(t, req.ID)
	if code, res := f.signed(t, "late1", completedBody(req.ID, "L-1")); code != 200 || res.Result != "already_recorded" {
		t.Errorf("redelivered late callback = %d %+v, want already_recorded", code, res)
	}
	if f.head(t, req.ID) != head || len(f.sfn.Calls()) != 0 {
		t.Errorf("redelivered late callback appended events or answered Step Functions")
	}

	// The last one: the reply goes on.
	f.sfn.setErr(nil)
	if code, res := f.signed(t, "late2", completedBody(req.ID, "L-2")); code != 200 || res.Result != "recorded_late" {
		t.Fatalf("last late callback = %d %+v", code, res)
	}
	calls := f.sfn.Calls()
	if len(calls) != 1 || calls[0].Token != "tok-reply" || calls[0].Output != `{"complete":false,"resumed":true}` {
		t.Errorf("Step Functions calls %+v, want the reply resumed", calls)
	}
}

// TestCallbackAfterRetryResumesReply: a partner retried outside Step
// Functions is async; its callback, the last partner's, wakes the reply.
func TestCallbackAfterRetryResumesReply(t *testing.T) {
	t.Parallel()
	f := newFixture(t, simSpec{id: "voice", mode: partner.ModeAsync, ids: allIDs, b: partnersim.Behavior{ManualCallback: true, FailFirst: 1}})
	ctx := t.Context()
	req := f.request(t, dsr.KindErasure, nil)
	if it := f.run(t, req.ID, "voice"); !isNamed[*partner.PartnerRetryable](it.Err) {
		t.Fatalf("Run = %v, want PartnerRetryable", it.Err)
	}
	if _, err := f.d.Escalate(ctx, partner.EscalateInput{RequestID: req.ID, PartnerID: "voice", Error: "PartnerRetryable"}); err != nil {
		t.Fatal(err)
	}
	if err := f.st.PutTaskToken(ctx, req.ID, partner.ReplyWait, "tok-reply"); err != nil {
		t.Fatal(err)
	}
	out, err := f.d.Retry(ctx, partner.DispatchInput{RequestID: req.ID, PartnerID: "voice"}, partner.Backoff{Sleep: noSleep})
	if err != nil || out.Status != store.PartnerAwaitingCallback {
		t.Fatalf("Retry = %+v, %v; want awaiting_callback", out, err)
	}
	if len(f.sfn.Calls()) != 0 {
		t.Fatalf("Step Functions told %+v before the partner acted", f.sfn.Calls())
	}
	if err := f.sims["voice"].Complete(ctx, req.ID); err != nil {
		t.Fatal(err)
	}
	if cbs := f.sims["voice"].Callbacks(); cbs[0].Status != 200 {
		t.Errorf("callback answered %d, want 200", cbs[0].Status)
	}
	tk := f.task(t, req.ID, "voice")
	if tk.Status != store.PartnerCompleted || tk.Late {
		t.Errorf("task %s late=%v, want completed on time", tk.Status, tk.Late)
	}
	calls := f.sfn.Calls()
	if len(calls) != 1 || calls[0].Token != "tok-reply" || calls[0].Output != `{"complete":false,"resumed":true}` {
		t.Errorf("Step Functions calls %+v, want the reply resumed", calls)
	}
}

func noSleep(context.Context, time.Duration) error { return nil }

// TestCallbackAfterTokenExpired: Step Functions no longer knows the token
// (TaskDoesNotExist): the outcome is recorded, the token counts as answered
// and the audit trail says it was gone; the callback gets 200.
func TestCallbackAfterTokenExpired(t *testing.T) {
	t.Parallel()
	f := newFixture(t, simSpec{id: "slow", mode: partner.ModeAsync, ids: allIDs, b: partnersim.Behavior{ManualCallback: true}})
	ctx := t.Context()
	req := f.request(t, dsr.KindErasure, nil)
	if it := f.run(t, req.ID, "slow"); it.Err != nil {
		t.Fatal(it.Err)
	}
	f.sfn.setErr(&sfntypes.TaskDoesNotExist{Message: aws.String("gone")})
	if err := f.sims["slow"].Complete(ctx, req.ID); err != nil {
		t.Fatalf("callback: %v", err)
	}
	if tk := f.task(t, req.ID, "slow"); tk.Status != store.PartnerCompleted || !tk.TokenAnswered {
		t.Errorf("task %s answered=%v, want completed and settled", tk.Status, tk.TokenAnswered)
	}
	if got := eventTypes(f.events(t, req.ID, "slow")); got[len(got)-1] != "partner.token_gone" {
		t.Errorf("events %v, want partner.token_gone last", got)
	}
}

// TestCallbackRedeliveryAnswersWhenFirstAnswerFailed: Step Functions failed
// while the first delivery answered the state: 500, the outcome is kept,
// and the partner's redelivery answers the state (once).
func TestCallbackRedeliveryAnswersWhenFirstAnswerFailed(t *testing.T) {
	t.Parallel()
	f := newFixture(t, simSpec{id: "voice", mode: partner.ModeAsync, ids: allIDs, b: partnersim.Behavior{ManualCallback: true}})
	req := f.request(t, dsr.KindErasure, nil)
	it := f.run(t, req.ID, "voice")
	if it.Err != nil {
		t.Fatal(it.Err)
	}
	f.sfn.setErr(errors.New("ThrottlingException"))
	body := completedBody(req.ID, "R-1")
	if code, res := f.signed(t, "voice", body); code != 500 || res.Error != "internal" {
		t.Fatalf("callback with Step Functions down = %d %+v, want 500 internal", code, res)
	}
	if tk := f.task(t, req.ID, "voice"); tk.Status != store.PartnerCompleted || tk.TokenAnswered {
		t.Errorf("task %s answered=%v, want completed, not answered", tk.Status, tk.TokenAnswered)
	}
	f.sfn.setErr(nil)
	if code, res := f.signed(t, "voice", body); code != 200 || res.Result != "already_recorded" {
		t.Fatalf("redelivery = %d %+v, want 200 already_recorded", code, res)
	}
	answers := f.sfn.For(it.Token)
	if len(answers) != 2 || answers[1].Error != "" {
		t.Fatalf("answers %+v, want the failed one and a success", answers)
	}
	if !f.task(t, req.ID, "voice").TokenAnswered {
		t.Errorf("token not marked answered")
	}
	if code, _ := f.signed(t, "voice", body); code != 200 || len(f.sfn.For(it.Token)) != 2 {
		t.Errorf("a third delivery answered again")
	}
}

// TestCallbackMethodAndSize: only POST reaches the handler (the route's
// method, and the handler's own check), and a body over MaxCallbackBody is
// refused before its signature is checked.
func TestCallbackMethodAndSize(t *testing.T) {
	t.Parallel()
	f := newFixture(t, simSpec{id: "voice", mode: partner.ModeAsync, ids: allIDs})
	resp, err := http.Get(f.cbURL + "/partners/voice/callbacks")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 {
		t.Errorf("GET through the route = %d, want 405", resp.StatusCode)
	}
	for _, method := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
		r := httptest.NewRequest(method, "/partners/voice/callbacks", strings.NewReader(`{}`))
		r.SetPathValue("partner", "voice")
		w := httptest.NewRecorder()
		f.cb.ServeHTTP(w, r)
		var res partner.CallbackResult
		decodeJSON(t, w.Body.String(), &res)
		if w.Code != 405 || res.Error != "method_not_allowed" {
			t.Errorf("%s on the handler = %d %+v, want 405 method_not_allowed", method, w.Code, res)
		}
	}
	big := strings.Repeat("x", partner.MaxCallbackBody+1)
	if code, res := f.signed(t, "voice", big); code != 413 || res.Error != "too_large" {
		t.Errorf("oversized body = %d %+v, want 413 too_large", code, res)
	}
}

// TestCallbackSecretUnavailable: without the partner's secret nothing can
// be checked: 500, so the partner delivers again later.
func TestCallbackSecretUnavailable(t *testing.T) {
	t.Parallel()
	f := newFixture(t, simSpec{id: "voice", mode: partner.ModeAsync, ids: allIDs})
	d := partner.NewDispatcher(partner.DispatcherConfig{Partners: f.cfg}, partner.DispatcherDeps{Store: f.st, SFN: f.sfn})
	mux := http.NewServeMux()
	mux.Handle(partner.CallbackRoute, partner.NewCallback(d))
	body := completedBody("r", "R")
	ts, sig := partner.Sign(f.secrets["voice"], time.Now(), []byte(body))
	r := httptest.NewRequest(http.MethodPost, "/partners/voice/callbacks", strings.NewReader(body))
	r.Header.Set(partner.HeaderTimestamp, ts)
	r.Header.Set(partner.HeaderSignature, sig)
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, r)
	if w.Code != 500 || !strings.Contains(w.Body.String(), `"error":"internal"`) {
		t.Errorf("callback without secret = %d %s, want 500 internal", w.Code, w.Body)
	}
}

// FuzzCallback: whatever a partner with the right secret sends about a
// request awaiting it, the handler answers one of its documented statuses
// with a JSON body, never a failure of its own, and the task stays in a
// known status.
func FuzzCallback(fz *testing.F) {
	f := newFixture(fz, simSpec{id: "voice", mode: partner.ModeAsync, ids: allIDs, b: partnersim.Behavior{ManualCallback: true}})
	req := f.request(fz, dsr.KindErasure, nil)
	if it := f.run(fz, req.ID, "voice"); it.Err != nil {
		fz.Fatal(it.Err)
	}
	for _, s := range []string{
		completedBody(req.ID, "R-1"),
		completedBody(req.ID, "R-2"),
		`{"subject_request_id":"` + req.ID + `","request_status":"in_progress"}`,
		`{"subject_request_id":"` + req.ID + `","request_status":"failed","error_code":"x"}`,
		`{"subject_request_id":"` + req.ID + `","request_status":"completed","receipt":"R","export":{"a":[1,2]},"changed":["a"]}`,
		`{"subject_request_id":"other","request_status":"completed","receipt":"R"}`,
		`{"subject_request_id":` + fmt.Sprint(1) + `}`,
		`[]`, `null`, ``, "ÿ",
	} {
		fz.Add(s)
	}
	documented := map[int]bool{200: true, 400: true, 409: true}
	fz.Fuzz(func(t *testing.T, body string) {
		code, res := f.signed(t, "voice", body)
		if !documented[code] || (res.Result == "") == (res.Error == "") {
			t.Fatalf("callback %q = %d %+v", body, code, res)
		}
		if tk := f.task(t, req.ID, "voice"); !slices.Contains(store.PartnerStatuses(), tk.Status) {
			t.Fatalf("task status %q", tk.Status)
		}
	})
}
