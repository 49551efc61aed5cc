package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"dsrflow/internal/dev/dynamotest"
	"dsrflow/internal/dsr"
	"dsrflow/internal/store"
)

func runCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(context.Background(), args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// The console listens on a loopback address only; its configuration is
// checked before anything listens.
func TestConsoleUsage(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:8090", ":8090", "192.0.2.1:8090", "console.example.cn:8090", "8090"} {
		if code, _, errOut := runCmd(t, "console", "--addr", addr); code != ExitUsage || !strings.Contains(errOut, "console") {
			t.Errorf("console --addr %s: exit %d, %s", addr, code, errOut)
		}
	}
	t.Setenv("DSR_TABLE", "")
	t.Setenv("TABLE_NAME", "")
	t.Setenv("STATE_MACHINE_ARN", "")
	t.Setenv("SUBJECT_KEY_SECRET", "")
	if code, _, errOut := runCmd(t, "console"); code != ExitUsage || !strings.Contains(errOut, "STATE_MACHINE_ARN") {
		t.Errorf("console without configuration: exit %d, %s", code, errOut)
	}
}

func TestReportCommand(t *testing.T) {
	for _, args := range [][]string{
		{"report"},
		{"report", "--from", "2026-03-01"},
		{"report", "--from", "2026-03-01", "--to", "2026-02-01"},
		{"report", "--from", "2026-02-30", "--to", "2026-03-01"},
		{"report", "--from", "2026-03-01", "--to", "2026-03-31", "--json", "--csv"},
	} {
		t.Setenv("DSR_TABLE", "x")
		if code, _, errOut := runCmd(t, args...); code != ExitUsage {
			t.Errorf("%v: exit %d, %s", args, code, errOut)
		}
	}
	emu, err := dynamotest.StartEmulator(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emu.Stop)
	table := emu.NewTable(t)
	st := store.New(store.Config{Table: table}, store.Deps{DB: emu.Client()})
	created := time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC)
	for i, status := range []dsr.Status{dsr.StatusRefused, dsr.StatusInReview} {
		r := &dsr.Request{ID: "r-" + string(rune('a'+i)), Kind: dsr.KindErasure, Status: status, Channel: dsr.ChannelWeb, Role: dsr.RoleSelf, CreatedAt: created, RefusalReason: map[bool]dsr.RefusalReason{true: dsr.RefusalLegalHold}[status == dsr.StatusRefused]}
		if _, _, err := st.CreateRequest(context.Background(), r, nil); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("DSR_TABLE", table)
	t.Setenv("AWS_ENDPOINT_URL_DYNAMODB", emu.Endpoint)
	t.Setenv("AWS_REGION", dynamotest.Region)
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	code, out, errOut := runCmd(t, "report", "--from", "2026-03-01", "--to", "2026-03-31", "--json")
	if code != ExitOK {
		t.Fatalf("report: exit %d, %s", code, errOut)
	}
	var rep struct {
		Total struct {
			Received, Refused, Open int
		} `json:"total"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || rep.Total.Received != 2 || rep.Total.Refused != 1 || rep.Total.Open != 1 {
		t.Errorf("report --json (%v):\n%s", err, out)
	}
	if code, out, _ := runCmd(t, "report", "--from", "2026-03-01", "--to", "2026-03-31", "--csv"); code != ExitOK || !strings.HasPrefix(out, "month,kind,received") || !strings.Contains(out, "2026-03,erasure,2,0,0,1") {
		t.Errorf("report --csv: exit %d\n%s", code, out)
	}
	if code, out, _ := runCmd(t, "report", "--from", "2026-03-01", "--to", "2026-03-31"); code != ExitOK || !strings.Contains(out, "refused legal_hold") {
		t.Errorf("report: exit %d\n%s", code, out)
	}
}
