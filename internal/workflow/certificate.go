package workflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"dsrflow/internal/dsr"
	"dsrflow/internal/notify"
	"dsrflow/internal/partner"
	"dsrflow/internal/partner/certificate"
	"dsrflow/internal/store"
)

// CertificateSK is the sort key of a request's deletion certificate item
// (attribute "certificate": the certificate's JSON; IDs, receipts and
// hashes only).
const CertificateSK = "CERTIFICATE"

// TemplateFinalConfirmation is the message that tells the requester an
// erasure is complete, backups included.
const TemplateFinalConfirmation = "final_confirmation"

// ErrNoCertificate: the request has no deletion certificate.
var ErrNoCertificate = errors.New("no deletion certificate")

// issueCertificate builds the deletion certificate of r from its partner
// tasks and the audit chain's head (certificate.Build), stores it once
// (a conditional put: a second run keeps the first certificate) and
// records its digest in the audit trail.
func (h *Handlers) issueCertificate(ctx context.Context, r *dsr.Request) (certificate.Certificate, error) {
	id := r.ID
	if c, err := LoadCertificate(ctx, h.DB, h.Table, id); err == nil {
		return c, nil
	} else if !errors.Is(err, ErrNoCertificate) {
		return certificate.Certificate{}, named(id, "load certificate", err)
	}
	tasks, err := h.Store.ListPartnerTasks(ctx, id)
	if err != nil {
		return certificate.Certificate{}, named(id, "list partner tasks", err)
	}
	chain, err := h.Store.VerifyChain(ctx, id)
	if err != nil {
		return certificate.Certificate{}, named(id, "verify audit chain", err)
	}
	c, err := certificate.Build(r, tasks, chain, h.now())
	if err != nil {
		// A partner retried by an operator is still running, or the chain
		// is broken: not ours to decide; an operator looks (dsr show).
		return certificate.Certificate{}, &ServiceUnavailable{RequestID: id, Op: "build certificate", Err: err}
	}
	body, err := json.Marshal(c)
	if err != nil {
		return certificate.Certificate{}, fmt.Errorf("encode certificate %s: %w", id, err)
	}
	_, err = h.DB.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(h.Table),
		Item: map[string]dbtypes.AttributeValue{
			"PK":          &dbtypes.AttributeValueMemberS{Value: "REQ#" + id},
			"SK":          &dbtypes.AttributeValueMemberS{Value: CertificateSK},
			"certificate": &dbtypes.AttributeValueMemberS{Value: string(body)},
			"digest":      &dbtypes.AttributeValueMemberS{Value: c.Digest},
		},
		ConditionExpression: aws.String("attribute_not_exists(PK)"),
	})
	var ccf *dbtypes.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return LoadCertificate(ctx, h.DB, h.Table, id)
	}
	if err != nil {
		return certificate.Certificate{}, named(id, "store certificate", err)
	}
	if err := h.audit(ctx, id, "certificate_issued", ActorClose, map[string]string{"digest": c.Digest, "auditHeadSeq": itoa(c.AuditHeadSeq)}); err != nil {
		return certificate.Certificate{}, err
	}
	return c, nil
}

// LoadCertificate reads request id's deletion certificate
// (ErrNoCertificate when there is none).
func LoadCertificate(ctx context.Context, db DB, table, id string) (certificate.Certificate, error) {
	out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true), Key: map[string]dbtypes.AttributeValue{
		"PK": &dbtypes.AttributeValueMemberS{Value: "REQ#" + id},
		"SK": &dbtypes.AttributeValueMemberS{Value: CertificateSK},
	}})
	if err != nil {
		return certificate.Certificate{}, fmt.Errorf("load certificate of %s: %w", id, err)
	}
	v, ok := out.Item["certificate"].(*dbtypes.AttributeValueMemberS)
	if !ok {
		return certificate.Certificate{}, fmt.Errorf("request %s: %w", id, ErrNoCertificate)
	}
	var c certificate.Certificate
	if err := json.Unmarshal([]byte(v.Value), &c); err != nil {
		return certificate.Certificate{}, fmt.Errorf("decode certificate of %s: %w", id, err)
	}
	return c, nil
}

