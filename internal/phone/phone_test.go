package phone

import (
	"errors"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"13800138000", "+8613800138000"},
		{"138 0013 8000", "+8613800138000"},
		{"138-0013-8000", "+8613800138000"},
		{"+86 138 0013 8000", "+8613800138000"},
		{"+8613800138000", "+8613800138000"},
		{"008613800138000", "+8613800138000"},
		{"(+86) 138-0013-8000", "+8613800138000"},
		{"１３８００１３８０００", "+8613800138000"},  // full-width digits from a Chinese IME
		{"010-6552 9988", "+861065529988"}, // Beijing landline
		{"+852 6123 4567", "+85261234567"}, // Hong Kong mobile
		{"+1 415 555 2671", "+14155552671"},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("Parse(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct{ name, in string }{
		{"empty", ""},
		{"letters", "call me"},
		{"too short", "12345"},
		{"one digit short", "1380013800"},
		{"one digit long", "138001380001"},
		{"unassigned prefix", "12000138000"},
		{"extension", "+86 10 6552 9988 ext. 12"},
		{"overlong input", strings.Repeat("1", 41)},
		{"invalid for its country", "+1 123 456 7890"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Parse(%q) = %q, %v; want ErrInvalid", tt.in, got, err)
			}
			if tt.in != "" && strings.Contains(err.Error(), tt.in) {
				t.Errorf("error %q echoes the input", err)
			}
		})
	}
}

// FuzzParse feeds Parse arbitrary text: it must not panic; an accepted number
// is E.164 and reads back as itself; a rejection is ErrInvalid and does not
// quote the number.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"13800138000", "+86 138 0013 8000", "１３８００１３８０００", "010-6552 9988", "+852 6123 4567",
		"+86 10 6552 9988 ext. 12", "00", "+", "++86", "tel:+8613800138000", "(((", "\x00", "+1 123 456 7890"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := Parse(in)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Parse(%q) error %v is not ErrInvalid", in, err)
			}
			// The messages are fixed words; a number has digits.
			if trimmed := strings.TrimSpace(in); strings.ContainsAny(trimmed, "0123456789") && strings.Contains(err.Error(), trimmed) {
				t.Fatalf("Parse(%q): error %q quotes the input", in, err)
			}
			return
		}
		if len(got) < 2 || got[0] != '+' || strings.Trim(got[1:], "0123456789") != "" || len(got) > 16 {
			t.Fatalf("Parse(%q) = %q, not E.164", in, got)
		}
		again, err := Parse(got)
		if err != nil || again != got {
			t.Fatalf("Parse(%q) = %q, %v; want it unchanged", got, again, err)
		}
	})
}
