package partnersim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode"
	"unicode/utf8"

	"dsrflow/internal/dsr"
	"dsrflow/internal/phone"
)

// Person is one synthetic person of the people fixture
// (config/local-people.json): the simulated partners are seeded with
// records about them. Every field is personal data, if synthetic: a Person
// is never logged.
type Person struct {
	// Account is the account ID at the account system; empty for someone
	// without an account (only partners that do not key by account hold
	// them).
	Account string `json:"account,omitempty"`
	Name    string `json:"name"`
	Email   string `json:"email,omitempty"`
	// Phone is in E.164 form once loaded (the fixture may write it as a
	// person would type it; a number without a country code is a mainland
	// China number).
	Phone string `json:"phone,omitempty"`
	// Notes describe the person for developers ("adult", "minor", ...).
	Notes string `json:"notes,omitempty"`
	// Guardian is the guardian of a minor; the account system keeps it.
	Guardian *Guardian `json:"guardian,omitempty"`
	// Partners, if set, limits the partners holding records about the person
	// to these IDs (someone who never used a feature). Empty: every partner
	// that holds one of the person's identifiers (see holdsPerson).
	Partners []string `json:"partners,omitempty"`
	// Data is laid over the generated data per partner ID, key by key: a
	// top-level key given here replaces the generated one.
	Data map[string]json.RawMessage `json:"data,omitempty"`
}

// Guardian is a minor's guardian (监护人).
type Guardian struct {
	Name  string `json:"name"`
	Email string `json:"email"`
}

type peopleFile struct {
	People []Person `json:"people"`
}

// Limits on the people fixture.
const (
	MaxPeopleFileSize = 1 << 20
	MaxPeople         = 1000
	MaxNameLen        = 100 // characters
	MaxNotesLen       = 500 // characters
	MaxPersonPartners = 50
	MaxPersonDataLen  = 64 << 10 // bytes of one partner's data
	MaxDataDepth      = 16
)

// LoadPeople reads and checks the people fixture at path (see ParsePeople).
func LoadPeople(path string) ([]Person, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("people fixture: %w", err)
	}
	defer f.Close()
	people, err := ParsePeople(f)
	if err != nil {
		return nil, fmt.Errorf("people fixture %s: %w", path, err)
	}
	return people, nil
}

