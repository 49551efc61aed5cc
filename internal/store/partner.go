package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Partner task items (PK REQ#<id>, SK PARTNER#<partner>) record what one
// partner system was asked to do for one request and how it answered
// (docs/ARCHITECTURE.md, "Data"). Package partner writes them; the reply, the status page
// and the deletion certificate read them.

const skPartnerPrefix = "PARTNER#"

// PartnerStatus is where one partner's part of a request is.
type PartnerStatus string

const (
	// PartnerPending: planned, not sent yet (or reset by `dsr retry`).
	PartnerPending PartnerStatus = "pending"
	// PartnerDispatched: a call is (or was) in flight; a retry may follow.
	PartnerDispatched PartnerStatus = "dispatched"
	// PartnerAwaitingCallback: an asynchronous partner accepted the request and
	// will answer on the callback endpoint.
	PartnerAwaitingCallback PartnerStatus = "awaiting_callback"
	// PartnerCompleted: the partner confirmed, with a receipt.
	PartnerCompleted PartnerStatus = "completed"
	// PartnerFailed: the partner refused (4xx), answered garbage or reported
	// failure; LastError says which.
	PartnerFailed PartnerStatus = "failed"
	// PartnerEscalated: given up on (retries exhausted, deadline passed, or
	// failed) and handed to an operator.
	PartnerEscalated PartnerStatus = "escalated"
	// PartnerNoData: the partner holds no data for this person: the
	// verified and resolved identity carries none of the identifier types
	// the partner keeps data under, so nothing was sent to it.
	PartnerNoData PartnerStatus = "no_data"
	// PartnerSettledByOperator: an operator recorded how an escalated
	// partner was settled outside the protocol (OperatorReason says how).
	PartnerSettledByOperator PartnerStatus = "settled_by_operator"
)

// Settled reports whether nothing more will be sent for this partner
// unless an operator retries it.
func (s PartnerStatus) Settled() bool {
	switch s {
	case PartnerCompleted, PartnerFailed, PartnerEscalated, PartnerNoData, PartnerSettledByOperator:
		return true
	}
	return false
}

// Final reports whether the partner's part is done for good: it acted
// (completed), it holds no data for this person (no_data), or an operator
// recorded how it was settled. Failed and escalated are settled (nothing
// more is sent) but not final: the request waits for them.
func (s PartnerStatus) Final() bool {
	switch s {
	case PartnerCompleted, PartnerNoData, PartnerSettledByOperator:
		return true
	}
	return false
}

// PartnerStatuses lists every partner task status.
func PartnerStatuses() []PartnerStatus {
	return []PartnerStatus{PartnerPending, PartnerDispatched, PartnerAwaitingCallback, PartnerCompleted, PartnerFailed, PartnerEscalated, PartnerNoData, PartnerSettledByOperator}
}

// PartnerTask is one partner's part of a request. It holds no personal data:
// the identities sent are read from the request's identity each time, and
// exports are kept in S3 (ExportKey).
type PartnerTask struct {
	RequestID string        `json:"requestId" dynamodbav:"requestId"`
	PartnerID string        `json:"partnerId" dynamodbav:"partnerId"`
	Action    string        `json:"action" dynamodbav:"action"`
	Status    PartnerStatus `json:"status" dynamodbav:"status"`
	// Attempts counts calls made to the partner.
	Attempts int `json:"attempts" dynamodbav:"attempts"`
	// LastError is the code of the last failure ("http_503", "timeout",
	// "not_json", "deadline_passed", ...), never a message body.
	LastError string `json:"lastError,omitempty" dynamodbav:"lastError,omitempty"`
	// Receipt is the partner's confirmation ID.
	Receipt string `json:"receipt,omitempty" dynamodbav:"receipt,omitempty"`
	// Changed lists the fields a correction or consent withdrawal changed
	// at the partner (names, not values).
	Changed []string `json:"changed,omitempty" dynamodbav:"changed,omitempty"`
	// ExportKey is the S3 key of the partner's export (access, portability).
	ExportKey string `json:"exportKey,omitempty" dynamodbav:"exportKey,omitempty"`
	// TaskToken is the Step Functions token of the state waiting for the
	// partner's callback. It is not personal data, but it is a capability:
	// it stays out of JSON.
	TaskToken string `json:"-" dynamodbav:"taskToken,omitempty"`
	// TokenAnswered is set once the waiting state was told the outcome.
	TokenAnswered bool `json:"tokenAnswered,omitempty" dynamodbav:"tokenAnswered,omitempty"`
	// ExpectedBy is the partner's own estimate; DeadlineAt is ours.
	ExpectedBy  *time.Time `json:"expectedBy,omitempty" dynamodbav:"expectedBy,omitempty"`
	DeadlineAt  *time.Time `json:"deadlineAt,omitempty" dynamodbav:"deadlineAt,omitempty"`
	CreatedAt   time.Time  `json:"createdAt" dynamodbav:"createdAt"`
	UpdatedAt   time.Time  `json:"updatedAt" dynamodbav:"updatedAt"`
	CompletedAt *time.Time `json:"completedAt,omitempty" dynamodbav:"completedAt,omitempty"`
	// Late is set when the partner completed after we had escalated it.
	Late bool `json:"late,omitempty" dynamodbav:"late,omitempty"`
	// BackupConfirmedAt is when the partner's backup system confirmed that no
	// backup older than the deletion remains; OldestBackup is the oldest
	// backup it still keeps (after the deletion).
	BackupConfirmedAt *time.Time `json:"backupConfirmedAt,omitempty" dynamodbav:"backupConfirmedAt,omitempty"`
	OldestBackup      *time.Time `json:"oldestBackup,omitempty" dynamodbav:"oldestBackup,omitempty"`
	// OperatorReason and OperatorActor say how and by whom an operator
	// settled the partner (settled_by_operator).
	OperatorReason string `json:"operatorReason,omitempty" dynamodbav:"operatorReason,omitempty"`
	OperatorActor  string `json:"operatorActor,omitempty" dynamodbav:"operatorActor,omitempty"`
	// Version increases with every write; UpdatePartnerTask conditions on it.
	Version int `json:"version" dynamodbav:"version"`
}

type partnerItem struct {
	PK string `dynamodbav:"PK"`
	SK string `dynamodbav:"SK"`
	PartnerTask
}

func partnerSK(partner string) string { return skPartnerPrefix + partner }

// PutPartnerTask stores a new partner task with a conditional put (Version 1,
// CreatedAt and UpdatedAt now). When the task exists, it returns the stored
// one and created=false: planning twice is harmless.
func (s *Store) PutPartnerTask(ctx context.Context, t PartnerTask) (stored *PartnerTask, created bool, err error) {
	if t.RequestID == "" || t.PartnerID == "" {
		return nil, false, errors.New("put partner task: empty request or partner ID")
	}
	if t.Status == "" {
		t.Status = PartnerPending
	}
	now := s.now()
	t.CreatedAt, t.UpdatedAt, t.Version = now, now, 1
	item, err := attributevalue.MarshalMap(partnerItem{PK: requestPK(t.RequestID), SK: partnerSK(t.PartnerID), PartnerTask: t})
	if err != nil {
		return nil, false, fmt.Errorf("put partner task %s/%s: %w", t.RequestID, t.PartnerID, err)
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:           aws.String(s.table),
		Item:                item,
		ConditionExpression: aws.String("attribute_not_exists(PK)"),
	})
	if isConditionFailed(err) {
		got, gerr := s.GetPartnerTask(ctx, t.RequestID, t.PartnerID)
		return got, false, gerr
	}
	if err != nil {
		return nil, false, fmt.Errorf("put partner task %s/%s: %w", t.RequestID, t.PartnerID, callErr("PutItem", err))
	}
	return &t, true, nil
}

