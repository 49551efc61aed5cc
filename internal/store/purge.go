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

	"dsrflow/internal/dsr"
)

// The purge index lists closed requests whose personal data is not purged
// yet: GSI2 partition PURGE, sorted by the time the request closed. A
// request enters it when it reaches a terminal status (the same write that
// takes it out of OPEN) and leaves it when PurgePersonal records the purge;
// newRequestItem derives both from the request. The reconciler reads it to
// purge what the workflow's Purge step missed, without a scan.
//
// Requests closed before the index existed are not in it:
// BackfillPurgeIndex puts them there, one bounded Scan page at a time,
// once for the life of the table (its progress is the sweep item).

// closedSince is the time a closed request is sorted by in the purge index:
// ClosedAt, or UpdatedAt for a request without one (closed before ClosedAt
// was recorded, or stored closed): a closed request is not updated again
// before its purge.
func closedSince(r *dsr.Request) time.Time {
	if r.ClosedAt != nil {
		return *r.ClosedAt
	}
	return r.UpdatedAt
}

// purgeSort is a closed request's GSI2 sort key in the purge index.
func purgeSort(r *dsr.Request) string {
	return closedSince(r).UTC().Format(keyTime) + "#" + r.ID
}

// UnpurgedPage is one page of ListUnpurged.
type UnpurgedPage struct {
	Requests []dsr.Request
	// Next is the cursor of the following page; empty on the last page.
	Next string
}

// ListUnpurged lists closed requests whose personal data is not purged and
// that closed strictly before closedBefore, the earliest closed first, at
// most limit per page; pass the previous page's Next as cursor to continue
// (empty for the first page). It queries the purge index (GSI2 PURGE) and
// re-reads the requests, so one purged since the index was written is left
// out; a page may then hold fewer than limit requests while Next is not
// empty.
func (s *Store) ListUnpurged(ctx context.Context, closedBefore time.Time, limit int, cursor string) (UnpurgedPage, error) {
	if limit <= 0 {
		return UnpurgedPage{}, fmt.Errorf("list unpurged requests: limit %d, want > 0", limit)
	}
	start, err := decodePurgeCursor(cursor)
	if err != nil {
		return UnpurgedPage{}, fmt.Errorf("list unpurged requests: %w", err)
	}
	kc := expression.Key(attrGSI2PK).Equal(expression.Value(purgePK)).
		And(expression.Key(attrGSI2SK).LessThan(expression.Value(closedBefore.UTC().Format(keyTime))))
	expr, err := expression.NewBuilder().WithKeyCondition(kc).Build()
	if err != nil {
		return UnpurgedPage{}, fmt.Errorf("list unpurged requests: %w", err)
	}
	out, err := s.db.Query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		IndexName:                 aws.String(gsiOpen),
		KeyConditionExpression:    expr.KeyCondition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		Limit:                     aws.Int32(int32(min(limit, 1<<30))),
		ExclusiveStartKey:         start,
	})
	if err != nil {
		return UnpurgedPage{}, fmt.Errorf("list unpurged requests: %w", callErr("Query", err))
	}
	ids, err := requestIDs(out.Items)
	if err != nil {
		return UnpurgedPage{}, fmt.Errorf("list unpurged requests: %w", err)
	}
	found, err := s.getRequests(ctx, ids)
	if err != nil {
		return UnpurgedPage{}, fmt.Errorf("list unpurged requests: %w", err)
	}
	var page UnpurgedPage
	for _, id := range ids {
		r, ok := found[id]
		if ok && r.Status.Terminal() && r.PersonalPurgedAt == nil && closedSince(r).Before(closedBefore) {
			page.Requests = append(page.Requests, *r)
		}
	}
	if len(out.LastEvaluatedKey) > 0 {
		if page.Next, err = encodeCursor(out.LastEvaluatedKey); err != nil {
			return UnpurgedPage{}, fmt.Errorf("list unpurged requests: %w", err)
		}
	}
	return page, nil
}

