package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Hold is one legal hold (HOLD#<subject key> / HOLD): keyed by the subject's
// keyed hash, so no identifier is stored. Its meaning is package
// legalhold's.
type Hold struct {
	SubjectKey string `json:"subjectKey" dynamodbav:"subjectKey"`
	Action     string `json:"action" dynamodbav:"action"`
	Reason     string `json:"reason" dynamodbav:"reason"`
	// Reference is the operator's case reference (no personal data).
	Reference string    `json:"reference,omitempty" dynamodbav:"reference,omitempty"`
	CreatedAt time.Time `json:"createdAt" dynamodbav:"createdAt"`
	CreatedBy string    `json:"createdBy" dynamodbav:"createdBy"`
}

type holdItem struct {
	PK     string `dynamodbav:"PK"`
	SK     string `dynamodbav:"SK"`
	GSI2PK string `dynamodbav:"GSI2PK"`
	GSI2SK string `dynamodbav:"GSI2SK"`
	Hold
}

// PutHold adds or replaces the hold on h.SubjectKey.
func (s *Store) PutHold(ctx context.Context, h Hold) error {
	it := holdItem{PK: holdPK(h.SubjectKey), SK: skHold, GSI2PK: holdsPK, GSI2SK: h.CreatedAt.UTC().Format(keyTime) + "#" + h.SubjectKey, Hold: h}
	if err := s.putItem(ctx, it); err != nil {
		return fmt.Errorf("put legal hold: %w", err)
	}
	return nil
}

// GetHold returns the hold on subjectKey; nil when there is none.
func (s *Store) GetHold(ctx context.Context, subjectKey string) (*Hold, error) {
	var it holdItem
	found, err := s.getItem(ctx, holdPK(subjectKey), skHold, &it)
	if err != nil {
		return nil, fmt.Errorf("look up legal hold: %w", err)
	}
	if !found {
		return nil, nil
	}
	return &it.Hold, nil
}

// DeleteHold lifts the hold on subjectKey and returns it; nil when there was
// none.
func (s *Store) DeleteHold(ctx context.Context, subjectKey string) (*Hold, error) {
	key, err := keyOf(holdPK(subjectKey), skHold)
	if err != nil {
		return nil, err
	}
	out, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(s.table), Key: key, ReturnValues: types.ReturnValueAllOld})
	if err != nil {
		return nil, fmt.Errorf("remove legal hold: %w", callErr("DeleteItem", err))
	}
	if len(out.Attributes) == 0 {
		return nil, nil
	}
	var h Hold
	if err := attributevalue.UnmarshalMap(out.Attributes, &h); err != nil {
		return nil, fmt.Errorf("remove legal hold: %w", err)
	}
	return &h, nil
}

// ListHolds returns every hold, oldest first (then by subject key), through
// GSI2 (partition HOLDS): no scan.
func (s *Store) ListHolds(ctx context.Context) ([]Hold, error) {
	keys, err := s.indexKeys(ctx, holdsPK)
	if err != nil {
		return nil, fmt.Errorf("list legal holds: %w", err)
	}
	var out []Hold
	for _, k := range keys {
		var it holdItem
		found, err := s.getItem(ctx, k.PK, k.SK, &it)
		if err != nil {
			return nil, fmt.Errorf("list legal holds: %w", err)
		}
		if found {
			out = append(out, it.Hold)
		}
	}
	slices.SortFunc(out, func(a, b Hold) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.SubjectKey, b.SubjectKey))
	})
	return out, nil
}

// indexKeys returns the keys of every item of GSI2 partition pk, in index
// order.
func (s *Store) indexKeys(ctx context.Context, pk string) ([]itemKey, error) {
	var keys []itemKey
	p := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		IndexName:                 aws.String(gsiOpen),
		KeyConditionExpression:    aws.String("GSI2PK = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: pk}},
	})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, callErr("Query", err)
		}
		var page []itemKey
		if err := attributevalue.UnmarshalListOfMaps(out.Items, &page); err != nil {
			return nil, err
		}
		keys = append(keys, page...)
	}
	return keys, nil
}
