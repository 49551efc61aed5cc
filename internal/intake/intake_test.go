package intake_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"dsrflow/internal/dev/dynamotest"
	"dsrflow/internal/dsr"
	"dsrflow/internal/intake"
	"dsrflow/internal/intake/intaketest"
	"dsrflow/internal/phone"
	"dsrflow/internal/store"
)

var emu *dynamotest.Emulator

func TestMain(m *testing.M) { os.Exit(dynamotest.Main(m, &emu)) }

var secret = []byte("0123456789abcdef0123456789abcdef")

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

type fixture struct {
	svc   *intake.Service
	st    *store.Store
	sfn   *intaketest.SFN
	table string
	logs  *bytes.Buffer
}

func newFixture(t *testing.T, maxOpen int) *fixture {
	t.Helper()
	fake := intaketest.NewSFN(t)
	f := newFixtureSFN(t, maxOpen, fake.Client(), intaketest.StateMachineArn)
	f.sfn = fake
	return f
}

// newFixtureSFN is newFixture with another Step Functions endpoint.
func newFixtureSFN(t *testing.T, maxOpen int, client intake.ExecutionStarter, arn string) *fixture {
	t.Helper()
	table := emu.NewTable(t)
	c := &clock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	st := store.New(store.Config{Table: table}, store.Deps{DB: emu.Client(), Clock: c.Now})
	logs := &bytes.Buffer{}
	logger := slog.New(slog.NewJSONHandler(logs, nil))
	starter, err := intake.NewStarter(intake.StarterConfig{StateMachineArn: arn},
		intake.StarterDeps{Store: st, SFN: client, Clock: c.Now, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := intake.New(intake.Config{SubjectSecret: secret, MaxOpenPerSubject: maxOpen},
		intake.Deps{Store: st, Starter: starter, Clock: c.Now, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{svc: svc, st: st, table: table, logs: logs}
}

func validated(t *testing.T, email, phoneNumber string) dsr.Validated {
	t.Helper()
	v, err := dsr.Submission{Kind: "access", Role: "self", Email: email, Phone: phoneNumber, Locale: "en"}.Validate(phone.Parse)
	if err != nil {
		t.Fatalf("Validate: %v", err)
	}
	return v
}

// events reads a request's audit events.
func (f *fixture) events(t *testing.T, id string) []store.Event {
	t.Helper()
	evs, err := f.st.ListEvents(context.Background(), id)
	if err != nil {
		t.Fatalf("list events: %v", err)
	}
	return evs
}

func eventTypes(evs []store.Event) []string {
	var types []string
	for _, e := range evs {
		types = append(types, e.Type)
	}
	return types
}

func TestRequestID(t *testing.T) {
	shape := regexp.MustCompile(`^r-[a-z2-7]{26}$`)
	tests := []struct {
		name   string
		a, b   func() string
		wantEq bool
	}{
		{"same key, same ID",
			func() string { return intake.RequestID(dsr.ChannelWeb, "k1") },
			func() string { return intake.RequestID(dsr.ChannelWeb, "k1") }, true},
		{"other key",
			func() string { return intake.RequestID(dsr.ChannelWeb, "k1") },
			func() string { return intake.RequestID(dsr.ChannelWeb, "k2") }, false},
		{"other channel, same key",
			func() string { return intake.RequestID(dsr.ChannelWeb, "k1") },
			func() string { return intake.RequestID(dsr.ChannelMail, "k1") }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := tt.a(), tt.b()
			for _, id := range []string{a, b} {
				if !shape.MatchString(id) {
					t.Errorf("RequestID = %q, want r- and 26 base32 characters", id)
				}
			}
			if (a == b) != tt.wantEq {
				t.Errorf("IDs %q and %q: equal = %v, want %v", a, b, a == b, tt.wantEq)
			}
		})
	}
	// Pinned: the ID of a natural key must never change between releases, or
	// redeliveries after an upgrade would create second requests.
	if got, want := intake.RequestID(dsr.ChannelMail, "abc"), "r-"+pinnedID(); got != want {
		t.Errorf("RequestID(mail, abc) = %q, want %q", got, want)
	}
}

// pinnedID is base32(SHA-256("mail:abc"))[:26], lower-cased, computed once by hand
// with: printf 'mail:abc' | openssl dgst -sha256 -binary | base32 | tr A-Z a-z | cut -c1-26
func pinnedID() string { return "kise4za7drrei52o3xeom5dqda" }

func TestSubmitCreatesAndStarts(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 3)
	ctx := context.Background()
	v := validated(t, "Li.Na@Example.CN", "13800138000")
	res, err := f.svc.Submit(ctx, intake.Submission{
		Validated: v, Channel: dsr.ChannelWeb, NaturalKey: "form-1",
		StatusTokenHash: "abc123", Source: "web",
	})
	if err != nil {
		t.Fatalf("Submit: %v", err)
	}
	wantID := intake.RequestID(dsr.ChannelWeb, "form-1")
	if res.Duplicate || !res.Started || res.Request.ID != wantID {
		t.Fatalf("Submit = {ID %s, Duplicate %v, Started %v}, want {%s, false, true}", res.Request.ID, res.Duplicate, res.Started, wantID)
	}
	got, err := f.st.GetRequest(ctx, wantID)
	if err != nil {
		t.Fatalf("GetRequest: %v", err)
	}
	var wantReq dsr.Request
	var wantP dsr.Personal
	v.Fill(&wantReq, &wantP, secret)
	if got.Status != dsr.StatusReceived || !got.ExecutionStarted || got.Channel != dsr.ChannelWeb ||
		got.Kind != dsr.KindAccess || got.Role != dsr.RoleSelf || got.Locale != "en" ||
		got.StatusTokenHash != "abc123" || got.Source != "web" ||
		!reflect.DeepEqual(got.HintKeys, wantReq.HintKeys) || len(got.SubjectKeys) != 0 {
		t.Errorf("stored request = %+v, want received, started, web, access, self, en, token hash, source, hint keys, no verified keys", got)
	}
	p, err := f.st.GetPersonal(ctx, wantID)
	if err != nil || p.Contact.Email != "li.na@example.cn" || p.Contact.Phone != "+8613800138000" {
		t.Errorf("personal = %+v, %v", p, err)
	}

	calls := f.sfn.Calls()
	if len(calls) != 1 {
		t.Fatalf("StartExecution calls = %d, want 1", len(calls))
	}
	if calls[0].Name != wantID || calls[0].StateMachineArn != intaketest.StateMachineArn {
		t.Errorf("StartExecution name/arn = %q/%q, want %q/%q", calls[0].Name, calls[0].StateMachineArn, wantID, intaketest.StateMachineArn)
	}
	var input map[string]any
	if err := json.Unmarshal([]byte(calls[0].Input), &input); err != nil {
		t.Fatalf("input %q: %v", calls[0].Input, err)
	}
	if want := map[string]any{"requestId": wantID}; !reflect.DeepEqual(input, want) {
		t.Errorf("execution input = %v, want exactly %v", input, want)
	}

	evs := f.events(t, wantID)
	if got, want := eventTypes(evs), []string{intake.EventReceived, intake.EventExecutionStarted}; !reflect.DeepEqual(got, want) {
		t.Errorf("audit events = %v, want %v", got, want)
	}
	for _, e := range evs {
		if e.Actor != "system:intake-web" {
			t.Errorf("event %s actor = %q, want system:intake-web", e.Type, e.Actor)
		}
	}
	if d := evs[0].Data; d["channel"] != "web" || d["kind"] != "access" || d["role"] != "self" {
		t.Errorf("received event data = %v, want channel, kind, role", d)
	}
	rep, err := f.st.VerifyChain(ctx, wantID)
	if err != nil || !rep.OK() {
		t.Errorf("VerifyChain = %+v, %v; want OK", rep, err)
	}
	assertNoPII(t, "events", mustJSON(t, evs), "li.na", "example.cn", "13800138000")
	assertNoPII(t, "logs", f.logs.String(), "li.na", "example.cn", "13800138000")
	assertNoPII(t, "execution input", calls[0].Input, "li.na", "example.cn", "13800138000")
}

func TestSubmitResubmitIsDuplicate(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 3)
	ctx := context.Background()
	sub := intake.Submission{Validated: validated(t, "a@example.cn", ""), Channel: dsr.ChannelWeb, NaturalKey: "k"}
	first, err := f.svc.Submit(ctx, sub)
	if err != nil {
		t.Fatalf("first Submit: %v", err)
	}
	second, err := f.svc.Submit(ctx, sub)
	if err != nil {
		t.Fatalf("second Submit: %v", err)
	}
	if !second.Duplicate || !second.Started || second.Request.ID != first.Request.ID {
		t.Errorf("second Submit = {%s dup=%v started=%v}, want {%s true true}", second.Request.ID, second.Duplicate, second.Started, first.Request.ID)
	}
	if n := len(f.sfn.Calls()); n != 1 {
		t.Errorf("StartExecution calls = %d, want 1", n)
	}
	if got := eventTypes(f.events(t, first.Request.ID)); len(got) != 2 {
		t.Errorf("audit events after resubmit = %v, want 2 events", got)
	}
}

func TestSubmitRandomIDWithoutNaturalKey(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 0)
	ctx := context.Background()
	sub := intake.Submission{Validated: validated(t, "b@example.cn", ""), Channel: dsr.ChannelWeb}
	a, err := f.svc.Submit(ctx, sub)
	if err != nil {
		t.Fatalf("Submit: %v", err)
	}
	b, err := f.svc.Submit(ctx, sub)
	if err != nil {
		t.Fatalf("Submit: %v", err)
	}
	if a.Request.ID == b.Request.ID || a.Duplicate || b.Duplicate {
		t.Errorf("two submits without natural key = %s, %s (dup %v, %v); want two new requests", a.Request.ID, b.Request.ID, a.Duplicate, b.Duplicate)
	}
}

