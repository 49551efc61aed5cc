package phone

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"dsrflow/internal/e164"
)

// agree fails when e164 (the privacy center's metadata-free reader)
// accepts s into another E.164 string than libphonenumber does. It
// reports whether libphonenumber refused what e164 accepted (a number its
// plan does not assign).
func agree(t *testing.T, s string) (refused bool) {
	t.Helper()
	fast, err := e164.Parse(s)
	if err != nil {
		return false
	}
	full, err := Parse(s)
	if err != nil {
		return true
	}
	if fast != full {
		t.Errorf("e164.Parse(%q) = %q, libphonenumber %q", s, fast, full)
	}
	return false
}

// TestE164AgreesWithLibphonenumber: what the privacy center reads without
// metadata is what libphonenumber reads, for the numbers people type, and
// over every mainland China mobile prefix.
func TestE164AgreesWithLibphonenumber(t *testing.T) {
	typed := []string{
		"13800138000", "138 0013 8000", "+86 138 0013 8000", "008613800138000", "(+86) 138-0013-8000",
		"１３８００１３８０００", "+852 6123 4567", "+853 6612 3456", "+886 912 345 678", "+1 415 555 2671",
		"+44 7911 123456", "+49 1512 3456789", "+33 6 12 34 56 78", "+81 90-1234-5678", "+82 10-1234-5678",
		"+65 8123 4567", "+61 412 345 678", "+7 912 345-67-89", "+39 312 345 6789", "+91 98765 43210",
	}
	for _, s := range typed {
		if _, err := e164.Parse(s); err != nil {
			t.Errorf("e164.Parse(%q): %v; want it read", s, err)
		}
		if agree(t, s) {
			t.Errorf("libphonenumber refuses %q", s)
		}
	}
	// Every 1[3-9]x prefix of mainland China mobiles: e164 reads a prefix
	// exactly when libphonenumber assigns every sampled number of it.
	for p := 130; p <= 199; p++ {
		all := true
		var sample []string
		for q := 0; q < 10000; q += 97 {
			sample = append(sample, fmt.Sprintf("%d%04d%04d", p, q, (q*7919)%10000))
		}
		for _, s := range sample {
			if _, err := Parse(s); err != nil {
				all = false
			}
		}
		_, err := e164.Parse(sample[0])
		if (err == nil) != all {
			t.Errorf("prefix %d: e164 reads it %v, libphonenumber assigns all of it %v: update e164's unassignedCN", p, err == nil, all)
		}
		for _, s := range sample {
			agree(t, s)
		}
	}
}

// TestE164AgreesPerCountry: for every country code e164 reads, numbers of
// every length and first digit read alike (a deterministic sweep the fuzz
// test would take long to reach).
func TestE164AgreesPerCountry(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	read, refused := 0, 0
	for _, cc := range e164.CountryCodes() {
		for n := 4; n <= 15-len(cc); n++ {
			for range 60 {
				var b strings.Builder
				b.WriteString("+" + cc + " ")
				for i := range n {
					d := rng.IntN(10)
					if i == 0 {
						d = 1 + rng.IntN(9)
					}
					b.WriteByte(byte('0' + d))
				}
				if _, err := e164.Parse(b.String()); err == nil {
					read++
					if agree(t, b.String()) {
						refused++
					}
				}
			}
		}
	}
	t.Logf("%d random numbers read by e164 over %d country codes; libphonenumber's plan assigns %d of them", read, len(e164.CountryCodes()), read-refused)
}

// FuzzE164AgreesWithLibphonenumber: for any input, e164 and
// libphonenumber never read it into two different numbers.
func FuzzE164AgreesWithLibphonenumber(f *testing.F) {
	for _, s := range []string{"13800138000", "+86 138 0013 8000", "+852 6123 4567", "+44 (0)20 7946 0958", "+39 06 1234 5678", "00 1 415 555 2671", "+52 1 55 1234 5678", "+54 9 11 1234 5678"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { agree(t, s) })
}
