package workflow

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"dsrflow/internal/dsr"
	"dsrflow/internal/legalhold"
	"dsrflow/internal/operator"
	"dsrflow/internal/partner"
)

// Review results, in ReviewOutput.Result.
const (
	// ResultProceed: the partners in ReviewOutput.Partners are asked to act.
	ResultProceed = "proceed"
	// ResultManual: an operator decides (Stage, Cause); Review runs again
	// with the decision.
	ResultManual = "manual"
	// ResultClosed: the request was closed (refused, duplicate); the
	// workflow waits for the follow-up period and purges personal data.
	ResultClosed = "closed"
)

// Verified is the result of Verify: what SendTaskSuccess sent (the code
// page, an operator, or Verify itself).
type Verified struct {
	Result     string `json:"result"`
	Reason     string `json:"reason"`
	Method     string `json:"method"`
	VerifiedAt string `json:"verifiedAt"`
}

// ReviewInput is Review's input: the request and how its requester was
// verified.
type ReviewInput struct {
	RequestID string   `json:"requestId"`
	Verified  Verified `json:"verified"`
}

// ReviewOutput is the review's decision. It holds IDs, codes and dates.
type ReviewOutput struct {
	Result string `json:"result"`
	// Stage and Cause say which decision an operator makes (manual).
	Stage operator.Stage `json:"stage,omitempty"`
	Cause string         `json:"cause,omitempty"`
	// Partners are the Map's items (proceed).
	Partners []partner.PlanItem `json:"partners"`
	// PurgeAt is when the personal data of a closed request is purged.
	PurgeAt *time.Time `json:"purgeAt,omitempty"`
	// DueAt is the reply deadline (15 Chinese working days after verification).
	DueAt *time.Time `json:"dueAt,omitempty"`
}