// TestSubmitCap: only verified subjects (an in-app login) are capped.
// Requests anyone can make with someone's typed address or account ID never
// count against that person and are never refused for it.
func TestSubmitCap(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	login := &intake.Login{Account: "10000001"}
	tests := []struct {
		name string
		// closeFirst refuses the first request before the last submit.
		closeFirst bool
		last       intake.Submission
		wantErr    *intake.TooManyOpenError
		wantDup    bool
	}{
		{name: "fourth open request of a logged-in account is refused",
			last:    intake.Submission{NaturalKey: "k4", Validated: dsr.Validated{Email: "c@example.cn"}, Login: login},
			wantErr: &intake.TooManyOpenError{Open: 3, Max: 3}},
		{name: "a stranger typing the account is not refused",
			last: intake.Submission{NaturalKey: "k4", Validated: dsr.Validated{Email: "stranger@example.cn", AccountID: "10000001"}}},
		{name: "the same typed email is not refused",
			last: intake.Submission{NaturalKey: "k4", Validated: dsr.Validated{Email: "c@example.cn"}}},
		{name: "a resubmit of an existing key is not counted",
			last:    intake.Submission{NaturalKey: "k2", Validated: dsr.Validated{Email: "c@example.cn"}, Login: login},
			wantDup: true},
		{name: "another account is not affected",
			last: intake.Submission{NaturalKey: "k4", Validated: dsr.Validated{Email: "c@example.cn"}, Login: &intake.Login{Account: "10000002"}}},
		{name: "closed requests do not count", closeFirst: true,
			last: intake.Submission{NaturalKey: "k4", Validated: dsr.Validated{Email: "c@example.cn"}, Login: login}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, 3)
			var ids []string
			for _, k := range []string{"k1", "k2", "k3"} {
				res, err := f.svc.Submit(ctx, intake.Submission{
					Validated: validated(t, "c@example.cn", "13800138000"), Channel: dsr.ChannelWeb, NaturalKey: k, Login: login,
				})
				if err != nil {
					t.Fatalf("Submit %s: %v", k, err)
				}
				ids = append(ids, res.Request.ID)
			}
			// Typed-only requests for the same account are not counted either.
			if _, err := f.svc.Submit(ctx, intake.Submission{Validated: validatedAccount(t, "x@example.cn", "10000001"), Channel: dsr.ChannelWeb, NaturalKey: "typed"}); err != nil {
				t.Fatalf("typed-only submit: %v", err)
			}
			if tt.closeFirst {
				r, err := f.st.GetRequest(ctx, ids[0])
				if err != nil {
					t.Fatal(err)
				}
				if _, err := f.st.TransitionStatus(ctx, ids[0], dsr.StatusReceived, dsr.StatusRefused, r.Version, nil); err != nil {
					t.Fatalf("refuse first: %v", err)
				}
			}
			sub := tt.last
			sub.Channel = dsr.ChannelWeb
			sub.Validated = validatedAccount(t, sub.Validated.Email, sub.Validated.AccountID)
			calls := len(f.sfn.Calls())
			res, err := f.svc.Submit(ctx, sub)
			var tooMany *intake.TooManyOpenError
			switch {
			case tt.wantErr != nil:
				if !errors.As(err, &tooMany) || *tooMany != *tt.wantErr {
					t.Fatalf("Submit error = %v, want %+v", err, tt.wantErr)
				}
				if _, gerr := f.st.GetRequest(ctx, intake.RequestID(dsr.ChannelWeb, sub.NaturalKey)); !errors.Is(gerr, store.ErrNotFound) {
					t.Errorf("refused request stored: GetRequest error = %v, want ErrNotFound", gerr)
				}
				if n := len(f.sfn.Calls()); n != calls {
					t.Errorf("StartExecution called for a refused request")
				}
			case err != nil:
				t.Fatalf("Submit: %v", err)
			case res.Duplicate != tt.wantDup:
				t.Errorf("Duplicate = %v, want %v", res.Duplicate, tt.wantDup)
			}
		})
	}
}

