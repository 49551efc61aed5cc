package store

import (
	"context"
	"fmt"
	"time"
)

// VerificationTTL is how long a verification item is kept after it was
// created: the code wait (at most 7 days) and the follow-up period
// (30 days), with room to spare. DynamoDB's TTL deletes it afterwards.
const VerificationTTL = 60 * 24 * time.Hour

// Verification is a request's one-time-code state (REQ#<id> / VERIFY): the
// code's keyed hash, never the code, and the task token the workflow waits on.
type Verification struct {
	State    string `dynamodbav:"state"`
	CodeHash string `dynamodbav:"codeHash,omitempty"`
	Nonce    string `dynamodbav:"nonce,omitempty"`
	// CodeExpiresAt is when the current code stops working. (The item's
	// TTL is ExpiresAt, epoch seconds.)
	CodeExpiresAt time.Time  `dynamodbav:"codeExpiresAt"`
	Attempts      int        `dynamodbav:"attempts"`
	Resends       int        `dynamodbav:"resends"`
	TaskToken     string     `dynamodbav:"taskToken,omitempty"`
	Channel       string     `dynamodbav:"channel,omitempty"`
	SentAt        *time.Time `dynamodbav:"sentAt,omitempty"`
	VerifiedAt    *time.Time `dynamodbav:"verifiedAt,omitempty"`
	Signalled     bool       `dynamodbav:"signalled"`
	// LockNotified records that the requester was told the verification
	// locked: that notice goes once per request, however often it locks.
	LockNotified bool      `dynamodbav:"lockNotified,omitempty"`
	CreatedAt    time.Time `dynamodbav:"createdAt"`
	// Version increases with every write; PutVerification conditions on it.
	Version int `dynamodbav:"version"`
}

type verificationItem struct {
	PK string `dynamodbav:"PK"`
	SK string `dynamodbav:"SK"`
	Verification
	ExpiresAt int64 `dynamodbav:"expiresAt"`
}

// GetVerification reads request id's verification item; nil when there is
// none.
func (s *Store) GetVerification(ctx context.Context, id string) (*Verification, error) {
	var it verificationItem
	found, err := s.getItem(ctx, requestPK(id), skVerify, &it)
	if err != nil {
		return nil, fmt.Errorf("load verification %s: %w", id, err)
	}
	if !found {
		return nil, nil
	}
	return &it.Verification, nil
}

// PutVerification writes v if the stored item is still at v.Version (0: a
// new item), and raises v.Version; ErrStale when another writer got there
// first. The item expires VerificationTTL after its creation.
func (s *Store) PutVerification(ctx context.Context, id string, v *Verification) error {
	prev := v.Version
	if v.CreatedAt.IsZero() {
		v.CreatedAt = s.now()
	}
	it := verificationItem{PK: requestPK(id), SK: skVerify, Verification: *v, ExpiresAt: epoch(v.CreatedAt.Add(VerificationTTL))}
	it.Version = prev + 1
	if err := s.putVersioned(ctx, it, prev); err != nil {
		return fmt.Errorf("save verification %s: %w", id, err)
	}
	v.Version = prev + 1
	return nil
}
