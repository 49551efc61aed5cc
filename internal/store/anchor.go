package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// Audit anchors (internal/anchor) copy the heads of the audit chains out of
// the table, to a place the table's writers cannot rewrite. To find the
// chains that changed since they were last anchored without a scan, the
// request item carries GSI1 keys while its chain has events no anchor has
// seen yet:
//
//	GSI1PK = AUDIT#UNANCHORED, GSI1SK = <request ID>
//
// AppendEvent sets them in the write that records the new chain head
// (recordHead), and MarkAnchored removes them once an anchor holds that head,
// unless the chain has grown since. So the position of the last anchor is
// kept per request, by its membership of that index partition, and needs no
// global cursor, no clock and no lock: a chain that grows while it is being
// anchored stays in the partition for the next anchor. The request item
// carries no other GSI1 key (subject keys have items of their own).
//
// MarkAnchored also notes the anchored event on the request
// (auditAnchoredSeq): BackfillUnanchored uses it to tell chains never
// anchored (written before anchors existed) from chains anchored since.
//
// The partition takes a write when a chain first changes after an anchor and
// when it is anchored; a partition key value takes about 1,000 writes per
// second, far more than requests produce.

// UnanchoredPage is one page of UnanchoredChains.
type UnanchoredPage struct {
	// IDs are request IDs, in ID order.
	IDs []string
	// Next is the cursor of the following page; empty on the last page.
	Next string
}

// UnanchoredChains lists the requests whose audit chain changed since it was
// last anchored (MarkAnchored), at most limit per page, through GSI1: no
// scan. Pass the previous page's Next as cursor to continue (empty for the
// first page). The index is eventually consistent: a chain anchored a moment
// ago may still be listed, and one changed a moment ago may not be yet.
func (s *Store) UnanchoredChains(ctx context.Context, limit int, cursor string) (UnanchoredPage, error) {
	if limit <= 0 {
		return UnanchoredPage{}, fmt.Errorf("list unanchored chains: limit %d, want > 0", limit)
	}
	start, err := decodeKey(cursor, func(k unanchoredCursor) bool {
		return k.GSI1PK == unanchoredPK && strings.HasPrefix(k.PK, pkPrefix) && k.SK == skRequest && k.GSI1SK != ""
	})
	if err != nil {
		return UnanchoredPage{}, fmt.Errorf("list unanchored chains: %w", err)
	}
	kc := expression.Key(attrGSI1PK).Equal(expression.Value(unanchoredPK))
	expr, err := expression.NewBuilder().WithKeyCondition(kc).Build()
	if err != nil {
		return UnanchoredPage{}, fmt.Errorf("list unanchored chains: %w", err)
	}
	out, err := s.db.Query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		IndexName:                 aws.String(gsiSubject),
		KeyConditionExpression:    expr.KeyCondition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		Limit:                     aws.Int32(int32(min(limit, 1<<30))),
		ExclusiveStartKey:         start,
	})
	if err != nil {
		return UnanchoredPage{}, fmt.Errorf("list unanchored chains: %w", callErr("Query", err))
	}
	var page UnanchoredPage
	if page.IDs, err = requestIDs(out.Items); err != nil {
		return UnanchoredPage{}, fmt.Errorf("list unanchored chains: %w", err)
	}
	if len(out.LastEvaluatedKey) > 0 {
		if page.Next, err = encodeKey[unanchoredCursor](out.LastEvaluatedKey); err != nil {
			return UnanchoredPage{}, fmt.Errorf("list unanchored chains: %w", err)
		}
	}
	return page, nil
}

// unanchoredCursor is the last evaluated key of an UnanchoredChains query.
type unanchoredCursor struct {
	PK     string `dynamodbav:"PK" json:"pk"`
	SK     string `dynamodbav:"SK" json:"sk"`
	GSI1PK string `dynamodbav:"GSI1PK" json:"gpk"`
	GSI1SK string `dynamodbav:"GSI1SK" json:"gsk"`
}

// MarkAnchored records that an anchor holds request id's audit chain up to
// event seq: the request leaves the index of UnanchoredChains and notes seq
// (auditAnchoredSeq), unless the head recorded on it is already past seq
// (the chain grew while it was being anchored; the next anchor takes it). A
// request that does not exist is no error: there is nothing left to mark.
func (s *Store) MarkAnchored(ctx context.Context, id string, seq int) error {
	cond := expression.AttributeExists(expression.Name(attrPK)).And(
		expression.Or(
			expression.AttributeNotExists(expression.Name("auditSeq")),
			expression.Name("auditSeq").LessThanEqual(expression.Value(seq)),
		))
	upd := expression.Remove(expression.Name(attrGSI1PK)).Remove(expression.Name(attrGSI1SK)).
		Set(expression.Name(attrAnchoredSeq), expression.Value(seq))
	expr, err := expression.NewBuilder().WithCondition(cond).WithUpdate(upd).Build()
	if err != nil {
		return fmt.Errorf("mark chain of %s anchored: %w", id, err)
	}
	key, err := keyOf(requestPK(id), skRequest)
	if err != nil {
		return fmt.Errorf("mark chain of %s anchored: %w", id, err)
	}
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       key,
		ConditionExpression:       expr.Condition(),
		UpdateExpression:          expr.Update(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	})
	if err == nil || isConditionFailed(err) {
		return nil
	}
	return fmt.Errorf("mark chain of %s anchored: %w", id, callErr("UpdateItem", err))
}

