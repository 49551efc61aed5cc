package e164

import (
	"errors"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in, want string
		wantErr  string
	}{
		{in: "13800138000", want: "+8613800138000"},
		{in: "138 0013 8000", want: "+8613800138000"},
		{in: "138-0013-8000", want: "+8613800138000"},
		{in: "+86 138 0013 8000", want: "+8613800138000"},
		{in: "0086 13800138000", want: "+8613800138000"},
		{in: "１３８００１３８０００", want: "+8613800138000"},
		{in: "(+86) 199-1234-5678", want: "+8619912345678"},
		{in: "86+13800138000", wantErr: "digits, spaces"},
		{in: "+852 9123 4567", want: "+85291234567"},
		{in: "00852-9123-4567", want: "+85291234567"},
		{in: "+44 7700 900123", want: "+447700900123"},
		{in: "+1 (415) 555-0100", want: "+14155550100"},
		{in: "+44 (0)20 7946 0958", wantErr: "leave out the 0"},
		{in: "010-12345678", wantErr: "mainland China mobile"},
		{in: "+86 10 1234 5678", wantErr: "mainland China mobile"},
		{in: "12345", wantErr: "mainland China mobile"},
		{in: "+999 1234 5678", wantErr: "this country code"},
		{in: "+55 11 91234 5678", wantErr: "this country code"},
		{in: "+1234", wantErr: "8 to 15 digits"},
		{in: "+1 234 567 890 123 456", wantErr: "8 to 15 digits"},
		{in: "138 0013 8000 ext 5", wantErr: "digits, spaces"},
		{in: "13800138000+", wantErr: "digits, spaces"},
		{in: "", wantErr: "empty"},
		{in: strings.Repeat("1", 41), wantErr: "longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			if tt.wantErr != "" {
				if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Parse(%q) = %q, %v; want an error containing %q", tt.in, got, err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "0013") || strings.Contains(err.Error(), "7700") {
					t.Errorf("the error quotes the number: %v", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("Parse(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

// TestCountryCodesArePrefixFree: at most one assigned code prefixes a
// number, so reading 1, 2 then 3 digits finds the only one.
func TestCountryCodesArePrefixFree(t *testing.T) {
	for a := range assigned {
		for b := range assigned {
			if a != b && strings.HasPrefix(b, a) {
				t.Errorf("country code %s is a prefix of %s", a, b)
			}
		}
	}
}

func BenchmarkParse(b *testing.B) {
	for b.Loop() {
		if _, err := Parse("+86 138 0013 8000"); err != nil {
			b.Fatal(err)
		}
	}
}
