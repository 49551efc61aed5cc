package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// OperatorWait is a decision the workflow waits for from an operator
// (REQ#<id> / OPERATOR#<stage>): the stage (verification, review, partners),
// why, the task token, and once decided, the decision and who made it.
type OperatorWait struct {
	RequestID   string    `dynamodbav:"requestId"`
	Stage       string    `dynamodbav:"stage"`
	Cause       string    `dynamodbav:"cause"`
	TaskToken   string    `dynamodbav:"taskToken"`
	RequestedAt time.Time `dynamodbav:"requestedAt"`
	// Decided is set once answered, with the result, reason and actor.
	Decided *time.Time `dynamodbav:"decided,omitempty"`
	Result  string     `dynamodbav:"result,omitempty"`
	Reason  string     `dynamodbav:"reason,omitempty"`
	Actor   string     `dynamodbav:"actor,omitempty"`
	// Sent is set once Step Functions accepted the decision.
	Sent     bool `dynamodbav:"sent"`
	Version  int  `dynamodbav:"version"`
	TokenSet int  `dynamodbav:"tokenSet"` // how often a token was recorded
}

type operatorItem struct {
	PK string `dynamodbav:"PK"`
	SK string `dynamodbav:"SK"`
	OperatorWait
}

// GetOperatorWait reads the wait of request id at stage; nil when none was
// recorded.
func (s *Store) GetOperatorWait(ctx context.Context, id, stage string) (*OperatorWait, error) {
	var it operatorItem
	found, err := s.getItem(ctx, requestPK(id), operatorSK(stage), &it)
	if err != nil {
		return nil, fmt.Errorf("load %s wait of %s: %w", stage, id, err)
	}
	if !found {
		return nil, nil
	}
	return &it.OperatorWait, nil
}

// PutOperatorWait writes w if the stored wait is still at w.Version (0: a
// new one) and raises w.Version; ErrStale when another writer got there
// first.
func (s *Store) PutOperatorWait(ctx context.Context, w *OperatorWait) error {
	prev := w.Version
	it := operatorItem{PK: requestPK(w.RequestID), SK: operatorSK(w.Stage), OperatorWait: *w}
	it.Version = prev + 1
	if err := s.putVersioned(ctx, it, prev); err != nil {
		return fmt.Errorf("save %s wait of %s: %w", w.Stage, w.RequestID, err)
	}
	w.Version = prev + 1
	return nil
}

// ListOperatorWaits returns every wait recorded for request id (one query
// over its OPERATOR# items), by stage.
func (s *Store) ListOperatorWaits(ctx context.Context, id string) ([]OperatorWait, error) {
	var out []OperatorWait
	err := s.queryPrefix(ctx, requestPK(id), skOperatorPfx, func(av map[string]types.AttributeValue) error {
		var it operatorItem
		if err := attributevalue.UnmarshalMap(av, &it); err != nil {
			return err
		}
		if it.Stage == "" {
			it.Stage = strings.TrimPrefix(it.SK, skOperatorPfx)
		}
		out = append(out, it.OperatorWait)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list operator waits of %s: %w", id, err)
	}
	return out, nil
}
