package dsr

import (
	"errors"
	"strings"
	"testing"

	"dsrflow/internal/phone"
)

func TestParseEmail(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"zhang.san@example.cn", "zhang.san@example.cn"},
		{"  Zhang.San@QQ.com\t", "zhang.san@qq.com"},
		{"USER+tag@Gmail.COM", "user+tag@gmail.com"}, // no provider-specific rewriting
		{"a@sub.example.com.cn", "a@sub.example.com.cn"},
		{"用户@例子.中国", "用户@xn--fsqu00a.xn--fiqs8s"},
		{strings.Repeat("a", 64) + "@example.cn", strings.Repeat("a", 64) + "@example.cn"},
	}
	for _, tt := range tests {
		got, err := ParseEmail(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseEmail(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestParseEmailRejects(t *testing.T) {
	long := strings.Repeat("a", 64) + "@" + strings.Repeat(strings.Repeat("b", 60)+".", 4) + "cn" // 311 bytes
	tests := []struct{ name, in string }{
		{"empty", ""},
		{"blank", "   "},
		{"no at", "zhangsan.example.cn"},
		{"no domain", "zhangsan@"},
		{"no local part", "@example.cn"},
		{"display name", "Zhang San <zhangsan@example.cn>"},
		{"angle brackets", "<zhangsan@example.cn>"},
		{"two addresses", "a@example.cn, b@example.cn"},
		{"two addresses with semicolon", "a@example.cn; b@example.cn"},
		{"quoted local part", `"zhang san"@example.cn`},
		{"comment", "zhangsan(home)@example.cn"},
		{"single-label domain", "zhangsan@localhost"},
		{"IP literal", "zhangsan@[192.0.2.1]"},
		{"trailing dot", "zhangsan@example.cn."},
		{"double dot", "zhangsan@example..cn"},
		{"hyphen label", "zhangsan@-example.cn"},
		{"space inside", "zhang san@example.cn"},
		{"local part too long", strings.Repeat("a", 65) + "@example.cn"},
		{"address too long", long},
		{"domain label too long", "zhangsan@" + strings.Repeat("b", 64) + ".cn"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseEmail(tt.in)
			if !errors.Is(err, ErrInvalidEmail) {
				t.Fatalf("ParseEmail(%q) = %q, %v; want ErrInvalidEmail", tt.in, got, err)
			}
			if tt.in != "" && strings.TrimSpace(tt.in) != "" && strings.Contains(err.Error(), strings.TrimSpace(tt.in)) {
				t.Errorf("error %q echoes the input", err)
			}
		})
	}
}

func TestParseAccountID(t *testing.T) {
	good := map[string]string{
		"1234567890":               "1234567890",
		" user_01-A ":              "user_01-A",
		strings.Repeat("x", 64):    strings.Repeat("x", 64),
		"a":                        "a",
		"MixedCase_Is-Kept_123abc": "MixedCase_Is-Kept_123abc",
	}
	for in, want := range good {
		got, err := ParseAccountID(in)
		if err != nil || got != want {
			t.Errorf("ParseAccountID(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "  ", strings.Repeat("x", 65), "user id", "user@example.cn", "用户", "a/b", "a.b"} {
		if got, err := ParseAccountID(in); !errors.Is(err, ErrInvalidAccountID) {
			t.Errorf("ParseAccountID(%q) = %q, %v; want ErrInvalidAccountID", in, got, err)
		}
	}
}

func TestParseIdentifier(t *testing.T) {
	tests := []struct {
		t        IdentifierType
		in, want string
	}{
		{IdentifierEmail, "A@Example.CN", "a@example.cn"},
		{IdentifierPhone, "138 0013 8000", "+8613800138000"},
		{IdentifierAccount, "u_1", "u_1"},
	}
	for _, tt := range tests {
		got, err := ParseIdentifier(tt.t, tt.in, phone.Parse)
		if err != nil || got != tt.want {
			t.Errorf("ParseIdentifier(%s, %q) = %q, %v; want %q", tt.t, tt.in, got, err, tt.want)
		}
	}
	if _, err := ParseIdentifier("passport", "E1234", phone.Parse); err == nil {
		t.Error("ParseIdentifier(passport) succeeded, want an error")
	}
	if _, err := ParseIdentifier(IdentifierPhone, "13800138000", nil); err == nil {
		t.Error("ParseIdentifier(phone) without a parser succeeded, want an error")
	}
}

func TestSubjectKey(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	// The same phone typed three ways gives one key.
	var keys []string
	for _, in := range []string{"13800138000", "+86 138-0013-8000", "008613800138000"} {
		p, err := phone.Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, SubjectKey(secret, IdentifierPhone, p))
	}
	if keys[0] != keys[1] || keys[1] != keys[2] {
		t.Errorf("keys of one phone differ: %v", keys)
	}
	k := keys[0]
	if len(k) != 43 || strings.ContainsAny(k, "+/=") {
		t.Errorf("key %q: want 43 characters of base64url without padding", k)
	}
	if strings.Contains(k, "13800138000") {
		t.Errorf("key %q contains the phone number", k)
	}
	// Known answer, computed independently:
	//   printf 'phone:+8613800138000' | openssl dgst -sha256 -hmac 0123456789abcdef0123456789abcdef -binary | basenc --base64url
	if want := "nGd_wh8S6pD7-T8vH0Zwfv4xuz9sI8T68Yz33mFWoi8"; k != want {
		t.Errorf("SubjectKey = %q, want %q", k, want)
	}
	// Type, value and secret all change the key.
	different := []string{
		SubjectKey(secret, IdentifierAccount, "+8613800138000"),
		SubjectKey(secret, IdentifierPhone, "+8613800138001"),
		SubjectKey([]byte("another secret, 32 bytes long!!!"), IdentifierPhone, "+8613800138000"),
	}
	for i, d := range different {
		if d == k {
			t.Errorf("variant %d has the same key as the original", i)
		}
	}
}
