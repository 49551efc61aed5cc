package partner_test

import (
	"context"
	"encoding/json"
	"errors"
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

var (
	allIDs   = []dsr.IdentifierType{dsr.IdentifierAccount, dsr.IdentifierPhone, dsr.IdentifierEmail}
	acctOnly = []dsr.IdentifierType{dsr.IdentifierAccount}
	phone    = []dsr.IdentifierType{dsr.IdentifierPhone}
)

// wireIDs lists a request's identities as "type=value".
func wireIDs(r partner.Request) []string {
	var out []string
	for _, id := range r.SubjectIdentities {
		out = append(out, id.Type+"="+id.Value)
	}
	return out
}

func isNamed[T error](err error) bool {
	var target T
	return errors.As(err, &target)
}

// TestRunEndToEnd: a sync partner, an async one and one holding only
// phones, each reached by one Map iteration (Run). Each gets only the
// identity's identifiers of its types; Run answers the sync iterations'
// tokens itself; the async one waits until its callback answers the
// token; a redelivered callback changes nothing; a re-run of a settled
// iteration is answered at once and sends nothing.
func TestRunEndToEnd(t *testing.T) {
	t.Parallel()
	f := newFixture(t,
		simSpec{id: "acct", mode: partner.ModeSync, ids: allIDs},
		simSpec{id: "voice", mode: partner.ModeAsync, ids: acctOnly, b: partnersim.Behavior{ManualCallback: true}},
		simSpec{id: "sms", mode: partner.ModeSync, ids: phone},
	)
	ctx := t.Context()
	req := f.request(t, dsr.KindErasure, nil)

	plan, err := f.d.Plan(ctx, partner.PlanInput{RequestID: req.ID})
	if err != nil {
		t.Fatal(err)
	}
	var planned []string
	for _, it := range plan.Partners {
		planned = append(planned, it.PartnerID+":"+string(it.Action)+":"+string(it.Mode))
		if it.RequestID != req.ID || it.DeadlineSeconds != 3600 {
			t.Errorf("plan item %+v, want request %s and deadline 3600s", it, req.ID)
		}
	}
	if want := []string{"acct:erase:sync", "voice:erase:async", "sms:erase:sync"}; !slices.Equal(planned, want) {
		t.Errorf("plan = %v, want %v", planned, want)
	}
	if len(plan.Skipped) != 0 {
		t.Errorf("plan skipped %v, want none", plan.Skipped)
	}

	its := map[string]iteration{}
	for _, p := range plan.Partners {
		it := f.run(t, req.ID, p.PartnerID)
		if it.Err != nil {
			t.Fatalf("Run(%s): %v", p.PartnerID, it.Err)
		}
		its[p.PartnerID] = it
	}
	for _, id := range []string{"acct", "sms"} {
		it := its[id]
		if it.Out.Status != store.PartnerCompleted || it.Out.Receipt != f.sims[id].Receipt(req.ID) || it.Out.Action != "erase" {
			t.Errorf("%s: Run = %+v, want erase completed with its receipt", id, it.Out)
		}
		it.answeredWith(t, it.Answers, store.PartnerCompleted, "")
		var answered partner.DispatchOutput
		decodeJSON(t, it.Answers[0].Output, &answered)
		if answered != it.Out {
			t.Errorf("%s: token answered %+v, Run returned %+v", id, answered, it.Out)
		}
		if tk := f.task(t, req.ID, id); !tk.TokenAnswered || tk.TaskToken != it.Token {
			t.Errorf("%s: task token %q answered=%v, want %q answered", id, tk.TaskToken, tk.TokenAnswered, it.Token)
		}
	}
	voice := its["voice"]
	if voice.Out.Status != store.PartnerAwaitingCallback || voice.Out.DeadlineSeconds <= 0 || voice.Out.DeadlineSeconds > 3600 {
		t.Errorf("async Run = %+v, want awaiting_callback with a deadline within the hour", voice.Out)
	}
	if len(voice.Answers) != 0 {
		t.Fatalf("async token answered before the callback: %+v", voice.Answers)
	}

	// Identity minimisation: each partner gets the identity's identifiers
	// of the types it holds (only the account where it keys by account and
	// the identity has one), and the callback URL.
	wantIDs := map[string][]string{
		"acct":  {"controller_customer_id=" + subjectAccount},
		"voice": {"controller_customer_id=" + subjectAccount},
		"sms":   {"phone_number=" + subjectPhone},
	}
	for id, want := range wantIDs {
		got := f.sims[id].Received()
		if len(got) != 1 {
			t.Fatalf("%s received %d requests, want 1", id, len(got))
		}
		if !slices.Equal(wireIDs(got[0]), want) {
			t.Errorf("%s received identities %v, want %v", id, wireIDs(got[0]), want)
		}
		r := got[0]
		if r.SubjectRequestID != req.ID || r.SubjectRequestType != partner.ActionErase || r.APIVersion != partner.APIVersion || !r.SubmittedTime.Equal(req.CreatedAt) {
			t.Errorf("%s received %+v, want %s/erase submitted %v", id, r, req.ID, req.CreatedAt)
		}
		if wantURL := f.cbURL + "/partners/" + id + "/callbacks"; !slices.Equal(r.StatusCallbackURLs, []string{wantURL}) {
			t.Errorf("%s callback URLs %v, want [%s]", id, r.StatusCallbackURLs, wantURL)
		}
	}

	// The callback answers the async iteration's token.
	if err := f.sims["voice"].Complete(ctx, req.ID); err != nil {
		t.Fatalf("callback: %v", err)
	}
	answers := f.sfn.For(voice.Token)
	voice.answeredWith(t, answers, store.PartnerCompleted, "")
	var out partner.DispatchOutput
	decodeJSON(t, answers[0].Output, &out)
	if out.Receipt != f.sims["voice"].Receipt(req.ID) || out.PartnerID != "voice" || out.RequestID != req.ID || out.DeadlineSeconds != 0 {
		t.Errorf("callback answered %+v, want voice completed with its receipt", out)
	}
	done := f.task(t, req.ID, "voice")
	if done.Status != store.PartnerCompleted || !done.TokenAnswered || done.CompletedAt == nil || done.Late {
		t.Errorf("voice task %+v, want completed on time and answered", done)
	}

	// A redelivered callback changes nothing and answers nothing.
	head := f.head(t, req.ID)
	calls := len(f.sfn.Calls())
	if err := f.sims["voice"].Complete(ctx, req.ID); err != nil {
		t.Fatalf("redelivered callback: %v", err)
	}
	if again := f.task(t, req.ID, "voice"); again.Version != done.Version {
		t.Errorf("redelivery changed the task: version %d → %d", done.Version, again.Version)
	}
	if f.head(t, req.ID) != head || len(f.sfn.Calls()) != calls {
		t.Errorf("redelivery appended events or answered Step Functions again")
	}

	// A re-run of every iteration (a retried or restarted Map) is answered
	// at once from the record, and nothing is sent to any partner.
	for _, p := range plan.Partners {
		it := f.run(t, req.ID, p.PartnerID)
		if it.Err != nil || it.Out.Status != store.PartnerCompleted {
			t.Errorf("re-Run(%s) = %+v, %v; want completed", p.PartnerID, it.Out, it.Err)
		}
		it.answeredWith(t, it.Answers, store.PartnerCompleted, "")
	}
	for id, sim := range f.sims {
		if sim.Calls() != 1 {
			t.Errorf("%s called %d times after re-runs, want 1", id, sim.Calls())
		}
	}
	// The audit trail tells the story, without personal data.
	for id, want := range map[string][]string{
		"acct":  {"partner.dispatched", "partner.completed"},
		"voice": {"partner.dispatched", "partner.accepted", "partner.completed"},
		"sms":   {"partner.dispatched", "partner.completed"},
	} {
		if got := eventTypes(f.events(t, req.ID, id)); !slices.Equal(got, want) {
			t.Errorf("%s events %v, want %v", id, got, want)
		}
	}
	evs, _ := json.Marshal(f.events(t, req.ID, ""))
	noPersonalData(t, "audit trail", string(evs))
	noPersonalData(t, "logs", f.logs.String())
	for _, c := range f.sfn.Calls() {
		noPersonalData(t, "Step Functions answer", c.Output)
	}
}

// TestRunRetryableThenRecovers: a 503 is returned as PartnerRetryable
// (the definition's Retry runs the iteration again with a new token) and
// answers no token; the third try completes and answers its own.
func TestRunRetryableThenRecovers(t *testing.T) {
	t.Parallel()
	f := newFixture(t, simSpec{id: "flaky", mode: partner.ModeSync, ids: allIDs, b: partnersim.Behavior{FailFirst: 2, FailStatus: 503, RetryAfter: "7"}})
	req := f.request(t, dsr.KindErasure, nil)
	for i := 1; i <= 2; i++ {
		it := f.run(t, req.ID, "flaky")
		var re *partner.PartnerRetryable
		if !errors.As(it.Err, &re) || re.Code != "http_503" || re.RetryAfter != 7*time.Second || re.PartnerID != "flaky" {
			t.Fatalf("try %d: %v, want PartnerRetryable http_503 after 7s", i, it.Err)
		}
		if len(it.Answers) != 0 {
			t.Errorf("try %d answered its token %+v; a failed Run leaves that to the definition", i, it.Answers)
		}
		tk := f.task(t, req.ID, "flaky")
		if tk.Status != store.PartnerDispatched || tk.Attempts != i || tk.LastError != "http_503" || tk.TaskToken != it.Token {
			t.Errorf("after try %d task = %s attempts %d error %q token %q", i, tk.Status, tk.Attempts, tk.LastError, tk.TaskToken)
		}
	}
	it := f.run(t, req.ID, "flaky")
	if it.Err != nil || it.Out.Status != store.PartnerCompleted {
		t.Fatalf("third try: %+v, %v; want completed", it.Out, it.Err)
	}
	it.answeredWith(t, it.Answers, store.PartnerCompleted, "")
	if tk := f.task(t, req.ID, "flaky"); tk.Attempts != 3 || tk.LastError != "" {
		t.Errorf("completed task attempts %d error %q, want 3 and none", tk.Attempts, tk.LastError)
	}
	want := []string{"partner.dispatched", "partner.retryable", "partner.dispatched", "partner.retryable", "partner.dispatched", "partner.completed"}
	if got := eventTypes(f.events(t, req.ID, "flaky")); !slices.Equal(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}
}

// TestOnePartnerFailing: refusals, garbage, a failure answer and a partner
// that stays down fail that partner only, with a named error; Escalate (the
// iteration's Catch) records it, and a re-run answers its token with
// PartnerFailed without calling the partner again.
func TestOnePartnerFailing(t *testing.T) {
	t.Parallel()
	f := newFixture(t,
		simSpec{id: "good", mode: partner.ModeSync, ids: allIDs},
		simSpec{id: "refuses", mode: partner.ModeSync, ids: allIDs, b: partnersim.Behavior{Permanent: 400}},
		simSpec{id: "garbage", mode: partner.ModeSync, ids: allIDs, b: partnersim.Behavior{Garbage: "<html>OK</html>"}},
		simSpec{id: "fails", mode: partner.ModeSync, ids: allIDs, b: partnersim.Behavior{Outcome: partner.StatusFailed, FailCode: "account_locked"}},
		simSpec{id: "down", mode: partner.ModeSync, ids: allIDs, b: partnersim.Behavior{Permanent: 500}},
	)
	ctx := t.Context()
	req := f.request(t, dsr.KindErasure, nil)
	tests := []struct {
		id, errName, code, status, escalated string
	}{
		{"good", "", "", "completed", ""},
		{"refuses", "PartnerRejected", "http_400", "failed", "http_400"},
		{"garbage", "PartnerGarbage", "garbage_not_json", "failed", "garbage_not_json"},
		{"fails", "PartnerFailed", "failed_account_locked", "failed", "failed_account_locked"},
		{"down", "PartnerRetryable", "http_500", "dispatched", "http_500"},
	}
	for _, tt := range tests {
		it := f.run(t, req.ID, tt.id)
		if name, _, _ := classify(it.Err); name != tt.errName {
			t.Errorf("%s: error %v, want %q", tt.id, it.Err, tt.errName)
		}
		if tt.errName != "" && (!partner.IsNamed(it.Err) || len(it.Answers) != 0) {
			t.Errorf("%s: IsNamed(%v) = false or the token was answered (%+v)", tt.id, it.Err, it.Answers)
		}
		noPersonalData(t, tt.id+" error", errString(it.Err))
		tk := f.task(t, req.ID, tt.id)
		if string(tk.Status) != tt.status || tk.LastError != tt.code {
			t.Errorf("%s: task %s %q, want %s %q", tt.id, tk.Status, tk.LastError, tt.status, tt.code)
		}
		if tt.errName == "" {
			continue
		}
		out, err := f.d.Escalate(ctx, partner.EscalateInput{RequestID: req.ID, PartnerID: tt.id, Error: tt.errName})
		if err != nil {
			t.Fatalf("Escalate(%s): %v", tt.id, err)
		}
		if out.Status != store.PartnerEscalated || out.Error != tt.escalated || out.PartnerID != tt.id {
			t.Errorf("Escalate(%s) = %+v, want escalated %q", tt.id, out, tt.escalated)
		}
		if got := eventTypes(f.events(t, req.ID, tt.id)); got[len(got)-1] != "partner.escalated" {
			t.Errorf("%s: events %v, want partner.escalated last", tt.id, got)
		}
		// Escalating again changes nothing.
		v := f.task(t, req.ID, tt.id).Version
		if again, err := f.d.Escalate(ctx, partner.EscalateInput{RequestID: req.ID, PartnerID: tt.id, Error: "States.Timeout"}); err != nil || again != out || f.task(t, req.ID, tt.id).Version != v {
			t.Errorf("Escalate(%s) again = %+v, %v; want %+v unchanged", tt.id, again, err, out)
		}
	}
	// Escalating a completed partner changes nothing.
	out, err := f.d.Escalate(ctx, partner.EscalateInput{RequestID: req.ID, PartnerID: "good", Error: "States.Timeout"})
	if err != nil || out.Status != store.PartnerCompleted {
		t.Errorf("Escalate(completed) = %+v, %v; want completed", out, err)
	}
	// An escalated partner is not sent again by a re-run iteration: its
	// token is failed at once, and the Catch escalates it (again, harmlessly).
	for _, tt := range tests[1:] {
		it := f.run(t, req.ID, tt.id)
		if it.Err != nil || it.Out.Status != store.PartnerEscalated {
			t.Errorf("re-Run(%s) = %+v, %v; want its escalated record", tt.id, it.Out, it.Err)
		}
		it.answeredWith(t, it.Answers, "", "PartnerFailed")
	}
	for _, tt := range tests[:4] {
		if c := f.sims[tt.id].Calls(); c != 1 {
			t.Errorf("%s called %d times, want 1", tt.id, c)
		}
	}
	noPersonalData(t, "logs", f.logs.String())
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestEscalateKeepsFinalOutcomes: the Catch never overwrites a partner that
// settled for good meanwhile (completed, no data, settled by an operator);
// it escalates a pending or awaiting one, with the deadline code for a
// timeout and the error's name when nothing was recorded.
func TestEscalateKeepsFinalOutcomes(t *testing.T) {
	t.Parallel()
	f := newFixture(t, simSpec{id: "p", mode: partner.ModeAsync, ids: allIDs})
	ctx := t.Context()
	tests := []struct {
		name   string
		task   store.PartnerTask
		err    string
		status store.PartnerStatus
		code   string
	}{
		{"completed", store.PartnerTask{Status: store.PartnerCompleted, Receipt: "R"}, "States.Timeout", store.PartnerCompleted, ""},
		{"no data", store.PartnerTask{Status: store.PartnerNoData}, "PartnerFailed", store.PartnerNoData, ""},
		{"settled by operator", store.PartnerTask{Status: store.PartnerSettledByOperator, OperatorReason: "confirmed_by_phone", LastError: "http_400"}, "PartnerFailed", store.PartnerSettledByOperator, ""},
		{"awaiting, deadline passed", store.PartnerTask{Status: store.PartnerAwaitingCallback}, "States.Timeout", store.PartnerEscalated, "deadline_passed"},
		{"awaiting, heartbeat", store.PartnerTask{Status: store.PartnerAwaitingCallback}, "States.HeartbeatTimeout", store.PartnerEscalated, "deadline_passed"},
		{"pending, nothing recorded", store.PartnerTask{Status: store.PartnerPending}, "Lambda.Unknown", store.PartnerEscalated, "error_Lambda.Unknown"},
		{"dispatched, code recorded", store.PartnerTask{Status: store.PartnerDispatched, LastError: "timeout"}, "PartnerRetryable", store.PartnerEscalated, "timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := f.request(t, dsr.KindErasure, nil)
			tk := tt.task
			tk.RequestID, tk.PartnerID, tk.Action = req.ID, "p", "erase"
			if _, _, err := f.st.PutPartnerTask(ctx, tk); err != nil {
				t.Fatal(err)
			}
			out, err := f.d.Escalate(ctx, partner.EscalateInput{RequestID: req.ID, PartnerID: "p", Error: tt.err})
			if err != nil {
				t.Fatal(err)
			}
			got := f.task(t, req.ID, "p")
			if out.Status != tt.status || got.Status != tt.status {
				t.Errorf("Escalate = %+v, task %s; want %s", out, got.Status, tt.status)
			}
			if tt.status == store.PartnerEscalated && (out.Error != tt.code || got.LastError != tt.code) {
				t.Errorf("code %q (task %q), want %q", out.Error, got.LastError, tt.code)
			}
			if tt.status != store.PartnerEscalated && got.Version != 1 {
				t.Errorf("a final task was written (version %d)", got.Version)
			}
		})
	}
	if _, err := f.d.Escalate(ctx, partner.EscalateInput{RequestID: "nope", PartnerID: "p", Error: "x"}); !isNamed[*partner.RequestNotFound](err) {
		t.Errorf("Escalate(unknown request) = %v, want RequestNotFound", err)
	}
	if _, err := f.d.Escalate(ctx, partner.EscalateInput{PartnerID: "p"}); !isNamed[*partner.InvalidInput](err) {
		t.Errorf("Escalate(no request) = %v, want InvalidInput", err)
	}
}

// TestRetryAfterEscalation: an operator's retry (outside Step Functions)
// re-opens an escalated partner and dispatches it with backoff; the reply
// waiting for partners is woken only when the last one has settled for
// good.
func TestRetryAfterEscalation(t *testing.T) {
	t.Parallel()
	f := newFixture(t,
		simSpec{id: "a", mode: partner.ModeSync, ids: allIDs, b: partnersim.Behavior{FailFirst: 1}},
		simSpec{id: "b", mode: partner.ModeSync, ids: allIDs, b: partnersim.Behavior{FailFirst: 7, FailStatus: 502}},
	)
	ctx := t.Context()
	req := f.request(t, dsr.KindErasure, nil)
	for _, id := range []string{"a", "b"} {
		if it := f.run(t, req.ID, id); !isNamed[*partner.PartnerRetryable](it.Err) {
			t.Fatalf("Run(%s) = %v, want PartnerRetryable", id, it.Err)
		}
		if _, err := f.d.Escalate(ctx, partner.EscalateInput{RequestID: req.ID, PartnerID: id, Error: "PartnerRetryable"}); err != nil {
			t.Fatal(err)
		}
	}
	// The reply went out partially and waits for the partners.
	if err := f.st.PutTaskToken(ctx, req.ID, partner.ReplyWait, "tok-reply"); err != nil {
		t.Fatal(err)
	}
	var waits []time.Duration
	b := partner.Backoff{Attempts: 5, Initial: time.Second, Rand: func() float64 { return 1 }, Sleep: func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }}

	// a recovers; b is still escalated: the reply keeps waiting.
	out, err := f.d.Retry(ctx, partner.DispatchInput{RequestID: req.ID, PartnerID: "a"}, b)
	if err != nil || out.Status != store.PartnerCompleted || out.Receipt != f.sims["a"].Receipt(req.ID) {
		t.Fatalf("Retry(a) = %+v, %v; want completed", out, err)
	}
	if c := f.sims["a"].Calls(); c != 2 {
		t.Errorf("a called %d times, want 2", c)
	}
	if tk := f.task(t, req.ID, "a"); tk.TaskToken != "" || tk.Status != store.PartnerCompleted {
		t.Errorf("retried task %s token %q, want completed without the old iteration's token", tk.Status, tk.TaskToken)
	}
	if c := f.sfn.Calls(); len(c) != 0 {
		t.Errorf("Step Functions told %+v while b is still escalated, want nothing", c)
	}
	retry := f.events(t, req.ID, "a")
	if i := slices.Index(eventTypes(retry), "partner.retry"); i < 0 || retry[i].Data["from"] != "escalated" {
		t.Errorf("a events %v, want partner.retry from escalated", eventTypes(retry))
	}

	// b fails five more times: the retry gives up with the named error;
	// nothing is sent to the reply.
	waits = nil
	out, err = f.d.Retry(ctx, partner.DispatchInput{RequestID: req.ID, PartnerID: "b"}, b)
	if name, code, _ := classify(err); name != "PartnerRetryable" || code != "http_502" {
		t.Fatalf("Retry(b) = %+v, %v; want PartnerRetryable http_502", out, err)
	}
	if want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}; !slices.Equal(waits, want) {
		t.Errorf("backoff waits %v, want %v", waits, want)
	}
	if c := f.sims["b"].Calls(); c != 6 {
		t.Errorf("b called %d times, want 6", c)
	}
	if tk := f.task(t, req.ID, "b"); tk.Status != store.PartnerDispatched || tk.LastError != "http_502" {
		t.Errorf("b task %s %q, want dispatched http_502", tk.Status, tk.LastError)
	}
	if len(f.sfn.Calls()) != 0 {
		t.Errorf("Step Functions answered after a failed retry")
	}
	if _, err := f.d.Escalate(ctx, partner.EscalateInput{RequestID: req.ID, PartnerID: "b", Error: "PartnerRetryable"}); err != nil {
		t.Fatal(err)
	}

	// b recovers: it was the last partner, so the reply goes on.
	out, err = f.d.Retry(ctx, partner.DispatchInput{RequestID: req.ID, PartnerID: "b"}, b)
	if err != nil || out.Status != store.PartnerCompleted {
		t.Fatalf("Retry(b) again = %+v, %v; want completed", out, err)
	}
	calls := f.sfn.Calls()
	if len(calls) != 1 || calls[0].Token != "tok-reply" || calls[0].Error != "" {
		t.Fatalf("Step Functions calls %+v, want SendTaskSuccess(tok-reply)", calls)
	}
	var resumed struct {
		Complete *bool `json:"complete"`
		Resumed  bool  `json:"resumed"`
	}
	decodeJSON(t, calls[0].Output, &resumed)
	if resumed.Complete == nil || *resumed.Complete || !resumed.Resumed {
		t.Errorf("reply answered %s, want {\"complete\":false,\"resumed\":true}", calls[0].Output)
	}
	if got := eventTypes(f.events(t, req.ID, "")); got[len(got)-1] != "reply.resumed" {
		t.Errorf("last event %v, want reply.resumed", got[len(got)-1])
	}

	// A completed partner is not retried.
	if out, err := f.d.Retry(ctx, partner.DispatchInput{RequestID: req.ID, PartnerID: "a"}, b); err != nil || out.Status != store.PartnerCompleted || f.sims["a"].Calls() != 2 {
		t.Errorf("Retry(completed) = %+v, %v after %d calls; want its record, no call", out, err, f.sims["a"].Calls())
	}
	if _, err := f.d.Retry(ctx, partner.DispatchInput{RequestID: req.ID, PartnerID: "ghost"}, b); !isNamed[*partner.InvalidInput](err) {
		t.Errorf("Retry(unknown partner) = %v, want InvalidInput", err)
	}
	if _, err := f.d.Retry(ctx, partner.DispatchInput{RequestID: "nope", PartnerID: "a"}, b); !isNamed[*partner.RequestNotFound](err) {
		t.Errorf("Retry(unknown request) = %v, want RequestNotFound", err)
	}
}

