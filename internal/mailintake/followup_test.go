package mailintake_test

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"dsrflow/internal/dsr"
	"dsrflow/internal/intake"
	"dsrflow/internal/mail"
	"dsrflow/internal/mailintake"
	"dsrflow/internal/store"
)

// newRequestByMail has alice@example.com ask for erasure by mail and
// returns the request ID.
func newRequestByMail(t *testing.T, f *fixture, n int) string {
	t.Helper()
	raw := testMail{From: "alice@example.com", Subject: "删除我的个人信息", MessageID: "alice-" + strconv.Itoa(n) + "@example.com", DMARC: "pass",
		Body: "你好，请删除我的全部个人信息。\n"}.bytes()
	rec := f.record(t, f.deliver(t, "inbox/alice-"+strconv.Itoa(n), raw))
	if rec.Action != "request" || rec.RequestID == "" {
		t.Fatalf("first mail: %s / %s, want a request", rec.Action, rec.Reason)
	}
	return rec.RequestID
}

// TestFollowUp: a person's reply in one of our threads joins its request
// (an audit event, its attachments as documents) when the request is open,
// the sender is the request's contact and DMARC passed; otherwise it goes to
// triage naming the request. It never creates a request.
func TestFollowUp(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := context.Background()
	open := newRequestByMail(t, f, 1)
	closed := newRequestByMail(t, f, 2)
	r, err := f.st.GetRequest(ctx, closed)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.TransitionStatus(ctx, closed, dsr.StatusReceived, dsr.StatusRefused, r.Version, nil); err != nil {
		t.Fatal(err)
	}
	const unknown = "r-aaaaaaaaaaaaaaaaaaaaaaaaaa"
	idCard := testAttachment{Name: "李丽 身份证.jpg", Type: "image/jpeg", Data: []byte("\xff\xd8\xff jpeg bytes of an ID card")}
	reply := func(from, dmarc string, edit func(*testMail)) testMail {
		m := testMail{From: from, Subject: "Re: 您的个人信息请求验证码（编号 " + open + "）", DMARC: dmarc,
			InReplyTo:   ourMessageID(open, "verification_code"),
			References:  "<alice-1@example.com> " + ourMessageID(open, "verification_code"),
			Body:        "您好，按要求附上身份证照片。\n\n> 自动回复，请勿直接回复\n",
			Attachments: []testAttachment{idCard}}
		if edit != nil {
			edit(&m)
		}
		return m
	}
	tests := []struct {
		name       string
		mail       testMail
		wantAction string
		wantReason string
		wantThread string
		joins      string // the request it joins, or ""
	}{
		{name: "reply by the requester joins",
			mail:       reply("alice@example.com", "pass", nil),
			wantAction: "follow_up", wantReason: "follow_up: thread_reply", wantThread: open, joins: open},
		{name: "References alone name the request",
			mail:       reply("Alice@Example.com", "pass", func(m *testMail) { m.InReplyTo = "" }),
			wantAction: "follow_up", wantReason: "follow_up: thread_reply", wantThread: open, joins: open},
		{name: "a stranger naming someone's request",
			mail:       reply("mallory@evil.example", "pass", nil),
			wantAction: "triage", wantReason: "triage: " + mailintake.TriageFollowUpSenderMismatch, wantThread: open},
		{name: "a stranger with a plus tag of the requester's address",
			mail:       reply("alice+x@example.com", "pass", nil),
			wantAction: "triage", wantReason: "triage: " + mailintake.TriageFollowUpSenderMismatch, wantThread: open},
		{name: "the requester's address without DMARC",
			mail:       reply("alice@example.com", "none", nil),
			wantAction: "triage", wantReason: "triage: " + mailintake.TriageFollowUpUnauthenticated, wantThread: open},
		{name: "the requester's address, DMARC pass only from an untrusted server",
			mail: reply("alice@example.com", "none", func(m *testMail) {
				m.ExtraHeaders = []string{"Authentication-Results: mx.evil.example; dmarc=pass header.from=example.com"}
			}),
			wantAction: "triage", wantReason: "triage: " + mailintake.TriageFollowUpUnauthenticated, wantThread: open},
		{name: "unknown request",
			mail: reply("alice@example.com", "pass", func(m *testMail) {
				m.InReplyTo, m.References = ourMessageID(unknown, "reply"), ""
			}),
			wantAction: "triage", wantReason: "triage: " + mailintake.TriageFollowUpUnknown, wantThread: unknown},
		{name: "closed request",
			mail: reply("alice@example.com", "pass", func(m *testMail) {
				m.InReplyTo, m.References = ourMessageID(closed, "refused"), ""
			}),
			wantAction: "triage", wantReason: "triage: " + mailintake.TriageFollowUpClosed, wantThread: closed},
	}
	requests := len(f.sfn.Calls())
	docs := map[string]int{}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.mail.MessageID = "reply-" + strconv.Itoa(i) + "@example.com"
			raw := tt.mail.bytes()
			if _, cls := classifyAs(raw, sesID); cls.Action != mail.ActionFollowUp {
				t.Fatalf("the classifier says %s (%s), the test needs a follow-up", cls.Action, cls.Reason)
			}
			key := "inbox/reply-" + strconv.Itoa(i)
			dk := f.deliver(t, key, raw)
			f.deliver(t, key, raw) // a redelivery changes nothing
			rec := f.record(t, dk)
			if rec.Action != tt.wantAction || rec.Reason != tt.wantReason || rec.ThreadRequestID != tt.wantThread || rec.RequestID != tt.joins {
				t.Errorf("record = %s / %s / thread %s / request %q; want %s / %s / %s / %q",
					rec.Action, rec.Reason, rec.ThreadRequestID, rec.RequestID, tt.wantAction, tt.wantReason, tt.wantThread, tt.joins)
			}
			triaged, err := f.st.ListTriage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			// Every follow-up waits for a person: one that joined its
			// request is read there, the others are triaged.
			onList := slices.ContainsFunc(triaged, func(r store.MailRecord) bool { return r.DedupeKey == dk })
			if !onList {
				t.Errorf("on the queue: %v, want true", onList)
			}
			if n := len(f.sfn.Calls()); n != requests {
				t.Errorf("StartExecution calls = %d, want %d: a follow-up starts nothing", n, requests)
			}
			for _, id := range []string{open, closed} {
				got, err := f.st.ListDocuments(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				evs, err := f.st.ListEvents(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				var joined []store.Event
				for _, e := range evs {
					if e.Type == mailintake.EventMailFollowUp && e.Data["dedupeKey"] == dk {
						joined = append(joined, e)
					}
				}
				if id == tt.joins {
					docs[id]++
					if len(joined) != 1 || joined[0].Data["documents"] != "1" || joined[0].Actor != "system:intake-mail" {
						t.Errorf("request %s: follow-up events %+v, want one by system:intake-mail with 1 document", id, joined)
					}
					last := got[len(got)-1]
					if want := mail.AttachmentKey(mailintake.DefaultAttachmentPrefix, dk, 0, mail.Attachment{Filename: idCard.Name, ContentType: idCard.Type}); last.Key != want || last.FileName != idCard.Name || last.Source != "mail" {
						t.Errorf("request %s: last document %+v, want the ID card at %s", id, last, want)
					}
					if b := f.get(t, last.Key); string(b) != string(idCard.Data) {
						t.Errorf("document object = %q, want the attachment", b)
					}
					rep, err := f.st.VerifyChain(ctx, id)
					if err != nil || !rep.OK() {
						t.Errorf("audit chain of %s: %+v, %v", id, rep, err)
					}
				} else if len(joined) != 0 {
					t.Errorf("request %s got a follow-up event: %+v", id, joined)
				}
				if len(got) != docs[id] {
					t.Errorf("request %s has %d documents, want %d", id, len(got), docs[id])
				}
			}
		})
	}
	assertAbsent(t, "logs", f.logs.String(), "alice@", "mallory@", idCard.Name, "身份证照片")
}