// attrAnchoredSeq is the last anchored event noted on the request item.
const attrAnchoredSeq = "auditAnchoredSeq"

// BackfillPage is one page of BackfillUnanchored.
type BackfillPage struct {
	// Marked counts the requests put into the index.
	Marked int
	// Scanned counts the items the page read, requests or not.
	Scanned int
	// Next is the cursor of the following page; empty on the last page.
	Next string
}

// BackfillUnanchored puts into the index of UnanchoredChains every request
// of one Scan page whose audit chain has events but was never anchored:
// chains written before anchors existed, which no new event would bring to
// the index. Pass the previous page's Next as cursor to continue; readLimit
// bounds the items a page reads (0: DynamoDB's 1 MB). It is a Scan of the
// whole table, for once after anchors are introduced; running it again
// marks only what is still never anchored.
func (s *Store) BackfillUnanchored(ctx context.Context, cursor string, readLimit int) (BackfillPage, error) {
	if readLimit < 0 {
		return BackfillPage{}, fmt.Errorf("backfill unanchored chains: read limit %d, want >= 0", readLimit)
	}
	start, err := decodeScanCursor(cursor)
	if err != nil {
		return BackfillPage{}, fmt.Errorf("backfill unanchored chains: %w", err)
	}
	filter := expression.Name(attrSK).Equal(expression.Value(skRequest)).
		And(expression.AttributeExists(expression.Name("auditSeq"))).
		And(expression.AttributeNotExists(expression.Name(attrAnchoredSeq))).
		And(expression.AttributeNotExists(expression.Name(attrGSI1PK)))
	expr, err := expression.NewBuilder().WithFilter(filter).
		WithProjection(expression.NamesList(expression.Name(attrPK), expression.Name(attrSK))).Build()
	if err != nil {
		return BackfillPage{}, fmt.Errorf("backfill unanchored chains: %w", err)
	}
	in := &dynamodb.ScanInput{
		TableName:                 aws.String(s.table),
		FilterExpression:          expr.Filter(),
		ProjectionExpression:      expr.Projection(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		ExclusiveStartKey:         start,
	}
	if readLimit > 0 {
		in.Limit = aws.Int32(int32(min(readLimit, 1<<30)))
	}
	out, err := s.db.Scan(ctx, in)
	if err != nil {
		return BackfillPage{}, fmt.Errorf("backfill unanchored chains: %w", callErr("Scan", err))
	}
	page := BackfillPage{Scanned: int(out.ScannedCount)}
	ids, err := requestIDs(out.Items)
	if err != nil {
		return BackfillPage{}, fmt.Errorf("backfill unanchored chains: %w", err)
	}
	cond := expression.AttributeExists(expression.Name(attrPK)).
		And(expression.AttributeNotExists(expression.Name(attrAnchoredSeq))).
		And(expression.AttributeNotExists(expression.Name(attrGSI1PK)))
	for _, id := range ids {
		upd := expression.Set(expression.Name(attrGSI1PK), expression.Value(unanchoredPK)).
			Set(expression.Name(attrGSI1SK), expression.Value(id))
		ue, err := expression.NewBuilder().WithCondition(cond).WithUpdate(upd).Build()
		if err != nil {
			return page, fmt.Errorf("backfill unanchored chains: %w", err)
		}
		key, err := keyOf(requestPK(id), skRequest)
		if err != nil {
			return page, fmt.Errorf("backfill unanchored chains: %w", err)
		}
		_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 aws.String(s.table),
			Key:                       key,
			ConditionExpression:       ue.Condition(),
			UpdateExpression:          ue.Update(),
			ExpressionAttributeNames:  ue.Names(),
			ExpressionAttributeValues: ue.Values(),
		})
		if isConditionFailed(err) {
			continue // marked or anchored meanwhile
		}
		if err != nil {
			return page, fmt.Errorf("backfill unanchored chains: %s: %w", id, callErr("UpdateItem", err))
		}
		page.Marked++
	}
	if len(out.LastEvaluatedKey) > 0 {
		if page.Next, err = encodeScanCursor(out.LastEvaluatedKey); err != nil {
			return page, fmt.Errorf("backfill unanchored chains: %w", err)
		}
	}
	return page, nil
}