// GetPartnerTask reads one partner task (strongly consistent); a missing one
// is ErrNotFound.
func (s *Store) GetPartnerTask(ctx context.Context, requestID, partnerID string) (*PartnerTask, error) {
	key, err := keyOf(requestPK(requestID), partnerSK(partnerID))
	if err != nil {
		return nil, fmt.Errorf("load partner task %s/%s: %w", requestID, partnerID, err)
	}
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: key, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, fmt.Errorf("load partner task %s/%s: %w", requestID, partnerID, callErr("GetItem", err))
	}
	if out.Item == nil {
		return nil, fmt.Errorf("load partner task %s/%s: %w", requestID, partnerID, ErrNotFound)
	}
	var it partnerItem
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return nil, fmt.Errorf("load partner task %s/%s: %w", requestID, partnerID, err)
	}
	return &it.PartnerTask, nil
}

// UpdatePartnerTask applies mutate to the stored task and writes it back if
// it is still at expectedVersion; otherwise it returns a *ConflictError
// (ID "<request>/<partner>", with the current version). The request and
// partner IDs and the creation time cannot change. Version goes up by one and
// UpdatedAt is set to now.
func (s *Store) UpdatePartnerTask(ctx context.Context, requestID, partnerID string, expectedVersion int, mutate func(*PartnerTask)) (*PartnerTask, error) {
	cur, err := s.GetPartnerTask(ctx, requestID, partnerID)
	if err != nil {
		return nil, err
	}
	id := requestID + "/" + partnerID
	if cur.Version != expectedVersion {
		return nil, fmt.Errorf("update partner task %s: %w", id, &ConflictError{ID: id, WantVersion: expectedVersion, Version: cur.Version})
	}
	next := *cur
	next.Changed = append([]string(nil), cur.Changed...)
	if mutate != nil {
		mutate(&next)
	}
	if next.RequestID != cur.RequestID || next.PartnerID != cur.PartnerID || !next.CreatedAt.Equal(cur.CreatedAt) {
		return nil, fmt.Errorf("update partner task %s: %w", id, ErrImmutable)
	}
	next.Version = expectedVersion + 1
	next.UpdatedAt = s.now()
	item, err := attributevalue.MarshalMap(partnerItem{PK: requestPK(requestID), SK: partnerSK(partnerID), PartnerTask: next})
	if err != nil {
		return nil, fmt.Errorf("update partner task %s: %w", id, err)
	}
	cond := expression.Name("version").Equal(expression.Value(expectedVersion))
	expr, err := expression.NewBuilder().WithCondition(cond).Build()
	if err != nil {
		return nil, fmt.Errorf("update partner task %s: %w", id, err)
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                 aws.String(s.table),
		Item:                      item,
		ConditionExpression:       expr.Condition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	})
	if isConditionFailed(err) {
		now, gerr := s.GetPartnerTask(ctx, requestID, partnerID)
		if gerr != nil {
			return nil, gerr
		}
		return nil, fmt.Errorf("update partner task %s: %w", id, &ConflictError{ID: id, WantVersion: expectedVersion, Version: now.Version})
	}
	if err != nil {
		return nil, fmt.Errorf("update partner task %s: %w", id, callErr("PutItem", err))
	}
	return &next, nil
}

