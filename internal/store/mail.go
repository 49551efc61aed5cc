package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// MailRecordTTL is how long a mail record is kept after the message came
// (its TTL; the raw message's S3 lifecycle rule matches it). A record that
// waits for a person keeps no TTL until it is resolved.
const MailRecordTTL = 60 * 24 * time.Hour

// MailRecord is what the mailbox keeps about one message (MAIL#<dedupe key> /
// MAIL). It holds codes and references only, never personal data: no
// sender, subject, body, file name or Message-ID (the dedupe key is its
// hash). The raw message stays in the bucket at Object.
//
// Records a person must look at (triage, reject) carry GSI2 keys (partition
// MAIL#TRIAGE, by receipt time) until they are resolved.
type MailRecord struct {
	DedupeKey string `json:"dedupeKey" dynamodbav:"dedupeKey"`
	// Action is request, follow_up, ignore, triage or reject.
	Action string `json:"action" dynamodbav:"action"`
	// Reason is "<action>: <code>", e.g. "ignore: bounce", "triage: unclear".
	Reason string `json:"reason" dynamodbav:"reason"`
	// Problems are MIME problem codes or field error codes ("email:invalid_email").
	Problems []string `json:"problems,omitempty" dynamodbav:"problems,omitempty"`
	Kind     string   `json:"kind,omitempty" dynamodbav:"kind,omitempty"`
	Role     string   `json:"role,omitempty" dynamodbav:"role,omitempty"`
	Language string   `json:"language,omitempty" dynamodbav:"language,omitempty"`
	// RequestID is the request the message created or joined.
	RequestID string `json:"requestId,omitempty" dynamodbav:"requestId,omitempty"`
	// ThreadRequestID is the request a reply named (one of our Message-IDs
	// in In-Reply-To or References, or a request ID in the subject), as the
	// message claims it: unverified. Set on follow-ups, also when they went
	// to triage (unknown or closed request, another sender), for the person
	// who reads them.
	ThreadRequestID string `json:"threadRequestId,omitempty" dynamodbav:"threadRequestId,omitempty"`
	// Attachments counts the documents stored for the request.
	Attachments int `json:"attachments,omitempty" dynamodbav:"attachments,omitempty"`
	// Object is the first raw object of the message, "s3://bucket/key".
	Object string `json:"object" dynamodbav:"object"`
	// Objects are every raw object that carried the message (a string set).
	Objects []string `json:"objects" dynamodbav:"objects,stringset"`
	// Deliveries counts the notifications handled for the message.
	Deliveries     int       `json:"deliveries" dynamodbav:"deliveries"`
	ReceivedAt     time.Time `json:"receivedAt" dynamodbav:"receivedAt"`
	LastDeliveryAt time.Time `json:"lastDeliveryAt" dynamodbav:"lastDeliveryAt"`
	Size           int64     `json:"size,omitempty" dynamodbav:"size,omitempty"`
	// Resolution is how a person settled a triaged mail: converted (to a
	// new request), linked (to an existing one) or ignored, with a reason
	// code, the operator and the time.
	Resolution       string     `json:"resolution,omitempty" dynamodbav:"resolution,omitempty"`
	ResolutionReason string     `json:"resolutionReason,omitempty" dynamodbav:"resolutionReason,omitempty"`
	ResolvedBy       string     `json:"resolvedBy,omitempty" dynamodbav:"resolvedBy,omitempty"`
	ResolvedAt       *time.Time `json:"resolvedAt,omitempty" dynamodbav:"resolvedAt,omitempty"`
	Version          int        `json:"version" dynamodbav:"version"`
}

type mailItem struct {
	PK     string `dynamodbav:"PK"`
	SK     string `dynamodbav:"SK"`
	GSI2PK string `dynamodbav:"GSI2PK,omitempty"`
	GSI2SK string `dynamodbav:"GSI2SK,omitempty"`
	MailRecord
	ExpiresAt int64 `dynamodbav:"expiresAt,omitempty"`
}

// NeedsPerson reports whether a record waits on the triage list.
func (r MailRecord) NeedsPerson() bool {
	if r.Resolution != "" {
		return false
	}
	// A requester's reply that joined its request (with documents, or a
	// question) is for the operator to read: it waits in the queue too.
	return r.Action == "triage" || r.Action == "reject" || (r.Action == "follow_up" && r.RequestID != "")
}

func newMailItem(r MailRecord) mailItem {
	it := mailItem{PK: mailPK(r.DedupeKey), SK: skMail, MailRecord: r}
	if r.NeedsPerson() {
		it.GSI2PK = mailTriagePK
		it.GSI2SK = r.ReceivedAt.UTC().Format(keyTime) + "#" + r.DedupeKey
	} else {
		it.ExpiresAt = epoch(r.ReceivedAt.Add(MailRecordTTL))
	}
	return it
}