func validatedAccount(t *testing.T, email, account string) dsr.Validated {
	t.Helper()
	v, err := dsr.Submission{Kind: "access", Role: "self", Email: email, AccountID: account, Locale: "en"}.Validate(phone.Parse)
	if err != nil {
		t.Fatalf("Validate: %v", err)
	}
	return v
}

// TestLoginIsRecordedAsProof: a login verifies the account at intake: the
// request carries its verified subject key and the identity its proof.
func TestLoginIsRecordedAsProof(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 3)
	ctx := context.Background()
	res, err := f.svc.Submit(ctx, intake.Submission{
		Validated: validated(t, "app@example.cn", ""), Channel: dsr.ChannelWeb, NaturalKey: "login-1",
		Login: &intake.Login{Account: "10000002"},
	})
	if err != nil {
		t.Fatal(err)
	}
	r := res.Request
	if r.VerifiedBy != dsr.ProofLogin || !reflect.DeepEqual(r.SubjectKeys, []string{dsr.SubjectKey(secret, dsr.IdentifierAccount, "10000002")}) {
		t.Errorf("request = verifiedBy %q keys %v", r.VerifiedBy, r.SubjectKeys)
	}
	idn, err := f.st.GetIdentity(ctx, r.ID)
	if err != nil || len(idn.Proved) != 1 || idn.Proved[0].Value != "10000002" || idn.Proved[0].Method != dsr.ProofLogin {
		t.Errorf("identity = %+v, %v", idn, err)
	}
	if got, err := f.st.FindBySubject(ctx, dsr.SubjectKey(secret, dsr.IdentifierAccount, "10000002")); err != nil || len(got) != 1 {
		t.Errorf("FindBySubject = %v, %v; want the request", got, err)
	}
}

