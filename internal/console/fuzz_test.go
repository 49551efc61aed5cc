package console

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"dsrflow/internal/operator"
	"dsrflow/internal/workday"
)

func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"r-aaaaaaaaaaaaaaaaaaaaaaaaaa", "R-AAAAAAAAAAAAAAAAAAAAAAAAAA", "zhang.wei@example.cn", "+86 138 0013 8000", "13800138000",
		"10000001", "not an id!", "", strings.Repeat("a", 300), "a@b", "李@例子.中国", "\x00@x.cn"} {
		f.Add(s)
	}
	secret := []byte(subjectSecret)
	f.Fuzz(func(t *testing.T, s string) {
		q, err := parseQuery(secret, s)
		if err != nil {
			return
		}
		if len(strings.TrimSpace(s)) > MaxQuery {
			t.Fatalf("a query of %d bytes was accepted", len(s))
		}
		switch {
		case q.RequestID != "":
			if !requestIDPattern.MatchString(q.RequestID) || q.Key != "" {
				t.Fatalf("request ID %q from %q", q.RequestID, s)
			}
		case len(q.Key) != 43 || q.Type == "":
			t.Fatalf("key %q of type %q from %q", q.Key, q.Type, s)
		}
	})
}

func FuzzParseIdentifiers(f *testing.F) {
	f.Add("10000001\n10000002", "zhang.wei@example.cn", "+86 138 0013 8000")
	f.Add("", "", "")
	f.Add(strings.Repeat("a\n", 12), "x@y.cn\nX@Y.CN", "12")
	f.Add("a b", "\xff@x.cn", "+1 202 555 0100\n+1 202 555 0100")
	f.Fuzz(func(t *testing.T, accounts, emails, phones string) {
		ids, problems := parseIdentifiers(accounts, emails, phones)
		if len(problems) > 0 {
			return
		}
		if ids.Empty() {
			t.Fatal("no identifier and no problem")
		}
		for _, list := range [][]string{ids.Accounts, ids.Emails, ids.Phones} {
			if len(list) > operator.MaxIdentifiers {
				t.Fatalf("%d identifiers of one type", len(list))
			}
			for _, v := range list {
				if v == "" || !utf8.ValidString(v) || strings.ContainsAny(v, "\n\r") {
					t.Fatalf("identifier %q", v)
				}
			}
		}
		// Normalized values read back as themselves.
		again, problems := parseIdentifiers(strings.Join(ids.Accounts, "\n"), strings.Join(ids.Emails, "\n"), strings.Join(ids.Phones, "\n"))
		if len(problems) > 0 || strings.Join(again.Emails, ",") != strings.Join(ids.Emails, ",") || strings.Join(again.Phones, ",") != strings.Join(ids.Phones, ",") {
			t.Fatalf("normalization is not stable: %+v → %+v (%v)", ids, again, problems)
		}
	})
}

func FuzzCheckToken(f *testing.F) {
	now := time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC)
	h := &Handler{csrfKey: bytes.Repeat([]byte{7}, 32), clock: func() time.Time { return now }, wall: func() time.Time { return now }}
	valid := h.newToken()
	want, _ := base64.RawURLEncoding.DecodeString(valid)
	f.Add(valid)
	f.Add(valid[:len(valid)-1] + "A")
	f.Add("")
	f.Add(strings.Repeat("A", 54))
	f.Add("%%%")
	f.Fuzz(func(t *testing.T, tok string) {
		if h.checkToken(tok) != nil {
			return
		}
		got, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("token %q accepted: it is not the one issued", tok)
		}
	})
}

func FuzzReportPeriod(f *testing.F) {
	now := time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC)
	for _, p := range [][2]string{{"", ""}, {"2026-03-01", "2026-03-31"}, {"2026-02-30", ""}, {"2020-01-01", "2026-01-01"}, {"9999-12-31", "0001-01-01"}, {"2026-3-1", "x"}} {
		f.Add(p[0], p[1])
	}
	f.Fuzz(func(t *testing.T, from, to string) {
		fd, td, ok := reportPeriod(now, from, to)
		if !ok {
			return
		}
		if td.Before(fd) || fd.AddDays(MaxReportDays).Before(td) {
			t.Fatalf("period %s–%s accepted", fd, td)
		}
		if from != "" {
			if _, err := workday.ParseDate(from); err != nil {
				t.Fatalf("from %q accepted", from)
			}
		}
	})
}

func FuzzDoneText(f *testing.F) {
	for _, s := range []string{"approved", "", "../x", "done.approved", strings.Repeat("a", 50), "%s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, code string) {
		s := doneText("en", code)
		if s == "" {
			return
		}
		if _, ok := catalog["done."+code]; !ok {
			t.Fatalf("code %q gave %q", code, s)
		}
	})
}
