package verification_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"dsrflow/internal/dev/dynamotest"
	"dsrflow/internal/dsr"
	"dsrflow/internal/notify"
	"dsrflow/internal/secretstore"
	"dsrflow/internal/store"
	"dsrflow/internal/verification"
	"dsrflow/internal/webintake"
)

var emu *dynamotest.Emulator

func TestMain(m *testing.M) { os.Exit(dynamotest.Main(m, &emu)) }

// fakeSFN records SendTaskSuccess calls; after the first success for a
// token it answers TaskTimedOut, as Step Functions does.
type fakeSFN struct {
	mu    sync.Mutex
	calls []sfn.SendTaskSuccessInput
	done  map[string]bool
}

func (f *fakeSFN) SendTaskSuccess(ctx context.Context, in *sfn.SendTaskSuccessInput, _ ...func(*sfn.Options)) (*sfn.SendTaskSuccessOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, *in)
	if f.done == nil {
		f.done = map[string]bool{}
	}
	if f.done[*in.TaskToken] {
		return nil, &sfntypes.TaskTimedOut{Message: aws.String("done")}
	}
	f.done[*in.TaskToken] = true
	return &sfn.SendTaskSuccessOutput{}, nil
}

// memSender keeps messages.
type memSender struct {
	mu   sync.Mutex
	msgs []notify.Message
}

func (m *memSender) Send(ctx context.Context, msg notify.Message) (notify.Channel, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.msgs = append(m.msgs, msg)
	return notify.ChannelFor(msg.To), nil
}

var codeRE = regexp.MustCompile(`(?:验证码：|this code: )(\d{6})`)

func (m *memSender) lastCode(t *testing.T) string {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := len(m.msgs) - 1; i >= 0; i-- {
		if c := codeRE.FindStringSubmatch(m.msgs[i].Body); c != nil {
			return c[1]
		}
	}
	t.Fatal("no code sent")
	return ""
}

type fixture struct {
	st    *store.Store
	svc   *verification.Service
	sfn   *fakeSFN
	out   *memSender
	now   *time.Time
	table string
	token string
}

const statusToken = "status-token-of-the-requester"

func newFixture(t *testing.T, locale string) *fixture {
	t.Helper()
	table := emu.NewTable(t)
	now := time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC)
	f := &fixture{sfn: &fakeSFN{}, out: &memSender{}, now: &now, table: table, token: "AQB-task-token-1"}
	clock := func() time.Time { return *f.now }
	st := store.New(store.Config{Table: table}, store.Deps{DB: emu.Client(), Clock: clock})
	f.st = st
	sum := sha256.Sum256([]byte(statusToken))
	if _, _, err := st.CreateRequest(context.Background(), &dsr.Request{
		ID: "r-1", Kind: dsr.KindAccess, Status: dsr.StatusAwaitingVerification, Channel: dsr.ChannelWeb, Role: dsr.RoleSelf, Locale: locale,
		HintKeys: []string{"k1"}, StatusTokenHash: hex.EncodeToString(sum[:]),
	}, &dsr.Personal{Contact: dsr.Contact{Email: "li.lei.unit@example.cn"}}); err != nil {
		t.Fatal(err)
	}
	svc, err := verification.New(verification.Config{
		Secret:       []byte(strings.Repeat("x", 32)),
		StatusSecret: []byte(strings.Repeat("s", 32)),
		BaseURL:      "https://privacy.example.cn/",
	}, verification.Deps{Store: st, SFN: f.sfn, Sender: f.out, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	f.svc = svc
	if _, err := f.svc.Begin(context.Background(), "r-1", f.token); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) item(t *testing.T) *store.Verification {
	v, err := f.st.GetVerification(context.Background(), "r-1")
	if err != nil || v == nil {
		t.Fatalf("GetVerification = %v, %v", v, err)
	}
	return v
}

// TestCodeStoredHashed: the code is not stored, only its keyed hash; the
// message carries the code, its expiry and the link.
func TestCodeStoredHashed(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "en")
	code := f.out.lastCode(t)
	b, _ := json.Marshal(f.item(t))
	if strings.Contains(string(b), code) {
		t.Errorf("the VERIFY item contains the code %s: %s", code, b)
	}
	m := f.out.msgs[0]
	if !strings.Contains(m.Body, "2026-03-02 09:30 (China Standard Time, UTC+8)") {
		t.Errorf("message does not state the expiry (30 minutes, China time):\n%s", m.Body)
	}
	wantLink := "https://privacy.example.cn/requests/r-1/verification?token=" + verification.StatusToken([]byte(strings.Repeat("s", 32)), "r-1")
	if !strings.Contains(m.Body, wantLink) {
		t.Errorf("message lacks the link %s:\n%s", wantLink, m.Body)
	}
	if strings.Contains(m.Body, f.token) {
		t.Error("the message contains the task token")
	}
}

