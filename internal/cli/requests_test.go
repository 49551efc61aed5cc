package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"dsrflow/internal/dev/dynamotest"
	"dsrflow/internal/dsr"
	"dsrflow/internal/operator"
	"dsrflow/internal/store"
	"dsrflow/internal/workday"
	"dsrflow/internal/workflow"
)

// TestRequestsAndHoldCommands runs dsr requests list and dsr hold against one
// dynalite, through cli.Run.
func TestRequestsAndHoldCommands(t *testing.T) {
	emu, err := dynamotest.StartEmulator(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emu.Stop)
	t.Run("RequestsList", func(t *testing.T) { testRequestsList(t, emu) })
	t.Run("Hold", func(t *testing.T) { testHold(t, emu) })
	t.Run("HoldRefusesInWorkflow", func(t *testing.T) { testHoldInWorkflow(t, emu) })
}

// setAWSEnv points the standard AWS configuration at endpoint, with table
// as DSR_TABLE.
func setAWSEnv(t *testing.T, endpoint, table string) {
	t.Helper()
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL_DYNAMODB": endpoint, "AWS_REGION": "us-east-1", "AWS_MAX_ATTEMPTS": "1",
		"AWS_ACCESS_KEY_ID": "AKIDLOCAL", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_CONFIG_FILE": filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"), "DSR_TABLE": table,
		// Every endpoint is on loopback: the local principal is the operator.
		"AWS_ENDPOINT_URL": "", "AWS_ENDPOINT_URL_SFN": "", "AWS_ENDPOINT_URL_S3": "", "DSR_LOCAL_PRINCIPAL": "tester",
	} {
		t.Setenv(k, v)
	}
}

// closedEndpoint is a local URL nothing listens on.
func closedEndpoint(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	endpoint := "http://" + l.Addr().String()
	l.Close()
	return endpoint
}

// requestsPII is the personal data seeded into every request: none of it may
// appear in any output.
var requestsPII = []string{"zhao.lei.list@example.cn", "13912345678", "赵磊", "acct-zl-0042"}

