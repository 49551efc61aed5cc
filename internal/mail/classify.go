package mail

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"unicode"

	"dsrflow/internal/dsr"
)

// Action is what the mailbox does with a message.
type Action string

const (
	// ActionRequest: a data-subject request of one kind, from a usable sender
	// address; the handler stores it and starts the workflow.
	ActionRequest Action = "request"
	// ActionIgnore: not written by a person to us, or not trustworthy
	// (auto-reply, bounce, bulk, spam, virus, spoofed). Kept in S3, no request.
	ActionIgnore Action = "ignore"
	// ActionTriage: a person must read it (unclear, several requests, empty,
	// broken or unreadable MIME).
	ActionTriage Action = "triage"
	// ActionReject: a request that cannot be accepted because there is nobody
	// to answer: no valid sender address to verify and reply to. The handler
	// records it (for the audit) and starts nothing.
	ActionReject Action = "reject"
	// ActionFollowUp: a person's reply in the thread of one of our requests
	// (ThreadRequestID says which, when the headers or subject name it). The
	// handler attaches it to the open request, or triages it when the request
	// is unknown or closed. Machine mail in the thread is still ignored.
	ActionFollowUp Action = "follow_up"
)

// Ignore reasons (stable codes).
const (
	IgnoreAutoReply    = "auto_reply"
	IgnoreBounce       = "bounce"
	IgnoreBulk         = "bulk"
	IgnoreSpamVerdict  = "spam_verdict"
	IgnoreVirusVerdict = "virus_verdict"
	IgnoreSpoofedDMARC = "spoofed_dmarc"
	IgnoreSpoofedSPF   = "spoofed_spf"
)

// FollowUpThreadReply is the reason code of every follow-up.
const FollowUpThreadReply = "thread_reply"

// Triage and reject reasons (stable codes).
const (
	TriageUnparseable  = "unparseable"   // the message could not be read at all
	TriageBrokenMIME   = "broken_mime"   // part of the message was lost while decoding
	TriageEmpty        = "empty"         // no subject or body text
	TriageUnclear      = "unclear"       // text, but no recognizable request
	TriageSeveralKinds = "several_kinds" // more than one kind of request
	TriageForwarded    = "forwarded"     // a message forwarded from someone else: who is the data subject?
	RejectNoSender     = "no_sender"     // a request without a valid From address
	// Documents beyond MaxAttachments / MaxAttachmentBytes were dropped: a
	// person reads the raw message.
	TriageTooManyAttachments  = ProblemTooManyAttachments
	TriageAttachmentsTooLarge = ProblemAttachmentsTooLarge
)

// Language codes of Classification.Language.
const (
	LanguageZH = "zh"
	LanguageEN = "en"
)

// Classification is the decision for one message and why. It is what
// `dsr mail classify` prints. From is personal data: the operator may see it,
// logs must not (log Action, Kind, IgnoreReason, Reason, Problems only).
type Classification struct {
	Action         Action     `json:"action"`
	Kind           dsr.Kind   `json:"kind"`           // set when Action is request or reject
	Kinds          []dsr.Kind `json:"kinds"`          // every kind recognized, before combining
	IgnoreReason   string     `json:"ignore_reason"`  // set when Action is ignore
	From           string     `json:"from"`           // sender address, "" if none
	Language       string     `json:"language"`       // "zh" or "en"
	RequesterRole  dsr.Role   `json:"requester_role"` // self unless the text says otherwise
	HasAttachments bool       `json:"has_attachments"`
	// Reason is always set: "<action>: <code>", e.g. "triage: several_kinds".
	Reason    string   `json:"reason"`
	MessageID string   `json:"message_id"`
	Problems  []string `json:"problems"` // Problem codes, see Message.Problems
	// ThreadRequestID is the request whose thread this message belongs to:
	// taken from one of our Message-IDs in In-Reply-To or References, else
	// from a request ID in the subject. Not verified: the handler looks it up.
	ThreadRequestID string `json:"thread_request_id,omitempty"`
	// Hints are identifiers and details found in the sender's own text
	// (quoted text and signatures excluded): unverified, personal data.
	Hints Hints `json:"hints"`
}

// Hints are what a request needs that the sender typed in the body. They are
// hints for the identity step (design rule 7): nothing here is verified.
// They are personal data: stored with the request like the contact details
// and purged with them; never logged. At most MaxHints of each.
type Hints struct {
	// AccountIDs are account IDs written with a label ("账号 10000001",
	// "UID 10000001", "account ID: abc_1"), as dsr.ParseAccountID accepts them.
	AccountIDs []string `json:"accountIds,omitempty"`
	// Phones are phone numbers in E.164 (internal/phone).
	Phones []string `json:"phones,omitempty"`
	// Emails are addresses written in the body other than the sender's and
	// the recipients' (e.g. the data subject's address given by an agent),
	// normalized by dsr.ParseEmail.
	Emails []string `json:"emails,omitempty"`
	// Corrections are the sentences that say what to correct and into what,
	// as dsr.Submission.Corrections takes them; set for correction requests.
	Corrections []string `json:"corrections,omitempty"`
	// Purposes are consent purpose codes (dsr.Purposes) whose consent is
	// withdrawn; set for consent withdrawals. ["all"] alone when all is.
	Purposes []string `json:"consentPurposes,omitempty"`
}

