package workflow

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"dsrflow/internal/dsr"
	"dsrflow/internal/notify"
)

// TestHandlersTwice runs steps twice, as a Lambda retry would: the second
// run changes nothing and sends nothing.
func TestHandlersTwice(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := context.Background()

	e.seedOpen("r-reply", dsr.KindErasure, "reply.pii@example.cn", t0, dsr.StatusInProgress)
	var outs []ReplyOutput
	for range 2 {
		out, err := e.h.Reply(ctx, RequestInput{RequestID: "r-reply"})
		if err != nil {
			t.Fatalf("Reply: %v", err)
		}
		outs = append(outs, out)
	}
	if outs[0].PurgeAfter == nil || outs[1].PurgeAfter == nil {
		t.Errorf("erasure replies without purgeAfter: %+v", outs)
	}
	if n := len(e.mailsOf("r-reply", notify.TemplateReply)); n != 1 {
		t.Errorf("%d replies sent, want 1", n)
	}
	if r := e.request("r-reply"); r.Status != dsr.StatusAwaitingBackupRotation {
		t.Errorf("status %s, want awaiting_backup_rotation", r.Status)
	}

	e.seedOpen("r-refuse", dsr.KindAccess, "refuse.pii@example.cn", t0, dsr.StatusInReview)
	for range 2 {
		if _, err := e.h.Close(ctx, CloseInput{RequestID: "r-refuse", Outcome: OutcomeRefused, Reason: dsr.RefusalPublicInterest}); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
	if n := len(e.mailsOf("r-refuse", notify.TemplateRefused)); n != 1 {
		t.Errorf("%d refusal notices, want 1", n)
	}
	if got := strings.Count(strings.Join(e.events("r-refuse"), ","), "refused"); got != 1 {
		t.Errorf("%d refused events, want 1: %v", got, e.events("r-refuse"))
	}

	e.seedOpen("r-proceed", dsr.KindAccess, "proceed.pii@example.cn", t0, dsr.StatusInReview)
	for range 2 {
		if out, err := e.h.Proceed(ctx, RequestInput{RequestID: "r-proceed"}); err != nil || out.Status != dsr.StatusInProgress {
			t.Fatalf("Proceed: %+v, %v", out, err)
		}
	}
	if got := strings.Count(strings.Join(e.events("r-proceed"), ","), "processing_started"); got != 1 {
		t.Errorf("%d processing_started events, want 1", got)
	}
}

// TestHandlerErrors: bad inputs and states give the named errors of the
// contract.
func TestHandlerErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := context.Background()
	e.seedOpen("r-done", dsr.KindAccess, "done.pii@example.cn", t0, dsr.StatusCompleted)
	tests := []struct {
		name string
		run  func() error
		want any
	}{
		{"admit unknown", func() error { _, err := e.h.Admit(ctx, RequestInput{RequestID: "r-missing"}); return err }, &RequestNotFound{}},
		{"admit no ID", func() error { _, err := e.h.Admit(ctx, RequestInput{}); return err }, &InvalidInput{}},
		{"admit closed", func() error { _, err := e.h.Admit(ctx, RequestInput{RequestID: "r-done"}); return err }, &StatusConflict{}},
		{"verify without token", func() error { _, err := e.h.VerifyIdentity(ctx, TokenInput{RequestID: "r-done"}); return err }, &InvalidInput{}},
		{"expire completed", func() error {
			_, err := e.h.Close(ctx, CloseInput{RequestID: "r-done", Outcome: OutcomeExpired})
			return err
		}, &StatusConflict{}},
		{"unknown outcome", func() error {
			_, err := e.h.Close(ctx, CloseInput{RequestID: "r-done", Outcome: "vanished"})
			return err
		}, &InvalidInput{}},
		{"unknown reason", func() error {
			_, err := e.h.Close(ctx, CloseInput{RequestID: "r-done", Outcome: OutcomeRefused, Reason: "because"})
			return err
		}, &InvalidInput{}},
		{"duplicate of itself", func() error {
			_, err := e.h.Close(ctx, CloseInput{RequestID: "r-done", Outcome: OutcomeDuplicate, LinkedRequestID: "r-done"})
			return err
		}, &InvalidInput{}},
		{"bad verifiedAt", func() error {
			_, err := e.h.Review(ctx, ReviewInput{RequestID: "r-done", VerifiedAt: "yesterday"})
			return err
		}, &InvalidInput{}},
		{"await unknown stage", func() error {
			_, err := e.h.AwaitOperator(ctx, AwaitInput{RequestID: "r-done", Stage: "lunch", TaskToken: "x"})
			return err
		}, &InvalidInput{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.run()
			if err == nil {
				t.Fatal("no error")
			}
			if got, want := typeName(err), typeName(tt.want); got != want {
				t.Errorf("error %v is %s, want %s", err, got, want)
			}
		})
	}
}