// Review takes a verified request to the fan-out, or to an operator, or
// closes it. In order:
//
//  1. An operator's refusal of the proof closes the request as refused.
//  2. The verification is recorded with the due date (in_review).
//  3. The identity is resolved (resolveIdentity): the account system names
//     the accounts of the proved identifiers and all their identifiers;
//     a typed identifier that is not among them sends the request to an
//     operator (identity_mismatch) and never reaches a partner.
//  4. The subject's verified keys are indexed, and only they decide:
//     a duplicate of an open verified request of the same kind, a legal
//     hold, more than Policy.RepeatLimit requests in 12 months (manual).
//  5. An account closure is pre-checked with the account system.
//  6. The partners are planned (none when a legal hold defers erasure) and
//     the request moves to in_progress.
//
// It is safe to run again: a request past review gets its plan back.
func (h *Handlers) Review(ctx context.Context, in ReviewInput) (ReviewOutput, error) {
	if err := checkID(in.RequestID); err != nil {
		return ReviewOutput{}, err
	}
	id := in.RequestID
	r, err := h.store.GetRequest(ctx, id)
	if err != nil {
		return ReviewOutput{}, named(id, "review", err)
	}
	switch r.Status {
	case dsr.StatusReceived, dsr.StatusAwaitingVerification, dsr.StatusInReview:
	case dsr.StatusInProgress, dsr.StatusReplied, dsr.StatusAwaitingBackupRotation, dsr.StatusEscalated:
		return h.proceed(ctx, r, nil)
	default:
		return ReviewOutput{Result: ResultClosed, PurgeAt: h.purgeAt(r)}, nil
	}
	if in.Verified.Result == operator.ResultRefused {
		return h.closeRefused(ctx, r, dsr.RefusalReason(in.Verified.Reason), nil)
	}

	// 2. The verification, with the due date.
	verifiedAt := h.now()
	if in.Verified.VerifiedAt != "" {
		t, err := time.Parse(time.RFC3339Nano, in.Verified.VerifiedAt)
		if err != nil {
			return ReviewOutput{}, &InvalidInput{Field: "verifiedAt", Problem: "not an RFC 3339 time"}
		}
		verifiedAt = t.UTC()
	}
	method := in.Verified.Method
	if r.VerifiedAt == nil || r.DueAt == nil || r.Status != dsr.StatusInReview {
		due, err := h.dueAt(derefOr(r.VerifiedAt, verifiedAt))
		if err != nil {
			return ReviewOutput{}, &InvalidInput{Field: "verifiedAt", Problem: err.Error()}
		}
		set := func(q *dsr.Request) {
			if q.VerifiedAt == nil {
				q.VerifiedAt = &verifiedAt
			}
			if q.VerifiedBy == "" {
				q.VerifiedBy = method
			}
			if q.DueAt == nil {
				q.DueAt = &due
			}
		}
		if r.Status == dsr.StatusInReview {
			r, err = h.update(ctx, "record verification", id, set)
		} else {
			r, _, err = h.move(ctx, "review", id, dsr.StatusInReview, []dsr.Status{dsr.StatusReceived, dsr.StatusAwaitingVerification}, set)
		}
		if err != nil {
			return ReviewOutput{}, err
		}
	}

	// 3. Identity.
	idn, wait, err := h.resolveIdentity(ctx, r, method)
	if err != nil {
		return ReviewOutput{}, err
	}
	if wait != nil {
		return *wait, nil
	}
	if idn.Resolution == refusedResolution {
		return h.closeRefused(ctx, r, dsr.RefusalReason(idn.refusal), nil)
	}
	if len(h.subjectSecret) == 0 {
		// A key computed with no secret would link unrelated people.
		return ReviewOutput{}, fmt.Errorf("review %s: no subject key secret configured (SUBJECT_KEY_SECRET_ID)", id)
	}
	if r, err = h.store.AddSubjectKeys(ctx, id, idn.Subject.Keys(h.subjectSecret)); err != nil {
		return ReviewOutput{}, named(id, "index verified subject", err)
	}

	// 4. Duplicates, holds, repeats: on verified keys only.
	reviewWait, err := h.operator.Get(ctx, id, operator.StageReview)
	if err != nil {
		return ReviewOutput{}, named(id, "load review decision", err)
	}
	if reviewWait != nil && reviewWait.Decided != nil && reviewWait.Result == operator.ResultRefused {
		return h.closeRefused(ctx, r, dsr.RefusalReason(reviewWait.Reason), nil)
	}
	related, err := h.related(ctx, r)
	if err != nil {
		return ReviewOutput{}, err
	}
	hold, err := h.holds.Find(ctx, r.SubjectKeys)
	if err != nil {
		return ReviewOutput{}, named(id, "look up legal holds", err)
	}
	data := map[string]string{"dueAt": r.DueAt.UTC().Format(time.RFC3339), "verifiedAt": r.VerifiedAt.UTC().Format(time.RFC3339Nano), "resolution": idn.Resolution}
	if hold != nil {
		data["legalHold"] = string(hold.Action)
	}
	approved := reviewWait != nil && reviewWait.Decided != nil && reviewWait.Result == operator.ResultApproved
	switch {
	case duplicateOf(r, related) != "":
		data["result"], data["linkedRequestId"] = ResultClosed, duplicateOf(r, related)
		if err := h.audit(ctx, id, "reviewed", ActorReview, data); err != nil {
			return ReviewOutput{}, err
		}
		return h.closeDuplicate(ctx, r, duplicateOf(r, related))
	case hold != nil && hold.Action == legalhold.ActionRefuse:
		data["result"], data["reason"] = ResultClosed, string(hold.Reason)
		if err := h.audit(ctx, id, "reviewed", ActorReview, data); err != nil {
			return ReviewOutput{}, err
		}
		return h.closeRefused(ctx, r, hold.Reason, nil)
	case !approved && h.repeats(r, related) > h.repeatLimit():
		data["result"], data["cause"], data["repeats"] = ResultManual, "repeat_limit", fmt.Sprint(h.repeats(r, related))
		if err := h.audit(ctx, id, "reviewed", ActorReview, data); err != nil {
			return ReviewOutput{}, err
		}
		return ReviewOutput{Result: ResultManual, Stage: operator.StageReview, Cause: "repeat_limit", DueAt: r.DueAt}, nil
	}

	// 5. Account closure: obligations first (policy 五.4 履行情况).
	if r.Kind == dsr.KindAccountClosure {
		pre, err := h.precheck(ctx, id)
		if err != nil {
			return ReviewOutput{}, err
		}
		if !pre.Clear {
			data["result"], data["reason"] = ResultClosed, string(dsr.RefusalOutstandingObligations)
			if err := h.audit(ctx, id, "reviewed", ActorReview, data); err != nil {
				return ReviewOutput{}, err
			}
			return h.closeRefused(ctx, r, dsr.RefusalOutstandingObligations, pre.Obligations)
		}
	}
	data["result"] = ResultProceed
	if err := h.audit(ctx, id, "reviewed", ActorReview, data); err != nil {
		return ReviewOutput{}, err
	}
	return h.proceed(ctx, r, hold)
}

