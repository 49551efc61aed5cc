package partnersim_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"dsrflow/internal/dev/partnersim"
	"dsrflow/internal/dsr"
	"dsrflow/internal/partner"
)

func stringsReader(s string) *strings.Reader { return strings.NewReader(s) }

// TestFixture: config/local-people.json holds the people issue 13 asks for.
func TestFixture(t *testing.T) {
	people := fixturePeople(t)
	byAccount := map[string]partnersim.Person{}
	for _, p := range people {
		if p.Account != "" {
			byAccount[p.Account] = p
		}
	}
	for _, want := range []partnersim.Person{
		{Account: "10000001", Name: "张伟", Email: "zhang.wei@example.cn", Phone: "+8613800138001"},
		{Account: "10000002", Name: "Li Na", Email: "li.na@example.com", Phone: "+8613800138002"},
		{Account: "10000003", Name: "王小明", Phone: "+8613800138003", Guardian: &partnersim.Guardian{Name: "王芳", Email: "wang.fang@example.cn"}},
		{Account: "10000004", Name: "陈静", Phone: "+8613800138004"},
	} {
		got := byAccount[want.Account]
		if got.Name != want.Name || got.Email != want.Email || got.Phone != want.Phone || !reflect.DeepEqual(got.Guardian, want.Guardian) {
			t.Errorf("account %s = %+v, want %+v", want.Account, got, want)
		}
	}
	if len(people) < 7 {
		t.Errorf("%d people, want the four of the issue and more", len(people))
	}
}