// TestUnknownRequestFailsExecution: the error name in the history is the Go
// type name, RequestNotFound, and it is not retried.
func TestUnknownRequestFailsExecution(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	if _, err := e.sfn.StartExecution(e.ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(e.smArn), Name: aws.String("r-ghost"), Input: aws.String(`{"requestId":"r-ghost"}`)}); err != nil {
		t.Fatal(err)
	}
	d := e.done("r-ghost")
	if d.Status != sfntypes.ExecutionStatusFailed || aws.ToString(d.Error) != "RequestNotFound" {
		t.Errorf("execution %s with error %q, want FAILED with RequestNotFound", d.Status, aws.ToString(d.Error))
	}
	n := 0
	for _, ev := range e.history("r-ghost") {
		if ev.Type == sfntypes.HistoryEventTypeLambdaFunctionScheduled {
			n++
		}
	}
	if n != 1 {
		t.Errorf("Admit was invoked %d times, want 1 (no retry)", n)
	}
}

// TestMailRequesterUsesLink: a mail request stores no status token hash;
// the link in the code message carries the derived token, which works.
func TestMailRequesterUsesLink(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	v := submission(dsr.KindErasure, dsr.RoleSelf, dsr.LocaleZhCN)
	res, err := e.intake.Submit(e.ctx, intakeMail(v))
	if err != nil {
		t.Fatal(err)
	}
	id := res.Request.ID
	e.code(id, 1)
	e.waitTask(id, "VerifyIdentity")
	text := e.mailsOf(id, notify.TemplateVerificationCode)[0].text
	i := strings.Index(text, "/requests/"+id+"/verification?token=")
	if i < 0 {
		t.Fatalf("no verification link in:\n%s", text)
	}
	token := strings.Fields(text[i+len("/requests/"+id+"/verification?token="):])[0]
	if _, err := e.ver.SubmitCode(e.ctx, id, "forged", e.code(id, 1)); err == nil {
		t.Fatal("a forged token was accepted")
	}
	if res, err := e.ver.SubmitCode(e.ctx, id, token, e.code(id, 1)); err != nil || res.Outcome != "verified" {
		t.Fatalf("SubmitCode with the link's token: %+v, %v", res, err)
	}
	if e.done(id); e.finalState(id) != "Completed" {
		t.Errorf("final state %s", e.finalState(id))
	}
}

// TestChinaPartition runs the definition with aws-cn ARNs (DESIGN.md:
// deployable to mainland China): function ARNs and the lambda:invoke
// integration in the aws-cn partition.
func TestChinaPartition(t *testing.T) {
	t.Parallel()
	e := newEnvIn(t, "aws-cn", nil)
	id, token := e.submit(submission(dsr.KindAccountClosure, dsr.RoleSelf, dsr.LocaleZhCN), "cn")
	e.verify(id, token)
	if d := e.done(id); d.Status != sfntypes.ExecutionStatusSucceeded || e.finalState(id) != "Completed" {
		t.Fatalf("execution ended %s in %s, want SUCCEEDED in Completed", d.Status, e.finalState(id))
	}
	if !strings.HasPrefix(e.smArn, "arn:aws-cn:states:") {
		t.Errorf("state machine ARN %s is not in aws-cn", e.smArn)
	}
}

// TestAttachmentsGoToManualVerification: documents sent as proof are
// checked by an operator, not by a code.
func TestAttachmentsGoToManualVerification(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.seedOpen("r-docs", dsr.KindErasure, "docs.pii@example.cn", t0, dsr.StatusReceived)
	if _, err := e.st.UpdateRequest(e.ctx, "r-docs", 1, func(r *dsr.Request) { r.Attachments = []string{"mail/attachments/id-card.jpg"} }); err != nil {
		t.Fatal(err)
	}
	out, err := e.h.Admit(e.ctx, RequestInput{RequestID: "r-docs"})
	if err != nil || out.Route != RouteManual || out.RouteCause != "attachments" {
		t.Errorf("Admit: %+v, %v; want manual route for attachments", out, err)
	}
}