// TestKeyReusedWithAnotherBody: an idempotency key names one request; the
// same key with another body neither returns it nor creates a new one.
func TestKeyReusedWithAnotherBody(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 3)
	ctx := context.Background()
	first := intake.Submission{Validated: validated(t, "a@example.cn", ""), Channel: dsr.ChannelWeb, NaturalKey: "shared", BodyDigest: "d1"}
	if _, err := f.svc.Submit(ctx, first); err != nil {
		t.Fatal(err)
	}
	again := first
	if res, err := f.svc.Submit(ctx, again); err != nil || !res.Duplicate {
		t.Fatalf("same body again = %+v, %v; want the duplicate", res, err)
	}
	other := intake.Submission{Validated: validated(t, "b@example.cn", ""), Channel: dsr.ChannelWeb, NaturalKey: "shared", BodyDigest: "d2"}
	res, err := f.svc.Submit(ctx, other)
	if !errors.Is(err, intake.ErrKeyReused) || res.Request != nil {
		t.Errorf("another body = %+v, %v; want ErrKeyReused and no request", res, err)
	}
}

func TestStartFailureThenRedelivery(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 3)
	ctx := context.Background()
	sub := intake.Submission{Validated: validated(t, "d@example.cn", ""), Channel: dsr.ChannelMail, NaturalKey: "msg-1"}
	id := intake.RequestID(dsr.ChannelMail, "msg-1")

	f.sfn.Fail(500)
	_, err := f.svc.Submit(ctx, sub)
	if !errors.Is(err, intake.ErrStart) {
		t.Fatalf("Submit with Step Functions down: error = %v, want ErrStart", err)
	}
	r, gerr := f.st.GetRequest(ctx, id)
	if gerr != nil {
		t.Fatalf("GetRequest: %v", gerr)
	}
	if r.Status != dsr.StatusReceived || r.ExecutionStarted {
		t.Errorf("after failed start: status %s, started %v; want received, false", r.Status, r.ExecutionStarted)
	}
	if got := eventTypes(f.events(t, id)); !reflect.DeepEqual(got, []string{intake.EventReceived}) {
		t.Errorf("events after failed start = %v, want [received]", got)
	}
	if strings.Contains(err.Error(), "d@example.cn") {
		t.Errorf("error message contains the email: %v", err)
	}

	f.sfn.Fail(0)
	res, err := f.svc.Submit(ctx, sub)
	if err != nil {
		t.Fatalf("redelivery: %v", err)
	}
	if !res.Duplicate || !res.Started || !res.Request.ExecutionStarted || res.Request.ID != id {
		t.Errorf("redelivery = {%s dup=%v started=%v flag=%v}, want {%s true true true}", res.Request.ID, res.Duplicate, res.Started, res.Request.ExecutionStarted, id)
	}
	if got, want := eventTypes(f.events(t, id)), []string{intake.EventReceived, intake.EventExecutionStarted}; !reflect.DeepEqual(got, want) {
		t.Errorf("events after restart = %v, want %v", got, want)
	}
	calls := f.sfn.Calls()
	if len(calls) != 2 || calls[1].Name != id {
		t.Errorf("StartExecution calls = %+v, want 2 (failed, then the restart) named %s", calls, id)
	}
	if rep, err := f.st.VerifyChain(ctx, id); err != nil || !rep.OK() {
		t.Errorf("VerifyChain = %+v, %v; want OK", rep, err)
	}
}

