package partner_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
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

func wireTypes(r partner.Request) []string {
	var out []string
	for _, id := range r.SubjectIdentities {
		out = append(out, id.Type)
	}
	return out
}

// TestFanOutEndToEnd: a sync and an async partner and one holding only
// phones; each gets only its identity types; the async one is awaited, its
// callback answers the waiting state, and a redelivery changes nothing.
func TestFanOutEndToEnd(t *testing.T) {
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
		planned = append(planned, it.PartnerID+":"+string(it.Action))
	}
	if want := []string{"acct:erase", "voice:erase", "sms:erase"}; !slices.Equal(planned, want) {
		t.Errorf("plan = %v, want %v", planned, want)
	}
	if plan.Partners[1].DeadlineSeconds != 3600 {
		t.Errorf("async deadline = %ds, want 3600", plan.Partners[1].DeadlineSeconds)
	}

	outs := map[string]partner.DispatchOutput{}
	for _, it := range plan.Partners {
		out, err := f.d.Dispatch(ctx, partner.DispatchInput{RequestID: req.ID, PartnerID: it.PartnerID})
		if err != nil {
			t.Fatalf("Dispatch(%s): %v", it.PartnerID, err)
		}
		outs[it.PartnerID] = out
	}
	if o := outs["acct"]; o.Status != store.PartnerCompleted || o.Receipt != f.sims["acct"].Receipt(req.ID) {
		t.Errorf("sync partner output %+v, want completed with its receipt", o)
	}
	if o := outs["voice"]; o.Status != store.PartnerAwaitingCallback || o.DeadlineSeconds <= 0 {
		t.Errorf("async partner output %+v, want awaiting_callback with a deadline", o)
	}

	// Identity minimization.
	wantTypes := map[string][]string{
		"acct":  {"email", "phone_number", "controller_customer_id"},
		"voice": {"controller_customer_id"},
		"sms":   {"phone_number"},
	}
	for id, want := range wantTypes {
		got := f.sims[id].Received()
		if len(got) != 1 {
			t.Fatalf("%s received %d requests, want 1", id, len(got))
		}
		if !slices.Equal(wireTypes(got[0]), want) {
			t.Errorf("%s received identity types %v, want %v", id, wireTypes(got[0]), want)
		}
		if got[0].SubjectRequestID != req.ID || got[0].SubjectRequestType != partner.ActionErase {
			t.Errorf("%s received %s/%s, want %s/erase", id, got[0].SubjectRequestID, got[0].SubjectRequestType, req.ID)
		}
	}

	// The waiting state registers its token; the callback answers it.
	if err := f.d.Await(ctx, partner.AwaitInput{RequestID: req.ID, PartnerID: "voice", TaskToken: "token-voice"}); err != nil {
		t.Fatal(err)
	}
	if calls := f.sfn.Calls(); len(calls) != 0 {
		t.Fatalf("SFN answered before the callback: %+v", calls)
	}
	if err := f.sims["voice"].Complete(ctx, req.ID); err != nil {
		t.Fatalf("callback: %v", err)
	}
	calls := f.sfn.Calls()
	if len(calls) != 1 || calls[0].Token != "token-voice" || calls[0].Error != "" {
		t.Fatalf("SFN calls = %+v, want one SendTaskSuccess with token-voice", calls)
	}
	var out partner.DispatchOutput
	decodeJSON(t, calls[0].Output, &out)
	if out.Status != store.PartnerCompleted || out.Receipt != f.sims["voice"].Receipt(req.ID) || out.PartnerID != "voice" {
		t.Errorf("task output %+v, want voice completed with its receipt", out)
	}
	done := f.task(t, req.ID, "voice")
	if done.Status != store.PartnerCompleted || !done.TokenAnswered {
		t.Errorf("voice task %+v, want completed and answered", done)
	}

	// Redelivery changes nothing.
	head := f.head(t, req.ID)
	if err := f.sims["voice"].Complete(ctx, req.ID); err != nil {
		t.Fatalf("redelivered callback: %v", err)
	}
	if cbs := f.sims["voice"].Callbacks(); cbs[len(cbs)-1].Status != 200 {
		t.Errorf("redelivery answered %d, want 200", cbs[len(cbs)-1].Status)
	}
	if again := f.task(t, req.ID, "voice"); again.Version != done.Version {
		t.Errorf("redelivery changed the task: version %d → %d", done.Version, again.Version)
	}
	if f.head(t, req.ID) != head || len(f.sfn.Calls()) != 1 {
		t.Errorf("redelivery appended events or answered Step Functions again")
	}

	// Resume: dispatching again sends nothing to partners that confirmed.
	for _, it := range plan.Partners {
		if _, err := f.d.Dispatch(ctx, partner.DispatchInput{RequestID: req.ID, PartnerID: it.PartnerID}); err != nil {
			t.Fatal(err)
		}
	}
	for id, sim := range f.sims {
		if sim.Calls() != 1 {
			t.Errorf("%s called %d times after a resumed fan-out, want 1", id, sim.Calls())
		}
	}
	// No personal data in logs.
	for _, pii := range []string{"person@example.com", "13800138000", "acct-42"} {
		if strings.Contains(f.logs.String(), pii) {
			t.Errorf("logs contain personal data %q", pii)
		}
	}
}

