package partnersim_test

import (
	"context"
	"fmt"
	"testing"

	"dsrflow/internal/dev/partnersim"
	"dsrflow/internal/dsr"
	"dsrflow/internal/partner"
)

// BenchmarkSeed: seeding the example partners from the people fixture
// (generate, encode, write five files).
func BenchmarkSeed(b *testing.B) {
	cfg, err := partner.LoadConfig(exampleConfig)
	if err != nil {
		b.Fatal(err)
	}
	people, err := partnersim.LoadPeople(peopleFixture)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		dir := b.TempDir()
		for _, p := range cfg.Partners {
			if _, err := partnersim.OpenRecords(dir, p, people); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkCorrect: one correction at the account system through the
// client, the records file rewritten each time.
func BenchmarkCorrect(b *testing.B) {
	st := newStack(b, b.TempDir(), fixturePeople(b), nil)
	p, _ := st.cfg.Partner("music-account")
	ids := []partner.Identity{ident(dsr.IdentifierAccount, "10000001")}
	i := 0
	for b.Loop() {
		i++
		_, err := st.client.Dispatch(context.Background(), p, secret, partner.Request{SubjectRequestID: fmt.Sprintf("r%d", i),
			SubjectRequestType: partner.ActionCorrect, SubjectIdentities: ids, Corrections: []string{fmt.Sprintf("nickname: n%d", i)}})
		if err != nil {
			b.Fatal(err)
		}
	}
}
