package anchor

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

var hashA = strings.Repeat("ab", 32)

func sampleDoc() Document {
	return Document{Format: Format, At: time.Date(2026, 3, 2, 9, 0, 0, 123, time.UTC), Reason: ReasonDaily, Chains: []Head{
		{RequestID: "r-aaa", Seq: 3, Hash: hashA},
		{RequestID: "r-bbb", Seq: 1, Hash: strings.Repeat("0", 64)},
	}}
}

func TestEncodeParse(t *testing.T) {
	t.Parallel()
	doc := sampleDoc()
	name, body, err := encode(doc)
	if err != nil {
		t.Fatal(err)
	}
	if want := "20260302T090000.000000123Z-daily-"; !strings.HasPrefix(name, want) || !ValidName(name) {
		t.Errorf("name %s; want prefix %s and a valid name", name, want)
	}
	got, err := Parse(name, body)
	if err != nil {
		t.Fatal(err)
	}
	if !got.At.Equal(doc.At) || got.Reason != doc.Reason || !slices.Equal(got.Chains, doc.Chains) {
		t.Errorf("Parse = %+v, want %+v", got, doc)
	}
	// The JSON shape the package documents.
	var shape map[string]any
	if err := json.Unmarshal(body, &shape); err != nil {
		t.Fatal(err)
	}
	chain := shape["chains"].([]any)[0].(map[string]any)
	if shape["format"] != Format || shape["reason"] != "daily" || chain["requestId"] != "r-aaa" || chain["seq"] != 3.0 || chain["hash"] != hashA {
		t.Errorf("document %s is not the documented shape", body)
	}
	// Names sort by time.
	later := doc
	later.At = doc.At.Add(time.Nanosecond)
	name2, _, err := encode(later)
	if err != nil || name2 <= name {
		t.Errorf("a later anchor's name %s does not sort after %s (%v)", name2, name, err)
	}
	if sinceName(doc.At) >= name || sinceName(later.At) <= name {
		t.Errorf("sinceName does not bound the names")
	}
}

func TestParseRejects(t *testing.T) {
	t.Parallel()
	valid := func(change func(*Document)) (string, []byte) {
		doc := sampleDoc()
		change(&doc)
		body, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		return nameFor(doc, body), body
	}
	name, body := valid(func(*Document) {})
	renamed := func(b []byte) (string, []byte) { return strings.Replace(name, digest(body), digest(b), 1), b }
	tests := []struct {
		name string
		in   func() (string, []byte)
		want string
	}{
		{"name not an anchor's", func() (string, []byte) { return "x.json", body }, "name"},
		{"content changed", func() (string, []byte) { return name, append(slices.Clone(body), ' ') }, "digest"},
		{"reason differs from the name", func() (string, []byte) {
			return strings.Replace(name, "-daily-", "-closed-", 1), body
		}, "differs from its name"},
		{"time differs from the name", func() (string, []byte) { return "20260302T090000.000000124Z" + name[26:], body }, "differs from its name"},
		{"unknown field", func() (string, []byte) {
			return renamed([]byte(strings.Replace(string(body), `{"format"`, `{"extra":1,"format"`, 1)))
		}, "unknown field"},
		{"data after the document", func() (string, []byte) { return renamed(append(slices.Clone(body), []byte(" {}")...)) }, "data after"},
		{"not JSON", func() (string, []byte) { return renamed([]byte("{")) }, "truncated"},
		{"wrong type", func() (string, []byte) {
			return renamed([]byte(strings.Replace(string(body), `"seq":3`, `"seq":"3"`, 1)))
		}, "seq: want int"},
		{"wrong format", func() (string, []byte) { return valid(func(d *Document) { d.Format = "v0" }) }, "format"},
		{"no time", func() (string, []byte) { return valid(func(d *Document) { d.At = time.Time{} }) }, "at:"},
		{"unknown reason", func() (string, []byte) {
			return renamed([]byte(strings.Replace(string(body), `"daily"`, `"weekly"`, 1)))
		}, "reason"},
		{"no chains", func() (string, []byte) { return valid(func(d *Document) { d.Chains = nil }) }, "chains: empty"},
		{"request twice", func() (string, []byte) {
			return valid(func(d *Document) { d.Chains[1].RequestID = d.Chains[0].RequestID })
		}, "ascending"},
		{"requests out of order", func() (string, []byte) { return valid(func(d *Document) { slices.Reverse(d.Chains) }) }, "ascending"},
		{"bad request ID", func() (string, []byte) { return valid(func(d *Document) { d.Chains[0].RequestID = "r 1" }) }, "requestId"},
		{"seq zero", func() (string, []byte) { return valid(func(d *Document) { d.Chains[0].Seq = 0 }) }, "seq"},
		{"seq too big", func() (string, []byte) { return valid(func(d *Document) { d.Chains[0].Seq = maxSeq + 1 }) }, "seq"},
		{"hash upper case", func() (string, []byte) {
			return valid(func(d *Document) { d.Chains[0].Hash = strings.ToUpper(hashA) })
		}, "hash"},
		{"hash short", func() (string, []byte) { return valid(func(d *Document) { d.Chains[0].Hash = "ab" }) }, "hash"},
		{"too large", func() (string, []byte) { return renamed(make([]byte, MaxDocumentBytes+1)) }, "limit"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			n, b := tc.in()
			_, err := Parse(n, b)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Parse = %v; want ErrInvalid mentioning %q", err, tc.want)
			}
		})
	}
	// More heads than MaxHeads.
	doc := sampleDoc()
	doc.Chains = make([]Head, MaxHeads+1)
	if _, _, err := encode(doc); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Errorf("encode of %d heads = %v; want the limit", len(doc.Chains), err)
	}
}