func TestDispatchRetryableThenRecovers(t *testing.T) {
	t.Parallel()
	f := newFixture(t, simSpec{id: "flaky", mode: partner.ModeSync, ids: allIDs, b: partnersim.Behavior{FailFirst: 2, FailStatus: 503}})
	ctx := t.Context()
	req := f.request(t, dsr.KindErasure, nil)
	in := partner.DispatchInput{RequestID: req.ID, PartnerID: "flaky"}
	for i := 1; i <= 2; i++ {
		_, err := f.d.Dispatch(ctx, in)
		var re *partner.PartnerRetryable
		if !errors.As(err, &re) || re.Code != "http_503" {
			t.Fatalf("try %d: %v, want PartnerRetryable http_503", i, err)
		}
		tk := f.task(t, req.ID, "flaky")
		if tk.Status != store.PartnerDispatched || tk.Attempts != i || tk.LastError != "http_503" {
			t.Errorf("after try %d task = %s attempts %d error %q", i, tk.Status, tk.Attempts, tk.LastError)
		}
	}
	out, err := f.d.Dispatch(ctx, in)
	if err != nil || out.Status != store.PartnerCompleted {
		t.Fatalf("third try: %+v, %v; want completed", out, err)
	}
	if tk := f.task(t, req.ID, "flaky"); tk.Attempts != 3 || tk.LastError != "" {
		t.Errorf("completed task attempts %d error %q, want 3 and none", tk.Attempts, tk.LastError)
	}
}