// TestStatusTokenMatchesWebIntake: the link token is the web intake's.
func TestStatusTokenMatchesWebIntake(t *testing.T) {
	secret := []byte(strings.Repeat("s", 32))
	if got, want := verification.StatusToken(secret, "r-abc"), webintake.StatusToken(secret, "r-abc"); got != want {
		t.Errorf("StatusToken = %s, webintake.StatusToken = %s", got, want)
	}
}

func TestSubmitCode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		setup func(f *fixture)
		token string
		code  func(right string) string
		want  verification.Outcome
		err   error
	}{
		{name: "right code", code: func(c string) string { return c }, want: verification.OutcomeVerified},
		{name: "right code with spaces and full-width digits", code: func(c string) string {
			return c[:3] + " " + strings.Map(func(r rune) rune { return r - '0' + '０' }, c[3:])
		}, want: verification.OutcomeVerified},
		{name: "wrong code", code: func(c string) string { return flip(c) }, want: verification.OutcomeWrongCode},
		{name: "not digits", code: func(string) string { return "abc" }, want: verification.OutcomeInvalidCode},
		{name: "expired code", setup: func(f *fixture) { *f.now = f.now.Add(31 * time.Minute) }, code: func(c string) string { return c }, want: verification.OutcomeCodeExpired},
		{name: "bad status token", token: "someone-else", code: func(c string) string { return c }, err: verification.ErrForbidden},
		{name: "no status token", token: "-", code: func(c string) string { return c }, err: verification.ErrForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, "zh-CN")
			if tt.setup != nil {
				tt.setup(f)
			}
			tok := statusToken
			switch tt.token {
			case "-":
				tok = ""
			case "":
			default:
				tok = tt.token
			}
			res, err := f.svc.SubmitCode(context.Background(), "r-1", tok, tt.code(f.out.lastCode(t)))
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil || res.Outcome != tt.want {
				t.Fatalf("got %+v, %v; want %s", res, err, tt.want)
			}
			if res.Message == "" {
				t.Error("no message for the requester")
			}
			wantCalls := 0
			if tt.want == verification.OutcomeVerified {
				wantCalls = 1
			}
			if len(f.sfn.calls) != wantCalls {
				t.Fatalf("%d SendTaskSuccess calls, want %d", len(f.sfn.calls), wantCalls)
			}
			if wantCalls == 1 {
				var out verification.TaskOutput
				if err := json.Unmarshal([]byte(*f.sfn.calls[0].Output), &out); err != nil || out.Method != "code" || out.Result != "approved" || out.VerifiedAt == "" {
					t.Errorf("task output %s (%v)", *f.sfn.calls[0].Output, err)
				}
				if *f.sfn.calls[0].TaskToken != f.token {
					t.Error("SendTaskSuccess with another token")
				}
			}
		})
	}
}

func flip(c string) string {
	b := []byte(c)
	b[0] = '0' + (b[0]-'0'+1)%10
	return string(b)
}

