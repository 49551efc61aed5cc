// Package workflow is the logic of the data-subject request workflow's task
// functions (statemachines/dsr.asl.json): Admit, Verify, Review, the
// operator waits, the partner fan-out's iteration (package partner), Reply,
// the backup checks, Close and Purge. Each handler takes the request ID
// (and IDs, codes and dates) from the state machine, loads what it needs
// from the store, acts, appends an audit event and returns IDs, kinds,
// statuses and dates only (docs/ARCHITECTURE.md, rule 1).
//
// The definition is lean: an erasure with P partners enters 12 + P states
// (TestErasureHistorySize). Decisions that used to be Choice and Pass
// states are made by the handlers; a .waitForTaskToken task whose answer is
// already known (a login verified the requester, a synchronous partner
// answered, every partner acted before the reply) answers its own token.
//
// Every handler tolerates being run twice (Lambda retries, the state
// machine's Retry, a restarted execution): status changes go through
// guarded transitions, and a request already in the target status is
// success; messages to the requester are sent once per request and template
// (a notice marker).
package workflow

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"dsrflow/internal/anchor"
	"dsrflow/internal/dsr"
	"dsrflow/internal/legalhold"
	"dsrflow/internal/notify"
	"dsrflow/internal/operator"
	"dsrflow/internal/partner"
	"dsrflow/internal/partner/export"
	"dsrflow/internal/store"
	"dsrflow/internal/verification"
)

// SFN is the part of the Step Functions client the handlers use: they
// answer their own task tokens when the answer is already known.
type SFN interface {
	SendTaskSuccess(ctx context.Context, in *sfn.SendTaskSuccessInput, optFns ...func(*sfn.Options)) (*sfn.SendTaskSuccessOutput, error)
	SendTaskFailure(ctx context.Context, in *sfn.SendTaskFailureInput, optFns ...func(*sfn.Options)) (*sfn.SendTaskFailureOutput, error)
}

// DocumentStore deletes the documents a request holds (mail attachments,
// uploads) when its personal data is purged.
type DocumentStore interface {
	Delete(ctx context.Context, bucket, key string) error
}

// Signer signs deletion certificates (package certsign: KMS in AWS, a local
// key locally). Nil: certificates are issued unsigned.
type Signer interface {
	SignCertificate(ctx context.Context, doc []byte) ([]byte, error)
}

// ChainAnchor writes a closed request's audit chain head outside the table
// (package anchor: the Object Lock bucket in AWS, a folder locally). Nil:
// the daily anchor takes the chain.
type ChainAnchor interface {
	AnchorRequest(ctx context.Context, id string) (anchor.Result, error)
}

// Handlers holds the task handlers' dependencies. Build it with New.
type Handlers struct {
	store         *store.Store
	sfn           SFN
	verification  *verification.Service
	operator      *operator.Service
	holds         *legalhold.List
	partners      *partner.Dispatcher
	sender        notify.Sender
	team          notify.Contact
	policy        Policy
	subjectSecret []byte
	assembler     *export.Assembler
	exports       *export.Store
	documents     DocumentStore
	signer        Signer
	anchors       ChainAnchor
	clock         func() time.Time
	logger        *slog.Logger
}

// Store is the handlers' store.
func (h *Handlers) Store() *store.Store { return h.store }

// Verification is the code verification service.
func (h *Handlers) Verification() *verification.Service { return h.verification }

// Operator is the operator decision service.
func (h *Handlers) Operator() *operator.Service { return h.operator }

// Partners is the partner dispatcher.
func (h *Handlers) Partners() *partner.Dispatcher { return h.partners }

// Holds is the legal-hold list.
func (h *Handlers) Holds() *legalhold.List { return h.holds }

// Policy is the policy the handlers follow.
func (h *Handlers) Policy() Policy { return h.policy }

func (h *Handlers) now() time.Time { return h.clock().UTC() }

func (h *Handlers) log() *slog.Logger { return h.logger }

// Actor names of the handlers in audit events.
const (
	ActorAdmit    = "workflow:admit"
	ActorVerify   = "workflow:verify-identity"
	ActorOperator = "workflow:await-operator"
	ActorReview   = "workflow:review"
	ActorReply    = "workflow:reply"
	ActorClose    = "workflow:close"
	ActorPurge    = "workflow:purge-personal"
)

// RequestInput is the input of tasks that need only the request ID.
type RequestInput struct {
	RequestID string `json:"requestId"`
}

// TokenInput is the input of a .waitForTaskToken task that needs only the
// request ID and its token.
type TokenInput struct {
	RequestID string `json:"requestId"`
	TaskToken string `json:"taskToken"`
}

func checkID(id string) error {
	if id == "" {
		return &InvalidInput{Field: "requestId", Problem: "required"}
	}
	if len(id) > 128 {
		return &InvalidInput{Field: "requestId", Problem: "longer than 128 characters"}
	}
	return nil
}

func checkToken(in TokenInput) error {
	if err := checkID(in.RequestID); err != nil {
		return err
	}
	if in.TaskToken == "" {
		return &InvalidInput{Field: "taskToken", Problem: "required"}
	}
	return nil
}

// StatusOutput reports the request's status after a step.
type StatusOutput struct {
	Status dsr.Status `json:"status"`
}