func TestStartByReconciler(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 3)
	ctx := context.Background()
	f.sfn.Fail(503)
	res, err := f.svc.Submit(ctx, intake.Submission{Validated: validated(t, "e@example.cn", ""), Channel: dsr.ChannelWeb, NaturalKey: "x"})
	if !errors.Is(err, intake.ErrStart) || res.Request == nil {
		t.Fatalf("Submit = %+v, %v; want the stored request and ErrStart", res, err)
	}
	f.sfn.Fail(0)
	got, err := f.svc.Starter().Start(ctx, res.Request)
	if err != nil || !got.ExecutionStarted {
		t.Fatalf("Start = %+v, %v; want started", got, err)
	}
}

func TestExecutionAlreadyExistsCountsAsStarted(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 3)
	ctx := context.Background()
	f.sfn.AnswerAlreadyExists(true)
	res, err := f.svc.Submit(ctx, intake.Submission{Validated: validated(t, "f@example.cn", ""), Channel: dsr.ChannelWeb, NaturalKey: "y"})
	if err != nil {
		t.Fatalf("Submit: %v", err)
	}
	if !res.Started || !res.Request.ExecutionStarted {
		t.Errorf("Started = %v, flag = %v; want true, true", res.Started, res.Request.ExecutionStarted)
	}
	evs := f.events(t, res.Request.ID)
	if len(evs) != 2 || evs[1].Data["alreadyExisted"] != "true" {
		t.Errorf("events = %+v, want execution_started with alreadyExisted", evs)
	}
}