// TestSecondSubmissionChangesNothing: after success, the same code answers
// already_verified without calling Step Functions again.
func TestSecondSubmissionChangesNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "zh-CN")
	code := f.out.lastCode(t)
	for i, want := range []verification.Outcome{verification.OutcomeVerified, verification.OutcomeAlreadyVerified, verification.OutcomeAlreadyVerified} {
		res, err := f.svc.SubmitCode(context.Background(), "r-1", statusToken, code)
		if err != nil || res.Outcome != want {
			t.Fatalf("submission %d: %+v, %v; want %s", i+1, res, err, want)
		}
	}
	if len(f.sfn.calls) != 1 {
		t.Errorf("%d SendTaskSuccess calls, want 1", len(f.sfn.calls))
	}
}

// TestBeginAgainKeepsValidCode: a retried VerifyIdentity task (new token)
// does not send a second code while the first is valid; after expiry it does.
func TestBeginAgainKeepsValidCode(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "zh-CN")
	iss, err := f.svc.Begin(context.Background(), "r-1", "AQB-task-token-2")
	if err != nil || iss.Sent {
		t.Fatalf("second Begin: %+v, %v; want no new code", iss, err)
	}
	if len(f.out.msgs) != 1 {
		t.Errorf("%d messages, want 1", len(f.out.msgs))
	}
	res, err := f.svc.SubmitCode(context.Background(), "r-1", statusToken, f.out.lastCode(t))
	if err != nil || res.Outcome != verification.OutcomeVerified || *f.sfn.calls[0].TaskToken != "AQB-task-token-2" {
		t.Fatalf("SubmitCode: %+v, %v; want verified with the new token", res, err)
	}
	*f.now = f.now.Add(time.Hour)
	// A retry after verification signals the new token at once.
	if iss, err := f.svc.Begin(context.Background(), "r-1", "AQB-task-token-3"); err != nil || !iss.Verified || *f.sfn.calls[len(f.sfn.calls)-1].TaskToken != "AQB-task-token-3" {
		t.Errorf("Begin after verification: %+v, %v; want the new token signalled", iss, err)
	}
}

// TestCloseStopsCodes: after Close (expired, refused) codes answer not_waiting.
func TestCloseStopsCodes(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "zh-CN")
	if err := f.svc.Close(context.Background(), "r-1"); err != nil {
		t.Fatal(err)
	}
	res, err := f.svc.SubmitCode(context.Background(), "r-1", statusToken, f.out.lastCode(t))
	if err != nil || res.Outcome != verification.OutcomeNotWaiting || len(f.sfn.calls) != 0 {
		t.Errorf("after Close: %+v, %v, %d calls; want not_waiting, no call", res, err, len(f.sfn.calls))
	}
	if res, _ := f.svc.Resend(context.Background(), "r-1", statusToken); res.Outcome != verification.OutcomeNotWaiting {
		t.Errorf("resend after Close: %s, want not_waiting", res.Outcome)
	}
}

// TestConcurrentWrongCodesCountEach: parallel wrong submissions each count,
// so the limit cannot be outrun.
func TestConcurrentWrongCodesCountEach(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "en")
	code := f.out.lastCode(t)
	var wg sync.WaitGroup
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := f.svc.SubmitCode(context.Background(), "r-1", statusToken, flip(code)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	st, err := f.svc.Status(context.Background(), "r-1")
	if err != nil || st.State != verification.StateLocked || st.AttemptsLeft != 0 {
		t.Errorf("after 5 concurrent wrong codes: %+v, %v; want locked", st, err)
	}
	if res, _ := f.svc.SubmitCode(context.Background(), "r-1", statusToken, code); res.Outcome != verification.OutcomeLocked {
		t.Errorf("right code after lock: %s, want locked", res.Outcome)
	}
}

