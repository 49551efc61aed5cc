package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dsrflow/internal/dev/dynamotest"
	"dsrflow/internal/dsr"
	"dsrflow/internal/legalhold"
	"dsrflow/internal/store"
)

// holdSecretForTest is SUBJECT_KEY_SECRET in the hold tests.
var holdSecretForTest = strings.Repeat("h", 40)

// holdPII is what the operator types and no output may repeat (any case).
var holdPII = []string{
	"Zhou.Min@Example.CN", "zhou.min@example.cn", "138 0013 8000", "13800138000", "acct-zhou-77",
	"li.na.note@example.cn", "139-1234-5678", "not-an-email@@x", "0000 1111 22",
	holdSecretForTest,
}

func testHold(t *testing.T, emu *dynamotest.Emulator) {
	ctx := context.Background()
	table := emu.NewTable(t)
	setAWSEnv(t, emu.Endpoint, table)
	t.Setenv("SUBJECT_KEY_SECRET", holdSecretForTest)
	list := legalhold.New(store.New(store.Config{Table: table}, store.Deps{DB: emu.Client()}))

	secret := []byte(holdSecretForTest)
	emailKey := dsr.SubjectKey(secret, dsr.IdentifierEmail, "zhou.min@example.cn")
	phoneKey := dsr.SubjectKey(secret, dsr.IdentifierPhone, "+8613800138000")
	accountKey := dsr.SubjectKey(secret, dsr.IdentifierAccount, "acct-zhou-77")

	// Steps run in order: each sees the holds the ones before left.
	steps := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  []string
		wantErr  []string
		// wantHold is the hold expected on key afterwards ("" action: none).
		key        string
		wantAction legalhold.Action
		wantReason dsr.RefusalReason
		wantNote   string
	}{
		{name: "add by email, default action",
			args:    []string{"hold", "add", "--subject-email", "Zhou.Min@Example.CN", "--reason", "legal_hold"},
			wantOut: []string{"hold added: subject " + emailKey[:12] + "…, action defer_erasure, reason legal_hold"},
			key:     emailKey, wantAction: legalhold.ActionDeferErasure, wantReason: dsr.RefusalLegalHold},
		{name: "replace, the same address written differently",
			args:    []string{"hold", "add", "--subject-email", " zhou.min@example.cn ", "--reason", "criminal_proceedings", "--action", "refuse", "--note", "CASE-2026-0012"},
			wantOut: []string{"hold replaced: subject " + emailKey[:12] + "…, action refuse, reason criminal_proceedings (was defer_erasure, legal_hold)"},
			key:     emailKey, wantAction: legalhold.ActionRefuse, wantReason: dsr.RefusalCriminalProceedings, wantNote: "CASE-2026-0012"},
		{name: "add by phone",
			args:    []string{"hold", "add", "--subject-phone", "138 0013 8000", "--reason", "national_security", "--action", "refuse"},
			wantOut: []string{"hold added: subject " + phoneKey[:12]},
			key:     phoneKey, wantAction: legalhold.ActionRefuse, wantReason: dsr.RefusalNationalSecurity},
		{name: "add by account, defer_erasure spelled out",
			args: []string{"hold", "add", "--subject-account", "acct-zhou-77", "--reason", "legal_hold", "--action", "defer_erasure", "--note", "tax audit 2026 ref 4711"},
			key:  accountKey, wantAction: legalhold.ActionDeferErasure, wantReason: dsr.RefusalLegalHold, wantNote: "tax audit 2026 ref 4711"},

		{name: "--operator is gone", args: []string{"hold", "add", "--subject-account", "acct-zhou-77", "--reason", "legal_hold", "--operator", "li"}, wantCode: ExitUsage,
			wantErr: []string{"--operator is gone"}},
		{name: "no subject", args: []string{"hold", "add", "--reason", "legal_hold"}, wantCode: ExitUsage,
			wantErr: []string{"exactly one of --subject-email, --subject-phone, --subject-account"}},
		{name: "two subjects", args: []string{"hold", "add", "--subject-email", "Zhou.Min@Example.CN", "--subject-account", "acct-zhou-77", "--reason", "legal_hold"}, wantCode: ExitUsage,
			wantErr: []string{"exactly one of"}},
		{name: "bad email", args: []string{"hold", "add", "--subject-email", "not-an-email@@x", "--reason", "legal_hold"}, wantCode: ExitUsage,
			wantErr: []string{"--subject-email: invalid email address"}},
		{name: "bad phone", args: []string{"hold", "add", "--subject-phone", "0000 1111 22", "--reason", "legal_hold"}, wantCode: ExitUsage,
			wantErr: []string{"--subject-phone: invalid phone number"}},
		{name: "no reason", args: []string{"hold", "add", "--subject-account", "acct-zhou-77"}, wantCode: ExitUsage,
			wantErr: []string{"--reason CODE is required", "legal_hold, national_security"}},
		{name: "reason that is not a hold's", args: []string{"hold", "add", "--subject-account", "acct-zhou-77", "--reason", "duplicate"}, wantCode: ExitUsage,
			wantErr: []string{`reason "duplicate" does not fit a legal hold`, "serious_harm"}},
		{name: "unknown reason", args: []string{"hold", "add", "--subject-account", "acct-zhou-77", "--reason", "whim"}, wantCode: ExitUsage,
			wantErr: []string{`reason "whim" does not fit`}},
		{name: "unknown action", args: []string{"hold", "add", "--subject-account", "acct-zhou-77", "--reason", "legal_hold", "--action", "pause"}, wantCode: ExitUsage,
			wantErr: []string{`unknown --action "pause"; use refuse or defer`}},
		{name: "note with an email address", args: []string{"hold", "add", "--subject-account", "acct-zhou-77", "--reason", "legal_hold", "--note", "asked by li.na.note@example.cn"}, wantCode: ExitUsage,
			wantErr: []string{"--note looks like it holds an email address"}},
		{name: "note with a phone number", args: []string{"hold", "add", "--subject-account", "acct-zhou-77", "--reason", "legal_hold", "--note", "call 139-1234-5678 first"}, wantCode: ExitUsage,
			wantErr: []string{"--note looks like it holds a phone number"}},
		{name: "note too long", args: []string{"hold", "add", "--subject-account", "acct-zhou-77", "--reason", "legal_hold", "--note", strings.Repeat("案", 201)}, wantCode: ExitUsage,
			wantErr: []string{"--note is 201 characters, want at most 200"}},
		// The failed adds above left the account's hold as it was.
		{name: "account hold unchanged", args: []string{"hold", "list"},
			key: accountKey, wantAction: legalhold.ActionDeferErasure, wantReason: dsr.RefusalLegalHold, wantNote: "tax audit 2026 ref 4711"},

		{name: "list", args: []string{"hold", "list"},
			wantOut: []string{"SUBJECT", "ACTION", "REASON", "NOTE", "CREATED", "BY",
				emailKey[:12] + "…  refuse", "criminal_proceedings  CASE-2026-0012", phoneKey[:12] + "…", "national_security     -", "operator:local:tester"}},

		{name: "remove by phone", args: []string{"hold", "remove", "--subject-phone", "+86 138-0013-8000"},
			wantOut: []string{"hold removed: subject " + phoneKey[:12] + "…, action refuse, reason national_security"},
			key:     phoneKey},
		{name: "remove again", args: []string{"hold", "remove", "--subject-phone", "13800138000"}, wantCode: ExitFailure,
			wantErr: []string{"no hold on subject " + phoneKey[:12] + "… in table " + table}},
		{name: "remove without subject", args: []string{"hold", "remove"}, wantCode: ExitUsage, wantErr: []string{"exactly one of"}},
		{name: "no subcommand", args: []string{"hold"}, wantCode: ExitUsage, wantErr: []string{"dsr hold add|remove|list"}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			code, out, errOut := runDSR(t, st.args...)
			if code != st.wantCode {
				t.Fatalf("dsr %v: exit %d, want %d\nstdout: %s\nstderr: %s", st.args, code, st.wantCode, out, errOut)
			}
			checkNoPII(t, out+errOut, holdPII)
			for _, w := range st.wantOut {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
			for _, w := range st.wantErr {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr lacks %q: %s", w, errOut)
				}
			}
			if st.wantCode != ExitOK && out != "" {
				t.Errorf("stdout on failure: %q", out)
			}
			if st.key == "" {
				return
			}
			// The workflow finds the hold by the key intake computes.
			h, err := list.Find(ctx, []string{st.key})
			if err != nil {
				t.Fatal(err)
			}
			var gotA legalhold.Action
			var gotR dsr.RefusalReason
			var gotNote string
			if h != nil {
				gotA, gotR, gotNote = h.Action, h.Reason, h.Reference
				if h.CreatedBy != "operator:local:tester" || h.CreatedAt.IsZero() {
					t.Errorf("hold created by %q at %v, want the local principal operator:local:tester and a time", h.CreatedBy, h.CreatedAt)
				}
			}
			if gotA != st.wantAction || gotR != st.wantReason || gotNote != st.wantNote {
				t.Errorf("stored hold: action %q reason %q note %q; want %q %q %q", gotA, gotR, gotNote, st.wantAction, st.wantReason, st.wantNote)
			}
		})
	}

	t.Run("list --json", func(t *testing.T) {
		code, out, errOut := runDSR(t, "hold", "list", "--json")
		if code != ExitOK {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		checkNoPII(t, out, holdPII)
		var got []map[string]any
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 {
			t.Fatalf("%d holds, want 2:\n%s", len(got), out)
		}
		want := map[string]map[string]any{
			emailKey:   {"subjectKey": emailKey, "action": "refuse", "reason": "criminal_proceedings", "note": "CASE-2026-0012", "createdBy": "operator:local:tester"},
			accountKey: {"subjectKey": accountKey, "action": "defer_erasure", "reason": "legal_hold", "note": "tax audit 2026 ref 4711", "createdBy": "operator:local:tester"},
		}
		for _, g := range got {
			w, ok := want[g["subjectKey"].(string)]
			if !ok {
				t.Errorf("unexpected hold %v", g)
				continue
			}
			if _, ok := g["createdAt"].(string); !ok {
				t.Errorf("hold without createdAt: %v", g)
			}
			delete(g, "createdAt")
			for k, v := range w {
				if g[k] != v {
					t.Errorf("hold %s: %s = %v, want %v", w["subjectKey"], k, g[k], v)
				}
			}
			if len(g) != len(w) {
				t.Errorf("hold fields %v, want those of %v", g, w)
			}
		}
	})
	t.Run("add and remove --json", func(t *testing.T) {
		code, out, errOut := runDSR(t, "hold", "add", "--subject-phone", "138 0013 8000", "--reason", "serious_harm", "--json")
		if code != ExitOK {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		checkNoPII(t, out, holdPII)
		var got holdChange
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatal(err)
		}
		if got.Result != "added" || got.Hold.SubjectKey != phoneKey || got.Hold.Action != legalhold.ActionDeferErasure || got.Hold.Reason != dsr.RefusalSeriousHarm || got.Was != nil || got.By != "operator:local:tester" {
			t.Errorf("add --json = %+v", got)
		}
		code, out, errOut = runDSR(t, "hold", "remove", "--subject-phone", "138 0013 8000", "--json")
		if code != ExitOK {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		got = holdChange{}
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatal(err)
		}
		if got.Result != "removed" || got.Hold.SubjectKey != phoneKey || got.Hold.Reason != dsr.RefusalSeriousHarm || got.By != "operator:local:tester" {
			t.Errorf("remove --json = %+v", got)
		}
	})
	t.Run("secret", func(t *testing.T) {
		for _, tt := range []struct {
			name, value, want string
			unset             bool
		}{
			{"unset", "", "neither SUBJECT_KEY_SECRET_ID", true},
			{"empty", "", "neither SUBJECT_KEY_SECRET_ID", false},
			{"short", "tooshort-" + holdSecretForTest[:5], "SUBJECT_KEY_SECRET is 14 bytes, want at least 32", false},
		} {
			t.Run(tt.name, func(t *testing.T) {
				t.Setenv("SUBJECT_KEY_SECRET", tt.value)
				if tt.unset {
					unsetEnv(t, "SUBJECT_KEY_SECRET")
				}
				for _, args := range [][]string{
					{"hold", "add", "--subject-email", "Zhou.Min@Example.CN", "--reason", "legal_hold"},
					{"hold", "remove", "--subject-account", "acct-zhou-77"},
				} {
					code, out, errOut := runDSR(t, args...)
					if code != ExitUsage || out != "" || !strings.Contains(errOut, tt.want) {
						t.Errorf("dsr %v: exit %d, stdout %q, stderr %q; want 2, %q", args[:2], code, out, errOut, tt.want)
					}
					checkNoPII(t, out+errOut, append(holdPII, "tooshort"))
				}
			})
		}
		// The secret named by SUBJECT_KEY_SECRET_ID (here from SECRETS_DIR,
		// as on the local stack) keys the same subject key as the value.
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "SubjectKeySecret"), []byte(holdSecretForTest), 0o600); err != nil {
			t.Fatal(err)
		}
		unsetEnv(t, "SUBJECT_KEY_SECRET")
		t.Setenv("SECRETS_DIR", dir)
		t.Setenv("SUBJECT_KEY_SECRET_ID", "SubjectKeySecret")
		if code, out, errOut := runDSR(t, "hold", "remove", "--subject-account", "acct-nobody-1", "--json"); code != ExitFailure {
			t.Errorf("hold remove with the secret by name: exit %d, %s %s; want 1 (no hold for that subject)", code, out, errOut)
		}
		t.Setenv("SUBJECT_KEY_SECRET_ID", "NoSuchSecret")
		if code, _, errOut := runDSR(t, "hold", "remove", "--subject-account", "acct-nobody-1"); code == ExitOK || code == ExitFailure || !strings.Contains(errOut, "SUBJECT_KEY_SECRET_ID") {
			t.Errorf("hold remove with a missing secret: exit %d, %s; want an error naming SUBJECT_KEY_SECRET_ID", code, errOut)
		}
		unsetEnv(t, "SUBJECT_KEY_SECRET_ID")
		t.Setenv("SUBJECT_KEY_SECRET", holdSecretForTest)
		// Holds were not touched.
		if holds, err := list.All(ctx); err != nil || len(holds) != 2 {
			t.Errorf("holds after refused commands: %d, %v; want 2", len(holds), err)
		}
	})
	t.Run("empty list", func(t *testing.T) {
		other := emu.NewTable(t)
		if code, out, _ := runDSR(t, "hold", "list", "--table", other); code != ExitOK || out != "no legal holds\n" {
			t.Errorf("exit %d, %q; want 0, no legal holds", code, out)
		}
		if code, out, _ := runDSR(t, "hold", "list", "--table", other, "--json"); code != ExitOK || strings.TrimSpace(out) != "[]" {
			t.Errorf("--json: exit %d, %q; want 0, []", code, out)
		}
	})
	t.Run("no such table", func(t *testing.T) {
		for _, args := range [][]string{
			{"hold", "add", "--subject-email", "Zhou.Min@Example.CN", "--reason", "legal_hold", "--table", "no-such-table"},
			{"hold", "list", "--table", "no-such-table"},
		} {
			code, out, errOut := runDSR(t, args...)
			if code != ExitError || out != "" || !strings.Contains(errOut, "ResourceNotFoundException") {
				t.Errorf("dsr %v: exit %d, stdout %q, stderr %q; want 3, ResourceNotFoundException", args[:2], code, out, errOut)
			}
			checkNoPII(t, out+errOut, holdPII)
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		endpoint := closedEndpoint(t)
		t.Setenv("AWS_ENDPOINT_URL_DYNAMODB", endpoint)
		for _, args := range [][]string{
			{"hold", "add", "--subject-email", "Zhou.Min@Example.CN", "--reason", "legal_hold"},
			{"hold", "remove", "--subject-account", "acct-zhou-77"},
			{"hold", "list"},
		} {
			code, out, errOut := runDSR(t, args...)
			if code != ExitError || out != "" || !strings.Contains(errOut, "dynamodb at "+endpoint+" unreachable") {
				t.Errorf("dsr %v: exit %d, stdout %q, stderr %q; want 3 naming %s", args[:2], code, out, errOut, endpoint)
			}
			checkNoPII(t, out+errOut, holdPII)
		}
	})
}