// TestOnePartnerFailing: permanent refusals and garbage fail that partner
// only; Escalate records it and the iteration ends normally.
func TestOnePartnerFailing(t *testing.T) {
	t.Parallel()
	f := newFixture(t,
		simSpec{id: "good", mode: partner.ModeSync, ids: allIDs},
		simSpec{id: "refuses", mode: partner.ModeSync, ids: allIDs, b: partnersim.Behavior{Permanent: 400}},
		simSpec{id: "garbage", mode: partner.ModeSync, ids: allIDs, b: partnersim.Behavior{Garbage: "<html>OK</html>"}},
		simSpec{id: "down", mode: partner.ModeSync, ids: allIDs, b: partnersim.Behavior{Permanent: 500}},
	)
	ctx := t.Context()
	req := f.request(t, dsr.KindErasure, nil)
	tests := []struct {
		id, errName, code, status, escalated string
	}{
		{"good", "", "", "completed", "completed"},
		{"refuses", "PartnerRejected", "http_400", "failed", "http_400"},
		{"garbage", "PartnerGarbage", "garbage_not_json", "failed", "garbage_not_json"},
		{"down", "PartnerRetryable", "http_500", "dispatched", "http_500"},
	}
	for _, tt := range tests {
		_, err := f.d.Dispatch(ctx, partner.DispatchInput{RequestID: req.ID, PartnerID: tt.id})
		name, _, _ := classify(err)
		if name != tt.errName {
			t.Errorf("%s: error %v, want %q", tt.id, err, tt.errName)
		}
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
		if out.Status != store.PartnerEscalated || out.Error != tt.escalated {
			t.Errorf("Escalate(%s) = %+v, want escalated %q", tt.id, out, tt.escalated)
		}
	}
	// Escalating a completed partner changes nothing.
	out, err := f.d.Escalate(ctx, partner.EscalateInput{RequestID: req.ID, PartnerID: "good", Error: "States.Timeout"})
	if err != nil || out.Status != store.PartnerCompleted {
		t.Errorf("Escalate(completed) = %+v, %v; want completed", out, err)
	}
	// An escalated partner is not sent again by a resumed fan-out.
	if _, err := f.d.Dispatch(ctx, partner.DispatchInput{RequestID: req.ID, PartnerID: "refuses"}); err != nil {
		t.Errorf("Dispatch(escalated) = %v, want its recorded output", err)
	}
	if c := f.sims["refuses"].Calls(); c != 1 {
		t.Errorf("escalated partner called %d times, want 1", c)
	}
}

func TestRetryAfterEscalation(t *testing.T) {
	t.Parallel()
	f := newFixture(t, simSpec{id: "flaky", mode: partner.ModeSync, ids: allIDs, b: partnersim.Behavior{FailFirst: 3}})
	ctx := t.Context()
	req := f.request(t, dsr.KindErasure, nil)
	in := partner.DispatchInput{RequestID: req.ID, PartnerID: "flaky"}
	if _, err := f.d.Dispatch(ctx, in); err == nil {
		t.Fatal("first try succeeded, want a failure")
	}
	if _, err := f.d.Escalate(ctx, partner.EscalateInput{RequestID: req.ID, PartnerID: "flaky", Error: "PartnerRetryable"}); err != nil {
		t.Fatal(err)
	}
	b := partner.Backoff{Attempts: 5, Sleep: func(context.Context, time.Duration) error { return nil }}
	out, err := f.d.Retry(ctx, in, b)
	if err != nil || out.Status != store.PartnerCompleted {
		t.Fatalf("Retry = %+v, %v; want completed", out, err)
	}
	if c := f.sims["flaky"].Calls(); c != 4 {
		t.Errorf("partner called %d times, want 4", c)
	}
	// A completed partner is not retried.
	if _, err := f.d.Retry(ctx, in, b); err != nil || f.sims["flaky"].Calls() != 4 {
		t.Errorf("Retry(completed) sent again (%d calls), err %v", f.sims["flaky"].Calls(), err)
	}
}

