package mailintake_test

import (
	"context"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"

	"dsrflow/internal/mail"
)

// FuzzHandle: whatever the raw message, the handler records it and returns
// no error (bad mail is recorded, never retried); only a request mail
// creates a request, and only an authenticated sender is acknowledged.
// The seeds are corpus messages and follow-ups forging our Message-IDs.
func FuzzHandle(f *testing.F) {
	for _, name := range []string{"zh_utf8_erasure.eml", "attachment_id_card.eml", "quoted_reply.eml", "several_requests.eml", "dmarc_fail.eml", "broken_boundary.eml", "ses_pass_consent.eml"} {
		f.Add(corpus(f, name))
	}
	for _, m := range []testMail{
		{From: "mallory@evil.example", Subject: "Re: request", MessageID: "fz1@evil.example", DMARC: "pass",
			InReplyTo: ourMessageID("r-aaaaaaaaaaaaaaaaaaaaaaaaaa", "verification_code"), Body: "see attached\n",
			Attachments: []testAttachment{{Name: "x.pdf", Type: "application/pdf", Data: []byte("%PDF")}}},
		{From: "bob@example.com", Subject: "问题", MessageID: "fz2@example.com", DMARC: "pass", Body: "我的数据安全吗？\n"},
		{From: "bob@example.com", Subject: "Re: r-aaaaaaaaaaaaaaaaaaaaaaaaaa", MessageID: "fz3@example.com", DMARC: "none", Body: "thanks\n"},
	} {
		f.Add(m.bytes())
	}
	fx := newFixture(f, nil)
	var n atomic.Int64
	f.Fuzz(func(t *testing.T, raw []byte) {
		key := "inbox/fuzz-" + strconv.FormatInt(n.Add(1), 10)
		before := len(fx.ackRecipients(t))
		fx.put(t, key, raw)
		if err := fx.h.Handle(context.Background(), withKey(t, "intake-mail.json", key, len(raw))); err != nil {
			t.Fatalf("Handle = %v, want nil for any message", err)
		}
		msg, cls := classifyAs(raw, sesID)
		rec := fx.record(t, mail.DedupeKey(msg, bucket+"/"+key))
		if !slices.Contains([]string{"request", "follow_up", "ignore", "triage", "reject"}, rec.Action) {
			t.Errorf("record action %q", rec.Action)
		}
		if rec.RequestID != "" && rec.Action != "request" && rec.Action != "follow_up" {
			t.Errorf("a %s record names request %s", rec.Action, rec.RequestID)
		}
		if rec.Deliveries == 1 {
			if after := len(fx.ackRecipients(t)); after > before && mail.VerdictsFromHeaders(msg, sesID).DMARC != "pass" {
				t.Errorf("acknowledged a sender without dmarc=pass (%s)", cls.Reason)
			}
		}
	})
}