// TestRotatedCodeSecret: after the code secret is rotated, a code issued
// under the old secret still verifies when the old one is given as a
// previous secret, and counts as a wrong attempt when it is not; new codes
// use the new secret. A service without a code secret issues and checks
// none.
func TestRotatedCodeSecret(t *testing.T) {
	t.Parallel()
	oldSecret, newSecret := []byte(strings.Repeat("x", 32)), []byte(strings.Repeat("n", 32))
	tests := []struct {
		name     string
		previous [][]byte
		want     verification.Outcome
	}{
		{"old secret kept as previous", [][]byte{oldSecret}, verification.OutcomeVerified},
		{"old secret dropped", nil, verification.OutcomeWrongCode},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, "en") // issues a code under oldSecret
			code := f.out.lastCode(t)
			rotated, err := verification.New(verification.Config{Secret: newSecret, PreviousSecrets: tt.previous},
				verification.Deps{Store: f.st, SFN: f.sfn, Sender: f.out, Clock: func() time.Time { return *f.now }})
			if err != nil {
				t.Fatal(err)
			}
			res, err := rotated.SubmitCode(context.Background(), "r-1", statusToken, code)
			if err != nil {
				t.Fatal(err)
			}
			if res.Outcome != tt.want {
				t.Errorf("SubmitCode(code issued before the rotation) = %s, want %s", res.Outcome, tt.want)
			}
		})
	}

	f := newFixture(t, "en")
	rotated, err := verification.New(verification.Config{Secret: newSecret, PreviousSecrets: [][]byte{oldSecret}},
		verification.Deps{Store: f.st, SFN: f.sfn, Sender: f.out, Clock: func() time.Time { return *f.now }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rotated.Resend(context.Background(), "r-1", statusToken); err != nil {
		t.Fatal(err)
	}
	code := f.out.lastCode(t)
	old, err := verification.New(verification.Config{Secret: oldSecret},
		verification.Deps{Store: f.st, SFN: f.sfn, Sender: f.out, Clock: func() time.Time { return *f.now }})
	if err != nil {
		t.Fatal(err)
	}
	if res, err := old.SubmitCode(context.Background(), "r-1", statusToken, code); err != nil || res.Outcome != verification.OutcomeWrongCode {
		t.Errorf("a new code checked under the old secret = %v, %v; want wrong_code (new codes use the new secret)", res.Outcome, err)
	}

	none, err := verification.New(verification.Config{}, verification.Deps{Store: f.st, SFN: f.sfn, Sender: f.out})
	if err != nil {
		t.Fatalf("New without a code secret: %v", err)
	}
	if _, err := none.Begin(context.Background(), "r-1", "tok"); !errors.Is(err, verification.ErrNoCodeSecret) {
		t.Errorf("Begin without a code secret = %v, want ErrNoCodeSecret", err)
	}
	if _, err := none.SubmitCode(context.Background(), "r-1", statusToken, code); !errors.Is(err, verification.ErrNoCodeSecret) {
		t.Errorf("SubmitCode without a code secret = %v, want ErrNoCodeSecret", err)
	}
	if _, err := verification.New(verification.Config{Secret: []byte("short")}, verification.Deps{Store: f.st, SFN: f.sfn, Sender: f.out}); err == nil {
		t.Error("New accepted a short code secret")
	}
}

// TestReadCodeSecret: current alone, current and previous, and the errors
// (missing, short, not JSON), which never quote a value.
func TestReadCodeSecret(t *testing.T) {
	long, other := strings.Repeat("c", 32), strings.Repeat("p", 32)
	src := secretstore.Static{
		"one":      []byte(`{"current":"` + long + `"}`),
		"two":      []byte(`{"current":"` + long + `","previous":"` + other + `"}`),
		"short":    []byte(`{"current":"hunter2"}`),
		"shortold": []byte(`{"current":"` + long + `","previous":"hunter2"}`),
		"plain":    []byte(long),
	}
	tests := []struct {
		id            string
		current, prev string
		wantErr       bool
	}{
		{id: ""},
		{id: "one", current: long},
		{id: "two", current: long, prev: other},
		{id: "short", wantErr: true},
		{id: "shortold", wantErr: true},
		{id: "plain", wantErr: true},
		{id: "missing", wantErr: true},
	}
	for _, tt := range tests {
		cur, prev, err := verification.ReadCodeSecret(context.Background(), src, tt.id)
		if string(cur) != tt.current || string(prev) != tt.prev || (err != nil) != tt.wantErr {
			t.Errorf("ReadCodeSecret(%q) = %q, %q, %v; want %q, %q, error %v", tt.id, cur, prev, err, tt.current, tt.prev, tt.wantErr)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("ReadCodeSecret(%q) error quotes a secret: %v", tt.id, err)
		}
	}
}
