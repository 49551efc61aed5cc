package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"dsrflow/internal/dsr"
)

// StatusQuery asks ScanByStatus for one page.
type StatusQuery struct {
	// Statuses are the statuses wanted (at least one).
	Statuses []dsr.Status
	// Cursor is the previous page's Next; empty for the first page.
	Cursor string
	// ReadLimit bounds the items the page reads, matching or not (the
	// Scan's Limit); 0 reads up to DynamoDB's 1 MB per page.
	ReadLimit int
}

// StatusPage is one page of ScanByStatus.
type StatusPage struct {
	// Requests hold only the summary attributes (see ScanByStatus).
	Requests []dsr.Request
	// Next is the cursor of the following page; empty on the last page.
	Next string
	// Scanned counts the items the page read, matching or not: what the
	// page cost, since a Scan filter is applied after the read.
	Scanned int
	// CapacityUnits is the read capacity the page consumed, as DynamoDB
	// reported it (0 when it did not).
	CapacityUnits float64
}

// summaryAttributes are the request attributes ScanByStatus reads. None of
// them is personal data: the contact, account ID, details and corrections are
// never read.
var summaryAttributes = []string{
	"id", "kind", "status", "channel", "role", "locale", "erasureGround",
	"createdAt", "updatedAt", "verifiedAt", "dueAt", "closedAt", "executionStarted",
	"linkedRequestId", "refusalReason", "version",
}

// ScanByStatus lists the requests of table whose status is one of
// q.Statuses, one Scan page per call, in no particular order; pass the
// previous page's Next as q.Cursor to continue.
//
// It answers what the open-by-due index (ListOpenByDue) cannot: closed
// requests (completed, refused, expired, duplicate) and open ones without a
// due date yet (received, awaiting_verification, and in_review before the
// review sets it). The price is a Scan: every page reads every item in its
// range, requests or not (audit events, partner tasks, subject index items),
// and the filter only drops them afterwards. A pass over the whole table
// costs half a read capacity unit per 4 KB of table read (eventually
// consistent reads), however few requests match. That suits an operator's occasional question, not a handler.
//
// Requests are projected to their summary attributes: ID, kind, status,
// channel, role, locale, erasure ground, times, execution flag, linked
// request, refusal reason and version. Everything else (keys, purposes) is
// left empty.
func (s *Store) ScanByStatus(ctx context.Context, q StatusQuery) (StatusPage, error) {
	if len(q.Statuses) == 0 {
		return StatusPage{}, errors.New("scan requests by status: no status given")
	}
	var values []expression.OperandBuilder
	if q.ReadLimit < 0 {
		return StatusPage{}, fmt.Errorf("scan requests by status: read limit %d, want >= 0", q.ReadLimit)
	}
	for _, st := range q.Statuses {
		if !st.Valid() {
			return StatusPage{}, fmt.Errorf("scan requests by status: unknown status %q", st)
		}
		values = append(values, expression.Value(string(st)))
	}
	start, err := decodeScanCursor(q.Cursor)
	if err != nil {
		return StatusPage{}, fmt.Errorf("scan requests by status: %w", err)
	}
	filter := expression.Name(attrSK).Equal(expression.Value(skRequest)).
		And(expression.Name("status").In(values[0], values[1:]...))
	proj := expression.NamesList(expression.Name(summaryAttributes[0]))
	for _, a := range summaryAttributes[1:] {
		proj = proj.AddNames(expression.Name(a))
	}
	expr, err := expression.NewBuilder().WithFilter(filter).WithProjection(proj).Build()
	if err != nil {
		return StatusPage{}, fmt.Errorf("scan requests by status: %w", err)
	}
	in := &dynamodb.ScanInput{
		TableName:                 aws.String(s.table),
		FilterExpression:          expr.Filter(),
		ProjectionExpression:      expr.Projection(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		ExclusiveStartKey:         start,
		ReturnConsumedCapacity:    types.ReturnConsumedCapacityTotal,
	}
	if q.ReadLimit > 0 {
		in.Limit = aws.Int32(int32(min(q.ReadLimit, 1<<30)))
	}
	out, err := s.db.Scan(ctx, in)
	if err != nil {
		return StatusPage{}, fmt.Errorf("scan requests by status: %w", callErr("Scan", err))
	}
	page := StatusPage{Scanned: int(out.ScannedCount)}
	if out.ConsumedCapacity != nil {
		page.CapacityUnits = aws.ToFloat64(out.ConsumedCapacity.CapacityUnits)
	}
	if err := attributevalue.UnmarshalListOfMaps(out.Items, &page.Requests); err != nil {
		return StatusPage{}, fmt.Errorf("scan requests by status: %w", err)
	}
	if len(out.LastEvaluatedKey) > 0 {
		if page.Next, err = encodeScanCursor(out.LastEvaluatedKey); err != nil {
			return StatusPage{}, fmt.Errorf("scan requests by status: %w", err)
		}
	}
	return page, nil
}

// scanCursor is the last evaluated key of a table Scan.
type scanCursor struct {
	PK string `dynamodbav:"PK" json:"pk"`
	SK string `dynamodbav:"SK" json:"sk"`
}

func encodeScanCursor(lek map[string]types.AttributeValue) (string, error) {
	return encodeKey[scanCursor](lek)
}

// decodeScanCursor reads a cursor ScanByStatus issued; anything else
// (including a ListOpenByDue cursor) is ErrBadCursor.
func decodeScanCursor(c string) (map[string]types.AttributeValue, error) {
	return decodeKey(c, func(k scanCursor) bool { return k.PK != "" && k.SK != "" })
}