// MaxHints is how many of each kind of hint are kept.
const MaxHints = 10

// Classify decides what msg is. The checks run in this order, the first that
// applies wins:
//
//  1. unreadable message → triage "unparseable";
//  2. verdicts: virus, spam, DMARC fail, SPF fail → ignore;
//  3. bounce / DSN, auto-reply (RFC 3834 headers, or an auto-reply subject
//     that is not itself a reply), bulk → ignore;
//  4. broken MIME (content lost) → triage "broken_mime"; documents dropped
//     over the limits → triage "too_many_attachments" / "attachments_too_large";
//  5. a person's reply in one of our threads (ThreadRequestID, or our
//     request ID in the quoted text) → follow_up;
//  6. no text → triage "empty";
//  7. the kinds asked for: from the sender's own text (quoted text,
//     signature and disclaimer left out; negated kinds and kinds only asked
//     about in a question do not count); if none, from a forwarded message
//     when the sender forwards their own mail (a message forwarded from
//     someone else → triage "forwarded"); if none, from the subject unless
//     the body negates it. None → triage "unclear"; several → triage
//     "several_kinds";
//  8. no valid sender address → reject "no_sender";
//  9. otherwise → request with its kind and the requester's role.
//
// Kinds that imply one another are combined first: account closure includes
// erasure everywhere (policy 五.4: "注销账户并删除数据" is one account_closure
// request), and portability is an exportable copy, so access+portability is
// portability.
func Classify(msg *Message, v Verdicts) Classification {
	if msg == nil {
		msg = &Message{Problems: []Problem{{Code: ProblemUnreadable, Severe: true}}}
	}
	c := Classification{
		From:          msg.From,
		MessageID:     msg.MessageID,
		RequesterRole: dsr.RoleSelf,
		Language:      LanguageZH,
		Problems:      msg.ProblemCodes(),
		Kinds:         []dsr.Kind{},
	}
	if c.Problems == nil {
		c.Problems = []string{}
	}
	c.HasAttachments = len(msg.Attachments) > 0
	if msg.Unparseable() {
		return c.set(ActionTriage, TriageUnparseable)
	}
	body := msg.Text
	if len(body) > 4*MaxRuleText {
		body = strings.ToValidUTF8(body[:4*MaxRuleText], "")
	}
	seg := segmentBody(body, msg.Subject)
	own := seg.Own
	if len(own) > MaxRuleText {
		own = strings.ToValidUTF8(own[:MaxRuleText], "")
	}
	c.Language = detectLanguage(msg.Subject + "\n" + own)
	if strings.TrimSpace(own) == "" {
		c.Language = detectLanguage(msg.Subject + "\n" + body[:min(len(body), MaxRuleText)])
	}
	c.ThreadRequestID = threadRequestID(msg)
	if reason := v.ignoreReason(); reason != "" {
		c.IgnoreReason = reason
		return c.set(ActionIgnore, reason)
	}
	if reason := automatedReason(msg); reason != "" {
		c.IgnoreReason = reason
		return c.set(ActionIgnore, reason)
	}

	d := decideKinds(msg, seg, own)
	c.Kinds = d.kinds
	c.RequesterRole = matchRole(fold(subjectText(msg.Subject) + "\n" + d.text + "\n" + seg.Signature))
	if d.forwardedFrom && c.RequesterRole == dsr.RoleSelf {
		// Someone else's mail forwarded, and the sender does not say they
		// act for that person: who is the data subject is for a person.
		d.forwarded = true
	}
	c.Hints = extractHints(d.text, msg.From, recipients(msg), d.kinds)

	if msg.Broken() {
		return c.set(ActionTriage, TriageBrokenMIME)
	}
	for _, code := range []string{TriageTooManyAttachments, TriageAttachmentsTooLarge} {
		if msg.hasProblem(code) {
			return c.set(ActionTriage, code)
		}
	}
	if c.ThreadRequestID != "" || quotesOurMessage(seg.Quoted) {
		return c.set(ActionFollowUp, FollowUpThreadReply)
	}
	if strings.TrimSpace(msg.Subject+msg.Text) == "" {
		return c.set(ActionTriage, TriageEmpty)
	}
	if d.forwarded {
		return c.set(ActionTriage, TriageForwarded)
	}
	kinds := combineKinds(c.Kinds)
	switch len(kinds) {
	case 0:
		return c.set(ActionTriage, TriageUnclear)
	case 1:
		c.Kind = kinds[0]
	default:
		return c.set(ActionTriage, TriageSeveralKinds)
	}
	if msg.From == "" {
		return c.set(ActionReject, RejectNoSender)
	}
	return c.set(ActionRequest, string(c.Kind))
}

