package intake_test

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"testing"

	"dsrflow/internal/dsr"
	"dsrflow/internal/intake"
	"dsrflow/internal/intake/intaketest"
	"dsrflow/internal/phone"
	"dsrflow/internal/store"
)

// BenchmarkSubmit measures one new request end to end: the existence check,
// the cap query, the conditional put with its subject index, two audit
// events, StartExecution and the guarded update (dynalite and an httptest
// Step Functions endpoint, so it mostly measures those round trips).
func BenchmarkSubmit(b *testing.B) {
	ctx := context.Background()
	table := emu.NewTable(b)
	fake := intaketest.NewSFN(b)
	st := store.New(store.Config{Table: table}, store.Deps{DB: emu.Client()})
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	starter, err := intake.NewStarter(intake.StarterConfig{StateMachineArn: intaketest.StateMachineArn}, intake.StarterDeps{Store: st, SFN: fake.Client(), Logger: logger})
	if err != nil {
		b.Fatal(err)
	}
	svc, err := intake.New(intake.Config{SubjectSecret: secret}, intake.Deps{Store: st, Starter: starter, Logger: logger})
	if err != nil {
		b.Fatal(err)
	}
	v, err := dsr.Submission{Kind: "access", Role: "self", Email: "bench@example.cn"}.Validate(phone.Parse)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := range b.N {
		if _, err := svc.Submit(ctx, intake.Submission{Validated: v, Channel: dsr.ChannelWeb, NaturalKey: strconv.Itoa(i)}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRequestID(b *testing.B) {
	for range b.N {
		intake.RequestID(dsr.ChannelMail, "3f9a0c5e7d1b2a4c6e8f0a1b3c5d7e9f")
	}
}
