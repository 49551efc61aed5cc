package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func runMail(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Run(context.Background(), args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func TestMailClassify(t *testing.T) {
	dir := "../mail/testdata"
	tests := []struct {
		file       string
		action     string
		kind       string
		ignore     string
		reason     string
		language   string
		role       string
		attachment bool
	}{
		{"zh_gbk_base64_closure.eml", "request", "account_closure", "", "request: account_closure", "zh", "self", false},
		{"en_multipart_alternative_access.eml", "request", "access", "", "request: access", "en", "self", false},
		{"attachment_id_card.eml", "request", "erasure", "", "request: erasure", "zh", "self", true},
		{"guardian.eml", "request", "erasure", "", "request: erasure", "zh", "guardian", false},
		{"bounce_dsn.eml", "ignore", "", "bounce", "ignore: bounce", "en", "self", true},
		{"dmarc_fail.eml", "ignore", "", "spoofed_dmarc", "ignore: spoofed_dmarc", "zh", "self", false},
		{"several_requests.eml", "triage", "", "", "triage: several_kinds", "en", "self", false},
		{"garbage.bin.eml", "triage", "", "", "triage: unparseable", "zh", "self", false},
		{"empty_file.eml", "triage", "", "", "triage: unparseable", "zh", "self", false},
		{"no_sender.eml", "reject", "erasure", "", "reject: no_sender", "zh", "self", false},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			code, out, errOut := runMail(t, "mail", "classify", filepath.Join(dir, tt.file))
			if code != ExitOK {
				t.Fatalf("exit %d, want 0; stderr %s", code, errOut)
			}
			dec := json.NewDecoder(strings.NewReader(out))
			var got map[string]any
			if err := dec.Decode(&got); err != nil {
				t.Fatalf("stdout is not JSON: %v\n%s", err, out)
			}
			if dec.More() {
				t.Errorf("stdout holds more than one JSON value:\n%s", out)
			}
			for _, key := range []string{"action", "kind", "ignore_reason", "from", "language", "requester_role", "has_attachments", "reason", "message_id"} {
				if _, ok := got[key]; !ok {
					t.Errorf("output lacks %q: %s", key, out)
				}
			}
			want := map[string]any{
				"action": tt.action, "kind": tt.kind, "ignore_reason": tt.ignore, "reason": tt.reason,
				"language": tt.language, "requester_role": tt.role, "has_attachments": tt.attachment,
			}
			for k, v := range want {
				if got[k] != v {
					t.Errorf("%s = %v, want %v", k, got[k], v)
				}
			}
		})
	}
}

// TestMailClassifyHints: hints and the thread come out under their JSON names.
func TestMailClassifyHints(t *testing.T) {
	tests := []struct {
		file string
		want map[string]any // top-level keys and values, hints as a nested map
	}{
		{"corpus/agent_daughter_for_mother_closure.eml", map[string]any{
			"action": "request", "kind": "account_closure", "requester_role": "agent",
			"hints": map[string]any{"phones": []any{"+8613800001111"}, "accountIds": []any{"10007788"}},
		}},
		{"corpus/neg_zh_buzhuxiao_subject.eml", map[string]any{
			"action": "request", "kind": "consent_withdrawal",
			"hints": map[string]any{"consentPurposes": []any{"analytics"}},
		}},
		{"corpus/fu_zh_qq_when_done.eml", map[string]any{
			"action": "follow_up", "kind": "", "reason": "follow_up: thread_reply",
			"thread_request_id": threadOf(t, "corpus/fu_zh_qq_when_done.eml"),
			"hints":             map[string]any{},
		}},
		{"zh_utf8_erasure.eml", map[string]any{"action": "request", "hints": map[string]any{"phones": []any{"+8613800138000"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			code, out, errOut := runMail(t, "mail", "classify", filepath.Join("../mail/testdata", tt.file))
			if code != ExitOK {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			var got map[string]any
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, out)
			}
			for k, v := range tt.want {
				if !reflect.DeepEqual(got[k], v) {
					t.Errorf("%s = %#v, want %#v", k, got[k], v)
				}
			}
		})
	}
}

// threadOf reads the request ID from the subject of a corpus file, so the
// test does not repeat the generator's hash.
func threadOf(t *testing.T, file string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("../mail/testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(raw), "In-Reply-To: <dsr.")
	if i < 0 {
		t.Fatalf("%s has no In-Reply-To of ours", file)
	}
	rest := string(raw)[i+len("In-Reply-To: <dsr."):]
	return rest[:strings.IndexByte(rest, '.')]
}

func TestMailClassifyFromIsShown(t *testing.T) {
	code, out, _ := runMail(t, "mail", "classify", "../mail/testdata/zh_utf8_erasure.eml")
	if code != ExitOK || !strings.Contains(out, `"from": "zhang.wei@example.cn"`) {
		t.Errorf("exit %d, output %s: want the normalized sender", code, out)
	}
}

func TestMailClassifyTrustedAuthServID(t *testing.T) {
	file := "../mail/testdata/forwarded_old_dmarc_fail.eml"
	_, out, _ := runMail(t, "mail", "classify", file)
	if !strings.Contains(out, `"ignore_reason": "spoofed_dmarc"`) {
		t.Errorf("without trusted ids: %s, want spoofed_dmarc", out)
	}
	code, out, errOut := runMail(t, "mail", "classify", "--trusted-authserv-id", "amazonses.com", file)
	if code != ExitOK || !strings.Contains(out, `"action": "request"`) || !strings.Contains(out, `"kind": "correction"`) {
		t.Errorf("with amazonses.com trusted: exit %d %s %s, want a correction request", code, out, errOut)
	}
}

func TestMailClassifyErrors(t *testing.T) {
	unreadable := filepath.Join(t.TempDir(), "dir.eml")
	if err := os.Mkdir(unreadable, 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
	}{
		{"missing file", []string{"mail", "classify", filepath.Join(t.TempDir(), "nope.eml")}},
		{"a directory", []string{"mail", "classify", unreadable}},
		{"no argument", []string{"mail", "classify"}},
		{"two arguments", []string{"mail", "classify", "a.eml", "b.eml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runMail(t, tt.args...)
			if code != ExitUsage {
				t.Errorf("exit %d, want %d; stderr %s", code, ExitUsage, errOut)
			}
			if out != "" {
				t.Errorf("stdout = %q, want nothing", out)
			}
			if errOut == "" {
				t.Error("no error message on stderr")
			}
		})
	}
}
