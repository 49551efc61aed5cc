package mailintake_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"dsrflow/internal/dsr"
	"dsrflow/internal/intake"
	"dsrflow/internal/intake/intaketest"
	"dsrflow/internal/mailintake"
	"dsrflow/internal/store"
)

// TestAgainstLocalStepFunctions runs the handler against the project's Step
// Functions API (internal/dev/sfnapi in front of the local engine) instead of the
// recording endpoint: the executions it starts are real, named by request ID,
// with {"requestId": ...} as their whole input, one per request however often
// the mail is delivered; the hints of a mail's text are not in it, and a
// follow-up starts nothing.
func TestAgainstLocalStepFunctions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	client, smArn := intaketest.NewLocal(t)

	table := emu.NewTable(t)
	s3c, _ := fakeS3(t)
	st := store.New(store.Config{Table: table}, store.Deps{DB: emu.Client()})
	cfg := baseConfig(t, table)
	cfg.StateMachineArn = smArn
	h, err := mailintake.New(cfg, mailintake.Deps{Store: st, S3: s3c, SFN: client, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{h: h, s3: s3c, st: st}

	two := readEvent(t, "intake-mail-two-objects.json")
	one := readEvent(t, "intake-mail.json")
	f.put(t, two.Records[0].S3.Object.URLDecodedKey, passed(t, "duplicate_a.eml"))
	f.put(t, two.Records[1].S3.Object.URLDecodedKey, passed(t, "duplicate_b.eml"))
	f.put(t, one.Records[0].S3.Object.URLDecodedKey, passed(t, "zh_utf8_erasure.eml"))
	for _, ev := range []string{"intake-mail-two-objects.json", "intake-mail.json", "intake-mail.json"} {
		if err := h.Handle(ctx, readEvent(t, ev)); err != nil {
			t.Fatalf("Handle %s: %v", ev, err)
		}
	}
	hinted := testMail{From: "carol@example.com", Subject: "更正个人信息", MessageID: "c1@example.com", DMARC: "pass",
		Body: "你好，\n我的账号ID是 10000077，手机号 13900139000。\n请把昵称改成小丽。\n"}.bytes()
	hintedID := f.record(t, f.deliver(t, "inbox/hinted", hinted)).RequestID
	followUp := testMail{From: "carol@example.com", Subject: "Re: 更正个人信息", MessageID: "c2@example.com", DMARC: "pass",
		InReplyTo: ourMessageID(hintedID, "verification_code"), Body: "补充：手机号 13900139000。\n"}.bytes()
	if rec := f.record(t, f.deliver(t, "inbox/follow-up", followUp)); rec.Action != "follow_up" || rec.RequestID != hintedID {
		t.Errorf("follow-up record = %s / %q, want follow_up joining %s", rec.Action, rec.RequestID, hintedID)
	}

	list, err := client.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(smArn)})
	if err != nil {
		t.Fatalf("ListExecutions: %v", err)
	}
	want := map[string]bool{
		intake.RequestID(dsr.ChannelMail, dedupeKey(passed(t, "duplicate_a.eml"), two.Records[0].S3.Object.URLDecodedKey)):     true,
		intake.RequestID(dsr.ChannelMail, dedupeKey(passed(t, "zh_utf8_erasure.eml"), one.Records[0].S3.Object.URLDecodedKey)): true,
		hintedID: true,
	}
	if len(list.Executions) != len(want) {
		t.Fatalf("executions = %d, want %d (one per request)", len(list.Executions), len(want))
	}
	for _, x := range list.Executions {
		name := aws.ToString(x.Name)
		if !want[name] {
			t.Errorf("execution named %q, want a request ID of %v", name, want)
			continue
		}
		d, err := client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: x.ExecutionArn})
		if err != nil {
			t.Fatalf("DescribeExecution: %v", err)
		}
		var in map[string]any
		if err := json.Unmarshal([]byte(aws.ToString(d.Input)), &in); err != nil || !reflect.DeepEqual(in, map[string]any{"requestId": name}) {
			t.Errorf("execution %s input = %s, want exactly {\"requestId\":%q}", name, aws.ToString(d.Input), name)
		}
		assertAbsent(t, "execution input and output", aws.ToString(d.Input)+aws.ToString(d.Output), "10000077", "13900139000", "小丽", "carol@")
	}
}