// TestAcknowledgement: mail that waits for a person is acknowledged once per
// mailbox and window, and only to an authenticated sender.
func TestAcknowledgement(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	const question = "你们如何使用我的数据训练模型？数据会传到境外吗？"
	n := 0
	send := func(from, dmarc string) store.MailRecord {
		t.Helper()
		n++
		raw := testMail{From: from, Subject: "关于数据的问题 " + strconv.Itoa(n), MessageID: "q" + strconv.Itoa(n) + "@x.example", DMARC: dmarc, Body: question + "\n"}.bytes()
		return f.record(t, f.deliver(t, "inbox/q"+strconv.Itoa(n), raw))
	}
	steps := []struct {
		name    string
		advance time.Duration
		from    string
		dmarc   string
		action  string
		wantAck bool
	}{
		{"first question", 0, "bob@example.com", "pass", "triage", true},
		{"second question, same sender", time.Minute, "bob@example.com", "pass", "triage", false},
		{"plus tag, same mailbox", time.Minute, "bob+privacy@example.com", "pass", "triage", false},
		{"another sender", 0, "carol@example.org", "pass", "triage", true},
		{"Gmail dots, first", 0, "dan.lee@gmail.com", "pass", "triage", true},
		{"Gmail dots, same mailbox", 0, "danlee@googlemail.com", "pass", "triage", false},
		{"no DMARC result", 0, "erin@example.net", "none", "triage", false},
		{"no Authentication-Results at all", 0, "frank@example.net", "", "triage", false},
		{"DMARC fail is spoofed: ignored", 0, "victim@example.com", "fail", "ignore", false},
		{"our own address", 0, mailFrom, "pass", "triage", false},
		{"same sender after the window", 25 * time.Hour, "bob@example.com", "pass", "triage", true},
	}
	var want []string
	for _, s := range steps {
		f.clock.advance(s.advance)
		rec := send(s.from, s.dmarc)
		if rec.Action != s.action {
			t.Fatalf("%s: record %s / %s, want %s", s.name, rec.Action, rec.Reason, s.action)
		}
		if s.wantAck {
			want = append(want, strings.ToLower(s.from))
		}
		if got := f.ackRecipients(t); !slices.Equal(got, want) {
			t.Fatalf("%s: acknowledgements to %v, want %v", s.name, got, want)
		}
	}
	// Volume: many triaged mails from one sender within the window, one
	// acknowledgement (none here: bob's came 25 hours after the first).
	for range 20 {
		send("bob@example.com", "pass")
	}
	if got := f.ackRecipients(t); !slices.Equal(got, want) {
		t.Errorf("after 20 more mails: acknowledgements to %v, want %v", got, want)
	}
	// A redelivery of an acknowledged mail after the window sends nothing.
	f.clock.advance(25 * time.Hour)
	raw := testMail{From: "bob@example.com", Subject: "关于数据的问题 1", MessageID: "q1@x.example", DMARC: "pass", Body: question + "\n"}.bytes()
	f.deliver(t, "inbox/q1-again", raw)
	if got := f.ackRecipients(t); !slices.Equal(got, want) {
		t.Errorf("after a redelivery: acknowledgements to %v, want %v", got, want)
	}

	for _, m := range f.acks(t) {
		if m.Header.Get("Auto-Submitted") != "auto-generated" || m.Header.Get("X-Dsrflow-Template") != "mail_received" || m.Header.Get("X-Dsrflow-Request") != "" {
			t.Errorf("acknowledgement headers: Auto-Submitted %q, template %q, request %q; want auto-generated, mail_received, none",
				m.Header.Get("Auto-Submitted"), m.Header.Get("X-Dsrflow-Template"), m.Header.Get("X-Dsrflow-Request"))
		}
		if strings.Contains(m.Text, "如何使用我的数据") || strings.Contains(m.Subject, "关于数据") {
			t.Errorf("acknowledgement repeats the incoming message: %q / %q", m.Subject, m.Text)
		}
		if _, cls := classifyAs([]byte("From: x@example.com\r\nIn-Reply-To: <"+m.MessageID+">\r\nSubject: Re: "+m.Subject+"\r\n\r\nthanks\r\n"), sesID); cls.ThreadRequestID != "" {
			t.Errorf("a reply to the acknowledgement names request %s; it belongs to none", cls.ThreadRequestID)
		}
	}
	assertAbsent(t, "logs", f.logs.String(), "bob@", "carol@", "dan.lee", question)
}