func TestPlanSkipsPartnersWithoutIdentities(t *testing.T) {
	t.Parallel()
	f := newFixture(t,
		simSpec{id: "acct", mode: partner.ModeSync, ids: acctOnly},
		simSpec{id: "sms", mode: partner.ModeSync, ids: phone},
	)
	req := f.request(t, dsr.KindErasure, func(r *dsr.Request) { r.Contact.Phone = "" })
	plan, err := f.d.Plan(t.Context(), partner.PlanInput{RequestID: req.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Partners) != 1 || plan.Partners[0].PartnerID != "acct" || !slices.Equal(plan.Skipped, []string{"sms"}) {
		t.Errorf("plan = %+v, want acct planned and sms skipped", plan)
	}
	if tk := f.task(t, req.ID, "sms"); tk.Status != store.PartnerNoData {
		t.Errorf("sms task %s, want skipped", tk.Status)
	}
	// Planning again is harmless.
	head := f.head(t, req.ID)
	if _, err := f.d.Plan(t.Context(), partner.PlanInput{RequestID: req.ID}); err != nil {
		t.Fatal(err)
	}
	if f.head(t, req.ID) != head {
		t.Errorf("a repeated plan appended events")
	}
	if _, err := f.d.Plan(t.Context(), partner.PlanInput{RequestID: "nope"}); !isNamed[*partner.RequestNotFound](err) {
		t.Errorf("Plan(unknown request) = %v, want RequestNotFound", err)
	}
	if _, err := f.d.Dispatch(t.Context(), partner.DispatchInput{RequestID: req.ID, PartnerID: "ghost"}); !isNamed[*partner.InvalidInput](err) {
		t.Errorf("Dispatch(unknown partner) = %v, want InvalidInput", err)
	}
}

func isNamed[T error](err error) bool {
	var target T
	return errors.As(err, &target)
}

func TestConsentWithdrawalReachesOnlyConcernedPartners(t *testing.T) {
	t.Parallel()
	f := newFixture(t,
		simSpec{id: "analytics", mode: partner.ModeSync, ids: allIDs, actions: []partner.Action{partner.ActionErase, partner.ActionWithdrawConsent}, purposes: []string{dsr.PurposeAnalytics}, b: partnersim.Behavior{Changed: []string{"analytics_profile"}}},
		simSpec{id: "voice", mode: partner.ModeSync, ids: allIDs, actions: []partner.Action{partner.ActionErase, partner.ActionWithdrawConsent}, purposes: []string{dsr.PurposePartnerSharing}},
		simSpec{id: "sms", mode: partner.ModeSync, ids: allIDs, actions: []partner.Action{partner.ActionErase}},
	)
	req := f.request(t, dsr.KindConsentWithdrawal, func(r *dsr.Request) { r.Purposes = []string{dsr.PurposeAnalytics} })
	plan, err := f.d.Plan(t.Context(), partner.PlanInput{RequestID: req.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Partners) != 1 || plan.Partners[0].PartnerID != "analytics" {
		t.Fatalf("plan = %+v, want analytics only", plan)
	}
	out, err := f.d.Dispatch(t.Context(), partner.DispatchInput{RequestID: req.ID, PartnerID: "analytics"})
	if err != nil || out.Status != store.PartnerCompleted {
		t.Fatalf("Dispatch = %+v, %v", out, err)
	}
	got := f.sims["analytics"].Received()[0]
	if got.SubjectRequestType != partner.ActionWithdrawConsent || !slices.Equal(got.ConsentPurposes, []string{"analytics"}) {
		t.Errorf("analytics received %s %v, want withdraw_consent [analytics]", got.SubjectRequestType, got.ConsentPurposes)
	}
	if tk := f.task(t, req.ID, "analytics"); !slices.Equal(tk.Changed, []string{"analytics_profile"}) {
		t.Errorf("changed = %v, want [analytics_profile]", tk.Changed)
	}
	if f.sims["voice"].Calls()+f.sims["sms"].Calls() != 0 {
		t.Errorf("partners not concerned were called")
	}
}

func TestExportGoesToTheSinkNotTheOutput(t *testing.T) {
	t.Parallel()
	f := newFixture(t, simSpec{id: "acct", mode: partner.ModeSync, ids: allIDs, b: partnersim.Behavior{Export: []byte(`{"nickname":"小明"}`)}})
	req := f.request(t, dsr.KindAccess, nil)
	out, err := f.d.Dispatch(t.Context(), partner.DispatchInput{RequestID: req.ID, PartnerID: "acct"})
	if err != nil {
		t.Fatal(err)
	}
	tk := f.task(t, req.ID, "acct")
	if tk.ExportKey == "" || string(f.exports.data[tk.ExportKey]) != `{"nickname":"小明"}` {
		t.Errorf("export key %q holds %q, want the partner's export", tk.ExportKey, f.exports.data[tk.ExportKey])
	}
	if b, _ := json.Marshal(out); strings.Contains(string(b), "小明") {
		t.Errorf("dispatch output carries export data: %s", b)
	}
}

// TestCallbackRefusals: nothing changes on a refused callback.
func TestCallbackRefusals(t *testing.T) {
	t.Parallel()
	f := newFixture(t, simSpec{id: "voice", mode: partner.ModeAsync, ids: allIDs, b: partnersim.Behavior{ManualCallback: true}})
	ctx := t.Context()
	req := f.request(t, dsr.KindErasure, nil)
	if _, err := f.d.Dispatch(ctx, partner.DispatchInput{RequestID: req.ID, PartnerID: "voice"}); err != nil {
		t.Fatal(err)
	}
	if err := f.d.Await(ctx, partner.AwaitInput{RequestID: req.ID, PartnerID: "voice", TaskToken: "tok"}); err != nil {
		t.Fatal(err)
	}
	before := f.task(t, req.ID, "voice")
	head := f.head(t, req.ID)
	good := `{"subject_request_id":"` + req.ID + `","request_status":"completed","receipt":"R-1"}`
	now := time.Now()
	sec := f.secrets["voice"]
	tests := []struct {
		name      string
		partner   string
		body      string
		sign      func(body string) (ts, sig string)
		base64    string // raw event body override
		wantCode  int
		wantError string
	}{
		{"missing signature", "voice", good, func(string) (string, string) { return "", "" }, "", 401, "missing_signature"},
		{"bad signature", "voice", good, func(b string) (string, string) { return partner.Sign([]byte("not-the-secret-0123456"), now, []byte(b)) }, "", 401, "bad_signature"},
		{"stale timestamp", "voice", good, func(b string) (string, string) { return partner.Sign(sec, now.Add(-10*time.Minute), []byte(b)) }, "", 401, "stale_timestamp"},
		{"future timestamp", "voice", good, func(b string) (string, string) { return partner.Sign(sec, now.Add(10*time.Minute), []byte(b)) }, "", 401, "stale_timestamp"},
		{"signed for another body", "voice", good, func(string) (string, string) { return partner.Sign(sec, now, []byte(good+" ")) }, "", 401, "bad_signature"},
		{"unknown partner", "ghost", good, func(b string) (string, string) { return partner.Sign(sec, now, []byte(b)) }, "", 400, "unknown_partner"},
		{"unknown request", "voice", `{"subject_request_id":"nope","request_status":"completed","receipt":"R"}`, func(b string) (string, string) { return partner.Sign(sec, now, []byte(b)) }, "", 400, "unknown_request"},
		{"not JSON", "voice", `completed!`, func(b string) (string, string) { return partner.Sign(sec, now, []byte(b)) }, "", 400, "malformed"},
		{"unknown status", "voice", `{"subject_request_id":"` + req.ID + `","request_status":"done"}`, func(b string) (string, string) { return partner.Sign(sec, now, []byte(b)) }, "", 400, "malformed_unknown_status"},
		{"completed without receipt", "voice", `{"subject_request_id":"` + req.ID + `","request_status":"completed"}`, func(b string) (string, string) { return partner.Sign(sec, now, []byte(b)) }, "", 400, "malformed_missing_receipt"},
		{"bad base64", "voice", good, func(b string) (string, string) { return partner.Sign(sec, now, []byte(b)) }, "!!!", 400, "bad_base64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts, sig := tt.sign(tt.body)
			ev := eventFor(tt.partner, tt.body, ts, sig)
			if tt.base64 != "" {
				ev.Body = tt.base64
			}
			resp, err := f.cb.Handle(ctx, ev)
			if err != nil {
				t.Fatal(err)
			}
			var res partner.CallbackResult
			decodeJSON(t, resp.Body, &res)
			if resp.StatusCode != tt.wantCode || res.Error != tt.wantError {
				t.Errorf("callback = %d %q, want %d %q", resp.StatusCode, res.Error, tt.wantCode, tt.wantError)
			}
		})
	}
	if after := f.task(t, req.ID, "voice"); after.Version != before.Version || after.Status != store.PartnerAwaitingCallback {
		t.Errorf("refused callbacks changed the task: %s v%d → %s v%d", before.Status, before.Version, after.Status, after.Version)
	}
	if f.head(t, req.ID) != head || len(f.sfn.Calls()) != 0 {
		t.Errorf("refused callbacks appended events or answered Step Functions")
	}
	// The good one, sent raw (not base64), is recorded.
	ts, sig := partner.Sign(sec, now, []byte(good))
	ev := eventFor("voice", good, ts, sig)
	ev.IsBase64Encoded = false
	ev.Body = good
	resp, _ := f.cb.Handle(ctx, ev)
	if resp.StatusCode != 200 || f.task(t, req.ID, "voice").Status != store.PartnerCompleted {
		t.Errorf("good callback = %d %s, want 200 and a completed task", resp.StatusCode, resp.Body)
	}
	// Another outcome afterwards is a conflict and changes nothing.
	other := `{"subject_request_id":"` + req.ID + `","request_status":"completed","receipt":"R-2"}`
	ts, sig = partner.Sign(sec, now, []byte(other))
	resp, _ = f.cb.Handle(ctx, eventFor("voice", other, ts, sig))
	if resp.StatusCode != 409 || f.task(t, req.ID, "voice").Receipt != "R-1" {
		t.Errorf("conflicting callback = %d, receipt %q; want 409 and R-1 kept", resp.StatusCode, f.task(t, req.ID, "voice").Receipt)
	}
}

func eventFor(partnerID, body, ts, sig string) events.APIGatewayV2HTTPRequest {
	h := map[string]string{"content-type": "application/json"}
	if ts != "" {
		h["x-dsr-timestamp"] = ts
	}
	if sig != "" {
		h["x-dsr-signature"] = sig
	}
	ev := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: "POST /partners/{partner}/callbacks", RawPath: "/partners/" + partnerID + "/callbacks",
		Headers: h, PathParameters: map[string]string{"partner": partnerID},
		Body: base64.StdEncoding.EncodeToString([]byte(body)), IsBase64Encoded: true,
	}
	ev.RequestContext.HTTP.Method = "POST"
	return ev
}

