package legalhold

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"dsrflow/internal/dsr"
)

// Reasons lists the refusal reasons a hold may give: legal_hold (a duty to
// keep the data) and the legal grounds of policy 五.5 (1)–(5). The other
// reasons (identity, duplicates, repetition, ...) are about one request, not
// about a subject, and have no place on the list.
func Reasons() []dsr.RefusalReason {
	out := []dsr.RefusalReason{dsr.RefusalLegalHold}
	for _, r := range dsr.RefusalReasons() {
		if r.Category() == dsr.RefusalLegal {
			out = append(out, r)
		}
	}
	return out
}

// ReasonFits reports whether r is one of Reasons.
func ReasonFits(r dsr.RefusalReason) bool { return slices.Contains(Reasons(), r) }

// Scanner is the DynamoDB call All makes (operators only; the workflow looks
// holds up by key).
type Scanner interface {
	Scan(ctx context.Context, in *dynamodb.ScanInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
}

// All returns every hold in table, oldest first (then by subject key).
//
// Holds have no index of their own, so All scans the whole table, every page,
// and keeps the HOLD#… items: it reads every request, event and partner item
// too (half a read capacity unit per 4 KB read), however few holds there are.
// That is an operator's occasional listing (`dsr hold list`), never a
// handler's path.
func All(ctx context.Context, db Scanner, table string) ([]Hold, error) {
	filter := expression.Name("PK").BeginsWith("HOLD#").And(expression.Name("SK").Equal(expression.Value("HOLD")))
	expr, err := expression.NewBuilder().WithFilter(filter).Build()
	if err != nil {
		return nil, fmt.Errorf("list legal holds: %w", err)
	}
	p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{
		TableName:                 aws.String(table),
		FilterExpression:          expr.Filter(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	})
	holds := []Hold{}
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list legal holds: %w", err)
		}
		var page []Hold
		if err := attributevalue.UnmarshalListOfMaps(out.Items, &page); err != nil {
			return nil, fmt.Errorf("list legal holds: %w", err)
		}
		holds = append(holds, page...)
	}
	slices.SortFunc(holds, func(a, b Hold) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.SubjectKey, b.SubjectKey))
	})
	return holds, nil
}

// Lift removes the hold on subjectKey and returns the hold it removed, or
// nil when there was none (Remove, but telling the operator which).
func (l *List) Lift(ctx context.Context, subjectKey string) (*Hold, error) {
	out, err := l.DB.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:    aws.String(l.Table),
		Key:          key(subjectKey),
		ReturnValues: dbtypes.ReturnValueAllOld,
	})
	if err != nil {
		return nil, fmt.Errorf("remove legal hold: %w", err)
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