// TestNoAcknowledgementWithoutMailFrom: without MAIL_FROM the mailbox
// writes to nobody.
func TestNoAcknowledgementWithoutMailFrom(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *mailintake.Config) { c.MailFrom = "" })
	raw := testMail{From: "bob@example.com", Subject: "问题", MessageID: "q@x.example", DMARC: "pass", Body: "我的数据安全吗？\n"}.bytes()
	if rec := f.record(t, f.deliver(t, "inbox/q", raw)); rec.Action != "triage" {
		t.Fatalf("record %s / %s, want triage", rec.Action, rec.Reason)
	}
	if acks := f.acks(t); len(acks) != 0 {
		t.Errorf("acknowledgements = %d, want none", len(acks))
	}
}

func TestMailboxOf(t *testing.T) {
	tests := []struct{ in, want string }{
		{"bob@example.com", "bob@example.com"},
		{"bob+tag@example.com", "bob@example.com"},
		{"bob+a+b@example.com", "bob@example.com"},
		{"+tag@example.com", "+tag@example.com"}, // nothing before the tag: kept
		{"b.o.b@example.com", "b.o.b@example.com"},
		{"b.o.b+x@gmail.com", "bob@gmail.com"},
		{"b.o.b@googlemail.com", "bob@gmail.com"},
		{"no-at-sign", "no-at-sign"},
	}
	for _, tt := range tests {
		if got := mailintake.MailboxOf(tt.in); got != tt.want {
			t.Errorf("mailboxOf(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestUnauthenticatedRequestMail: a request mail becomes a request (and its
// sender gets a code) only with a trusted dmarc=pass for its From address;
// otherwise a person decides, and no code goes to an address anyone could
// have written into From.
func TestUnauthenticatedRequestMail(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	const body = "您好，我不再使用你们的应用了，请删除我的账号和全部个人信息。\n"
	tests := []struct {
		name        string
		dmarc       string
		extra       []string
		wantAction  string
		wantRequest bool
	}{
		{name: "dmarc pass from the receiving server", dmarc: "pass", wantAction: "request", wantRequest: true},
		{name: "no Authentication-Results", dmarc: "", wantAction: "triage"},
		{name: "dmarc none", dmarc: "none", wantAction: "triage"},
		{name: "pass claimed by a foreign server", extra: []string{"Authentication-Results: mx.evil.example; dmarc=pass header.from=example.com"}, wantAction: "triage"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := testMail{From: "victim@example.com", Subject: "删除我的数据", MessageID: "unauth" + strconv.Itoa(i) + "@x.example",
				DMARC: tt.dmarc, ExtraHeaders: tt.extra, Body: body}.bytes()
			dk := f.deliver(t, "inbox/unauth-"+strconv.Itoa(i), raw)
			rec := f.record(t, dk)
			if rec.Action != tt.wantAction {
				t.Fatalf("record %s / %s, want %s", rec.Action, rec.Reason, tt.wantAction)
			}
			if !tt.wantRequest && rec.Reason != "triage: "+mailintake.TriageUnauthenticated {
				t.Errorf("reason %q, want triage: %s", rec.Reason, mailintake.TriageUnauthenticated)
			}
			_, err := f.st.GetRequest(ctx, intake.RequestID(dsr.ChannelMail, dk))
			if got := err == nil; got != tt.wantRequest {
				t.Errorf("request created = %v (%v), want %v", got, err, tt.wantRequest)
			}
		})
	}
}