// TestCallbackRaces: the callback before the token, after the deadline, with
// a token Step Functions no longer knows, and a failure report.
func TestCallbackRaces(t *testing.T) {
	t.Parallel()
	f := newFixture(t,
		simSpec{id: "fast", mode: partner.ModeAsync, ids: allIDs, b: partnersim.Behavior{ManualCallback: true}},
		simSpec{id: "late", mode: partner.ModeAsync, ids: allIDs, b: partnersim.Behavior{ManualCallback: true}},
		simSpec{id: "fails", mode: partner.ModeAsync, ids: allIDs, b: partnersim.Behavior{ManualCallback: true, Outcome: partner.StatusFailed, FailCode: "account_locked"}},
	)
	ctx := t.Context()
	req := f.request(t, dsr.KindErasure, nil)
	for _, id := range []string{"fast", "late", "fails"} {
		if _, err := f.d.Dispatch(ctx, partner.DispatchInput{RequestID: req.ID, PartnerID: id}); err != nil {
			t.Fatal(err)
		}
	}

	// Callback first, token second: Await answers at once.
	if err := f.sims["fast"].Complete(ctx, req.ID); err != nil {
		t.Fatal(err)
	}
	if len(f.sfn.Calls()) != 0 {
		t.Fatalf("answered without a token")
	}
	if err := f.d.Await(ctx, partner.AwaitInput{RequestID: req.ID, PartnerID: "fast", TaskToken: "tok-fast"}); err != nil {
		t.Fatal(err)
	}
	if c := f.sfn.Calls(); len(c) != 1 || c[0].Token != "tok-fast" || c[0].Error != "" {
		t.Errorf("SFN calls %+v, want SendTaskSuccess(tok-fast)", c)
	}

	// Failure report: SendTaskFailure with PartnerFailed.
	if err := f.d.Await(ctx, partner.AwaitInput{RequestID: req.ID, PartnerID: "fails", TaskToken: "tok-fails"}); err != nil {
		t.Fatal(err)
	}
	if err := f.sims["fails"].Complete(ctx, req.ID); err != nil {
		t.Fatal(err)
	}
	c := f.sfn.Calls()
	if last := c[len(c)-1]; last.Token != "tok-fails" || last.Error != "PartnerFailed" {
		t.Errorf("last SFN call %+v, want SendTaskFailure(tok-fails, PartnerFailed)", last)
	}
	if tk := f.task(t, req.ID, "fails"); tk.Status != store.PartnerFailed || tk.LastError != "failed_account_locked" {
		t.Errorf("fails task %s %q, want failed failed_account_locked", tk.Status, tk.LastError)
	}

	// Deadline passed: Step Functions timed the state out and the Catch
	// escalated; the late callback is still recorded.
	if err := f.d.Await(ctx, partner.AwaitInput{RequestID: req.ID, PartnerID: "late", TaskToken: "tok-late"}); err != nil {
		t.Fatal(err)
	}
	if out, err := f.d.Escalate(ctx, partner.EscalateInput{RequestID: req.ID, PartnerID: "late", Error: "States.Timeout"}); err != nil || out.Error != "deadline_passed" {
		t.Fatalf("Escalate = %+v, %v; want deadline_passed", out, err)
	}
	f.sfn.mu.Lock()
	f.sfn.err = &sfntypes.TaskTimedOut{Message: aws.String("Task Timed Out")}
	f.sfn.mu.Unlock()
	if err := f.sims["late"].Complete(ctx, req.ID); err != nil {
		t.Fatal(err)
	}
	tk := f.task(t, req.ID, "late")
	if tk.Status != store.PartnerCompleted || !tk.Late {
		t.Errorf("late task %s late=%v, want completed late", tk.Status, tk.Late)
	}
}

