package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"dsrflow/internal/certsign"
)

// The flags of dsr requests list: any text is a known status list or a
// usage error, and any --due-before a time or a usage error.
func FuzzRequestsListFlags(f *testing.F) {
	for _, s := range []string{"", "completed", "in_review, escalated", "completed,", "finished", ",,", "received,received", "2026-03-20", "2026-02-30", "2026-03-20T18:00:00+08:00", "tomorrow"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		statuses, err := parseStatuses(v)
		if err != nil {
			var ee *exitError
			if !errors.As(err, &ee) || ee.code != ExitUsage {
				t.Fatalf("parseStatuses(%q) = %v, want a usage error", v, err)
			}
		}
		for i, st := range statuses {
			if !st.Valid() || slices.Contains(statuses[:i], st) {
				t.Fatalf("parseStatuses(%q) = %v: unknown or repeated %q", v, statuses, st)
			}
		}
		before, err := parseDueBefore(v)
		if err != nil {
			var ee *exitError
			if !errors.As(err, &ee) || ee.code != ExitUsage {
				t.Fatalf("parseDueBefore(%q) = %v, want a usage error", v, err)
			}
		} else if v != "" && before.IsZero() || v == "" && !before.IsZero() {
			t.Fatalf("parseDueBefore(%q) = %v", v, before)
		}
	})
}

// holdNoteMessages are the fixed parts of checkHoldNote's errors.
const holdNoteMessages = "hold add: --note looks like it holds an email address; write a case reference, no personal data" +
	"hold add: --note looks like it holds a phone number; write a case reference, no personal data" +
	"hold add: --note is  characters, want at most  (a case reference)"

// A hold's note is refused without being repeated.
func FuzzCheckHoldNote(f *testing.F) {
	for _, s := range []string{"CASE-2026-0012", "asked by li.na.note@example.cn", "call 139-1234-5678 first", "tax audit 2026 ref 4711", strings.Repeat("案", 201), "+86 138 0013 8000", "a@b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, note string) {
		err := checkHoldNote(note)
		if err == nil {
			return
		}
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != ExitUsage {
			t.Fatalf("checkHoldNote(%q) = %v, want a usage error", note, err)
		}
		if len(note) >= 8 && strings.Contains(err.Error(), note) && !strings.Contains(holdNoteMessages, note) {
			t.Fatalf("checkHoldNote(%q) repeats the note: %v", note, err)
		}
	})
}

// A stored certificate document, whatever the table holds, is parsed or
// refused as a failure (exit 1), and one parsed prints.
func FuzzStoredCertificate(f *testing.F) {
	key, err := certsign.OpenLocal(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	c := issuedCertificate(f)
	signed, err := certsign.SignCertificate(f.Context(), key, c)
	if err != nil {
		f.Fatal(err)
	}
	file, err := signed.File()
	if err != nil {
		f.Fatal(err)
	}
	bare, err := json.Marshal(c)
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range [][]byte{file, bare, []byte(`{}`), []byte(`{"signature":{}}`), []byte(`[]`), []byte(`{"certificate":{"version":1}}`), file[:len(file)/2]} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		sc, err := parseStoredCertificate("r-fuzz", doc)
		if err != nil {
			var ee *exitError
			if !errors.As(err, &ee) || ee.code != ExitFailure || !strings.Contains(err.Error(), "r-fuzz") {
				t.Fatalf("error %v, want a failure naming the request", err)
			}
			return
		}
		var out bytes.Buffer
		if err := sc.print(&out); err != nil || out.Len() == 0 {
			t.Fatalf("print: %d bytes, %v", out.Len(), err)
		}
		if sc.signed != nil {
			// What is printed is what offline verification reads.
			if _, err := certsign.ParseSigned(out.Bytes()); err != nil {
				t.Fatalf("printed signed certificate does not parse: %v", err)
			}
		}
	})
}