// VerifyCertificate checks c against request id's audit chain as it is
// now: the certificate's digest, the chain's integrity, and the chain
// event the certificate quotes as its head (events appended after the
// certificate, such as its own issuance, leave it in place), and that the
// chain records the certificate's issuance with the same digest.
func VerifyCertificate(ctx context.Context, st *store.Store, db Querier, table string, c certificate.Certificate) error {
	id := c.Request.ID
	chain, err := st.VerifyChain(ctx, id)
	if err != nil {
		return fmt.Errorf("verify audit chain of %s: %w", id, err)
	}
	err = certificate.Verify(c, chain)
	if err == nil || !errors.Is(err, certificate.ErrHead) {
		return err
	}
	events, err := ListEvents(ctx, db, table, id)
	if err != nil {
		return err
	}
	var head *store.Event
	issued := false
	for i, e := range events {
		if e.Seq == c.AuditHeadSeq {
			head = &events[i]
		}
		if e.Type == "certificate_issued" && e.Data["digest"] == c.Digest {
			issued = true
		}
	}
	if head == nil {
		return fmt.Errorf("%w: the chain has no event %d", certificate.ErrHead, c.AuditHeadSeq)
	}
	if err := certificate.VerifyEvent(c, *head); err != nil {
		return err
	}
	if !issued {
		return fmt.Errorf("%w: the audit chain does not record issuing this certificate", certificate.ErrHead)
	}
	return nil
}

// finalConfirmation tells the requester that the erasure is complete:
// live systems, partners and backups, with the certificate's digest.
func (h *Handlers) finalConfirmation(r *dsr.Request, c certificate.Certificate) notify.Message {
	l := locale(r)
	m := notify.Message{RequestID: r.ID, Template: TemplateFinalConfirmation, To: r.Contact, Locale: l}
	var b strings.Builder
	confirmed := len(c.Backups)
	if l == dsr.LocaleEn {
		m.Subject = "Your personal information has been deleted, backups included (request " + r.ID + ")"
		fmt.Fprintf(&b, "Your request %s (%s) is complete.\n\n", r.ID, r.Kind.Text(l))
		b.WriteString("Your personal information has been deleted from our live systems and by our partners, and every backup that held it has now rotated out")
		fmt.Fprintf(&b, " (%d backup system(s) confirmed).\n\n", confirmed)
		fmt.Fprintf(&b, "Our deletion certificate for this request has the reference %s; it is recorded in the request's tamper-evident audit trail.\n", c.Digest)
		fmt.Fprintf(&b, "\nIf you have questions, please contact %s.\n", h.teamAddress())
	} else {
		m.Subject = "您的个人信息已删除（含备份）（请求编号 " + r.ID + "）"
		fmt.Fprintf(&b, "您编号为 %s 的请求（%s）已全部完成。\n\n", r.ID, r.Kind.Text(l))
		fmt.Fprintf(&b, "您的个人信息已从我们的在线系统及合作方处删除，所有曾包含这些信息的备份也已完成轮换（%d 个备份系统已确认）。\n\n", confirmed)
		fmt.Fprintf(&b, "本次删除的证明编号为 %s，已记录在该请求防篡改的审计记录中。\n", c.Digest)
		fmt.Fprintf(&b, "\n如有疑问，请联系 %s。\n", h.teamAddress())
	}
	m.Body = b.String()
	return m
}

func (h *Handlers) teamAddress() string { return h.Team.Email }

// obligationsText explains outstanding obligations (policy 五.4 履行情况)
// in the requester's language, one line each.
func obligationsText(l dsr.Locale, codes []string) string {
	var b strings.Builder
	if l == dsr.LocaleEn {
		b.WriteString("\nBefore we can close your account:\n")
	} else {
		b.WriteString("\n注销账户前，请先处理以下事项：\n")
	}
	for _, c := range codes {
		fmt.Fprintf(&b, "- %s\n", partner.ObligationText(c, l))
	}
	return b.String()
}