func testRequestsList(t *testing.T, emu *dynamotest.Emulator) {
	ctx := context.Background()
	table := emu.NewTable(t)
	empty := emu.NewTable(t)
	setAWSEnv(t, emu.Endpoint, table)
	st := store.New(store.Config{Table: table}, store.Deps{DB: emu.Client()})

	now := time.Now().UTC()
	day := func(n int) *time.Time { d := now.AddDate(0, 0, n); return &d }
	seed := []struct {
		id      string
		status  dsr.Status
		due     *time.Time
		created int // days ago
	}{
		{"o1", dsr.StatusInProgress, day(-2), 30},
		{"o2", dsr.StatusReplied, day(3), 20},
		{"o3", dsr.StatusEscalated, day(10), 19},
		{"o4", dsr.StatusInReview, day(5), 18},
		{"o5", dsr.StatusAwaitingVerification, nil, 2},
		{"o6", dsr.StatusReceived, nil, 1},
		{"o7", dsr.StatusEscalated, day(12), 17},
		{"o8", dsr.StatusInReview, nil, 3},
		{"c1", dsr.StatusCompleted, day(-20), 60},
		{"c2", dsr.StatusRefused, day(1), 10},
		{"x1", dsr.StatusExpired, nil, 50},
	}
	for _, s := range seed {
		r := &dsr.Request{
			ID: s.id, Kind: dsr.KindErasure, Status: s.status, Channel: dsr.ChannelMail, Role: dsr.RoleSelf, Locale: "zh-CN",
			SubjectKeys: []string{"sk-" + s.id}, CreatedAt: now.AddDate(0, 0, -s.created), DueAt: s.due,
		}
		p := &dsr.Personal{
			Contact: dsr.Contact{Email: requestsPII[0], Phone: "+86" + requestsPII[1]},
			Details: requestsPII[2] + " wants everything deleted", Subject: dsr.Identifiers{Accounts: []string{requestsPII[3]}},
		}
		if _, _, err := st.CreateRequest(ctx, r, p); err != nil {
			t.Fatal(err)
		}
	}
	// What waits for a person: o4 a review decision (its identity decision
	// was made), o8 a manual verification, o3 an escalated partner, o7 its
	// backups. o1's failed partner waits for nothing yet: the workflow goes on.
	asked := now.Add(-time.Hour)
	for _, w := range []store.OperatorWait{
		{RequestID: "o4", Stage: string(operator.StageIdentity), TaskToken: "tok-o4-identity", RequestedAt: asked, Decided: &asked, Result: operator.ResultApproved, Actor: "local:earlier", Sent: true},
		{RequestID: "o4", Stage: string(operator.StageReview), TaskToken: "tok-o4-review", RequestedAt: asked},
		{RequestID: "o8", Stage: string(operator.StageVerification), TaskToken: "tok-o8", RequestedAt: asked},
	} {
		if err := st.PutOperatorWait(ctx, &w); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"o3", "o1"} {
		task, _, err := st.PutPartnerTask(ctx, store.PartnerTask{RequestID: id, PartnerID: "voice", Action: "erase", Status: store.PartnerPending})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.UpdatePartnerTask(ctx, id, "voice", task.Version, func(x *store.PartnerTask) { x.Status, x.LastError = store.PartnerEscalated, "http_400" }); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.PutTaskToken(ctx, "o7", workflow.BackupsWait, "tok-o7"); err != nil {
		t.Fatal(err)
	}
	// A Scan reads every item: per request, the request, its personal item
	// and its subject key; then 3 operator waits, 2 partner tasks, 1 token.
	scannedItems := fmt.Sprint(3*len(seed) + 3 + 2 + 1)
	chinaDay := func(n int) string { return day(n).In(workday.ChinaTime).Format(time.DateOnly) }

	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantIDs  []string // rows, in order (nil: no table expected)
		wantLate []string
		wantOut  []string
		wantErr  []string
		noErr    []string
	}{
		{name: "every open request, by due", args: []string{"requests", "list"}, wantIDs: []string{"o1", "o2", "o4", "o3", "o7", "o8", "o5", "o6"}, wantLate: []string{"o1"},
			wantOut: []string{"ID  ", "KIND", "STATUS", "WAITS", "CHANNEL", "CREATED", "DUE", "LATE", chinaDay(-2), "erasure", "mail", "in_progress"},
			noErr:   []string{"Scan"}},
		{name: "waiting for a person", args: []string{"requests", "list", "--waiting"}, wantIDs: []string{"o4", "o3", "o7", "o8"}, noErr: []string{"Scan"}},
		{name: "waiting, limited", args: []string{"requests", "list", "--waiting", "--limit", "3"}, wantIDs: []string{"o4", "o3", "o7"}, wantErr: []string{"more requests match"}},
		{name: "indexed statuses", args: []string{"requests", "list", "--status", "escalated, in_progress"}, wantIDs: []string{"o1", "o3", "o7"}, wantLate: []string{"o1"}, noErr: []string{"Scan"}},
		{name: "closed statuses scan", args: []string{"requests", "list", "--status", "completed,refused"}, wantIDs: []string{"c1", "c2"},
			wantErr: []string{"--status completed,refused needs a Scan of table " + table, "read " + scannedItems + " items"}},
		{name: "no due date yet, from the index", args: []string{"requests", "list", "--status", "received,awaiting_verification,in_review"}, wantIDs: []string{"o4", "o8", "o5", "o6"}, noErr: []string{"Scan"}},
		{name: "open and closed scan", args: []string{"requests", "list", "--status", "in_review,expired"}, wantIDs: []string{"o4", "x1", "o8"}, wantErr: []string{"needs a Scan"}},
		{name: "due before a date", args: []string{"requests", "list", "--due-before", chinaDay(4)}, wantIDs: []string{"o1", "o2"}, wantLate: []string{"o1"}},
		{name: "due before an RFC 3339 time", args: []string{"requests", "list", "--due-before", day(6).Format(time.RFC3339)}, wantIDs: []string{"o1", "o2", "o4"}, wantLate: []string{"o1"}},
		{name: "due before, scanned", args: []string{"requests", "list", "--status", "completed,refused,received", "--due-before", chinaDay(0)}, wantIDs: []string{"c1"}},
		{name: "limit", args: []string{"requests", "list", "--limit", "2"}, wantIDs: []string{"o1", "o2"}, wantLate: []string{"o1"}, wantErr: []string{"showing the first 2; more requests match"}},
		{name: "limit, exactly all", args: []string{"requests", "list", "--limit", "8"}, wantIDs: []string{"o1", "o2", "o4", "o3", "o7", "o8", "o5", "o6"}, wantLate: []string{"o1"}, noErr: []string{"more requests match"}},
		{name: "limit, scanned", args: []string{"requests", "list", "--status", "completed,refused", "--limit", "1"}, wantIDs: []string{"c1"}, wantErr: []string{"more requests match"}},
		{name: "nothing matches", args: []string{"requests", "list", "--status", "duplicate"}, wantOut: []string{"no requests"}},
		{name: "empty table", args: []string{"requests", "list", "--table", empty}, wantOut: []string{"no requests"}},

		{name: "unknown status", args: []string{"requests", "list", "--status", "completed,finished"}, wantCode: ExitUsage,
			wantErr: []string{`unknown status "finished"`, "received, awaiting_verification, in_review", "escalated"}},
		{name: "empty status entry", args: []string{"requests", "list", "--status", "completed,"}, wantCode: ExitUsage, wantErr: []string{"empty entry"}},
		{name: "impossible date", args: []string{"requests", "list", "--due-before", "2026-02-30"}, wantCode: ExitUsage, wantErr: []string{`--due-before "2026-02-30" is neither a date`}},
		{name: "not a date", args: []string{"requests", "list", "--due-before", "tomorrow"}, wantCode: ExitUsage, wantErr: []string{"YYYY-MM-DD", "RFC 3339"}},
		{name: "zero limit", args: []string{"requests", "list", "--limit", "0"}, wantCode: ExitUsage, wantErr: []string{"--limit 0, want at least 1"}},
		{name: "waiting with a status", args: []string{"requests", "list", "--waiting", "--status", "in_review"}, wantCode: ExitUsage, wantErr: []string{"--waiting lists open requests that wait for a person; it takes no --status"}},
		{name: "argument", args: []string{"requests", "list", "o1"}, wantCode: ExitUsage},
		{name: "no subcommand", args: []string{"requests"}, wantCode: ExitUsage, wantErr: []string{`want "dsr requests list"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runDSR(t, tt.args...)
			if code != tt.wantCode {
				t.Fatalf("dsr %v: exit %d, want %d\nstdout:\n%s\nstderr: %s", tt.args, code, tt.wantCode, out, errOut)
			}
			checkNoPII(t, out+errOut, requestsPII)
			for _, w := range tt.wantOut {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr lacks %q: %s", w, errOut)
				}
			}
			for _, w := range tt.noErr {
				if strings.Contains(errOut, w) {
					t.Errorf("stderr has %q: %s", w, errOut)
				}
			}
			if tt.wantCode != ExitOK {
				if out != "" {
					t.Errorf("stdout on failure: %q", out)
				}
				return
			}
			for l := range strings.Lines(out) {
				if strings.HasSuffix(strings.TrimSuffix(l, "\n"), " ") {
					t.Errorf("line ends in spaces: %q", l)
				}
			}
			if tt.wantIDs != nil {
				ids, late := tableRows(t, out)
				if !slices.Equal(ids, tt.wantIDs) || !slices.Equal(late, tt.wantLate) {
					t.Errorf("rows %v (late %v), want %v (late %v)\n%s", ids, late, tt.wantIDs, tt.wantLate, out)
				}
			}

			// The same with --json: the same requests, as objects.
			code, out, errOut = runDSR(t, append(tt.args, "--json")...)
			if code != ExitOK {
				t.Fatalf("--json: exit %d, %s", code, errOut)
			}
			checkNoPII(t, out+errOut, requestsPII)
			var rows []map[string]any
			if err := json.Unmarshal([]byte(out), &rows); err != nil || rows == nil {
				t.Fatalf("--json: %v, rows %v:\n%s", err, rows, out)
			}
			var ids, late []string
			for _, r := range rows {
				keys := make([]string, 0, len(r))
				for k := range r {
					keys = append(keys, k)
				}
				slices.Sort(keys)
				if want := []string{"channel", "createdAt", "dueAt", "id", "kind", "late", "status", "waitingFor"}; !slices.Equal(keys, want) {
					t.Errorf("--json object keys %v, want %v", keys, want)
				}
				ids = append(ids, r["id"].(string))
				if r["late"] == true {
					late = append(late, r["id"].(string))
				}
			}
			if tt.wantIDs != nil && (!slices.Equal(ids, tt.wantIDs) || !slices.Equal(late, tt.wantLate)) {
				t.Errorf("--json ids %v (late %v), want %v (late %v)", ids, late, tt.wantIDs, tt.wantLate)
			}
		})
	}

	t.Run("what waits", func(t *testing.T) {
		want := map[string]string{"o1": "-", "o2": "-", "o3": "partners", "o4": "review", "o5": "-", "o6": "-", "o7": "backups", "o8": "verification", "x1": "-"}
		for _, args := range [][]string{{"requests", "list"}, {"requests", "list", "--status", "in_review,expired,escalated"}} {
			_, out, _ := runDSR(t, args...)
			lines := strings.Split(strings.TrimSpace(out), "\n")
			header := strings.Fields(lines[0])
			if !slices.Equal(header[:4], []string{"ID", "KIND", "STATUS", "WAITS"}) {
				t.Fatalf("dsr %v: header %v", args, header)
			}
			for _, l := range lines[1:] {
				f := strings.Fields(l)
				if w, ok := want[f[0]]; !ok || f[3] != w {
					t.Errorf("dsr %v: %s WAITS %q, want %q", args, f[0], f[3], w)
				}
			}
		}
	})
	t.Run("json values", func(t *testing.T) {
		_, out, _ := runDSR(t, "requests", "list", "--status", "in_progress,received", "--json")
		var got []map[string]any
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatal(err)
		}
		want := []map[string]any{
			{"id": "o1", "kind": "erasure", "status": "in_progress", "waitingFor": "", "channel": "mail", "createdAt": now.AddDate(0, 0, -30).Format(time.RFC3339Nano), "dueAt": day(-2).Format(time.RFC3339Nano), "late": true},
			{"id": "o6", "kind": "erasure", "status": "received", "waitingFor": "", "channel": "mail", "createdAt": now.AddDate(0, 0, -1).Format(time.RFC3339Nano), "dueAt": nil, "late": false},
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("--json = %v\nwant %v", got, want)
		}
	})
	t.Run("no table", func(t *testing.T) {
		t.Setenv("DSR_TABLE", "")
		code, _, errOut := runDSR(t, "requests", "list")
		if code != ExitUsage || !strings.Contains(errOut, "no table: pass --table or set DSR_TABLE") {
			t.Errorf("exit %d, %q; want 2, no table", code, errOut)
		}
	})
	t.Run("no such table", func(t *testing.T) {
		for _, args := range [][]string{{"requests", "list", "--table", "no-such-table"}, {"requests", "list", "--status", "completed", "--table", "no-such-table"}} {
			code, out, errOut := runDSR(t, args...)
			if code != ExitError || out != "" || !strings.Contains(errOut, "ResourceNotFoundException") {
				t.Errorf("dsr %v: exit %d, stdout %q, stderr %q; want 3, ResourceNotFoundException", args, code, out, errOut)
			}
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		endpoint := closedEndpoint(t)
		t.Setenv("AWS_ENDPOINT_URL_DYNAMODB", endpoint)
		for _, args := range [][]string{{"requests", "list"}, {"requests", "list", "--status", "completed"}} {
			code, out, errOut := runDSR(t, args...)
			if code != ExitError || out != "" || !strings.Contains(errOut, "dynamodb at "+endpoint+" unreachable") {
				t.Errorf("dsr %v: exit %d, stdout %q, stderr %q; want 3 naming %s", args, code, out, errOut, endpoint)
			}
		}
	})
}

// tableRows reads the ID column and the IDs marked LATE from a table.
func tableRows(t *testing.T, out string) (ids, late []string) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "ID ") {
		t.Fatalf("no table header:\n%s", out)
	}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		ids = append(ids, f[0])
		if f[len(f)-1] == "LATE" {
			late = append(late, f[0])
		}
	}
	return ids, late
}

func checkNoPII(t *testing.T, out string, pii []string) {
	t.Helper()
	lower := strings.ToLower(out)
	for _, p := range pii {
		if strings.Contains(lower, strings.ToLower(p)) {
			t.Errorf("output holds personal data %q:\n%s", p, out)
		}
	}
}