// TestRetryRefusedStaysFailed: a retry that the partner refuses returns the
// named error with the task failed; a retried async partner waits for its
// callback (which wakes the reply: TestCallbackAfterRetryResumesReply).
func TestRetryRefusedStaysFailed(t *testing.T) {
	t.Parallel()
	f := newFixture(t,
		simSpec{id: "refuses", mode: partner.ModeSync, ids: allIDs, b: partnersim.Behavior{Permanent: 403}},
		simSpec{id: "async", mode: partner.ModeAsync, ids: allIDs, b: partnersim.Behavior{ManualCallback: true, FailFirst: 1}},
	)
	ctx := t.Context()
	req := f.request(t, dsr.KindErasure, nil)
	b := partner.Backoff{Attempts: 3, Sleep: func(context.Context, time.Duration) error { return nil }}
	for _, id := range []string{"refuses", "async"} {
		_ = f.run(t, req.ID, id)
		if _, err := f.d.Escalate(ctx, partner.EscalateInput{RequestID: req.ID, PartnerID: id, Error: "PartnerRejected"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.d.Retry(ctx, partner.DispatchInput{RequestID: req.ID, PartnerID: "refuses"}, b); !isNamed[*partner.PartnerRejected](err) {
		t.Errorf("Retry(refusing) = %v, want PartnerRejected", err)
	}
	if tk := f.task(t, req.ID, "refuses"); tk.Status != store.PartnerFailed || f.sims["refuses"].Calls() != 2 {
		t.Errorf("refusing task %s after %d calls, want failed after 2 (a refusal is not retried)", tk.Status, f.sims["refuses"].Calls())
	}
	out, err := f.d.Retry(ctx, partner.DispatchInput{RequestID: req.ID, PartnerID: "async"}, b)
	if err != nil || out.Status != store.PartnerAwaitingCallback {
		t.Errorf("Retry(async) = %+v, %v; want awaiting_callback", out, err)
	}
	if len(f.sfn.Calls()) != 0 {
		t.Errorf("Step Functions answered %+v", f.sfn.Calls())
	}
}

// TestResumeReply: the Reply state's token is answered only when every
// partner settled for good and a token is stored; a token Step Functions
// no longer knows is not an error, another failure is.
func TestResumeReply(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		statuses []store.PartnerStatus
		token    string
		sfnErr   error
		want     bool
		wantErr  bool
		sent     int
	}{
		{"all final", []store.PartnerStatus{store.PartnerCompleted, store.PartnerNoData, store.PartnerSettledByOperator}, "tok-reply", nil, true, false, 1},
		{"one escalated", []store.PartnerStatus{store.PartnerCompleted, store.PartnerEscalated}, "tok-reply", nil, false, false, 0},
		{"one failed", []store.PartnerStatus{store.PartnerFailed, store.PartnerCompleted}, "tok-reply", nil, false, false, 0},
		{"one awaiting", []store.PartnerStatus{store.PartnerAwaitingCallback}, "tok-reply", nil, false, false, 0},
		{"nothing waits", []store.PartnerStatus{store.PartnerCompleted}, "", nil, false, false, 0},
		{"token gone", []store.PartnerStatus{store.PartnerCompleted}, "tok-reply", &sfntypes.TaskTimedOut{Message: aws.String("gone")}, false, false, 1},
		{"Step Functions down", []store.PartnerStatus{store.PartnerCompleted}, "tok-reply", errors.New("connection reset"), false, true, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, simSpec{id: "a", mode: partner.ModeSync, ids: allIDs})
			ctx := t.Context()
			req := f.request(t, dsr.KindErasure, nil)
			for i, s := range tt.statuses {
				if _, _, err := f.st.PutPartnerTask(ctx, store.PartnerTask{RequestID: req.ID, PartnerID: string(rune('a' + i)), Action: "erase", Status: s}); err != nil {
					t.Fatal(err)
				}
			}
			if tt.token != "" {
				if err := f.st.PutTaskToken(ctx, req.ID, partner.ReplyWait, tt.token); err != nil {
					t.Fatal(err)
				}
			}
			f.sfn.setErr(tt.sfnErr)
			head := f.head(t, req.ID)
			got, err := f.d.ResumeReply(ctx, req.ID)
			if got != tt.want || (err != nil) != tt.wantErr {
				t.Errorf("ResumeReply = %v, %v; want %v, error %v", got, err, tt.want, tt.wantErr)
			}
			if tt.wantErr && !isNamed[*partner.ServiceUnavailable](err) {
				t.Errorf("error %T, want ServiceUnavailable", err)
			}
			calls := f.sfn.Calls()
			if len(calls) != tt.sent {
				t.Fatalf("Step Functions calls %+v, want %d", calls, tt.sent)
			}
			if tt.sent == 1 && (calls[0].Token != tt.token || calls[0].Output != `{"complete":false,"resumed":true}`) {
				t.Errorf("sent %+v", calls[0])
			}
			if wantEvents := map[bool]int{true: 1, false: 0}[tt.want]; f.head(t, req.ID)-head != wantEvents {
				t.Errorf("%d events appended, want %d (reply.resumed)", f.head(t, req.ID)-head, wantEvents)
			}
		})
	}
}

