package intake_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/jhillyerd/enmime"

	"dsrflow/internal/dsr"
	"dsrflow/internal/intake"
	"dsrflow/internal/notify"
	"dsrflow/internal/verification"
)

// answerSFN accepts every SendTaskSuccess (the verification's answer to
// the workflow).
type answerSFN struct{ answered int }

func (a *answerSFN) SendTaskSuccess(context.Context, *sfn.SendTaskSuccessInput, ...func(*sfn.Options)) (*sfn.SendTaskSuccessOutput, error) {
	a.answered++
	return &sfn.SendTaskSuccessOutput{}, nil
}

var ownerCodeRE = regexp.MustCompile(`this code: (\d{6})`)

// TestOthersRequestsNeverBlockTheOwner: an attacker's requests with the
// owner's address (plus-tagged, in other cases) neither count against the
// owner's open requests nor keep the owner's own request from being
// answered: it is accepted, started, and its code arrives and verifies.
// Once the attacker has spent the address's message budget, the owner's
// request is still accepted and started; its code is refused by the
// budget, which the workflow hands to an operator (no channel), with the
// reason on the audit trail.
func TestOthersRequestsNeverBlockTheOwner(t *testing.T) {
	t.Parallel()
	for _, attacks := range []int{3, notify.DefaultBudgetPerMailbox} {
		t.Run(fmt.Sprintf("%d attacker requests", attacks), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			f := newFixture(t, 3)
			dir := t.TempDir()
			now := func() time.Time { return time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC) }
			router := notify.NewRouter(notify.RouterConfig{From: "privacy@example.cn", OutboxDir: dir, BudgetKey: secret},
				notify.RouterDeps{Budget: f.st, Clock: now})
			answers := &answerSFN{}
			ver, err := verification.New(verification.Config{Secret: secret}, verification.Deps{Store: f.st, SFN: answers, Sender: router, Clock: now})
			if err != nil {
				t.Fatal(err)
			}
			const token = "the-requesters-status-token"
			sum := sha256.Sum256([]byte(token))
			submit := func(key, email string, login *intake.Login) (intake.Result, error) {
				return f.svc.Submit(ctx, intake.Submission{
					Validated: validated(t, email, ""), Channel: dsr.ChannelWeb, NaturalKey: key,
					StatusTokenHash: hex.EncodeToString(sum[:]), Login: login,
				})
			}
			for i := range attacks {
				addr := []string{"owner@example.cn", "Owner@example.cn", "OWNER@example.cn", "owner+2@example.cn", "Owner+3@example.cn"}[i]
				res, err := submit(fmt.Sprintf("attack-%d", i), addr, nil)
				if err != nil || !res.Started {
					t.Fatalf("attacker's request %d: %+v, %v", i+1, res, err)
				}
				// The workflow sends each a code.
				if _, err := ver.Begin(ctx, res.Request.ID, fmt.Sprintf("task-%d", i)); err != nil {
					t.Fatalf("code for attacker's request %d: %v", i+1, err)
				}
			}

			res, err := submit("own", "owner@example.cn", nil)
			if err != nil || !res.Started {
				t.Fatalf("owner's request after %d of the attacker's: %+v, %v; want accepted and started", attacks, res, err)
			}
			own := res.Request.ID
			iss, err := ver.Begin(ctx, own, "task-own")
			if attacks < notify.DefaultBudgetPerMailbox {
				if err != nil || !iss.Sent {
					t.Fatalf("owner's code: %+v, %v; want sent", iss, err)
				}
				code := ""
				files, _ := filepath.Glob(filepath.Join(dir, "*-"+own+"-*.eml"))
				for _, name := range files {
					b, _ := os.ReadFile(name)
					env, err := enmime.ReadEnvelope(bytes.NewReader(b))
					if err != nil {
						t.Fatal(err)
					}
					if m := ownerCodeRE.FindStringSubmatch(env.Text); m != nil {
						code = m[1]
					}
				}
				out, err := ver.SubmitCode(ctx, own, token, code)
				if err != nil || out.Outcome != verification.OutcomeVerified || answers.answered != 1 {
					t.Fatalf("owner's code %q: %+v, %v, %d answers; want verified", code, out, err, answers.answered)
				}
			} else {
				if !errors.Is(err, notify.ErrOverBudget) || !errors.Is(err, notify.ErrNoChannel) {
					t.Fatalf("owner's code with the budget spent: %+v, %v; want over budget, handled as no channel", iss, err)
				}
				evs := f.events(t, own)
				if types := eventTypes(evs); !strings.Contains(strings.Join(types, ","), notify.EventOverBudget) {
					t.Errorf("owner's audit trail %v lacks %s", types, notify.EventOverBudget)
				}
			}

			// Logged in with the same (verified) address, the owner is not
			// capped by the attacker's requests either.
			if _, err := submit("own-login", "owner@example.cn", &intake.Login{Account: "10000009", Email: "owner@example.cn"}); err != nil {
				t.Errorf("owner's logged-in request: %v; want accepted", err)
			}
		})
	}
}

// TestTooManyOpenStatesNoCount: the cap's error never says how many
// requests are open or allowed.
func TestTooManyOpenStatesNoCount(t *testing.T) {
	msg := (&intake.TooManyOpenError{Open: 7, Max: 3}).Error()
	if strings.ContainsAny(msg, "0123456789") {
		t.Errorf("TooManyOpenError = %q; want no count", msg)
	}
}
