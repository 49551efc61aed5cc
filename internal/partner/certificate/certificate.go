// Package certificate issues and checks deletion certificates: the record,
// given when an erasure or account closure is closed, that the subject's
// data was deleted by every partner and rotated out of every backup. A
// certificate is JSON holding the request (IDs, kind, dates: no personal
// data), each partner's receipt, each backup system's confirmation, and the
// head of the request's audit chain; its digest covers all of it. Verify
// checks it against the audit chain, so neither can be altered unseen.
package certificate

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"dsrflow/internal/dsr"
	"dsrflow/internal/store"
)

// Version is the certificate format version.
const Version = 1

// Certificate is a deletion certificate.
type Certificate struct {
	Version  int       `json:"version"`
	Request  Request   `json:"request"`
	Partners []Partner `json:"partners"`
	Backups  []Backup  `json:"backups"`
	// AuditHeadSeq and AuditHeadHash are the audit chain's head when the
	// certificate was issued.
	AuditHeadSeq  int       `json:"auditHeadSeq"`
	AuditHeadHash string    `json:"auditHeadHash"`
	IssuedAt      time.Time `json:"issuedAt"`
	// Digest is the hex SHA-256 of the certificate's JSON without Digest.
	Digest string `json:"digest"`
}

// Request identifies the request, without personal data.
type Request struct {
	ID         string     `json:"id"`
	Kind       dsr.Kind   `json:"kind"`
	CreatedAt  time.Time  `json:"createdAt"`
	VerifiedAt *time.Time `json:"verifiedAt,omitempty"`
}

// Partner is one partner's outcome.
type Partner struct {
	ID          string              `json:"id"`
	Action      string              `json:"action"`
	Status      store.PartnerStatus `json:"status"`
	Receipt     string              `json:"receipt,omitempty"`
	CompletedAt *time.Time          `json:"completedAt,omitempty"`
	Late        bool                `json:"late,omitempty"`
	Error       string              `json:"error,omitempty"`
}

// Backup is one backup system's confirmation.
type Backup struct {
	System      string    `json:"system"`
	ConfirmedAt time.Time `json:"confirmedAt"`
	// OldestBackupAfterDeletion is the oldest backup the system still kept
	// when it confirmed: taken after the deletion.
	OldestBackupAfterDeletion *time.Time `json:"oldestBackupAfterDeletion,omitempty"`
}

// Errors of Build and Verify.
var (
	ErrNotErasure   = errors.New("not an erasure or account closure")
	ErrUnsettled    = errors.New("a partner has not settled")
	ErrChainBroken  = errors.New("audit chain is not intact")
	ErrWrongRequest = errors.New("certificate and chain are of different requests")
	ErrDigest       = errors.New("certificate digest does not match its content")
	ErrHead         = errors.New("audit chain head differs from the certificate's")
)