// mailPurposes gives a consent withdrawal that arrived by mail the
// purposes its text named (kept with the personal data as hints until the
// requester was verified): codes, not personal data, so the request item
// and the partners may carry them now. None named: every purpose (all).
func (h *Handlers) mailPurposes(ctx context.Context, r *dsr.Request) (*dsr.Request, error) {
	p, err := h.store.GetPersonal(ctx, r.ID)
	if err != nil {
		return nil, named(r.ID, "load personal data", err)
	}
	var purposes []string
	for _, c := range p.ConsentPurposes {
		if dsr.ValidPurpose(c) && !contains(purposes, c) {
			purposes = append(purposes, c)
		}
	}
	if len(purposes) == 0 {
		purposes = []string{dsr.PurposeAll}
	}
	return h.update(ctx, "consent purposes", r.ID, func(x *dsr.Request) { x.Purposes = purposes })
}

// proceed plans the fan-out and moves the request to in_progress. An
// erasure or account closure that a legal hold defers (policy 五.1/五.2
// 除非法律法规另有规定) asks no partner to delete anything.
func (h *Handlers) proceed(ctx context.Context, r *dsr.Request, hold *legalhold.Hold) (ReviewOutput, error) {
	id := r.ID
	var err error
	if hold == nil && r.Kind.ErasesData() {
		if hold, err = h.holds.Find(ctx, r.SubjectKeys); err != nil {
			return ReviewOutput{}, named(id, "look up legal holds", err)
		}
	}
	if r.Kind == dsr.KindConsentWithdrawal && len(r.Purposes) == 0 {
		if r, err = h.mailPurposes(ctx, r); err != nil {
			return ReviewOutput{}, err
		}
	}
	out := ReviewOutput{Result: ResultProceed, Partners: []partner.PlanItem{}, DueAt: r.DueAt}
	if r.Kind.ErasesData() && hold != nil && hold.Action == legalhold.ActionDeferErasure {
		if r.Status == dsr.StatusInReview {
			if err := h.audit(ctx, id, "fanout.deferred", ActorReview, map[string]string{"reason": string(hold.Reason)}); err != nil {
				return ReviewOutput{}, err
			}
		}
	} else {
		plan, err := h.partners.Plan(ctx, partner.PlanInput{RequestID: id})
		if err != nil {
			return ReviewOutput{}, partnerErr(id, "plan fan-out", err)
		}
		if len(plan.Partners) > 0 {
			out.Partners = plan.Partners
		}
	}
	if r.Status == dsr.StatusInReview {
		if _, moved, err := h.move(ctx, "proceed", id, dsr.StatusInProgress, []dsr.Status{dsr.StatusInReview}, nil); err != nil {
			return ReviewOutput{}, err
		} else if moved {
			if err := h.audit(ctx, id, "processing_started", ActorReview, map[string]string{"kind": string(r.Kind), "partners": fmt.Sprint(len(out.Partners))}); err != nil {
				return ReviewOutput{}, err
			}
		}
	}
	h.log().InfoContext(ctx, "reviewed", "requestId", id, "result", out.Result, "partners", len(out.Partners))
	return out, nil
}