func TestParsePeople(t *testing.T) {
	ok := func(people string) string { return `{"people": [` + people + `]}` }
	for _, tt := range []struct {
		name, in string
		want     []partnersim.Person // nil: an error
		errHas   string
	}{
		{"normalizes", ok(`{"account": " 42 ", "name": "A", "email": "Zhang@Example.CN", "phone": "138 0013 8001"}`),
			[]partnersim.Person{{Account: "42", Name: "A", Email: "zhang@example.cn", Phone: "+8613800138001"}}, ""},
		{"phone only, no account", ok(`{"name": "A", "phone": "+8613800138001", "notes": "n"}`),
			[]partnersim.Person{{Name: "A", Phone: "+8613800138001", Notes: "n"}}, ""},
		{"empty list", ok(``), []partnersim.Person{}, ""},
		{"no people", `{}`, nil, "people: required"},
		{"not JSON", `{"people": [`, nil, "decode"},
		{"unknown field", ok(`{"name": "A", "account": "1", "age": 3}`), nil, "unknown field"},
		{"trailing data", ok(`{"name": "A", "account": "1"}`) + `{}`, nil, "trailing data"},
		{"no name", ok(`{"account": "1"}`), nil, "people[0].name: required"},
		{"no identifier", ok(`{"name": "A"}`), nil, "people[0]: want at least one"},
		{"bad account", ok(`{"name": "A", "account": "a b"}`), nil, "people[0].account"},
		{"duplicate account", ok(`{"name": "A", "account": "1"}, {"name": "B", "account": "1"}`), nil, "people[1].account: the same account as people[0]"},
		{"bad email", ok(`{"name": "A", "email": "secret-address"}`), nil, "people[0].email"},
		{"bad phone", ok(`{"name": "A", "phone": "12345"}`), nil, "people[0].phone"},
		{"guardian without email", ok(`{"name": "A", "account": "1", "guardian": {"name": "G"}}`), nil, "people[0].guardian.email: required"},
		{"guardian without name", ok(`{"name": "A", "account": "1", "guardian": {"email": "g@example.cn"}}`), nil, "people[0].guardian.name"},
		{"control character in name", ok(`{"name": "A\u0007", "account": "1"}`), nil, "people[0].name: contains a control character"},
		{"long name", ok(`{"name": "` + strings.Repeat("名", 101) + `", "account": "1"}`), nil, "longer than 100"},
		{"bad partner ID", ok(`{"name": "A", "account": "1", "partners": ["Music"]}`), nil, "people[0].partners[0]"},
		{"data not an object", ok(`{"name": "A", "account": "1", "data": {"analytics": [1]}}`), nil, "people[0].data.analytics: want a JSON object"},
		{"data too deep", ok(`{"name": "A", "account": "1", "data": {"analytics": {"a":` + strings.Repeat("[", 20) + strings.Repeat("]", 20) + `}}}`), nil, "nested deeper"},
		{"data key not a partner", ok(`{"name": "A", "account": "1", "data": {"Bad ID": {}}}`), nil, "people[0].data: a key"},
		{"too large", `{"people": [], "x": "` + strings.Repeat("x", partnersim.MaxPeopleFileSize) + `"}`, nil, "larger than"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := partnersim.ParsePeople(stringsReader(tt.in))
			if tt.want == nil {
				if err == nil || !strings.Contains(err.Error(), tt.errHas) {
					t.Fatalf("err = %v, want one with %q", err, tt.errHas)
				}
				for _, pii := range []string{"secret-address", "12345", "a b"} {
					if strings.Contains(err.Error(), pii) {
						t.Errorf("error %q repeats a value", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestLoadPeopleMissing(t *testing.T) {
	if _, err := partnersim.LoadPeople("testdata/no-such-file.json"); err == nil {
		t.Error("no error for a missing file")
	}
}

// FuzzParsePeople: any input is parsed or refused without panicking; what
// is accepted is normalized (a second parse gives the same) and keeps the
// invariants.
func FuzzParsePeople(f *testing.F) {
	// Small seeds: the fuzzer minimizes every new input it finds, which for
	// inputs of kilobytes takes longer than its hang timeout.
	f.Add(`{"people": [{"name": "A", "phone": "13800138001", "data": {"analytics": {"a": [1, {"b": null}]}}}]}`)
	f.Add(`{"people": [{"account": "10000003", "name": "王小明", "phone": "+8613800138003", "notes": "minor", "data": {"music-account": {"orders": []}}}]}`)
	f.Add(`{"people": [{"name": "A", "account": "1", "guardian": {"name": "G", "email": "G@EXAMPLE.CN"}, "partners": ["sms-provider"]}]}`)
	f.Add(`{"people": null}`)
	f.Add(`[]`)
	f.Fuzz(func(t *testing.T, in string) {
		people, err := partnersim.ParsePeople(stringsReader(in))
		if err != nil {
			return
		}
		b, err := json.Marshal(map[string]any{"people": people})
		if err != nil {
			t.Fatal(err)
		}
		again, err := partnersim.ParsePeople(stringsReader(string(b)))
		if err != nil {
			t.Fatalf("re-parsing accepted people: %v", err)
		}
		if len(again) != len(people) {
			t.Fatalf("re-parse: %d people, want %d", len(again), len(people))
		}
		for i, p := range people {
			if p.Phone != "" && !strings.HasPrefix(p.Phone, "+") {
				t.Errorf("people[%d].phone is not E.164", i)
			}
			if p.Account == "" && p.Email == "" && p.Phone == "" {
				t.Errorf("people[%d] has no identifier", i)
			}
			if again[i].Phone != p.Phone || again[i].Email != p.Email || again[i].Account != p.Account {
				t.Errorf("people[%d] is not normalized", i)
			}
		}
	})
}

// FuzzParseRecords: a records file is parsed or refused without panicking;
// what is accepted holds only the identifier types the partner keys by.
func FuzzParseRecords(f *testing.F) {
	p := partner.Partner{ID: "analytics", IdentityTypes: []dsr.IdentifierType{dsr.IdentifierAccount, dsr.IdentifierPhone}}
	f.Add([]byte(`{"records": [{"account": "1", "phone": "+8613800138001", "data": {"x": [1]}, "retained": "a,b"}]}`))
	f.Add([]byte(`{"records": [{"email": "a@example.cn", "data": {}}]}`))
	f.Add([]byte(`{"records": [{"phone": "+8613800138001", "data": {"sms_log": [{"at": "2025-01-03T07:43:00Z", "status": "delivered"}]}, "retained": "sms_delivery_logs"}]}`))
	f.Add([]byte(`{"records": []} {}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, err := partnersim.ParseRecords(p, b)
		if err != nil {
			return
		}
		for i, r := range recs {
			if r.Email != "" || r.Account == "" && r.Phone == "" || r.Data == nil {
				t.Errorf("records[%d] accepted: %+v", i, r)
			}
		}
	})
}
