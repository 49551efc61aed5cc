// Package legalhold keeps the operator-managed list of legal holds: data
// subjects whose data must be kept (an investigation, a court order, a
// statutory duty; policy 五.1/五.2 "除非法律法规另有规定"). A hold either
// refuses requests about the subject or defers erasure while it lasts; the
// requester is told the reason either way (PIPL art. 50).
//
// A hold is the item HOLD#<subject key> / HOLD in the requests table, keyed
// by the same HMAC subject key as requests, so no identifier is stored.
package legalhold

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"dsrflow/internal/dsr"
)

// Action is what a hold does to a request.
type Action string

const (
	// ActionRefuse refuses every request about the subject.
	ActionRefuse Action = "refuse"
	// ActionDeferErasure lets other requests through but defers erasure
	// (erasure and account closure are answered, erasure postponed).
	ActionDeferErasure Action = "defer_erasure"
)

// Valid reports whether a is a known action.
func (a Action) Valid() bool { return a == ActionRefuse || a == ActionDeferErasure }

// Hold is one legal hold.
type Hold struct {
	SubjectKey string            `dynamodbav:"subjectKey"`
	Action     Action            `dynamodbav:"action"`
	Reason     dsr.RefusalReason `dynamodbav:"reason"`
	// Reference is the operator's case reference (no personal data).
	Reference string    `dynamodbav:"reference,omitempty"`
	CreatedAt time.Time `dynamodbav:"createdAt"`
	CreatedBy string    `dynamodbav:"createdBy"`
}

// DB is the part of the DynamoDB client the list uses.
type DB interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
}

// List is the legal-hold list.
type List struct {
	DB    DB
	Table string
}

func key(subjectKey string) map[string]dbtypes.AttributeValue {
	return map[string]dbtypes.AttributeValue{
		"PK": &dbtypes.AttributeValueMemberS{Value: "HOLD#" + subjectKey},
		"SK": &dbtypes.AttributeValueMemberS{Value: "HOLD"},
	}
}

// Put adds or replaces a hold.
func (l *List) Put(ctx context.Context, h Hold) error {
	if h.SubjectKey == "" || !h.Action.Valid() {
		return errors.New("legal hold: subject key and a valid action are required")
	}
	if h.Reason == "" {
		h.Reason = dsr.RefusalLegalHold
	}
	if !h.Reason.Valid() {
		return fmt.Errorf("legal hold: unknown reason %q", h.Reason)
	}
	item, err := attributevalue.MarshalMap(h)
	if err != nil {
		return err
	}
	for k, v := range key(h.SubjectKey) {
		item[k] = v
	}
	if _, err := l.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(l.Table), Item: item}); err != nil {
		return fmt.Errorf("put legal hold: %w", err)
	}
	return nil
}

// Remove lifts a hold (no error when there is none).
func (l *List) Remove(ctx context.Context, subjectKey string) error {
	if _, err := l.DB.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(l.Table), Key: key(subjectKey)}); err != nil {
		return fmt.Errorf("remove legal hold: %w", err)
	}
	return nil
}

// Find returns the strongest hold on any of subjectKeys: a refusal before a
// deferral; nil when there is none.
func (l *List) Find(ctx context.Context, subjectKeys []string) (*Hold, error) {
	var found *Hold
	for _, k := range subjectKeys {
		out, err := l.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(l.Table), Key: key(k), ConsistentRead: aws.Bool(true)})
		if err != nil {
			return nil, fmt.Errorf("look up legal hold: %w", err)
		}
		if out.Item == nil {
			continue
		}
		var h Hold
		if err := attributevalue.UnmarshalMap(out.Item, &h); err != nil {
			return nil, fmt.Errorf("look up legal hold: %w", err)
		}
		if found == nil || (h.Action == ActionRefuse && found.Action != ActionRefuse) {
			found = &h
		}
	}
	return found, nil
}