// move brings request id into status to, from one of the statuses in from,
// and applies mutate in the same write. A request already in status to is
// left as it is (a step run twice); any other status is a StatusConflict.
// A transition lost to a concurrent writer is retried after a reload.
func (h *Handlers) move(ctx context.Context, step, id string, to dsr.Status, from []dsr.Status, mutate func(*dsr.Request)) (*dsr.Request, bool, error) {
	for range 5 {
		r, err := h.store.GetRequest(ctx, id)
		if err != nil {
			return nil, false, named(id, step, err)
		}
		if r.Status == to {
			return r, false, nil
		}
		ok := false
		for _, f := range from {
			ok = ok || f == r.Status
		}
		if !ok {
			return nil, false, &StatusConflict{RequestID: id, Step: step, Status: r.Status}
		}
		nr, err := h.store.TransitionStatus(ctx, id, r.Status, to, r.Version, mutate)
		var ce *store.ConflictError
		if errors.As(err, &ce) {
			continue
		}
		if err != nil {
			return nil, false, named(id, step, err)
		}
		return nr, true, nil
	}
	return nil, false, &ServiceUnavailable{RequestID: id, Op: step, Err: errors.New("request kept changing")}
}

// update applies mutate to request id (not its status), retrying on a lost
// race.
func (h *Handlers) update(ctx context.Context, step, id string, mutate func(*dsr.Request)) (*dsr.Request, error) {
	for range 5 {
		r, err := h.store.GetRequest(ctx, id)
		if err != nil {
			return nil, named(id, step, err)
		}
		nr, err := h.store.UpdateRequest(ctx, id, r.Version, mutate)
		var ce *store.ConflictError
		if errors.As(err, &ce) {
			continue
		}
		if err != nil {
			return nil, named(id, step, err)
		}
		return nr, nil
	}
	return nil, &ServiceUnavailable{RequestID: id, Op: step, Err: errors.New("request kept changing")}
}

// audit appends an event; its failure is a ServiceUnavailable.
func (h *Handlers) audit(ctx context.Context, id, typ, actor string, data map[string]string) error {
	if _, err := h.store.AppendEvent(ctx, id, store.Event{Type: typ, At: h.now(), Actor: actor, Data: data}); err != nil {
		return named(id, "audit "+typ, err)
	}
	return nil
}

// contact is the requester's contact (empty when purged).
func (h *Handlers) contact(ctx context.Context, id string) (dsr.Contact, error) {
	p, err := h.store.GetPersonal(ctx, id)
	if errors.Is(err, store.ErrPurged) {
		return dsr.Contact{}, nil
	}
	if err != nil {
		return dsr.Contact{}, named(id, "load contact", err)
	}
	return p.Contact, nil
}

// sendOnce sends m unless a message with the same template was already sent
// for the request. A send that failed or was interrupted is tried again on
// the next run (at least once; exactly once unless the run dies between the
// provider accepting the message and the marker being updated). A request
// nobody can be told about gets the audit event notice_undeliverable.
func (h *Handlers) sendOnce(ctx context.Context, actor string, m notify.Message) error {
	id := m.RequestID
	n, err := h.store.GetNotice(ctx, id, m.Template)
	if err != nil {
		return named(id, "load notice marker", err)
	}
	if n != nil && n.State == store.NoticeSent {
		return nil
	}
	if err := h.store.PutNotice(ctx, id, store.Notice{Template: m.Template, State: store.NoticeSending}); err != nil {
		return named(id, "write notice marker", err)
	}
	ch, err := h.sender.Send(ctx, m)
	if limit, over := notify.OverBudgetLimit(err); over {
		// Not sent, and a retry soon would not be either: record it
		// and go on (the marker stays "sending": a rerun tries again).
		return h.audit(ctx, id, notify.EventOverBudget, actor, map[string]string{"template": m.Template, "channel": string(ch), "limit": limit})
	}
	if err != nil {
		err = named(id, "send "+m.Template, err)
		var nd *NoDeliveryChannel
		if errors.As(err, &nd) {
			// Nobody to tell: record it for the operators and go on.
			return h.audit(ctx, id, "notice_undeliverable", actor, map[string]string{"template": m.Template})
		}
		return err
	}
	if err := h.store.PutNotice(ctx, id, store.Notice{Template: m.Template, State: store.NoticeSent, Channel: string(ch)}); err != nil {
		return named(id, "write notice marker", err)
	}
	return h.audit(ctx, id, "notice_sent", actor, map[string]string{"template": m.Template, "channel": string(ch), "locale": string(m.Locale)})
}

// answer sends SendTaskSuccess with output on token. A token Step
// Functions no longer knows (the task finished or timed out) is not an
// error: there is nothing left to wake.
func (h *Handlers) answer(ctx context.Context, id, token string, output []byte) error {
	if h.sfn == nil {
		return &ServiceUnavailable{RequestID: id, Op: "answer task", Err: errors.New("no Step Functions client")}
	}
	_, err := h.sfn.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String(token), Output: aws.String(string(output))})
	if err != nil && !partner.TokenGone(err) {
		return &ServiceUnavailable{RequestID: id, Op: "answer task", Err: err}
	}
	return nil
}

// locale is the request's locale, the default when unknown.
func locale(r *dsr.Request) dsr.Locale {
	if l, ok := dsr.ParseLocale(r.Locale); ok {
		return l
	}
	return dsr.DefaultLocale
}

// partnerName is a partner's display name in l (its ID when unknown).
func (h *Handlers) partnerName(id string, l dsr.Locale) string {
	if p, ok := h.partners.Partners().Partner(id); ok {
		if n := p.Name.In(l); n != "" {
			return n
		}
	}
	return id
}
