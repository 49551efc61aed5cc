package dynamotest

import (
	"context"
	"fmt"
	"maps"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// EditItems rewrites, behind the store's back, every item of table whose
// attributes equal match (a string attribute, or a number written as its
// decimal text) with the string attributes of set: what someone with
// direct access to the table could do. Tests use it to check that such an
// edit is caught (an audit event's type changed, say) without spelling the
// store's keys. It returns how many items it rewrote.
func (e *Emulator) EditItems(ctx context.Context, table string, match, set map[string]string) (int, error) {
	if len(match) == 0 {
		return 0, fmt.Errorf("edit items of %s: no attribute to match", table)
	}
	c := e.Client()
	var start map[string]types.AttributeValue
	n := 0
	for {
		out, err := c.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true), ExclusiveStartKey: start})
		if err != nil {
			return n, fmt.Errorf("edit items of %s: %w", table, err)
		}
		for _, item := range out.Items {
			if !matches(item, match) {
				continue
			}
			edited := maps.Clone(item)
			for k, v := range set {
				edited[k] = &types.AttributeValueMemberS{Value: v}
			}
			if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: edited}); err != nil {
				return n, fmt.Errorf("edit items of %s: %w", table, err)
			}
			n++
		}
		if len(out.LastEvaluatedKey) == 0 {
			return n, nil
		}
		start = out.LastEvaluatedKey
	}
}

func matches(item map[string]types.AttributeValue, match map[string]string) bool {
	for k, want := range match {
		switch v := item[k].(type) {
		case *types.AttributeValueMemberS:
			if v.Value != want {
				return false
			}
		case *types.AttributeValueMemberN:
			if v.Value != want {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// DeleteItems deletes, behind the store's back, every item of table whose
// attributes equal match (as EditItems matches them): what someone with
// direct access to the table could do. Tests use it to check that such a
// deletion is caught (the last events of an audit chain, say) without
// spelling the store's keys. It returns how many items it deleted.
func (e *Emulator) DeleteItems(ctx context.Context, table string, match map[string]string) (int, error) {
	if len(match) == 0 {
		return 0, fmt.Errorf("delete items of %s: no attribute to match", table)
	}
	c := e.Client()
	var start map[string]types.AttributeValue
	n := 0
	for {
		out, err := c.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true), ExclusiveStartKey: start})
		if err != nil {
			return n, fmt.Errorf("delete items of %s: %w", table, err)
		}
		for _, item := range out.Items {
			if !matches(item, match) {
				continue
			}
			key := map[string]types.AttributeValue{"PK": item["PK"], "SK": item["SK"]}
			if _, err := c.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(table), Key: key}); err != nil {
				return n, fmt.Errorf("delete items of %s: %w", table, err)
			}
			n++
		}
		if len(out.LastEvaluatedKey) == 0 {
			return n, nil
		}
		start = out.LastEvaluatedKey
	}
}

// Dump returns every item of table as text, one item per line (for tests
// that check what the table holds, such as no personal data in clear).
func (e *Emulator) Dump(ctx context.Context, table string) (string, error) {
	var b strings.Builder
	p := dynamodb.NewScanPaginator(e.Client(), &dynamodb.ScanInput{TableName: aws.String(table)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return "", fmt.Errorf("dynamotest: scan %s: %w", table, err)
		}
		for _, item := range page.Items {
			var m map[string]any
			if err := attributevalue.UnmarshalMap(item, &m); err != nil {
				return "", fmt.Errorf("dynamotest: scan %s: %w", table, err)
			}
			fmt.Fprintln(&b, m)
		}
	}
	return b.String(), nil
}
