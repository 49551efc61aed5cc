package partner_test

import (
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"dsrflow/internal/dev/dynamotest"
	"dsrflow/internal/dsr"
	"dsrflow/internal/partner"
	"dsrflow/internal/secretstore"
)

func loadExample(t testing.TB) *partner.Config {
	t.Helper()
	root, err := dynamotest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	c, err := partner.LoadConfig(filepath.Join(root, "config", "partners.example.json"))
	if err != nil {
		t.Fatalf("example configuration: %v", err)
	}
	return c
}

func TestExampleConfig(t *testing.T) {
	c := loadExample(t)
	var ids []string
	for _, p := range c.Partners {
		ids = append(ids, p.ID)
	}
	want := []string{"music-account", "voice-model-store", "analytics", "sms-provider", "cloud-storage"}
	if !slices.Equal(ids, want) {
		t.Errorf("partners = %v, want %v", ids, want)
	}
	if c.AccountSystem != "music-account" {
		t.Errorf("accountSystem = %q, want music-account", c.AccountSystem)
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	good := `{"id":"a","name":{"zh-CN":"甲","en":"A"},"endpoint":"https://a.example/dsr","actions":["erase"],"identityTypes":["email"],"mode":"sync","secretRef":"env:A_SECRET","backupRetention":"1d"}`
	tests := []struct {
		name string
		json string
		want []string // path: message fragments
	}{
		{"unknown action", `{"partners":[{"id":"a","name":{"zh-CN":"甲","en":"A"},"endpoint":"https://a.example","actions":["shred"],"identityTypes":["email"],"mode":"sync","secretRef":"env:X"}]}`,
			[]string{`partners[0].actions[0]: unknown action "shred"`}},
		{"unknown identity type", `{"partners":[{"id":"a","name":{"zh-CN":"甲","en":"A"},"endpoint":"https://a.example","actions":["erase"],"identityTypes":["passport"],"mode":"sync","secretRef":"env:X"}]}`,
			[]string{`partners[0].identityTypes[0]: unknown identity type "passport"`}},
		{"missing endpoint, bad mode, raw secret", `{"partners":[{"id":"a","name":{"zh-CN":"甲","en":"A"},"actions":["erase"],"identityTypes":["email"],"mode":"fast","secretRef":"hunter2"}]}`,
			[]string{"partners[0].endpoint: required", `partners[0].mode: unknown mode "fast"`, "partners[0].secretRef: want a reference"}},
		{"bad URL", `{"partners":[{"id":"a","name":{"zh-CN":"甲","en":"A"},"endpoint":"ftp://a.example","actions":["erase"],"identityTypes":["email"],"mode":"sync","secretRef":"env:X"}]}`,
			[]string{"partners[0].endpoint: \"ftp://a.example\" is not an absolute http(s) URL"}},
		{"duplicate IDs", `{"partners":[` + good + `,` + good + `]}`,
			[]string{`partners[1].id: duplicate ID "a" (also partners[0])`}},
		{"negative retention, async without deadline", `{"partners":[{"id":"a","name":{"zh-CN":"甲","en":"A"},"endpoint":"https://a.example","actions":["erase"],"identityTypes":["email"],"mode":"async","secretRef":"env:X","backupRetention":"-1d"}]}`,
			[]string{"partners[0].backupRetention: negative", "partners[0].completionDeadline: an async partner needs a positive completion deadline"}},
		{"consent partner without purposes, unknown purpose", `{"partners":[{"id":"a","name":{"zh-CN":"甲","en":"A"},"endpoint":"https://a.example","actions":["withdraw_consent"],"identityTypes":["email"],"mode":"sync","secretRef":"env:X"},{"id":"b","name":{"zh-CN":"乙","en":"B"},"endpoint":"https://b.example","actions":["withdraw_consent"],"identityTypes":["email"],"purposes":["marketing"],"mode":"sync","secretRef":"env:X"}]}`,
			[]string{"partners[0].purposes: a partner that supports withdraw_consent must name", `partners[1].purposes[0]: unknown consent purpose "marketing"`}},
		{"account system", `{"accountSystem":"zz","partners":[` + good + `]}`,
			[]string{`accountSystem: names no configured partner: "zz"`}},
		{"no partners", `{"partners":[]}`, []string{"partners: no partners configured"}},
		{"bad ID, no name", `{"partners":[{"id":"A B","endpoint":"https://a.example","actions":["erase"],"identityTypes":["email"],"mode":"sync","secretRef":"env:X"}]}`,
			[]string{`partners[0].id: "A B"`, "partners[0].name: want a name in zh-CN and en"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := partner.ParseConfig(strings.NewReader(tt.json))
			var ce *partner.ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("ParseConfig err = %v, want *ConfigError", err)
			}
			if len(ce.Problems) != len(tt.want) {
				t.Errorf("got %d problems, want %d:\n%v", len(ce.Problems), len(tt.want), err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

// TestEndpointsMustBeHTTPS: an http:// endpoint is refused unless the
// configuration says it is the local stack's (allowHttpEndpoints).
func TestEndpointsMustBeHTTPS(t *testing.T) {
	partnerJSON := func(endpoint string) string {
		return `{"id":"a","name":{"zh-CN":"甲","en":"A"},"endpoint":"` + endpoint + `","actions":["erase"],"identityTypes":["email"],"mode":"sync","secretRef":"env:A_SECRET","backupRetention":"1d"}`
	}
	tests := []struct {
		name, json string
		wantErr    string
	}{
		{"https", `{"partners":[` + partnerJSON("https://a.example/dsr") + `]}`, ""},
		{"http refused", `{"partners":[` + partnerJSON("http://a.example/dsr") + `]}`, `partners[0].endpoint: "http://a.example/dsr": partner endpoints must be https://`},
		{"http on loopback refused too", `{"partners":[` + partnerJSON("http://127.0.0.1:9000/a") + `]}`, "must be https://"},
		{"http allowed by the local stack's flag", `{"allowHttpEndpoints":true,"partners":[` + partnerJSON("http://127.0.0.1:9000/a") + `]}`, ""},
		{"flag off", `{"allowHttpEndpoints":false,"partners":[` + partnerJSON("http://a.example") + `]}`, "must be https://"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := partner.ParseConfig(strings.NewReader(tt.json))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("ParseConfig = %v, want no error", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("ParseConfig = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
	if loadExample(t).AllowHTTPEndpoints {
		t.Error("config/partners.example.json sets allowHttpEndpoints: only the local stack's configuration may")
	}
}

func TestParseConfigRejectsUnknownFieldsAndBadDurations(t *testing.T) {
	for _, in := range []string{`{"partners":[],"extra":1}`, `{"partners":[{"backupRetention":"3 weeks"}]}`, `{"partners":[]} {}`} {
		if _, err := partner.ParseConfig(strings.NewReader(in)); err == nil {
			t.Errorf("ParseConfig(%s) = nil error, want one", in)
		}
	}
}

func TestDuration(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want time.Duration
	}{{"35d", 35 * 24 * time.Hour}, {"72h", 72 * time.Hour}, {"90m", 90 * time.Minute}, {"0s", 0}} {
		d, err := partner.ParseDuration(tt.in)
		if err != nil || d.D() != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", tt.in, d.D(), err, tt.want)
		}
		b, _ := json.Marshal(d)
		var back partner.Duration
		if err := json.Unmarshal(b, &back); err != nil || back != d {
			t.Errorf("round trip of %q via %s = %v, %v", tt.in, b, back.D(), err)
		}
	}
	for _, bad := range []string{"1.5d", "d", "soon"} {
		if _, err := partner.ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) = nil error", bad)
		}
	}
}

func TestPartnersFor(t *testing.T) {
	c := loadExample(t)
	type pa struct{ id, action string }
	tests := []struct {
		kind     dsr.Kind
		purposes []string
		want     []pa
	}{
		{dsr.KindErasure, nil, []pa{{"music-account", "erase"}, {"voice-model-store", "erase"}, {"analytics", "erase"}, {"sms-provider", "erase"}, {"cloud-storage", "erase"}}},
		{dsr.KindAccountClosure, nil, []pa{{"music-account", "close_account"}, {"voice-model-store", "erase"}, {"analytics", "erase"}, {"sms-provider", "erase"}, {"cloud-storage", "erase"}}},
		{dsr.KindAccess, nil, []pa{{"music-account", "export"}, {"voice-model-store", "export"}, {"analytics", "export"}, {"sms-provider", "export"}, {"cloud-storage", "export"}}},
		{dsr.KindPortability, nil, []pa{{"music-account", "export"}, {"voice-model-store", "export"}, {"analytics", "export"}, {"sms-provider", "export"}, {"cloud-storage", "export"}}},
		{dsr.KindCorrection, nil, []pa{{"music-account", "correct"}, {"voice-model-store", "correct"}}},
		{dsr.KindConsentWithdrawal, []string{dsr.PurposeAnalytics}, []pa{{"analytics", "withdraw_consent"}}},
		{dsr.KindConsentWithdrawal, []string{dsr.PurposePartnerSharing}, []pa{{"voice-model-store", "withdraw_consent"}}},
		{dsr.KindConsentWithdrawal, []string{dsr.PurposeAll}, []pa{{"voice-model-store", "withdraw_consent"}, {"analytics", "withdraw_consent"}}},
	}
	for _, tt := range tests {
		var got []pa
		for _, a := range c.PartnersFor(tt.kind, tt.purposes) {
			got = append(got, pa{a.Partner.ID, string(a.Action)})
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("PartnersFor(%s, %v) = %v, want %v", tt.kind, tt.purposes, got, tt.want)
		}
	}
}

func TestPurgeAfter(t *testing.T) {
	c := loadExample(t)
	deleted := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	if got, want := partner.PurgeAfter(deleted, c.Partners), deleted.Add(90*24*time.Hour); !got.Equal(want) {
		t.Errorf("PurgeAfter(all) = %v, want %v (analytics keeps backups 90 days)", got, want)
	}
	sms, _ := c.Partner("sms-provider")
	if got := partner.PurgeAfter(deleted, []partner.Partner{sms}); !got.Equal(deleted) {
		t.Errorf("PurgeAfter(no backups) = %v, want the deletion time", got)
	}
}

func TestSecrets(t *testing.T) {
	env := map[string]string{"GOOD": "0123456789abcdef0123", "SHORT": "abc"}
	s := partner.NewSecrets(nil)
	s.Schemes["env"] = partner.Env{Lookup: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}
	if b, err := s.Resolve(t.Context(), "env:GOOD"); err != nil || string(b) != env["GOOD"] {
		t.Errorf("Resolve(env:GOOD) = %q, %v", b, err)
	}
	for _, ref := range []string{"env:SHORT", "env:MISSING", "ssm:/x", "nocolon"} {
		_, err := s.Resolve(t.Context(), ref)
		if err == nil {
			t.Errorf("Resolve(%s) = nil error", ref)
			continue
		}
		if strings.Contains(err.Error(), "abc") {
			t.Errorf("Resolve(%s) error quotes the secret: %v", ref, err)
		}
	}
}

// TestSecretStore: secretsmanager: references read the deployment's
// partner secret (#KEY), another secret's key or a whole secret, through
// the secret store, and a rotated value is what the next call gets.
func TestSecretStore(t *testing.T) {
	store := secretstore.Static{
		"arn:partners": []byte(`{"PARTNER_A_SECRET":"aaaaaaaaaaaaaaaaaaaa","PARTNER_SHORT":"abc"}`),
		"other":        []byte(`{"K":"kkkkkkkkkkkkkkkkkkkk"}`),
		"whole":        []byte("wwwwwwwwwwwwwwwwwwww"),
	}
	s := partner.NewSecrets(map[string]partner.SecretResolver{
		partner.SecretStoreScheme: partner.SecretStore{Getter: store, Default: "arn:partners"},
	})
	for ref, want := range map[string]string{
		"secretsmanager:#PARTNER_A_SECRET": "aaaaaaaaaaaaaaaaaaaa",
		"secretsmanager:other#K":           "kkkkkkkkkkkkkkkkkkkk",
		"secretsmanager:whole":             "wwwwwwwwwwwwwwwwwwww",
	} {
		if b, err := s.Resolve(t.Context(), ref); err != nil || string(b) != want {
			t.Errorf("Resolve(%s) = %q, %v; want %q", ref, b, err, want)
		}
	}
	for _, ref := range []string{"secretsmanager:#PARTNER_SHORT", "secretsmanager:#MISSING", "secretsmanager:missing#K", "secretsmanager:other#MISSING"} {
		_, err := s.Resolve(t.Context(), ref)
		if err == nil {
			t.Errorf("Resolve(%s) = nil error", ref)
		} else if strings.Contains(err.Error(), "abc") || strings.Contains(err.Error(), "aaaa") {
			t.Errorf("Resolve(%s) error quotes a secret: %v", ref, err)
		}
	}
	if _, err := partner.NewSecrets(map[string]partner.SecretResolver{partner.SecretStoreScheme: partner.SecretStore{Getter: store}}).
		Resolve(t.Context(), "secretsmanager:#PARTNER_A_SECRET"); !errors.Is(err, partner.ErrNoSecret) {
		t.Errorf("#KEY without a partner secret = %v, want ErrNoSecret", err)
	}
	store["arn:partners"] = []byte(`{"PARTNER_A_SECRET":"rotated-rotated-rotated"}`)
	if b, err := s.Resolve(t.Context(), "secretsmanager:#PARTNER_A_SECRET"); err != nil || string(b) != "rotated-rotated-rotated" {
		t.Errorf("after rotation Resolve = %q, %v; want the rotated value", b, err)
	}
}

// TestFunctionConfigFromEnvNamesVariables: a value that does not parse is
// reported by its variable, never quoted (a value may be a secret).
func TestFunctionConfigFromEnvNamesVariables(t *testing.T) {
	t.Setenv("TABLE_NAME", "dsr")
	t.Setenv("PARTNERS_CONFIG", "partners.json")
	t.Setenv("EXPORT_LINK_TTL", "s3cr3t-value")
	_, err := partner.FunctionConfigFromEnv()
	if err == nil || !strings.Contains(err.Error(), "EXPORT_LINK_TTL") || strings.Contains(err.Error(), "s3cr3t-value") {
		t.Fatalf("FunctionConfigFromEnv error = %v; want one naming EXPORT_LINK_TTL without its value", err)
	}
	t.Setenv("EXPORT_LINK_TTL", "24h")
	if c, err := partner.FunctionConfigFromEnv(); err != nil || c.ExportLinkTTL != 24*time.Hour || c.TableName != "dsr" {
		t.Fatalf("FunctionConfigFromEnv = %+v, %v", c, err)
	}
}

// TestLazyAWSDispatcherReadsConfigAtInit: a missing or bad partner
// configuration fails LazyAWSDispatcher (the function's init); a good one
// is read then, and nothing else is built until the first invocation.
func TestLazyAWSDispatcherReadsConfigAtInit(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"partners":[]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{bad, filepath.Join(dir, "missing.json")} {
		if _, err := partner.LazyAWSDispatcher(partner.FunctionConfig{TableName: "dsr", PartnersConfig: path}, slog.New(slog.DiscardHandler), nil); err == nil {
			t.Errorf("LazyAWSDispatcher(%s) succeeded, want an error", filepath.Base(path))
		}
	}
	root, err := dynamotest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	d, err := partner.LazyAWSDispatcher(partner.FunctionConfig{TableName: "dsr", PartnersConfig: filepath.Join(root, "config", "partners.example.json")}, slog.New(slog.DiscardHandler), nil)
	if err != nil || d == nil {
		t.Fatalf("LazyAWSDispatcher(example) = %v, %v", d, err)
	}
}