// precheck asks the account system whether the account may be closed.
// Without a configured account system there is nobody to ask: the account
// is taken as clear and the audit trail says so.
func (h *Handlers) precheck(ctx context.Context, id string) (partner.PrecheckOutput, error) {
	if h.partners.Partners().AccountSystem == "" {
		if err := h.audit(ctx, id, "account.precheck_skipped", ActorReview, map[string]string{"code": "no_account_system"}); err != nil {
			return partner.PrecheckOutput{}, err
		}
		return partner.PrecheckOutput{Clear: true}, nil
	}
	out, err := h.partners.Precheck(ctx, partner.PrecheckInput{RequestID: id})
	if err != nil {
		return partner.PrecheckOutput{}, partnerErr(id, "precheck", err)
	}
	return out, nil
}

// refusedResolution marks an identity an operator refused (not stored).
const refusedResolution = "refused"

type resolvedIdentity struct {
	dsr.Identity
	refusal string
}

// resolveIdentity establishes who the data subject is (docs/ARCHITECTURE.md,
// rule 7) and records it on the identity item:
//   - Proved: what the requester proved (a code to their contact, a login),
//     and, after an operator approved documents, the identifiers given for
//     the subject.
//   - Subject: the proved identifiers and everything the account system
//     resolves from them (the accounts, and each account's identifiers).
//   - A typed identifier that is not in Subject is a mismatch: an operator
//     decides (stage identity). Until then nothing reaches a partner.
//
// It returns the output to wait for an operator, or the identity.
func (h *Handlers) resolveIdentity(ctx context.Context, r *dsr.Request, method string) (resolvedIdentity, *ReviewOutput, error) {
	id := r.ID
	idn, err := h.store.GetIdentity(ctx, id)
	if err != nil {
		return resolvedIdentity{}, nil, named(id, "load identity", err)
	}
	p, err := h.store.GetPersonal(ctx, id)
	if err != nil {
		return resolvedIdentity{}, nil, named(id, "load personal data", err)
	}
	idWait, err := h.operator.Get(ctx, id, operator.StageIdentity)
	if err != nil {
		return resolvedIdentity{}, nil, named(id, "load identity decision", err)
	}
	decided := idWait != nil && idWait.Decided != nil
	if decided && idWait.Result == operator.ResultRefused {
		return resolvedIdentity{Identity: dsr.Identity{Resolution: refusedResolution}, refusal: idWait.Reason}, nil, nil
	}
	// An operator who approved the proof (documents, a guardian's or
	// agent's authority) or an identity mismatch vouches for the
	// identifiers given for the subject.
	vouched := method == operator.MethodManual || (decided && idWait.Result == operator.ResultApproved)
	if idn.Resolution != "" && idn.Resolution != dsr.ResolutionMismatch {
		return resolvedIdentity{Identity: *idn}, nil, nil
	}
	if idn.Resolution == dsr.ResolutionMismatch && !vouched {
		return resolvedIdentity{}, &ReviewOutput{Result: ResultManual, Stage: operator.StageIdentity, Cause: "identity_mismatch", DueAt: r.DueAt}, nil
	}
	now := h.now()
	proved := dsr.Identifiers{}
	var newProofs []dsr.Proof
	for _, pr := range idn.Proved {
		proved.Add(pr.Type, pr.Value)
	}
	if vouched {
		for _, t := range []dsr.IdentifierType{dsr.IdentifierAccount, dsr.IdentifierEmail, dsr.IdentifierPhone} {
			for _, v := range p.Subject.Of(t) {
				if !contains(proved.Of(t), v) {
					proved.Add(t, v)
					newProofs = append(newProofs, dsr.Proof{Type: t, Value: v, Method: dsr.ProofOperator, At: now})
				}
			}
		}
	}
	if proved.Empty() {
		if decided {
			// An operator approved, yet no identifier of the subject was
			// given to vouch for (they are amended before approving): whose
			// data to act on is unknown. Asking again would answer at once
			// with the same decision, so the request is refused.
			return resolvedIdentity{Identity: dsr.Identity{Resolution: refusedResolution}, refusal: string(dsr.RefusalIdentityNotVerified)}, nil, nil
		}
		// Nothing proved about the subject (a guardian's own contact is
		// not the subject's): an operator must vouch for identifiers.
		return resolvedIdentity{}, &ReviewOutput{Result: ResultManual, Stage: operator.StageIdentity, Cause: "no_subject_identifier", DueAt: r.DueAt}, nil
	}
	resolution := dsr.ResolutionNoAccount
	subject := proved
	severalAccounts := false
	res, err := h.partners.Resolve(ctx, id, proved)
	switch {
	case errors.Is(err, partner.ErrNoAccountSystem):
		if err := h.audit(ctx, id, "identity.resolution_skipped", ActorReview, map[string]string{"code": "no_account_system"}); err != nil {
			return resolvedIdentity{}, nil, err
		}
	case err != nil:
		return resolvedIdentity{}, nil, partnerErr(id, "resolve identity", err)
	default:
		// A proved phone or address that several accounts list (a
		// reassigned number, a shared family address) resolves only to
		// the accounts proved or vouched for; if none is, which of them is
		// the requester's is for an operator to tell.
		accounts := res.Accounts
		if len(accounts) > 1 {
			accounts = nil
			for _, a := range res.Accounts {
				if contains(proved.Accounts, a) {
					accounts = append(accounts, a)
				}
			}
			severalAccounts = len(accounts) == 0
		}
		for _, a := range accounts {
			ids := res.ByAccount[a]
			for _, t := range []dsr.IdentifierType{dsr.IdentifierAccount, dsr.IdentifierEmail, dsr.IdentifierPhone} {
				for _, v := range ids.Of(t) {
					subject.Add(t, normalizeResolved(t, v))
				}
			}
		}
		if len(accounts) > 0 {
			resolution = dsr.ResolutionResolved
		}
	}
	mismatched := 0
	for _, t := range []dsr.IdentifierType{dsr.IdentifierAccount, dsr.IdentifierEmail, dsr.IdentifierPhone} {
		for _, v := range p.Subject.Of(t) {
			if !contains(subject.Of(t), v) {
				mismatched++
			}
		}
	}
	if vouched && resolution != dsr.ResolutionResolved {
		resolution = dsr.ResolutionApproved
	}
	if (mismatched > 0 || severalAccounts) && !vouched {
		resolution = dsr.ResolutionMismatch
	}
	stored, err := h.store.UpdateIdentity(ctx, id, func(x *dsr.Identity) error {
		x.Proved = append(x.Proved, newProofs...)
		x.Subject = subject
		x.Resolution = resolution
		x.Mismatched = mismatched
		x.ResolvedAt = &now
		return nil
	})
	if err != nil {
		return resolvedIdentity{}, nil, named(id, "record identity", err)
	}
	data := map[string]string{
		"resolution": resolution, "accounts": fmt.Sprint(len(subject.Accounts)), "severalAccounts": fmt.Sprint(severalAccounts),
		"identifiers": fmt.Sprint(len(subject.Accounts) + len(subject.Emails) + len(subject.Phones)), "mismatched": fmt.Sprint(mismatched),
	}
	if err := h.audit(ctx, id, "identity.resolved", ActorReview, data); err != nil {
		return resolvedIdentity{}, nil, err
	}
	if resolution == dsr.ResolutionMismatch {
		cause := "identity_mismatch"
		if severalAccounts && mismatched == 0 {
			cause = "several_accounts"
		}
		h.log().WarnContext(ctx, "identity mismatch", "requestId", id, "mismatched", mismatched, "cause", cause)
		return resolvedIdentity{}, &ReviewOutput{Result: ResultManual, Stage: operator.StageIdentity, Cause: cause, DueAt: r.DueAt}, nil
	}
	return resolvedIdentity{Identity: *stored}, nil, nil
}