// decodePurgeCursor reads a cursor ListUnpurged issued; anything else
// (including a ListOpenByDue cursor) is ErrBadCursor.
func decodePurgeCursor(c string) (map[string]types.AttributeValue, error) {
	return decodeKey(c, func(k cursorKey) bool {
		return k.GSI2PK == purgePK && strings.HasPrefix(k.PK, pkPrefix) && k.SK == skRequest && k.GSI2SK != ""
	})
}

// sweepPurgeIndex names the sweep item of BackfillPurgeIndex.
const sweepPurgeIndex = "purge-index"

// sweepItem records how far a one-time sweep of the table got
// (SWEEP#<name> / SWEEP).
type sweepItem struct {
	PK string `dynamodbav:"PK"`
	SK string `dynamodbav:"SK"`
	// Cursor is where the next page starts; empty before the first.
	Cursor    string    `dynamodbav:"cursor,omitempty"`
	Done      bool      `dynamodbav:"done"`
	Scanned   int       `dynamodbav:"scanned"`
	Indexed   int       `dynamodbav:"indexed"`
	UpdatedAt time.Time `dynamodbav:"updatedAt"`
}

// Backfill is what one step of BackfillPurgeIndex did.
type Backfill struct {
	// Scanned and Indexed count the items this step read and the requests
	// it put in the purge index.
	Scanned int `json:"scanned"`
	Indexed int `json:"indexed"`
	// Done is true once the whole table has been swept (by this step or
	// an earlier one); every later step only reads the sweep item.
	Done bool `json:"done"`
}