// PutMailRecord records a delivery of a message. The first delivery of a
// dedupe key creates the record (a conditional put) and returns
// duplicate=false; a later one adds its object to Objects, counts the
// delivery and returns duplicate=true, leaving the first decision as it was.
func (s *Store) PutMailRecord(ctx context.Context, r MailRecord) (duplicate bool, err error) {
	r.ReceivedAt = r.ReceivedAt.UTC()
	r.LastDeliveryAt = r.ReceivedAt
	r.Deliveries = 1
	r.Objects = []string{r.Object}
	r.Version = 1
	created, err := s.putNew(ctx, newMailItem(r))
	if err != nil {
		return false, fmt.Errorf("record mail %s: %w", r.DedupeKey, err)
	}
	if created {
		return false, nil
	}
	key, err := keyOf(mailPK(r.DedupeKey), skMail)
	if err != nil {
		return true, err
	}
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:        aws.String(s.table),
		Key:              key,
		UpdateExpression: aws.String("ADD deliveries :one, objects :obj SET lastDeliveryAt = :at"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":one": &types.AttributeValueMemberN{Value: "1"},
			":obj": &types.AttributeValueMemberSS{Value: []string{r.Object}},
			":at":  &types.AttributeValueMemberS{Value: r.ReceivedAt.Format(time.RFC3339Nano)},
		},
	})
	if err != nil {
		return true, fmt.Errorf("record duplicate delivery of mail %s: %w", r.DedupeKey, callErr("UpdateItem", err))
	}
	return true, nil
}

// GetMailRecord reads the record of a dedupe key; found is false when there
// is none.
func (s *Store) GetMailRecord(ctx context.Context, dedupeKey string) (r MailRecord, found bool, err error) {
	var it mailItem
	found, err = s.getItem(ctx, mailPK(dedupeKey), skMail, &it)
	if err != nil {
		return MailRecord{}, false, fmt.Errorf("read mail record %s: %w", dedupeKey, err)
	}
	return it.MailRecord, found, nil
}

// ErrResolved is returned (wrapped) when a triaged mail was already settled.
var ErrResolved = errors.New("already resolved")

// ResolveMail settles a triaged mail: resolution is converted, linked or
// ignored, with a reason code, the request it went to (if any) and who
// decided. The record leaves the triage list and gets its TTL.
func (s *Store) ResolveMail(ctx context.Context, dedupeKey, resolution, reason, requestID, actor string) (MailRecord, error) {
	for range 8 {
		var it mailItem
		found, err := s.getItem(ctx, mailPK(dedupeKey), skMail, &it)
		if err != nil {
			return MailRecord{}, fmt.Errorf("resolve mail %s: %w", dedupeKey, err)
		}
		if !found {
			return MailRecord{}, fmt.Errorf("resolve mail %s: %w", dedupeKey, ErrNotFound)
		}
		r := it.MailRecord
		if r.Resolution != "" {
			return r, fmt.Errorf("resolve mail %s: %w", dedupeKey, ErrResolved)
		}
		prev := r.Version
		at := s.now()
		r.Resolution, r.ResolutionReason, r.ResolvedBy, r.ResolvedAt = resolution, reason, actor, &at
		if requestID != "" {
			r.RequestID = requestID
		}
		r.Version = prev + 1
		next := newMailItem(r)
		next.ExpiresAt = epoch(at.Add(MailRecordTTL))
		if err := s.putVersioned(ctx, next, prev); errors.Is(err, ErrStale) {
			continue
		} else if err != nil {
			return MailRecord{}, fmt.Errorf("resolve mail %s: %w", dedupeKey, err)
		}
		return r, nil
	}
	return MailRecord{}, fmt.Errorf("resolve mail %s: %w", dedupeKey, ErrContention)
}

// ListTriage returns the records that wait for a person, oldest first (a
// GSI2 query; the index is eventually consistent, so each is re-read).
func (s *Store) ListTriage(ctx context.Context) ([]MailRecord, error) {
	keys, err := s.indexKeys(ctx, mailTriagePK)
	if err != nil {
		return nil, fmt.Errorf("list mail triage: %w", err)
	}
	var out []MailRecord
	for _, k := range keys {
		r, found, err := s.GetMailRecord(ctx, strings.TrimPrefix(k.PK, mailPKPrefix))
		if err != nil {
			return nil, err
		}
		if found && r.NeedsPerson() {
			out = append(out, r)
		}
	}
	return out, nil
}

// ClaimMailAck takes the acknowledgement slot of one sender for window: it
// returns claimed=true when no acknowledgement was claimed for senderKey in
// the last window (the caller may then send one), false when one was. One
// conditional put on the sender's marker (MAILACK#<sender key> / MAILACK):
// two deliveries racing for the slot cannot both win. The marker carries the
// claim time and a TTL at its end; senderKey must be a keyed hash, never an
// address.
func (s *Store) ClaimMailAck(ctx context.Context, senderKey string, window time.Duration) (claimed bool, err error) {
	if senderKey == "" || window <= 0 {
		return false, errors.New("claim mail acknowledgement: empty sender key or window")
	}
	now := s.now()
	av, err := attributevalue.MarshalMap(mailAckItem{
		PK: mailAckPK(senderKey), SK: skMailAck,
		At: now.Format(keyTime), ExpiresAt: epoch(now.Add(window)),
	})
	if err != nil {
		return false, err
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                aws.String(s.table),
		Item:                     av,
		ConditionExpression:      aws.String("attribute_not_exists(PK) OR #at <= :cutoff"),
		ExpressionAttributeNames: map[string]string{"#at": "at"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":cutoff": &types.AttributeValueMemberS{Value: now.Add(-window).Format(keyTime)},
		},
	})
	if isConditionFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("claim mail acknowledgement: %w", callErr("PutItem", err))
	}
	return true, nil
}

// mailAckItem is a sender's acknowledgement marker. At is the claim time in
// keyTime form (fixed width, so it compares as a string).
type mailAckItem struct {
	PK        string `dynamodbav:"PK"`
	SK        string `dynamodbav:"SK"`
	At        string `dynamodbav:"at"`
	ExpiresAt int64  `dynamodbav:"expiresAt"`
}
