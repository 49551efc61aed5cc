package partnersim

import (
	"reflect"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestParseCorrections(t *testing.T) {
	for _, tt := range []struct {
		name string
		in   []string
		want []correction
	}{
		{"colon", []string{"nickname: New"}, []correction{{"nickname", "New"}}},
		{"full-width colon, Chinese field", []string{"昵称：新名字"}, []correction{{"nickname", "新名字"}}},
		{"改为 and quotes", []string{"请把城市改为「上海」"}, []correction{{"city", "上海"}}},
		{"arrow, spaced field", []string{"Real Name -> Li Na"}, []correction{{"real_name", "Li Na"}}},
		{"equals, my", []string{"my bio = hello: world"}, []correction{{"signature", "hello: world"}}},
		{"several lines, last wins", []string{"昵称: a\r\n城市: 北京\n昵称: b"}, []correction{{"city", "北京"}, {"nickname", "b"}}},
		{"unknown field", []string{"password: x"}, nil},
		{"no separator", []string{"please fix my name"}, nil},
		{"empty value", []string{"nickname:", "nickname: \"\""}, nil},
		{"long value", []string{"nickname: " + strings.Repeat("名", 101)}, nil},
		{"control character", []string{"nickname: a\x00b"}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseCorrections(tt.in); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parseCorrections(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseCorrectionsLineLimit(t *testing.T) {
	in := []string{strings.Repeat("x\n", maxCorrectionLines) + "nickname: late"}
	if got := parseCorrections(in); len(got) != 0 {
		t.Errorf("a line past the %d-line limit was read: %v", maxCorrectionLines, got)
	}
}

// FuzzParseCorrections: any text gives corrections of known fields with
// short printable values, and never panics.
func FuzzParseCorrections(f *testing.F) {
	for _, s := range []string{"nickname: New", "昵称：新名字\n城市改为上海", "Real Name -> “Li Na”", "my bio = a=b", "：", "改为改成"} {
		f.Add(s)
	}
	known := map[string]bool{}
	for _, v := range correctionFields {
		known[v] = true
	}
	f.Fuzz(func(t *testing.T, s string) {
		seen := map[string]bool{}
		for _, c := range parseCorrections([]string{s}) {
			if !known[c.field] || seen[c.field] {
				t.Errorf("field %q unknown or repeated", c.field)
			}
			seen[c.field] = true
			if c.value == "" || utf8.RuneCountInString(c.value) > maxCorrectionValue || !utf8.ValidString(c.value) {
				t.Errorf("value of %s: empty, long or not UTF-8", c.field)
			}
			for _, r := range c.value {
				if unicode.IsControl(r) {
					t.Errorf("value of %s has a control character", c.field)
				}
			}
		}
	})
}