// ListPartnerTasks returns a request's partner tasks, ordered by partner ID.
func (s *Store) ListPartnerTasks(ctx context.Context, requestID string) ([]PartnerTask, error) {
	keyCond := expression.Key(attrPK).Equal(expression.Value(requestPK(requestID))).
		And(expression.Key(attrSK).BeginsWith(skPartnerPrefix))
	expr, err := expression.NewBuilder().WithKeyCondition(keyCond).Build()
	if err != nil {
		return nil, fmt.Errorf("list partner tasks %s: %w", requestID, err)
	}
	var tasks []PartnerTask
	var start map[string]types.AttributeValue
	for {
		out, err := s.db.Query(ctx, &dynamodb.QueryInput{
			TableName:                 aws.String(s.table),
			KeyConditionExpression:    expr.KeyCondition(),
			ExpressionAttributeNames:  expr.Names(),
			ExpressionAttributeValues: expr.Values(),
			ConsistentRead:            aws.Bool(true),
			ExclusiveStartKey:         start,
		})
		if err != nil {
			return nil, fmt.Errorf("list partner tasks %s: %w", requestID, callErr("Query", err))
		}
		for _, raw := range out.Items {
			var it partnerItem
			if err := attributevalue.UnmarshalMap(raw, &it); err != nil {
				return nil, fmt.Errorf("list partner tasks %s: %w", requestID, err)
			}
			if !strings.HasPrefix(it.SK, skPartnerPrefix) {
				continue
			}
			tasks = append(tasks, it.PartnerTask)
		}
		if len(out.LastEvaluatedKey) == 0 {
			return tasks, nil
		}
		start = out.LastEvaluatedKey
	}
}