// BackfillPurgeIndex takes one step of the one-time sweep that puts
// requests closed before the purge index existed into it: one Scan page of
// at most readLimit items from where the last step stopped, then the
// progress is saved on the sweep item. Requests that closed since are
// indexed as they close, so one pass over the table is enough. Running
// steps concurrently is harmless (an item may be read twice; indexing is a
// conditional write).
func (s *Store) BackfillPurgeIndex(ctx context.Context, readLimit int) (Backfill, error) {
	if readLimit <= 0 {
		return Backfill{}, fmt.Errorf("backfill purge index: read limit %d, want > 0", readLimit)
	}
	pk := sweepPKPrefix + sweepPurgeIndex
	var sw sweepItem
	if _, err := s.getItem(ctx, pk, skSweep, &sw); err != nil {
		return Backfill{}, fmt.Errorf("backfill purge index: %w", err)
	}
	if sw.Done {
		return Backfill{Done: true}, nil
	}
	start, err := decodeScanCursor(sw.Cursor)
	if err != nil {
		return Backfill{}, fmt.Errorf("backfill purge index: saved cursor: %w", err)
	}
	var terminal []expression.OperandBuilder
	for _, st := range dsr.Statuses() {
		if st.Terminal() {
			terminal = append(terminal, expression.Value(string(st)))
		}
	}
	if len(terminal) == 0 {
		return Backfill{}, errors.New("backfill purge index: no terminal status")
	}
	filter := expression.Name(attrSK).Equal(expression.Value(skRequest)).
		And(expression.Name("status").In(terminal[0], terminal[1:]...)).
		And(expression.AttributeNotExists(expression.Name("personalPurgedAt"))).
		And(expression.AttributeNotExists(expression.Name(attrGSI2PK)))
	proj := expression.NamesList(expression.Name("id"), expression.Name("status"), expression.Name("closedAt"),
		expression.Name("updatedAt"), expression.Name("createdAt"))
	expr, err := expression.NewBuilder().WithFilter(filter).WithProjection(proj).Build()
	if err != nil {
		return Backfill{}, fmt.Errorf("backfill purge index: %w", err)
	}
	out, err := s.db.Scan(ctx, &dynamodb.ScanInput{
		TableName:                 aws.String(s.table),
		FilterExpression:          expr.Filter(),
		ProjectionExpression:      expr.Projection(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		ExclusiveStartKey:         start,
		Limit:                     aws.Int32(int32(min(readLimit, 1<<30))),
	})
	if err != nil {
		return Backfill{}, fmt.Errorf("backfill purge index: %w", callErr("Scan", err))
	}
	var reqs []dsr.Request
	if err := attributevalue.UnmarshalListOfMaps(out.Items, &reqs); err != nil {
		return Backfill{}, fmt.Errorf("backfill purge index: %w", err)
	}
	step := Backfill{Scanned: int(out.ScannedCount)}
	for i := range reqs {
		indexed, err := s.indexUnpurged(ctx, &reqs[i])
		if err != nil {
			return step, fmt.Errorf("backfill purge index: %w", err)
		}
		if indexed {
			step.Indexed++
		}
	}
	sw = sweepItem{PK: pk, SK: skSweep, Scanned: sw.Scanned + step.Scanned, Indexed: sw.Indexed + step.Indexed, UpdatedAt: s.now()}
	if len(out.LastEvaluatedKey) > 0 {
		if sw.Cursor, err = encodeScanCursor(out.LastEvaluatedKey); err != nil {
			return step, fmt.Errorf("backfill purge index: %w", err)
		}
	} else {
		sw.Done = true
	}
	if err := s.putItem(ctx, sw); err != nil {
		return step, fmt.Errorf("backfill purge index: save progress: %w", err)
	}
	step.Done = sw.Done
	return step, nil
}

// indexUnpurged puts closed request r in the purge index, unless it is in
// a GSI2 partition already or its personal data was purged since it was
// read; indexed is false then.
func (s *Store) indexUnpurged(ctx context.Context, r *dsr.Request) (indexed bool, err error) {
	key, err := keyOf(requestPK(r.ID), skRequest)
	if err != nil {
		return false, err
	}
	cond := expression.AttributeExists(expression.Name(attrPK)).
		And(expression.AttributeNotExists(expression.Name(attrGSI2PK))).
		And(expression.AttributeNotExists(expression.Name("personalPurgedAt")))
	upd := expression.Set(expression.Name(attrGSI2PK), expression.Value(purgePK)).
		Set(expression.Name(attrGSI2SK), expression.Value(purgeSort(r)))
	expr, err := expression.NewBuilder().WithCondition(cond).WithUpdate(upd).Build()
	if err != nil {
		return false, err
	}
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       key,
		ConditionExpression:       expr.Condition(),
		UpdateExpression:          expr.Update(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	})
	if isConditionFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("index request %s: %w", r.ID, callErr("UpdateItem", err))
	}
	return true, nil
}

// legacyPersonalAttrs are the request item's attributes that held personal
// data before it moved to the personal item (the requester's contact, an
// account ID, free text, corrections). A request stored then still carries
// them; PurgePersonal removes them.
var legacyPersonalAttrs = []string{"contact", "accountId", "details", "corrections"}

// removeLegacyPersonal removes legacyPersonalAttrs from request id's item
// when it has any; raw is the item as read.
func (s *Store) removeLegacyPersonal(ctx context.Context, id string, raw map[string]types.AttributeValue) error {
	var upd expression.UpdateBuilder
	n := 0
	for _, a := range legacyPersonalAttrs {
		if _, ok := raw[a]; ok {
			upd = upd.Remove(expression.Name(a))
			n++
		}
	}
	if n == 0 {
		return nil
	}
	expr, err := expression.NewBuilder().WithCondition(expression.AttributeExists(expression.Name(attrPK))).WithUpdate(upd).Build()
	if err != nil {
		return err
	}
	key, err := keyOf(requestPK(id), skRequest)
	if err != nil {
		return err
	}
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       key,
		ConditionExpression:       expr.Condition(),
		UpdateExpression:          expr.Update(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	})
	if isConditionFailed(err) {
		return fmt.Errorf("request %s: %w", id, ErrNotFound)
	}
	return callErr("UpdateItem", err)
}