// unsetEnv removes k for the rest of the test (restored afterwards).
func unsetEnv(t *testing.T, k string) {
	t.Helper()
	t.Setenv(k, "")
	if err := os.Unsetenv(k); err != nil {
		t.Fatal(err)
	}
}

// testHoldInWorkflow: a hold added with dsr hold add (and the functions'
// SUBJECT_KEY_SECRET) makes the real workflow refuse the subject's request
// with the hold's reason; dsr requests list and dsr show then show it.
func testHoldInWorkflow(t *testing.T, emu *dynamotest.Emulator) {
	s := newRequestStack(t, emu)
	// The stack's intake hashes subjects with its secret.
	t.Setenv("SUBJECT_KEY_SECRET", stackSubjectSecret)
	if code, out, errOut := runDSR(t, "hold", "add", "--subject-email", "Wang.Fang.CLI@example.cn", "--reason", "criminal_proceedings", "--action", "refuse", "--note", "CASE-9"); code != ExitOK {
		t.Fatalf("hold add: exit %d, %q, %q", code, out, errOut)
	}
	id := s.submit(dsr.Validated{Role: dsr.RoleSelf, Email: "wang.fang.cli@example.cn"}, "hold-wf-1")
	code := s.code(id)
	if res, err := s.h.Verification().SubmitCode(context.Background(), id, s.statusToken(id), code); err != nil || res.Outcome != "verified" {
		t.Fatalf("SubmitCode: %+v, %v", res, err)
	}
	s.waitStatus(id, dsr.StatusRefused)

	pii := []string{"wang.fang.cli@example.cn", "王芳"}
	c, out, errOut := runDSR(t, "requests", "list", "--status", "refused")
	if c != ExitOK {
		t.Fatalf("requests list: exit %d, %s", c, errOut)
	}
	if ids, _ := tableRows(t, out); len(ids) != 1 || ids[0] != id {
		t.Errorf("refused requests %v, want [%s]\n%s", ids, id, out)
	}
	checkNoPII(t, out+errOut, pii)
	c, out, _ = runDSR(t, "show", id)
	if c != ExitOK || !strings.Contains(out, "refusal reason           criminal_proceedings") || !strings.Contains(out, "legalHold=refuse") {
		t.Errorf("dsr show of the held request: exit %d\n%s", c, out)
	}
}
