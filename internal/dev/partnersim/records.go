package partnersim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"dsrflow/internal/dsr"
	"dsrflow/internal/partner"
	"dsrflow/internal/phone"
)

// Record is what a simulated partner holds about one person: the
// identifiers it keys by (only the types it is configured with; the phone
// in E.164) and its data. Retained, after an erasure, is the code of the
// retention exception the record is kept under (codes joined by "," if
// several apply); Data then holds only what that exception covers.
type Record struct {
	Account  string                     `json:"account,omitempty"`
	Phone    string                     `json:"phone,omitempty"`
	Email    string                     `json:"email,omitempty"`
	Data     map[string]json.RawMessage `json:"data"`
	Retained string                     `json:"retained,omitempty"`
}

// identifier is the record's identifier of type t.
func (r Record) identifier(t dsr.IdentifierType) string {
	switch t {
	case dsr.IdentifierAccount:
		return r.Account
	case dsr.IdentifierPhone:
		return r.Phone
	case dsr.IdentifierEmail:
		return r.Email
	}
	return ""
}

func (r Record) clone() Record {
	r.Data = maps.Clone(r.Data)
	for k, v := range r.Data {
		r.Data[k] = bytes.Clone(v)
	}
	return r
}

// recordsFile is the file's shape: {"records": [Record...]}.
type recordsFile struct {
	Records []Record `json:"records"`
}

// Limits on a records file.
const (
	MaxRecordsFileSize = 64 << 20
	MaxRecords         = 100_000
)

// Records are a simulated partner's records, kept in <dir>/<partner ID>.json
// and rewritten atomically (a temporary file renamed over it) after every
// change. They are safe for concurrent use.
type Records struct {
	partner partner.Partner
	path    string

	mu   sync.Mutex
	recs []Record
}

// RecordsPath is where partner id's records are kept under dir.
func RecordsPath(dir, id string) string { return filepath.Join(dir, id+".json") }

// OpenRecords loads the records of partner p from <dir>/<p.ID>.json, or,
// when that file does not exist, seeds them from people (one record per
// person p holds; see Person) and writes the file. A file that exists is
// never reseeded: delete it (or `make clean`) to start again.
func OpenRecords(dir string, p partner.Partner, people []Person) (*Records, error) {
	if !validPartnerID(p.ID) {
		return nil, errors.New("records: not a partner ID")
	}
	r := &Records{partner: p, path: RecordsPath(dir, p.ID)}
	b, err := readLimited(r.path, MaxRecordsFileSize)
	switch {
	case err == nil:
		recs, err := ParseRecords(p, b)
		if err != nil {
			return nil, fmt.Errorf("records of partner %s (%s; delete it to reseed): %w", p.ID, r.path, err)
		}
		r.recs = recs
		return r, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("records of partner %s: %w", p.ID, err)
	}
	recs := []Record{}
	for _, per := range people {
		rec, ok, err := seedRecord(p, per)
		if err != nil {
			return nil, fmt.Errorf("seed records of partner %s: %w", p.ID, err)
		}
		if ok {
			recs = append(recs, rec)
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("records of partner %s: %w", p.ID, err)
	}
	if err := r.write(recs); err != nil {
		return nil, err
	}
	r.recs = recs
	return r, nil
}

func readLimited(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("larger than %d bytes", max)
	}
	return b, nil
}