// kindDecision is where the kinds of a message come from.
type kindDecision struct {
	kinds []dsr.Kind
	// text is the sender's text the kinds were read from (own text, or the
	// sender's own forwarded message); hints come from it.
	text string
	// forwarded is set when the message forwards someone else's mail and
	// the sender's own text asks for nothing.
	forwarded bool
	// forwardedFrom is set when the message forwards someone else's mail.
	forwardedFrom bool
}

// decideKinds applies step 7 of Classify.
func decideKinds(msg *Message, seg segments, own string) kindDecision {
	fwdFrom, fwdText, hasFwd := seg.ForwardedFrom, seg.Forwarded, seg.HasForward
	if msg.attached != nil {
		fwdFrom, fwdText, hasFwd = msg.attached.from, msg.attached.text, true
	}
	otherSender := hasFwd && (fwdFrom == "" || normalizeAddress(fwdFrom) != msg.From)
	body := findKinds(fold(own))
	if len(body.asked) > 0 {
		return kindDecision{kinds: body.asked, text: own, forwardedFrom: otherSender}
	}
	if hasFwd {
		if otherSender {
			return kindDecision{kinds: []dsr.Kind{}, text: own, forwarded: true}
		}
		inner := segmentBody(fwdText, "")
		if f := findKinds(fold(inner.Own)); len(f.asked) > 0 {
			return kindDecision{kinds: f.asked, text: own + "\n" + inner.Own}
		}
	}
	subj := findKinds(fold(subjectText(msg.Subject)))
	var kinds []dsr.Kind
	for _, k := range subj.asked {
		if !slices.Contains(body.negated, k) && !slices.Contains(body.queried, k) {
			kinds = append(kinds, k)
		}
	}
	if kinds == nil {
		kinds = []dsr.Kind{}
	}
	return kindDecision{kinds: kinds, text: own}
}

// recipients are the addresses in To, Cc and Delivered-To: an address the
// sender writes that is one of ours is not a hint.
func recipients(msg *Message) []string {
	var out []string
	for _, h := range []string{"To", "Cc", "Delivered-To"} {
		for _, v := range msg.Header[h] {
			for _, a := range addrInText().FindAllString(v, 20) {
				if e := normalizeAddress(a); e != "" {
					out = append(out, e)
				}
			}
		}
	}
	return out
}

// Locale is the dsr locale for the requester's language (zh → zh-CN).
func (c Classification) Locale() dsr.Locale {
	if c.Language == LanguageEN {
		return dsr.LocaleEn
	}
	return dsr.LocaleZhCN
}

func (c Classification) set(a Action, code string) Classification {
	c.Action = a
	c.Reason = string(a) + ": " + code
	return c
}

// MaxRuleText is how much of the sender's own text (in bytes) the rules
// read. A request is stated at the top; the limit keeps a hostile
// multi-megabyte body from costing seconds of regular expressions.
const MaxRuleText = 16 << 10

// detectLanguage is "zh" when the text is mostly Chinese: at least one Han
// character for every four Latin letters (a Chinese character carries about a
// word). Text with neither is "zh", the policy's language.
func detectLanguage(text string) string {
	han, latin := 0, 0
	for _, r := range text {
		switch {
		case unicode.Is(unicode.Han, r):
			han++
		case r < unicode.MaxLatin1 && unicode.IsLetter(r):
			latin++
		}
	}
	if han == 0 && latin > 0 {
		return LanguageEN
	}
	if han*4 >= latin {
		return LanguageZH
	}
	return LanguageEN
}

// DedupeKey is the stable key of one delivered message: the hex SHA-256 of
// "message-id:" + the normalized Message-ID, or, when the message has none, of
// "s3-object:" + objectKey. Pass objectKey as "bucket/key" of the raw object:
// an S3 notification repeated for the same object then gives the same key, and
// the same message delivered twice (two objects) gives the same key through its
// Message-ID. The key holds no personal data and may be logged.
func DedupeKey(msg *Message, objectKey string) string {
	var src string
	if msg != nil && msg.MessageID != "" {
		src = "message-id:" + msg.MessageID
	} else {
		src = "s3-object:" + objectKey
	}
	sum := sha256.Sum256([]byte(src))
	return hex.EncodeToString(sum[:])
}