// TestPlanMarksPartnersWithoutIdentityTypes: a partner that holds none of
// the identity's identifier types gets a no_data task and no Map item.
func TestPlanMarksPartnersWithoutIdentityTypes(t *testing.T) {
	t.Parallel()
	f := newFixture(t,
		simSpec{id: "acct", mode: partner.ModeSync, ids: acctOnly},
		simSpec{id: "sms", mode: partner.ModeSync, ids: phone},
	)
	ctx := t.Context()
	// The requester typed a phone number, but the identity has none: the
	// typed one is a hint, not an identifier partners get.
	req := f.request(t, dsr.KindErasure, func(r *newRequest) {
		r.Identity.Subject.Phones = nil
		r.Personal.Subject.Phones = []string{"+8613900139000"}
	})
	plan, err := f.d.Plan(ctx, partner.PlanInput{RequestID: req.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Partners) != 1 || plan.Partners[0].PartnerID != "acct" || !slices.Equal(plan.Skipped, []string{"sms"}) {
		t.Errorf("plan = %+v, want acct planned and sms without data", plan)
	}
	if tk := f.task(t, req.ID, "sms"); tk.Status != store.PartnerNoData || tk.Action != "erase" {
		t.Errorf("sms task %s %s, want erase no_data", tk.Action, tk.Status)
	}
	if tk := f.task(t, req.ID, "acct"); tk.Status != store.PartnerPending {
		t.Errorf("acct task %s, want pending", tk.Status)
	}
	evs := f.events(t, req.ID, "")
	if last := evs[len(evs)-1]; last.Type != "partner.planned" || last.Data["partners"] != "1" || last.Data["skipped"] != "1" || last.Data["kind"] != "erasure" {
		t.Errorf("last event %+v, want partner.planned 1 partner, 1 skipped", last)
	}
	// Planning again is harmless.
	head := f.head(t, req.ID)
	again, err := f.d.Plan(ctx, partner.PlanInput{RequestID: req.ID})
	if err != nil || len(again.Partners) != 1 || !slices.Equal(again.Skipped, []string{"sms"}) {
		t.Errorf("second plan = %+v, %v", again, err)
	}
	if f.head(t, req.ID) != head {
		t.Errorf("a repeated plan appended events")
	}
	if f.sims["sms"].Calls()+f.sims["acct"].Calls() != 0 {
		t.Errorf("planning called partners")
	}
	if _, err := f.d.Plan(ctx, partner.PlanInput{RequestID: "nope"}); !isNamed[*partner.RequestNotFound](err) {
		t.Errorf("Plan(unknown request) = %v, want RequestNotFound", err)
	}
	if _, err := f.d.Plan(ctx, partner.PlanInput{}); !isNamed[*partner.InvalidInput](err) {
		t.Errorf("Plan(no request) = %v, want InvalidInput", err)
	}
}

// TestRunNoData: an iteration for a partner that holds none of the
// identity's types sends nothing and answers its token with success at
// once, status no_data: for a partner never planned, and for one planned
// before the identity lost its last identifier of the partner's types
// (audited as partner.no_data); a re-run of a no_data task is answered the
// same way.
func TestRunNoData(t *testing.T) {
	t.Parallel()
	f := newFixture(t,
		simSpec{id: "acct", mode: partner.ModeSync, ids: acctOnly},
		simSpec{id: "sms", mode: partner.ModeAsync, ids: phone},
	)
	ctx := t.Context()
	check := func(t *testing.T, reqID string, it iteration) {
		t.Helper()
		if it.Err != nil || it.Out.Status != store.PartnerNoData || it.Out.Action != "erase" {
			t.Fatalf("Run(sms) = %+v, %v; want erase no_data", it.Out, it.Err)
		}
		it.answeredWith(t, it.Answers, store.PartnerNoData, "")
		if tk := f.task(t, reqID, "sms"); tk.Status != store.PartnerNoData || !tk.TokenAnswered || tk.Attempts != 0 {
			t.Errorf("task %+v, want no_data, answered, no attempt", tk)
		}
		if f.sims["sms"].Calls() != 0 {
			t.Errorf("a partner without data was called")
		}
	}

	t.Run("never planned", func(t *testing.T) {
		req := f.request(t, dsr.KindErasure, func(r *newRequest) { r.Identity.Subject.Phones = nil })
		check(t, req.ID, f.run(t, req.ID, "sms"))
		// A re-run: answered at once, nothing appended.
		head := f.head(t, req.ID)
		check(t, req.ID, f.run(t, req.ID, "sms"))
		if f.head(t, req.ID) != head {
			t.Errorf("re-run of a no_data task appended events")
		}
	})
	t.Run("identity narrowed after planning", func(t *testing.T) {
		req := f.request(t, dsr.KindErasure, nil)
		plan, err := f.d.Plan(ctx, partner.PlanInput{RequestID: req.ID})
		if err != nil || len(plan.Partners) != 2 {
			t.Fatalf("plan = %+v, %v; want both partners", plan, err)
		}
		if _, err := f.st.UpdateIdentity(ctx, req.ID, func(idn *dsr.Identity) error {
			idn.Subject.Phones = nil
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		check(t, req.ID, f.run(t, req.ID, "sms"))
		if got := eventTypes(f.events(t, req.ID, "sms")); !slices.Equal(got, []string{"partner.no_data"}) {
			t.Errorf("events %v, want [partner.no_data]", got)
		}
	})
}

// TestRunRefusesBadInput: the iteration's input is checked before anything
// is stored or sent.
func TestRunRefusesBadInput(t *testing.T) {
	t.Parallel()
	f := newFixture(t,
		simSpec{id: "acct", mode: partner.ModeSync, ids: allIDs},
		simSpec{id: "analytics", mode: partner.ModeSync, ids: allIDs, actions: []partner.Action{partner.ActionErase, partner.ActionWithdrawConsent}, purposes: []string{dsr.PurposeAnalytics}},
	)
	req := f.request(t, dsr.KindConsentWithdrawal, func(r *newRequest) { r.Purposes = []string{dsr.PurposeAnalytics} })
	tests := []struct {
		name string
		in   partner.RunInput
		want func(error) bool
	}{
		{"no token", partner.RunInput{RequestID: req.ID, PartnerID: "analytics"}, isNamed[*partner.InvalidInput]},
		{"no partner", partner.RunInput{RequestID: req.ID, TaskToken: "t"}, isNamed[*partner.InvalidInput]},
		{"no request", partner.RunInput{PartnerID: "analytics", TaskToken: "t"}, isNamed[*partner.InvalidInput]},
		{"unknown partner", partner.RunInput{RequestID: req.ID, PartnerID: "ghost", TaskToken: "t"}, isNamed[*partner.InvalidInput]},
		{"partner not concerned", partner.RunInput{RequestID: req.ID, PartnerID: "acct", TaskToken: "t"}, isNamed[*partner.InvalidInput]},
		{"unknown request", partner.RunInput{RequestID: "nope", PartnerID: "acct", TaskToken: "t"}, isNamed[*partner.RequestNotFound]},
	}
	for _, tt := range tests {
		_, err := f.d.Run(t.Context(), tt.in)
		if !tt.want(err) {
			t.Errorf("%s: Run = %v (%T)", tt.name, err, err)
		}
	}
	if tasks, err := f.st.ListPartnerTasks(t.Context(), req.ID); err != nil || len(tasks) != 0 {
		t.Errorf("refused runs stored tasks %+v (%v)", tasks, err)
	}
	if len(f.sfn.Calls())+f.sims["acct"].Calls()+f.sims["analytics"].Calls() != 0 {
		t.Errorf("refused runs answered tokens or called partners")
	}
}

// TestIdentityMinimisation: partners receive only the identity's
// identifiers (verified and resolved), never what the requester typed:
// not the typed account ID, not the requester's own contact when they act
// for someone else.
func TestIdentityMinimisation(t *testing.T) {
	t.Parallel()
	const typedAccount, guardianEmail = "acct-typed-999", "guardian@example.com"
	f := newFixture(t,
		simSpec{id: "acct", mode: partner.ModeSync, ids: allIDs},
		simSpec{id: "voice", mode: partner.ModeAsync, ids: acctOnly},
		simSpec{id: "sms", mode: partner.ModeSync, ids: phone},
	)
	tests := []struct {
		name    string
		mutate  func(*newRequest)
		want    map[string][]string // partner → identities received; absent: no_data
		forbade []string
	}{
		{"typed account that did not resolve", func(r *newRequest) {
			r.Personal.Subject.Accounts = []string{typedAccount}
			r.Identity.Mismatched = 1
			r.Identity.Resolution = dsr.ResolutionMismatch
		}, map[string][]string{
			"acct":  {"controller_customer_id=" + subjectAccount},
			"voice": {"controller_customer_id=" + subjectAccount},
			"sms":   {"phone_number=" + subjectPhone},
		}, []string{typedAccount}},
		{"guardian for a child's account", func(r *newRequest) {
			r.Role = dsr.RoleGuardian
			r.Personal.Contact = dsr.Contact{Email: guardianEmail}
			r.Personal.Subject = dsr.Identifiers{Accounts: []string{"child-7", typedAccount}}
			r.Personal.SubjectName = "小明"
			r.Identity.Subject = dsr.Identifiers{Accounts: []string{"child-7"}}
			r.Identity.Resolution = dsr.ResolutionApproved
		}, map[string][]string{
			"acct":  {"controller_customer_id=child-7"},
			"voice": {"controller_customer_id=child-7"},
		}, []string{typedAccount, guardianEmail, "小明"}},
		{"no account: only the proved email", func(r *newRequest) {
			r.Personal.Subject.Accounts = []string{typedAccount}
			r.Identity.Subject = dsr.Identifiers{Emails: []string{subjectEmail}}
			r.Identity.Resolution = dsr.ResolutionNoAccount
		}, map[string][]string{
			"acct": {"email=" + subjectEmail},
		}, []string{typedAccount, subjectPhone}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := f.request(t, dsr.KindErasure, tt.mutate)
			plan, err := f.d.Plan(t.Context(), partner.PlanInput{RequestID: req.ID})
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range plan.Partners {
				if it := f.run(t, req.ID, p.PartnerID); it.Err != nil {
					t.Fatalf("Run(%s): %v", p.PartnerID, it.Err)
				}
			}
			for _, id := range []string{"acct", "voice", "sms"} {
				var got []partner.Request
				for _, r := range f.sims[id].Received() {
					if r.SubjectRequestID == req.ID {
						got = append(got, r)
					}
				}
				want, reached := tt.want[id]
				if !reached {
					if len(got) != 0 || f.task(t, req.ID, id).Status != store.PartnerNoData {
						t.Errorf("%s: received %d requests, task %s; want none and no_data", id, len(got), f.task(t, req.ID, id).Status)
					}
					continue
				}
				if len(got) != 1 || !slices.Equal(wireIDs(got[0]), want) {
					t.Errorf("%s: received %v, want %v", id, got, want)
					continue
				}
				b, _ := json.Marshal(got[0])
				for _, s := range tt.forbade {
					if strings.Contains(string(b), s) {
						t.Errorf("%s received %q, which is not the identity's", id, s)
					}
				}
			}
		})
	}
}

func TestConsentWithdrawalReachesOnlyConcernedPartners(t *testing.T) {
	t.Parallel()
	f := newFixture(t,
		simSpec{id: "analytics", mode: partner.ModeSync, ids: allIDs, actions: []partner.Action{partner.ActionErase, partner.ActionWithdrawConsent}, purposes: []string{dsr.PurposeAnalytics}, b: partnersim.Behavior{Changed: []string{"analytics_profile"}}},
		simSpec{id: "voice", mode: partner.ModeSync, ids: allIDs, actions: []partner.Action{partner.ActionErase, partner.ActionWithdrawConsent}, purposes: []string{dsr.PurposePartnerSharing}},
		simSpec{id: "sms", mode: partner.ModeSync, ids: allIDs, actions: []partner.Action{partner.ActionErase}},
	)
	req := f.request(t, dsr.KindConsentWithdrawal, func(r *newRequest) { r.Purposes = []string{dsr.PurposeAnalytics} })
	plan, err := f.d.Plan(t.Context(), partner.PlanInput{RequestID: req.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Partners) != 1 || plan.Partners[0].PartnerID != "analytics" || plan.Partners[0].Action != partner.ActionWithdrawConsent {
		t.Fatalf("plan = %+v, want analytics withdraw_consent only", plan)
	}
	it := f.run(t, req.ID, "analytics")
	if it.Err != nil || it.Out.Status != store.PartnerCompleted {
		t.Fatalf("Run = %+v, %v", it.Out, it.Err)
	}
	got := f.sims["analytics"].Received()[0]
	if got.SubjectRequestType != partner.ActionWithdrawConsent || !slices.Equal(got.ConsentPurposes, []string{dsr.PurposeAnalytics}) || got.Corrections != nil {
		t.Errorf("analytics received %s %v %v, want withdraw_consent [analytics] without corrections", got.SubjectRequestType, got.ConsentPurposes, got.Corrections)
	}
	if tk := f.task(t, req.ID, "analytics"); !slices.Equal(tk.Changed, []string{"analytics_profile"}) {
		t.Errorf("changed = %v, want [analytics_profile]", tk.Changed)
	}
	if f.sims["voice"].Calls()+f.sims["sms"].Calls() != 0 {
		t.Errorf("partners not concerned were called")
	}
	if tasks, _ := f.st.ListPartnerTasks(t.Context(), req.ID); len(tasks) != 1 {
		t.Errorf("%d partner tasks, want 1 (partners not concerned get none)", len(tasks))
	}
}

// TestCorrectionsComeFromPersonalData: a correction's text is read from the
// request's personal item when the partner is reached, and sent only with
// the correct action.
func TestCorrectionsComeFromPersonalData(t *testing.T) {
	t.Parallel()
	f := newFixture(t, simSpec{id: "acct", mode: partner.ModeSync, ids: allIDs})
	req := f.request(t, dsr.KindCorrection, func(r *newRequest) {
		r.Personal.Corrections = []string{"nickname: 小明", "birthday: 2001-02-03"}
	})
	if it := f.run(t, req.ID, "acct"); it.Err != nil || it.Out.Status != store.PartnerCompleted || it.Out.Action != "correct" {
		t.Fatalf("Run = %+v, %v; want correct completed", it.Out, it.Err)
	}
	got := f.sims["acct"].Received()[0]
	if got.SubjectRequestType != partner.ActionCorrect || !slices.Equal(got.Corrections, []string{"nickname: 小明", "birthday: 2001-02-03"}) {
		t.Errorf("received %s %v, want the personal item's corrections", got.SubjectRequestType, got.Corrections)
	}
	if tk := f.task(t, req.ID, "acct"); !slices.Equal(tk.Changed, []string{"profile"}) {
		t.Errorf("changed = %v, want [profile]", tk.Changed)
	}
	noPersonalData(t, "logs", f.logs.String(), "小明", "2001-02-03")
	evs, _ := json.Marshal(f.events(t, req.ID, ""))
	noPersonalData(t, "audit trail", string(evs), "小明", "2001-02-03")
}

// TestExportGoesToTheSinkNotTheOutput: an export, answered at once or by
// callback, is kept in the export sink; outputs and answers carry only its
// existence on the task.
func TestExportGoesToTheSinkNotTheOutput(t *testing.T) {
	t.Parallel()
	const data = `{"nickname":"小明"}`
	f := newFixture(t,
		simSpec{id: "acct", mode: partner.ModeSync, ids: allIDs, b: partnersim.Behavior{Export: []byte(data)}},
		simSpec{id: "voice", mode: partner.ModeAsync, ids: allIDs, b: partnersim.Behavior{Export: []byte(data), ManualCallback: true}},
	)
	req := f.request(t, dsr.KindAccess, nil)
	syncIt := f.run(t, req.ID, "acct")
	async := f.run(t, req.ID, "voice")
	if syncIt.Err != nil || async.Err != nil {
		t.Fatal(syncIt.Err, async.Err)
	}
	if err := f.sims["voice"].Complete(t.Context(), req.ID); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"acct", "voice"} {
		tk := f.task(t, req.ID, id)
		if tk.Status != store.PartnerCompleted || tk.Action != "export" || tk.ExportKey == "" || string(f.exports.get(tk.ExportKey)) != data {
			t.Errorf("%s: task %s key %q holds %q, want the partner's export", id, tk.Status, tk.ExportKey, f.exports.get(tk.ExportKey))
		}
	}
	b, _ := json.Marshal(syncIt.Out)
	for _, s := range []string{string(b), f.logs.String()} {
		if strings.Contains(s, "小明") {
			t.Errorf("export data leaked: %s", s)
		}
	}
	for _, c := range f.sfn.Calls() {
		if strings.Contains(c.Output, "小明") || strings.Contains(c.Output, "exports/") {
			t.Errorf("Step Functions answer carries export data or its key: %s", c.Output)
		}
	}
	if len(f.sfn.For(async.Token)) != 1 {
		t.Errorf("async export's token answered %d times, want 1", len(f.sfn.For(async.Token)))
	}
}

// TestExportWithoutSinkIsRetryable: a dispatcher built without export
// storage cannot keep an export: the iteration fails with
// ServiceUnavailable (retried), and the partner's answer is not recorded
// as completed.
func TestExportWithoutSinkIsRetryable(t *testing.T) {
	t.Parallel()
	f := newFixture(t, simSpec{id: "acct", mode: partner.ModeSync, ids: allIDs})
	d := partner.NewDispatcher(partner.DispatcherConfig{Partners: f.cfg}, partner.DispatcherDeps{Store: f.st, Secrets: secretsOf(f), SFN: f.sfn})
	if d.HasExports() || !f.d.HasExports() {
		t.Errorf("HasExports: %v without a sink, %v with one", d.HasExports(), f.d.HasExports())
	}
	req := f.request(t, dsr.KindAccess, nil)
	_, err := d.Run(t.Context(), partner.RunInput{RequestID: req.ID, PartnerID: "acct", TaskToken: "t"})
	if !isNamed[*partner.ServiceUnavailable](err) {
		t.Errorf("Run without export storage = %v, want ServiceUnavailable", err)
	}
	if tk := f.task(t, req.ID, "acct"); tk.Status == store.PartnerCompleted {
		t.Errorf("task completed without its export kept")
	}
}

// secretsOf resolves the fixture partners' secrets.
func secretsOf(f *fixture) *partner.Secrets {
	s := partner.NewSecrets(nil)
	s.Schemes["env"] = partner.Env{Lookup: func(k string) (string, bool) {
		for id, sec := range f.secrets {
			if k == "SECRET_"+strings.ToUpper(strings.ReplaceAll(id, "-", "_")) {
				return string(sec), true
			}
		}
		return "", false
	}}
	return s
}
