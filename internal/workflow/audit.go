package workflow

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"dsrflow/internal/store"
)

// Querier is the part of the DynamoDB client ListEvents uses.
type Querier interface {
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
}

// ListEvents reads a request's audit events (REQ#<id> / EVT#...), in order,
// for the timeline of `dsr show`. Check them with store.VerifyChain.
func ListEvents(ctx context.Context, db Querier, table, id string) ([]store.Event, error) {
	var out []store.Event
	var start map[string]dbtypes.AttributeValue
	for {
		page, err := db.Query(ctx, &dynamodb.QueryInput{
			TableName:              aws.String(table),
			KeyConditionExpression: aws.String("PK = :pk AND begins_with(SK, :evt)"),
			ExpressionAttributeValues: map[string]dbtypes.AttributeValue{
				":pk":  &dbtypes.AttributeValueMemberS{Value: "REQ#" + id},
				":evt": &dbtypes.AttributeValueMemberS{Value: "EVT#"},
			},
			ConsistentRead:    aws.Bool(true),
			ExclusiveStartKey: start,
		})
		if err != nil {
			return nil, fmt.Errorf("list events of %s: %w", id, err)
		}
		for _, it := range page.Items {
			var ev store.Event
			if err := attributevalue.UnmarshalMap(it, &ev); err != nil {
				return nil, fmt.Errorf("list events of %s: %w", id, err)
			}
			out = append(out, ev)
		}
		if len(page.LastEvaluatedKey) == 0 {
			return out, nil
		}
		start = page.LastEvaluatedKey
	}
}
