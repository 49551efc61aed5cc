package envconfig

import (
	"strings"
	"testing"
	"time"
)

type config struct {
	Table   string        `env:"TABLE_NAME,required,notEmpty"`
	Secret  string        `env:"SOME_SECRET"`
	Limit   int           `env:"LIMIT" envDefault:"3"`
	Wait    time.Duration `env:"WAIT" envDefault:"2m"`
	Servers []string      `env:"SERVERS" envSeparator:","`
}

func TestParseFrom(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    config
		wantErr []string // each must appear in the error
		secret  string   // must not appear in the error
	}{
		{name: "defaults", env: map[string]string{"TABLE_NAME": "requests"},
			want: config{Table: "requests", Limit: 3, Wait: 2 * time.Minute}},
		{name: "everything set", env: map[string]string{"TABLE_NAME": "t", "SOME_SECRET": "s", "LIMIT": "5", "WAIT": "1h", "SERVERS": "a,b"},
			want: config{Table: "t", Secret: "s", Limit: 5, Wait: time.Hour, Servers: []string{"a", "b"}}},
		{name: "missing required", env: map[string]string{}, wantErr: []string{"TABLE_NAME"}},
		{name: "empty required", env: map[string]string{"TABLE_NAME": ""}, wantErr: []string{"TABLE_NAME"}},
		{name: "bad int", env: map[string]string{"TABLE_NAME": "t", "LIMIT": "three-secret"},
			wantErr: []string{"LIMIT: not a valid int"}, secret: "three-secret"},
		{name: "bad duration", env: map[string]string{"TABLE_NAME": "t", "WAIT": "five weeks"},
			wantErr: []string{"WAIT: not a valid time.Duration"}, secret: "five weeks"},
		{name: "two bad values", env: map[string]string{"TABLE_NAME": "t", "LIMIT": "x1y2", "WAIT": "z3w4"},
			wantErr: []string{"LIMIT: not a valid int", "WAIT: not a valid time.Duration"}, secret: "x1y2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseFrom[config](tt.env)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("ParseFrom: %v", err)
				}
				if got.Table != tt.want.Table || got.Secret != tt.want.Secret || got.Limit != tt.want.Limit || got.Wait != tt.want.Wait || strings.Join(got.Servers, ",") != strings.Join(tt.want.Servers, ",") {
					t.Errorf("ParseFrom = %+v, want %+v", got, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("ParseFrom = %+v, want an error", got)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q, want it to contain %q", err, w)
				}
			}
			if tt.secret != "" && strings.Contains(err.Error(), tt.secret) {
				t.Errorf("error quotes the value: %v", err)
			}
			if strings.Contains(err.Error(), "Limit") || strings.Contains(err.Error(), "Wait") {
				t.Errorf("error names the Go field, not the variable: %v", err)
			}
		})
	}
}

// TestParseReadsProcessEnvironment: Parse and ParseFrom(nil) read the
// process environment.
func TestParseReadsProcessEnvironment(t *testing.T) {
	t.Setenv("TABLE_NAME", "from-process")
	t.Setenv("LIMIT", "7")
	for name, parse := range map[string]func() (config, error){
		"Parse":         Parse[config],
		"ParseFrom nil": func() (config, error) { return ParseFrom[config](nil) },
	} {
		got, err := parse()
		if err != nil || got.Table != "from-process" || got.Limit != 7 {
			t.Errorf("%s = %+v, %v; want TABLE_NAME from-process, LIMIT 7", name, got, err)
		}
	}
}

func TestCheckSecret(t *testing.T) {
	tests := []struct {
		value   string
		wantErr string
	}{
		{value: strings.Repeat("s", 32)},
		{value: strings.Repeat("s", 40)},
		{value: strings.Repeat("s", 31), wantErr: "MY_SECRET must be at least 32 bytes"},
		{value: "", wantErr: "MY_SECRET must be at least 32 bytes"},
	}
	for _, tt := range tests {
		err := CheckSecret("MY_SECRET", tt.value, 32)
		if tt.wantErr == "" {
			if err != nil {
				t.Errorf("CheckSecret(%d bytes) = %v, want nil", len(tt.value), err)
			}
			continue
		}
		if err == nil || err.Error() != tt.wantErr {
			t.Errorf("CheckSecret(%d bytes) = %v, want %q", len(tt.value), err, tt.wantErr)
		}
		if tt.value != "" && strings.Contains(err.Error(), tt.value) {
			t.Errorf("error quotes the secret: %v", err)
		}
	}
}

func TestCheckBaseURL(t *testing.T) {
	tests := []struct {
		value string
		ok    bool
	}{
		{"https://privacy.example.cn", true},
		{"http://127.0.0.1:8080/base", true},
		{"privacy.example.cn", false},
		{"ftp://privacy.example.cn", false},
		{"https://", false},
		{"https://privacy.example.cn/?a=b", false},
		{"https://privacy.example.cn/#top", false},
		{"%zz", false},
	}
	for _, tt := range tests {
		err := CheckBaseURL("PUBLIC_BASE_URL", tt.value)
		if (err == nil) != tt.ok {
			t.Errorf("CheckBaseURL(%q) = %v, want ok %v", tt.value, err, tt.ok)
		}
		if err != nil && err.Error() != "PUBLIC_BASE_URL must be an absolute http(s) URL without query or fragment" {
			t.Errorf("CheckBaseURL(%q) = %q, want the variable named", tt.value, err)
		}
	}
}