func TestSubmitRejectsUnvalidated(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 3)
	tests := []struct {
		name string
		sub  intake.Submission
	}{
		{"zero Validated", intake.Submission{Channel: dsr.ChannelWeb, NaturalKey: "z"}},
		{"unknown channel", intake.Submission{Channel: "fax", Validated: validated(t, "g@example.cn", ""), NaturalKey: "z"}},
	}
	for _, tt := range tests {
		if _, err := f.svc.Submit(context.Background(), tt.sub); err == nil {
			t.Errorf("%s: Submit error = nil, want an error", tt.name)
		}
	}
	if n := len(f.sfn.Calls()); n != 0 {
		t.Errorf("StartExecution calls = %d, want 0", n)
	}
}

func TestExecutionInput(t *testing.T) {
	if got, want := intake.ExecutionInput("r-abc"), `{"requestId":"r-abc"}`; got != want {
		t.Errorf("ExecutionInput = %s, want %s", got, want)
	}
}

func assertNoPII(t *testing.T, where, text string, pii ...string) {
	t.Helper()
	for _, p := range pii {
		if strings.Contains(strings.ToLower(text), strings.ToLower(p)) {
			t.Errorf("%s contain personal data %q", where, p)
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestSubmitMailHints: what a mail's text named (identifiers, corrections,
// consent purposes) is kept on the personal item only; the request item
// gets the identifiers' keyed hashes and nothing else of them.
func TestSubmitMailHints(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 3)
	ctx := context.Background()
	v, err := dsr.Submission{Kind: "access", Role: "self", Email: "li.na@example.cn", Locale: "zh-CN"}.Validate(phone.Parse)
	if err != nil {
		t.Fatal(err)
	}
	v.Kind = dsr.KindConsentWithdrawal
	hints := dsr.Identifiers{Accounts: []string{"10000077"}, Phones: []string{"+8613900139000"}, Emails: []string{"old.li@example.org"}}
	res, err := f.svc.Submit(ctx, intake.Submission{
		Validated: v, Channel: dsr.ChannelMail, NaturalKey: "mail-hints",
		Hints:           hints,
		HintCorrections: []string{"把昵称改成小丽", "把昵称改成小丽"},
		HintPurposes:    []string{dsr.PurposeAnalytics},
	})
	if err != nil {
		t.Fatalf("Submit: %v", err)
	}
	id := res.Request.ID
	p, err := f.st.GetPersonal(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	wantSubject := dsr.Identifiers{Accounts: []string{"10000077"}, Emails: []string{"li.na@example.cn", "old.li@example.org"}, Phones: []string{"+8613900139000"}}
	if !reflect.DeepEqual(p.Subject, wantSubject) {
		t.Errorf("personal subject = %+v, want %+v", p.Subject, wantSubject)
	}
	if !reflect.DeepEqual(p.Corrections, []string{"把昵称改成小丽"}) || !reflect.DeepEqual(p.ConsentPurposes, []string{dsr.PurposeAnalytics}) {
		t.Errorf("personal corrections/purposes = %q/%q, want the hint once / [analytics]", p.Corrections, p.ConsentPurposes)
	}
	r, err := f.st.GetRequest(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Purposes) != 0 {
		t.Errorf("request purposes = %v, want none: a mail's purposes are hints for review", r.Purposes)
	}
	for _, want := range hints.Keys(secret) {
		if !slices.Contains(r.HintKeys, want) {
			t.Errorf("request hint keys %v lack a hinted identifier's key %s", r.HintKeys, want)
		}
	}
	assertNoPII(t, "request item", mustJSON(t, r), "10000077", "13900139000", "old.li", "小丽", "li.na")
	assertNoPII(t, "logs", f.logs.String(), "10000077", "13900139000", "old.li", "小丽", "li.na")
	assertNoPII(t, "events", mustJSON(t, f.events(t, id)), "10000077", "13900139000", "old.li", "小丽", "li.na")
}