// ParseRecords reads a records file of partner p strictly: the shape
// {"records": [...]}, no unknown fields or trailing data, at most
// MaxRecords records; each with at least one identifier, only of the types
// p holds, each in its normalized form (phones E.164); data an object whose
// values are nested at most MaxDataDepth deep; retained a list of codes.
// Errors name the record and field, never a value.
func ParseRecords(p partner.Partner, b []byte) ([]Record, error) {
	if len(b) > MaxRecordsFileSize {
		return nil, fmt.Errorf("larger than %d bytes", MaxRecordsFileSize)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var f recordsFile
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	if dec.More() {
		return nil, errors.New("trailing data after the JSON object")
	}
	if f.Records == nil {
		return nil, errors.New("records: required")
	}
	if len(f.Records) > MaxRecords {
		return nil, fmt.Errorf("records: more than %d", MaxRecords)
	}
	for i, rec := range f.Records {
		if err := checkRecord(p, rec); err != nil {
			return nil, fmt.Errorf("records[%d]%w", i, err)
		}
		for k, v := range rec.Data {
			rec.Data[k] = compact(v)
		}
	}
	return f.Records, nil
}

// compact is v without insignificant space: the form records hold in
// memory, whether seeded, changed or loaded.
func compact(v json.RawMessage) json.RawMessage {
	var buf bytes.Buffer
	if err := json.Compact(&buf, v); err != nil {
		return v
	}
	return buf.Bytes()
}

func checkRecord(p partner.Partner, rec Record) error {
	n := 0
	for _, c := range []struct {
		t     dsr.IdentifierType
		field string
		norm  func(string) (string, error)
	}{
		{dsr.IdentifierAccount, "account", dsr.ParseAccountID},
		{dsr.IdentifierPhone, "phone", phone.Parse},
		{dsr.IdentifierEmail, "email", dsr.ParseEmail},
	} {
		v := rec.identifier(c.t)
		if v == "" {
			continue
		}
		n++
		if !p.Holds(c.t) {
			return fmt.Errorf(".%s: partner %s does not hold this identifier type", c.field, p.ID)
		}
		if norm, err := c.norm(v); err != nil || norm != v {
			return fmt.Errorf(".%s: not in normalized form", c.field)
		}
	}
	if n == 0 {
		return errors.New(": want at least one identifier")
	}
	if rec.Data == nil {
		return errors.New(".data: want a JSON object")
	}
	for k, v := range rec.Data {
		if err := checkJSON(v, MaxRecordsFileSize, false); err != nil {
			return fmt.Errorf(".data: a value %w", err)
		}
		if len(k) > partner.MaxCodeLen {
			return errors.New(".data: a key is too long")
		}
	}
	if rec.Retained != "" {
		for _, c := range strings.Split(rec.Retained, ",") {
			if !code(c) {
				return errors.New(".retained: want exception codes")
			}
		}
	}
	return nil
}

// code reports whether s is a short code of letters, digits, '_', '-' and
// '.' (the protocol's codes).
func code(s string) bool {
	if s == "" || len(s) > partner.MaxCodeLen {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}

// write replaces the file with recs: a temporary file in the same
// directory, synced, renamed over it. The caller holds r.mu (or owns r).
func (r *Records) write(recs []Record) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(recordsFile{Records: recs}); err != nil {
		return fmt.Errorf("encode records of partner %s: %w", r.partner.ID, err)
	}
	dir := filepath.Dir(r.path)
	tmp, err := os.CreateTemp(dir, "."+r.partner.ID+"-*.tmp")
	if err != nil {
		return fmt.Errorf("write records of partner %s: %w", r.partner.ID, err)
	}
	_, err = tmp.Write(buf.Bytes())
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), r.path)
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("write records of partner %s: %w", r.partner.ID, err)
	}
	return nil
}

// Path is the records file.
func (r *Records) Path() string { return r.path }

// Snapshot is a copy of the records, in file order.
func (r *Records) Snapshot() []Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Record, len(r.recs))
	for i, rec := range r.recs {
		out[i] = rec.clone()
	}
	return out
}

// update applies fn to a copy of the records and, if fn reports a change,
// writes the result and keeps it; on a write error nothing changes.
func (r *Records) update(fn func(recs []Record) ([]Record, bool)) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	cp := make([]Record, len(r.recs))
	for i, rec := range r.recs {
		cp[i] = rec.clone()
	}
	next, changed := fn(cp)
	if !changed {
		return nil
	}
	if err := r.write(next); err != nil {
		return err
	}
	r.recs = next
	return nil
}

// view calls fn with the records under the lock; fn must not keep or
// change them.
func (r *Records) view(fn func(recs []Record)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fn(r.recs)
}
