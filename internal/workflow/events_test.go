package workflow

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"dsrflow/internal/dev/dynamotest"
	"dsrflow/internal/dsr"
	"dsrflow/internal/operator"
	"dsrflow/internal/partner"
	"dsrflow/internal/partner/export"
)

// inputTypes are the input types of the task functions.
var inputTypes = map[string]func() any{
	"admit":           func() any { return &RequestInput{} },
	"verify-identity": func() any { return &TokenInput{} },
	"await-operator":  func() any { return &AwaitInput{} },
	"review":          func() any { return &ReviewInput{} },
	"proceed":         func() any { return &RequestInput{} },
	"reply":           func() any { return &RequestInput{} },
	"close":           func() any { return &CloseInput{} },
	// The partner task functions.
	"escalate-backups":     func() any { return &EscalateBackupsInput{} },
	"partner-plan":         func() any { return &partner.PlanInput{} },
	"partner-dispatch":     func() any { return &partner.DispatchInput{} },
	"partner-await":        func() any { return &partner.AwaitInput{} },
	"partner-escalate":     func() any { return &partner.EscalateInput{} },
	"account-precheck":     func() any { return &partner.PrecheckInput{} },
	"confirm-backup-purge": func() any { return &partner.BackupWindowInput{} },
	"export-assemble":      func() any { return &export.Input{} },
}

// eventFiles returns events/<function>*.json per function.
func eventFiles(t *testing.T) map[string][]string {
	root, err := dynamotest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, f := range Functions() {
		matches, _ := filepath.Glob(filepath.Join(root, "events", f.Name+"*.json"))
		for _, m := range matches {
			base := strings.TrimSuffix(filepath.Base(m), ".json")
			// "review" must not claim "reply"-like prefixes of other functions.
			if base == f.Name || strings.HasPrefix(base, f.Name+"-") {
				out[f.Name] = append(out[f.Name], m)
			}
		}
	}
	return out
}

func keySet(b []byte) (string, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return "", err
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return strings.Join(keys, ","), nil
}

// TestSampleEvents checks events/<function>*.json: every function has one,
// each decodes strictly into the function's input type, and each has the
// shape the state machine really passes (compared with the inputs recorded
// in end-to-end executions).
func TestSampleEvents(t *testing.T) {
	t.Parallel()
	files := eventFiles(t)
	for _, f := range Functions() {
		if len(files[f.Name]) == 0 {
			t.Errorf("no sample event events/%s*.json", f.Name)
		}
		for _, p := range files[f.Name] {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			dec := json.NewDecoder(bytes.NewReader(b))
			dec.DisallowUnknownFields()
			if err := dec.Decode(inputTypes[f.Name]()); err != nil {
				t.Errorf("%s: %v", filepath.Base(p), err)
			}
		}
	}

	// Record the inputs of real runs: code path (erasure, with backups),
	// manual verification refused, manual review approved, with partners
	// (sync, async, failing; account closure refused for obligations;
	// backups confirmed late).
	specs := standardFleet()
	e, _ := newPartnerEnv(t, func(p *Policy) { p.RepeatLimit = 1 }, nil, specs...)
	id1, tok1 := e.submit(submission(dsr.KindErasure, dsr.RoleSelf, dsr.LocaleZhCN), "shape-1")
	e.verify(id1, tok1)
	e.done(id1)
	v := submission(dsr.KindAccess, dsr.RoleSelf, dsr.LocaleZhCN)
	id2, tok2 := e.submit(v, "shape-2")
	e.verify(id2, tok2)
	e.decide(operator.Decision{RequestID: id2, Stage: operator.StageReview, Approve: true, Actor: "li"})
	e.done(id2)
	v.Email, v.Phone, v.Role = "other.pii@example.cn", "", dsr.RoleAgent
	id3, _ := e.submit(v, "shape-3")
	e.decide(operator.Decision{RequestID: id3, Stage: operator.StageVerification, Reason: dsr.RefusalAuthorityNotProven, Actor: "li"})
	e.done(id3)
	e.seedOpen("r-open", dsr.KindAccess, "dup.pii@example.cn", t0.Add(-time.Hour), dsr.StatusInProgress)
	v.Email, v.Role = "dup.pii@example.cn", dsr.RoleSelf
	id4, tok4 := e.submit(v, "shape-4")
	e.verify(id4, tok4)
	e.done(id4)
	ids := []string{id1, id2, id3, id4}
	// Account closure and backups escalated: a second fleet whose account
	// system reports obligations and whose backups never rotate in time.
	specs2 := standardFleet()[:2]
	specs2[1].b.BackupRetention = 400 * 24 * time.Hour
	e2, _ := newPartnerEnv(t, nil, nil, specs2...)
	id5, tok5 := e2.submit(submission(dsr.KindErasure, dsr.RoleSelf, dsr.LocaleZhCN), "shape-5")
	e2.verify(id5, tok5)
	e2.waitTask(id5, "EscalateBackups")
	specs3 := standardFleet()[:1]
	specs3[0].b.Obligations = []partner.Obligation{{Code: partner.ObligationPendingOrder}}
	e3, _ := newPartnerEnv(t, nil, nil, specs3...)
	id6, tok6 := e3.submit(submission(dsr.KindAccountClosure, dsr.RoleSelf, dsr.LocaleZhCN), "shape-6")
	e3.verify(id6, tok6)
	e3.done(id6)

	arnToName := map[string]string{}
	for k, v := range LocalSubstitutions("aws", "cn-north-1", "123456789012") {
		for _, f := range Functions() {
			if f.ArnKey == k {
				arnToName[v] = f.Name
			}
		}
	}
	seen := map[string]map[string]bool{}
	add := func(fn string, in []byte) {
		ks, err := keySet(in)
		if err != nil {
			t.Fatalf("input of %s: %v", fn, err)
		}
		if seen[fn] == nil {
			seen[fn] = map[string]bool{}
		}
		seen[fn][ks] = true
	}
	type run struct {
		e  *env
		id string
	}
	runs := []run{{e2, id5}, {e3, id6}}
	for _, id := range ids {
		runs = append(runs, run{e, id})
	}
	for _, r := range runs {
		for _, ev := range r.e.history(r.id) {
			if d := ev.LambdaFunctionScheduledEventDetails; d != nil {
				add(arnToName[aws.ToString(d.Resource)], []byte(aws.ToString(d.Input)))
			}
			if d := ev.TaskScheduledEventDetails; d != nil {
				var p struct {
					FunctionName string
					Payload      json.RawMessage
				}
				if err := json.Unmarshal([]byte(aws.ToString(d.Parameters)), &p); err != nil {
					t.Fatal(err)
				}
				add(arnToName[p.FunctionName], p.Payload)
			}
		}
	}
	for fn, ps := range files {
		for _, p := range ps {
			b, _ := os.ReadFile(p)
			ks, _ := keySet(b)
			if !seen[fn][ks] {
				var got []string
				for k := range seen[fn] {
					got = append(got, "{"+k+"}")
				}
				t.Errorf("%s has keys {%s}; the state machine passes %s %v", filepath.Base(p), ks, fn, got)
			}
		}
	}
}