// normalizeResolved brings an identifier from the account system to the
// form typed ones have (emails lower case), so that they compare.
func normalizeResolved(t dsr.IdentifierType, v string) string {
	if t == dsr.IdentifierEmail {
		return strings.ToLower(strings.TrimSpace(v))
	}
	return strings.TrimSpace(v)
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// partnerErr passes a partner's named error through (PartnerRetryable is
// retried by the state machine) and names anything else.
func partnerErr(id, op string, err error) error {
	if partner.IsNamed(err) {
		return err
	}
	return named(id, op, err)
}

func derefOr(t *time.Time, d time.Time) time.Time {
	if t != nil {
		return *t
	}
	return d
}

func (h *Handlers) repeatLimit() int {
	if h.policy.RepeatLimit > 0 {
		return h.policy.RepeatLimit
	}
	return DefaultPolicy().RepeatLimit
}

// related returns the subject's other requests, found through every
// verified subject key of r, each once, oldest first.
func (h *Handlers) related(ctx context.Context, r *dsr.Request) ([]dsr.Request, error) {
	seen := map[string]bool{r.ID: true}
	var out []dsr.Request
	for _, k := range r.SubjectKeys {
		reqs, err := h.store.FindBySubject(ctx, k)
		if err != nil {
			return nil, named(r.ID, "find the subject's requests", err)
		}
		for _, o := range reqs {
			if !seen[o.ID] {
				seen[o.ID] = true
				out = append(out, o)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return before(&out[i], &out[j]) })
	return out, nil
}

// before orders requests by creation, then ID, so that of two requests
// exactly one is the earlier.
func before(a, b *dsr.Request) bool {
	if !a.CreatedAt.Equal(b.CreatedAt) {
		return a.CreatedAt.Before(b.CreatedAt)
	}
	return a.ID < b.ID
}

// duplicateOf is the earliest open request of the same kind and the same
// verified subject, made before r; "" when none. Requests link only through
// verified subject keys: a stranger who typed someone's identifier can
// neither make the real person's request a duplicate nor be one.
func duplicateOf(r *dsr.Request, related []dsr.Request) string {
	for i := range related {
		o := &related[i]
		if o.Kind == r.Kind && o.Status.Open() && o.VerifiedAt != nil && before(o, r) {
			return o.ID
		}
	}
	return ""
}

// repeats counts the subject's requests in the repeat window up to and
// including r, leaving out those never processed (expired, duplicate).
func (h *Handlers) repeats(r *dsr.Request, related []dsr.Request) int {
	from := r.CreatedAt.Add(-h.policy.repeatWindow())
	n := 1
	for i := range related {
		o := &related[i]
		if o.Status == dsr.StatusExpired || o.Status == dsr.StatusDuplicate || o.VerifiedAt == nil {
			continue
		}
		if !o.CreatedAt.Before(from) && before(o, r) {
			n++
		}
	}
	return n
}

// purgeAt is when a closed request's personal data is purged.
func (h *Handlers) purgeAt(r *dsr.Request) *time.Time {
	at := h.now()
	if r.ClosedAt != nil {
		at = *r.ClosedAt
	}
	at = at.Add(h.policy.contactRetention()).UTC().Truncate(time.Second)
	return &at
}