// TestCallbackAfterTokenExpired: the state is gone (TaskTimedOut); the
// outcome is recorded and the callback gets 200.
func TestCallbackAfterTokenExpired(t *testing.T) {
	t.Parallel()
	f := newFixture(t, simSpec{id: "slow", mode: partner.ModeAsync, ids: allIDs, b: partnersim.Behavior{ManualCallback: true}})
	ctx := t.Context()
	req := f.request(t, dsr.KindErasure, nil)
	if _, err := f.d.Dispatch(ctx, partner.DispatchInput{RequestID: req.ID, PartnerID: "slow"}); err != nil {
		t.Fatal(err)
	}
	if err := f.d.Await(ctx, partner.AwaitInput{RequestID: req.ID, PartnerID: "slow", TaskToken: "tok"}); err != nil {
		t.Fatal(err)
	}
	f.sfn.err = &sfntypes.TaskDoesNotExist{Message: aws.String("gone")}
	if err := f.sims["slow"].Complete(ctx, req.ID); err != nil {
		t.Fatalf("callback: %v", err)
	}
	if tk := f.task(t, req.ID, "slow"); tk.Status != store.PartnerCompleted || !tk.TokenAnswered {
		t.Errorf("task %s answered=%v, want completed and settled", tk.Status, tk.TokenAnswered)
	}
}

func TestCallbackMethodAndSize(t *testing.T) {
	t.Parallel()
	f := newFixture(t, simSpec{id: "voice", mode: partner.ModeAsync, ids: allIDs})
	ev := eventFor("voice", `{}`, "", "")
	ev.RequestContext.HTTP.Method = "GET"
	if resp, _ := f.cb.Handle(t.Context(), ev); resp.StatusCode != 405 {
		t.Errorf("GET = %d, want 405", resp.StatusCode)
	}
	big := strings.Repeat("x", partner.MaxCallbackBody+1)
	ts, sig := partner.Sign(f.secrets["voice"], time.Now(), []byte(big))
	ev = eventFor("voice", big, ts, sig)
	if resp, _ := f.cb.Handle(t.Context(), ev); resp.StatusCode != 413 {
		t.Errorf("oversized body = %d, want 413", resp.StatusCode)
	}
}