// FuzzParse: Parse never panics, never quotes its input in an error, and
// what it accepts encodes back to the same name.
func FuzzParse(f *testing.F) {
	name, body, err := encode(sampleDoc())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(name, body)
	f.Add(name, []byte(`{"format":"dsrflow.audit-anchor.v1","at":"2026-03-02T09:00:00Z","reason":"daily","chains":[{"requestId":"SECRET@example.com","seq":1,"hash":"x"}]}`))
	f.Add("x.json", []byte(`{"extra-SECRET":1}`))
	f.Add(name, []byte(`[`))
	f.Fuzz(func(t *testing.T, name string, body []byte) {
		// Parse checks the digest first; fuzz the document itself too.
		for _, n := range []string{name, strings.Replace(name, name[max(0, len(name)-37):], digest(body)+".json", 1)} {
			doc, err := Parse(n, body)
			if err != nil {
				if strings.Contains(err.Error(), "SECRET") {
					t.Fatalf("error quotes its input: %v", err)
				}
				continue
			}
			again, _, err := encode(doc)
			if err != nil {
				t.Fatalf("accepted document does not encode: %v", err)
			}
			if want := again[:27+len(doc.Reason)]; !strings.HasPrefix(n, want) {
				t.Fatalf("accepted %s; its document encodes as %s", n, again)
			}
		}
	})
}

func TestDir(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := Dir{Path: filepath.Join(t.TempDir(), "anchors")}
	if names, err := d.List(ctx, ""); err != nil || len(names) != 0 {
		t.Errorf("List of a missing folder = %v, %v; want nothing", names, err)
	}
	var names []string
	for i := range 3 {
		doc := sampleDoc()
		doc.At = doc.At.Add(time.Duration(i) * time.Hour)
		name, body, err := encode(doc)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Put(ctx, name, body); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
		got, err := d.Read(ctx, name, MaxDocumentBytes)
		if err != nil || string(got) != string(body) {
			t.Errorf("Read(%s) = %q, %v; want what was put", name, got, err)
		}
	}
	// Written once, read-only.
	if err := d.Put(ctx, names[0], []byte("{}")); !errors.Is(err, fs.ErrExist) {
		t.Errorf("second Put under %s = %v; want ErrExist", names[0], err)
	}
	if st, err := os.Stat(filepath.Join(d.Path, names[0])); err != nil || st.Mode().Perm() != 0o444 {
		t.Errorf("anchor file mode %v, %v; want 0444", st.Mode(), err)
	}
	if err := d.Put(ctx, "../escape.json", nil); err == nil {
		t.Error("Put of a name that is not an anchor's: no error")
	}
	// A Put under way (hidden temporary file) is not listed.
	if err := os.WriteFile(filepath.Join(d.Path, ".tmp-1"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := d.List(ctx, ""); err != nil || !slices.Equal(got, names) {
		t.Errorf("List = %v, %v; want %v", got, err, names)
	}
	if got, err := d.List(ctx, sinceName(sampleDoc().At.Add(30*time.Minute))); err != nil || !slices.Equal(got, names[1:]) {
		t.Errorf("List(after) = %v, %v; want %v", got, err, names[1:])
	}
	if _, err := d.Read(ctx, names[0], 10); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Read over the limit = %v; want ErrTooLarge", err)
	}
	if _, err := d.Read(ctx, "../"+names[0], MaxDocumentBytes); err == nil {
		t.Error("Read outside the folder: no error")
	}
}