// Build issues the certificate of req from its partner tasks and its audit
// chain report (store.VerifyChain), which must be intact. Every partner must
// have settled for good (store.PartnerStatus.Final: it acted, it holds no
// data for this person, or an operator recorded how it was settled):
// nothing is certified on a promise (docs/ARCHITECTURE.md, rule 8).
func Build(req *dsr.Request, tasks []store.PartnerTask, chain store.ChainReport, issuedAt time.Time) (Certificate, error) {
	if !req.Kind.ErasesData() {
		return Certificate{}, fmt.Errorf("certificate for request %s: %w", req.ID, ErrNotErasure)
	}
	if chain.RequestID != req.ID {
		return Certificate{}, fmt.Errorf("certificate for request %s: %w", req.ID, ErrWrongRequest)
	}
	if !chain.OK() || chain.HeadSeq == 0 {
		return Certificate{}, fmt.Errorf("certificate for request %s: %w", req.ID, ErrChainBroken)
	}
	c := Certificate{
		Version:       Version,
		Request:       Request{ID: req.ID, Kind: req.Kind, CreatedAt: req.CreatedAt.UTC(), VerifiedAt: utc(req.VerifiedAt)},
		Partners:      []Partner{},
		Backups:       []Backup{},
		AuditHeadSeq:  chain.HeadSeq,
		AuditHeadHash: chain.HeadHash,
		IssuedAt:      issuedAt.UTC(),
	}
	for _, t := range tasks {
		if !t.Status.Final() {
			return Certificate{}, fmt.Errorf("certificate for request %s: partner %s is %s: %w", req.ID, t.PartnerID, t.Status, ErrUnsettled)
		}
		p := Partner{ID: t.PartnerID, Action: t.Action, Status: t.Status, Receipt: t.Receipt, CompletedAt: utc(t.CompletedAt), Late: t.Late}
		if t.Status == store.PartnerSettledByOperator {
			p.Error = t.OperatorReason
		}
		c.Partners = append(c.Partners, p)
		if t.BackupConfirmedAt != nil {
			c.Backups = append(c.Backups, Backup{System: t.PartnerID, ConfirmedAt: t.BackupConfirmedAt.UTC(), OldestBackupAfterDeletion: utc(t.OldestBackup)})
		}
	}
	d, err := digest(c)
	if err != nil {
		return Certificate{}, err
	}
	c.Digest = d
	return c, nil
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// digest is the hex SHA-256 of c's JSON with Digest empty.
func digest(c Certificate) (string, error) {
	c.Digest = ""
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(c); err != nil {
		return "", fmt.Errorf("certificate digest: %w", err)
	}
	sum := sha256.Sum256(buf.Bytes())
	return hex.EncodeToString(sum[:]), nil
}

// Verify checks a certificate against the request's audit chain as it is
// now: the certificate's digest, the chain's integrity, and that the chain's
// head is the one the certificate quotes. If events were appended after the
// certificate was issued, the head has moved on: check the event the
// certificate quotes with VerifyEvent instead (after Verify's other checks
// pass, ErrHead says which).
func Verify(c Certificate, chain store.ChainReport) error {
	if err := VerifyDigest(c); err != nil {
		return err
	}
	if chain.RequestID != c.Request.ID {
		return ErrWrongRequest
	}
	if !chain.OK() {
		return fmt.Errorf("%w: %d problem(s), first at event %d (%s)", ErrChainBroken, len(chain.Problems), chain.Problems[0].Seq, chain.Problems[0].Reason)
	}
	if chain.HeadSeq != c.AuditHeadSeq || chain.HeadHash != c.AuditHeadHash {
		return fmt.Errorf("%w: chain head %d, certificate quotes %d", ErrHead, chain.HeadSeq, c.AuditHeadSeq)
	}
	return nil
}

// VerifyDigest checks that the certificate was not altered.
func VerifyDigest(c Certificate) error {
	d, err := digest(c)
	if err != nil {
		return err
	}
	if d != c.Digest {
		return ErrDigest
	}
	return nil
}

// VerifyEvent checks the certificate against the audit event it quotes (for
// a chain that grew after issuance): same sequence number, and the event's
// stored and recomputed hash equal the certificate's.
func VerifyEvent(c Certificate, ev store.Event) error {
	if err := VerifyDigest(c); err != nil {
		return err
	}
	if ev.Seq != c.AuditHeadSeq || ev.Hash != c.AuditHeadHash || store.EventHash(c.Request.ID, ev) != ev.Hash {
		return ErrHead
	}
	return nil
}

// Parse reads a stored certificate document: the certificate's JSON, or a
// signed envelope holding it.
func Parse(doc []byte) (Certificate, error) {
	var env struct {
		Certificate *Certificate `json:"certificate"`
	}
	if err := json.Unmarshal(doc, &env); err == nil && env.Certificate != nil {
		return *env.Certificate, nil
	}
	var c Certificate
	if err := json.Unmarshal(doc, &c); err != nil {
		return Certificate{}, err
	}
	return c, nil
}
