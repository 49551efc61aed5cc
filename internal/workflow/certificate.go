package workflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"dsrflow/internal/dsr"
	"dsrflow/internal/notify"
	"dsrflow/internal/partner/certificate"
	"dsrflow/internal/store"
)

// ErrNoCertificate: the request has no deletion certificate.
var ErrNoCertificate = errors.New("no deletion certificate")

// issueCertificate builds the deletion certificate of r from its partner
// tasks and the audit chain's head (certificate.Build), signs it when a
// signer is configured, stores it once (a second run keeps the first) and
// records its digest in the audit trail. It returns the document as stored.
func (h *Handlers) issueCertificate(ctx context.Context, r *dsr.Request) ([]byte, certificate.Certificate, error) {
	id := r.ID
	if doc, c, err := LoadCertificate(ctx, h.store, id); err == nil {
		return doc, c, nil
	} else if !errors.Is(err, ErrNoCertificate) {
		return nil, certificate.Certificate{}, named(id, "load certificate", err)
	}
	tasks, err := h.store.ListPartnerTasks(ctx, id)
	if err != nil {
		return nil, certificate.Certificate{}, named(id, "list partner tasks", err)
	}
	chain, err := h.store.VerifyChain(ctx, id)
	if err != nil {
		return nil, certificate.Certificate{}, named(id, "verify audit chain", err)
	}
	c, err := certificate.Build(r, tasks, chain, h.now())
	if err != nil {
		// A partner retried by an operator is still running, or the chain
		// is broken: not ours to decide; an operator looks (dsr show).
		return nil, certificate.Certificate{}, &ServiceUnavailable{RequestID: id, Op: "build certificate", Err: err}
	}
	doc, err := json.Marshal(c)
	if err != nil {
		return nil, certificate.Certificate{}, fmt.Errorf("encode certificate %s: %w", id, err)
	}
	if h.signer != nil {
		if doc, err = h.signer.SignCertificate(ctx, doc); err != nil {
			return nil, certificate.Certificate{}, &ServiceUnavailable{RequestID: id, Op: "sign certificate", Err: err}
		}
	}
	created, err := h.store.PutCertificate(ctx, id, doc, c.Digest)
	if err != nil {
		return nil, certificate.Certificate{}, named(id, "store certificate", err)
	}
	if !created {
		return LoadCertificate(ctx, h.store, id)
	}
	if err := h.audit(ctx, id, "certificate_issued", ActorClose, map[string]string{"digest": c.Digest, "auditHeadSeq": itoa(c.AuditHeadSeq), "signed": fmt.Sprint(h.signer != nil)}); err != nil {
		return nil, certificate.Certificate{}, err
	}
	return doc, c, nil
}

// LoadCertificate reads request id's deletion certificate: the document as
// stored (signed or not) and the certificate in it (ErrNoCertificate when
// there is none).
func LoadCertificate(ctx context.Context, st *store.Store, id string) ([]byte, certificate.Certificate, error) {
	doc, err := st.GetCertificate(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, certificate.Certificate{}, fmt.Errorf("request %s: %w", id, ErrNoCertificate)
	}
	if err != nil {
		return nil, certificate.Certificate{}, err
	}
	c, err := certificate.Parse(doc)
	if err != nil {
		return nil, certificate.Certificate{}, fmt.Errorf("decode certificate of %s: %w", id, err)
	}
	return doc, c, nil
}

// VerifyCertificate checks c against its request's audit chain as it is
// now: the certificate's digest, the chain's integrity, and the chain
// event the certificate quotes as its head (events appended after the
// certificate, such as its own issuance, leave it in place), and that the
// chain records the certificate's issuance with the same digest.
func VerifyCertificate(ctx context.Context, st *store.Store, c certificate.Certificate) error {
	id := c.Request.ID
	chain, err := st.VerifyChain(ctx, id)
	if err != nil {
		return fmt.Errorf("verify audit chain of %s: %w", id, err)
	}
	err = certificate.Verify(c, chain)
	if err == nil || !errors.Is(err, certificate.ErrHead) {
		return err
	}
	events, err := st.ListEvents(ctx, id)
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
// every partner that held data acted, and their backups rotated out; the
// signed certificate is attached so that they hold their own proof.
func (h *Handlers) finalConfirmation(r *dsr.Request, to dsr.Contact, c certificate.Certificate, doc []byte) notify.Message {
	l := locale(r)
	m := notify.Message{RequestID: r.ID, Template: notify.TemplateFinalConfirmation, To: to, Locale: l}
	m.Attachments = []notify.Attachment{{Name: "deletion-certificate-" + r.ID + ".json", ContentType: "application/json", Data: doc}}
	acted, none := 0, 0
	for _, p := range c.Partners {
		switch p.Status {
		case store.PartnerCompleted, store.PartnerSettledByOperator:
			acted++
		case store.PartnerNoData:
			none++
		}
	}
	var b strings.Builder
	confirmed := len(c.Backups)
	if l == dsr.LocaleEn {
		m.Subject = "Your personal information has been deleted, backups included (request " + r.ID + ")"
		fmt.Fprintf(&b, "Your request %s (%s) is complete.\n\n", r.ID, r.Kind.Text(l))
		fmt.Fprintf(&b, "%d system(s) that held your personal information deleted it (%d held none), and every backup that held it has now rotated out (%d backup system(s) confirmed).\n\n", acted, none, confirmed)
		fmt.Fprintf(&b, "The signed deletion certificate is attached (reference %s). Anyone can check its signature with our public key; it is also recorded in the request's tamper-evident audit trail.\n", c.Digest)
		fmt.Fprintf(&b, "\nIf you have questions, please contact %s.\n", h.team.Email)
	} else {
		m.Subject = "您的个人信息已删除（含备份）（请求编号 " + r.ID + "）"
		fmt.Fprintf(&b, "您编号为 %s 的请求（%s）已全部完成。\n\n", r.ID, r.Kind.Text(l))
		fmt.Fprintf(&b, "曾持有您个人信息的 %d 个系统已将其删除（%d 个系统未持有），所有曾包含这些信息的备份也已完成轮换（%d 个备份系统已确认）。\n\n", acted, none, confirmed)
		fmt.Fprintf(&b, "随信附上经签名的删除证明（编号 %s）。任何人都可以用我们的公钥核验其签名；该证明也记录在请求防篡改的审计记录中。\n", c.Digest)
		fmt.Fprintf(&b, "\n如有疑问，请联系 %s。\n", h.team.Email)
	}
	m.Body = b.String()
	m.SMS = notify.SMSFor(notify.TemplateFinalConfirmation, r.ID, l)
	return m
}
