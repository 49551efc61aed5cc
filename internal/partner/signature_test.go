package partner_test

import (
	"errors"
	"testing"
	"time"

	"dsrflow/internal/partner"
)

var secret = []byte("test-secret-0123456789abcdef")

func TestVerify(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	body := []byte(`{"subject_request_id":"r1","request_status":"completed","receipt":"x"}`)
	ts, sig := partner.Sign(secret, now, body)
	_, other := partner.Sign([]byte("another-secret-0123456789"), now, body)
	tests := []struct {
		name    string
		ts, sig string
		body    []byte
		at      time.Time
		want    error
	}{
		{"good", ts, sig, body, now, nil},
		{"good within window", ts, sig, body, now.Add(4 * time.Minute), nil},
		{"rotated secret, one matches", ts, other + "," + sig, body, now, nil},
		{"body changed", ts, sig, append([]byte(" "), body...), now, partner.ErrBadSignature},
		{"wrong secret", ts, other, body, now, partner.ErrBadSignature},
		{"missing signature", ts, "", body, now, partner.ErrMissingSignature},
		{"missing timestamp", "", sig, body, now, partner.ErrMissingSignature},
		{"stale", ts, sig, body, now.Add(6 * time.Minute), partner.ErrStaleTimestamp},
		{"future", ts, sig, body, now.Add(-6 * time.Minute), partner.ErrStaleTimestamp},
		{"timestamp not a number", "soon", sig, body, now, partner.ErrBadSignature},
		{"other timestamp, same signature", "1777636801", sig, body, now, partner.ErrBadSignature},
		{"no v1 scheme", ts, "v0=" + sig[3:], body, now, partner.ErrBadSignature},
		{"not hex", ts, "v1=zz", body, now, partner.ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := partner.Verify(secret, tt.ts, tt.sig, tt.body, tt.at); !errors.Is(got, tt.want) {
				t.Errorf("Verify = %v, want %v", got, tt.want)
			}
		})
	}
}

func BenchmarkSign(b *testing.B) {
	body := make([]byte, 1024)
	now := time.Now()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		partner.Sign(secret, now, body)
	}
}

func BenchmarkVerify(b *testing.B) {
	body := make([]byte, 1024)
	now := time.Now()
	ts, sig := partner.Sign(secret, now, body)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if err := partner.Verify(secret, ts, sig, body, now); err != nil {
			b.Fatal(err)
		}
	}
}