// ParsePeople reads a people fixture, {"people": [Person...]}, strictly:
// unknown fields, trailing data, more than MaxPeopleFileSize bytes or
// MaxPeople people are errors. Each person needs a name and at least one
// identifier; accounts are checked with dsr.ParseAccountID and unique,
// emails normalized with dsr.ParseEmail, phones with phone.Parse (to
// E.164); a guardian needs a name and an email; partners are partner IDs;
// data holds one JSON object per partner ID, at most MaxPersonDataLen
// bytes and MaxDataDepth deep. Errors name the field, never its value.
func ParsePeople(r io.Reader) ([]Person, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxPeopleFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	if len(b) > MaxPeopleFileSize {
		return nil, fmt.Errorf("larger than %d bytes", MaxPeopleFileSize)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var f peopleFile
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	if dec.More() {
		return nil, errors.New("trailing data after the JSON object")
	}
	if f.People == nil {
		return nil, errors.New("people: required")
	}
	if len(f.People) > MaxPeople {
		return nil, fmt.Errorf("people: more than %d", MaxPeople)
	}
	accounts := map[string]int{}
	for i := range f.People {
		p := &f.People[i]
		at := fmt.Sprintf("people[%d]", i)
		if err := p.normalize(at); err != nil {
			return nil, err
		}
		if p.Account != "" {
			if j, dup := accounts[p.Account]; dup {
				return nil, fmt.Errorf("%s.account: the same account as people[%d]", at, j)
			}
			accounts[p.Account] = i
		}
	}
	return f.People, nil
}

func (p *Person) normalize(at string) error {
	var err error
	if err := checkText(p.Name, MaxNameLen, true); err != nil {
		return fmt.Errorf("%s.name: %w", at, err)
	}
	if err := checkText(p.Notes, MaxNotesLen, false); err != nil {
		return fmt.Errorf("%s.notes: %w", at, err)
	}
	if p.Account == "" && p.Email == "" && p.Phone == "" {
		return fmt.Errorf("%s: want at least one of account, email and phone", at)
	}
	if p.Account != "" {
		if p.Account, err = dsr.ParseAccountID(p.Account); err != nil {
			return fmt.Errorf("%s.account: %w", at, err)
		}
	}
	if p.Email != "" {
		if p.Email, err = dsr.ParseEmail(p.Email); err != nil {
			return fmt.Errorf("%s.email: %w", at, err)
		}
	}
	if p.Phone != "" {
		if p.Phone, err = phone.Parse(p.Phone); err != nil {
			return fmt.Errorf("%s.phone: %w", at, err)
		}
	}
	if g := p.Guardian; g != nil {
		if err := checkText(g.Name, MaxNameLen, true); err != nil {
			return fmt.Errorf("%s.guardian.name: %w", at, err)
		}
		if g.Email == "" {
			return fmt.Errorf("%s.guardian.email: required", at)
		}
		if g.Email, err = dsr.ParseEmail(g.Email); err != nil {
			return fmt.Errorf("%s.guardian.email: %w", at, err)
		}
	}
	if len(p.Partners) > MaxPersonPartners {
		return fmt.Errorf("%s.partners: more than %d", at, MaxPersonPartners)
	}
	for j, id := range p.Partners {
		if !validPartnerID(id) {
			return fmt.Errorf("%s.partners[%d]: not a partner ID", at, j)
		}
	}
	if len(p.Data) > MaxPersonPartners {
		return fmt.Errorf("%s.data: more than %d partners", at, MaxPersonPartners)
	}
	for id, raw := range p.Data {
		if !validPartnerID(id) {
			return fmt.Errorf("%s.data: a key is not a partner ID", at)
		}
		if err := checkJSON(raw, MaxPersonDataLen, true); err != nil {
			return fmt.Errorf("%s.data.%s: %w", at, id, err)
		}
	}
	return nil
}

// key identifies the person in generated data: the account, else the
// phone, else the email.
func (p Person) key() string {
	switch {
	case p.Account != "":
		return "account:" + p.Account
	case p.Phone != "":
		return "phone:" + p.Phone
	}
	return "email:" + p.Email
}

// checkText checks a line of text: valid UTF-8, no control characters, at
// most max characters, not blank if required.
func checkText(s string, max int, required bool) error {
	if strings.TrimSpace(s) == "" {
		if required {
			return errors.New("required")
		}
		return nil
	}
	if !utf8.ValidString(s) {
		return errors.New("not valid UTF-8")
	}
	if utf8.RuneCountInString(s) > max {
		return fmt.Errorf("longer than %d characters", max)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return errors.New("contains a control character")
		}
	}
	return nil
}

// validPartnerID mirrors the partner configuration's rule: 1 to 63 of
// [a-z0-9_-], starting with a letter or digit.
func validPartnerID(id string) bool {
	if len(id) == 0 || len(id) > 63 || id[0] == '_' || id[0] == '-' {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// checkJSON checks that raw is one JSON value (an object if wantObject) of
// at most maxLen bytes, nested at most MaxDataDepth deep.
func checkJSON(raw json.RawMessage, maxLen int, wantObject bool) error {
	if len(raw) > maxLen {
		return fmt.Errorf("larger than %d bytes", maxLen)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	depth := 0
	first := true
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return errors.New("not valid JSON")
		}
		if first && wantObject && tok != json.Delim('{') {
			return errors.New("want a JSON object")
		}
		first = false
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
			if depth > MaxDataDepth {
				return fmt.Errorf("nested deeper than %d", MaxDataDepth)
			}
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
	if first {
		return errors.New("empty")
	}
	return nil
}
