package store

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"dsrflow/internal/dsr"
)

// requestItem is a request as stored: the request's own attributes plus keys.
type requestItem struct {
	PK string `dynamodbav:"PK"`
	SK string `dynamodbav:"SK"`
	// GSI2 keys are set while the request is open (partition OPEN, by due
	// date) and once it closed until its personal data is purged (PURGE, by
	// closing time).
	GSI2PK string `dynamodbav:"GSI2PK,omitempty"`
	GSI2SK string `dynamodbav:"GSI2SK,omitempty"`
	dsr.Request
}

func newRequestItem(r *dsr.Request) requestItem {
	it := requestItem{PK: requestPK(r.ID), SK: skRequest, Request: *r}
	switch {
	case r.Status.Open():
		it.GSI2PK = openPK
		if r.DueAt != nil {
			it.GSI2SK = r.DueAt.UTC().Format(keyTime) + "#" + r.ID
		} else {
			it.GSI2SK = noDueSort + r.CreatedAt.UTC().Format(keyTime) + "#" + r.ID
		}
	case r.Status.Terminal() && r.PersonalPurgedAt == nil:
		it.GSI2PK, it.GSI2SK = purgePK, purgeSort(r)
	}
	return it
}

// subjectItem links a subject or hint key to a request (GSI1).
type subjectItem struct {
	PK     string `dynamodbav:"PK"`
	SK     string `dynamodbav:"SK"`
	GSI1PK string `dynamodbav:"GSI1PK"`
	GSI1SK string `dynamodbav:"GSI1SK"`
	// RequestID is the request the subject key belongs to.
	RequestID string `dynamodbav:"requestId"`
}

// CreateRequest stores a new request with a conditional put, then its
// personal data p (if not nil) on its own item and its hint index items.
// ID, Kind and Status must be set; CreatedAt defaults to now; UpdatedAt is
// set to CreatedAt and Version to 1. SubjectKeys (verified keys) may be set
// when the request is verified at intake (an in-app login).
//
// When a request with the same ID exists, CreateRequest returns the stored
// request and duplicate=true, not an error: IDs derive from natural keys (a
// Message-ID, a form's idempotency key), so a repeat is the same request.
//
// The personal item and the index items are written after the request,
// idempotently. If that fails, CreateRequest returns the error; calling it
// again repairs them (the personal item of a request that exists is not
// replaced).
func (s *Store) CreateRequest(ctx context.Context, r *dsr.Request, p *dsr.Personal) (stored *dsr.Request, duplicate bool, err error) {
	if r == nil || r.ID == "" {
		return nil, false, errors.New("create request: empty request ID")
	}
	if !r.Status.Valid() {
		return nil, false, fmt.Errorf("create request %s: unknown status %q", r.ID, r.Status)
	}
	if r.Kind == "" {
		return nil, false, fmt.Errorf("create request %s: empty kind", r.ID)
	}
	if slices.Contains(r.SubjectKeys, "") || slices.Contains(r.HintKeys, "") {
		return nil, false, fmt.Errorf("create request %s: empty subject or hint key", r.ID)
	}
	req := *r
	if req.CreatedAt.IsZero() {
		req.CreatedAt = s.now()
	}
	req.CreatedAt = req.CreatedAt.UTC()
	req.UpdatedAt = req.CreatedAt
	req.Version = 1

	item, err := attributevalue.MarshalMap(newRequestItem(&req))
	if err != nil {
		return nil, false, fmt.Errorf("create request %s: %w", req.ID, err)
	}
	cond := expression.AttributeNotExists(expression.Name(attrPK))
	expr, err := expression.NewBuilder().WithCondition(cond).Build()
	if err != nil {
		return nil, false, fmt.Errorf("create request %s: %w", req.ID, err)
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                 aws.String(s.table),
		Item:                      item,
		ConditionExpression:       expr.Condition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	})
	switch {
	case isConditionFailed(err):
		existing, gerr := s.GetRequest(ctx, req.ID)
		if gerr != nil {
			return nil, false, fmt.Errorf("create request %s: exists, but: %w", req.ID, gerr)
		}
		if err := s.completeCreate(ctx, existing, p); err != nil {
			return nil, false, err
		}
		return existing, true, nil
	case err != nil:
		return nil, false, fmt.Errorf("create request %s: %w", req.ID, callErr("PutItem", err))
	}
	if err := s.completeCreate(ctx, &req, p); err != nil {
		return nil, false, err
	}
	return &req, false, nil
}

// completeCreate writes what goes with a new request: its personal item
// (only if there is none yet, so that a repeated create never overwrites
// amended data) and its index items.
func (s *Store) completeCreate(ctx context.Context, r *dsr.Request, p *dsr.Personal) error {
	if p != nil && r.PersonalPurgedAt == nil {
		if _, err := s.putNew(ctx, personalItem{PK: requestPK(r.ID), SK: skPersonal, Personal: *p, Version: 1}); err != nil {
			return fmt.Errorf("create request %s: personal data: %w", r.ID, err)
		}
	}
	if err := s.putIndex(ctx, r, skHintPrefix, r.HintKeys); err != nil {
		return err
	}
	return s.putIndex(ctx, r, skSubjPrefix, r.SubjectKeys)
}

// putIndex writes one index item per key, under prefix (SUBJ# or HINT#).
// The items depend only on facts that never change (ID, key, creation time),
// so writing them again is harmless.
func (s *Store) putIndex(ctx context.Context, r *dsr.Request, prefix string, keys []string) error {
	sortKey := r.CreatedAt.UTC().Format(keyTime) + "#" + r.ID
	for i, key := range keys {
		item := subjectItem{PK: requestPK(r.ID), SK: prefix + key, GSI1PK: prefix + key, GSI1SK: sortKey, RequestID: r.ID}
		if err := s.putItem(ctx, item); err != nil {
			return fmt.Errorf("index request %s key %d: %w", r.ID, i, err)
		}
	}
	return nil
}

// AddSubjectKeys adds verified subject keys to request id (those it does not
// carry yet) and indexes them. Keys are only ever added: a verified
// identifier stays verified.
func (s *Store) AddSubjectKeys(ctx context.Context, id string, keys []string) (*dsr.Request, error) {
	if slices.Contains(keys, "") {
		return nil, fmt.Errorf("add subject keys to %s: empty key", id)
	}
	for range 8 {
		r, err := s.GetRequest(ctx, id)
		if err != nil {
			return nil, err
		}
		var add []string
		for _, k := range keys {
			if !slices.Contains(r.SubjectKeys, k) && !slices.Contains(add, k) {
				add = append(add, k)
			}
		}
		if len(add) == 0 {
			return r, s.putIndex(ctx, r, skSubjPrefix, r.SubjectKeys)
		}
		nr, err := s.update(ctx, id, r.Version, nil, "", func(n *dsr.Request) {}, keyAdd{subject: add})
		var ce *ConflictError
		if errors.As(err, &ce) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("add subject keys to %s: %w", id, err)
		}
		return nr, s.putIndex(ctx, nr, skSubjPrefix, nr.SubjectKeys)
	}
	return nil, fmt.Errorf("add subject keys to %s: %w", id, ErrContention)
}

// AddHintKeys adds hint keys to request id (those it does not carry yet)
// and indexes them: an operator amended the identifiers typed for the
// subject, and a search by the new ones must find the request. Hint keys
// are only ever added; a key of an identifier that was amended away stays
// searchable, and decides nothing (FindByHint).
func (s *Store) AddHintKeys(ctx context.Context, id string, keys []string) (*dsr.Request, error) {
	if slices.Contains(keys, "") {
		return nil, fmt.Errorf("add hint keys to %s: empty key", id)
	}
	for range 8 {
		r, err := s.GetRequest(ctx, id)
		if err != nil {
			return nil, err
		}
		var add []string
		for _, k := range keys {
			if !slices.Contains(r.HintKeys, k) && !slices.Contains(add, k) {
				add = append(add, k)
			}
		}
		if len(add) == 0 {
			return r, s.putIndex(ctx, r, skHintPrefix, r.HintKeys)
		}
		nr, err := s.update(ctx, id, r.Version, nil, "", func(n *dsr.Request) {}, keyAdd{hint: add})
		var ce *ConflictError
		if errors.As(err, &ce) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("add hint keys to %s: %w", id, err)
		}
		return nr, s.putIndex(ctx, nr, skHintPrefix, nr.HintKeys)
	}
	return nil, fmt.Errorf("add hint keys to %s: %w", id, ErrContention)
}

// GetRequest reads a request (strongly consistent). A missing request is
// ErrNotFound.
func (s *Store) GetRequest(ctx context.Context, id string) (*dsr.Request, error) {
	r, _, err := s.getRequest(ctx, id)
	return r, err
}

func (s *Store) getRequest(ctx context.Context, id string) (*dsr.Request, map[string]types.AttributeValue, error) {
	key, err := keyOf(requestPK(id), skRequest)
	if err != nil {
		return nil, nil, fmt.Errorf("load request %s: %w", id, err)
	}
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            key,
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, nil, fmt.Errorf("load request %s: %w", id, callErr("GetItem", err))
	}
	if out.Item == nil {
		return nil, nil, fmt.Errorf("load request %s: %w", id, ErrNotFound)
	}
	var it requestItem
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return nil, nil, fmt.Errorf("load request %s: %w", id, err)
	}
	return &it.Request, out.Item, nil
}

// TransitionStatus moves a request from status from to status to, if the
// request is still in status from at version expectedVersion and the move is
// allowed (CanTransition, by default dsr.Transition, whose *dsr.TransitionError
// is returned for a forbidden move). mutate, if not nil, may change other
// fields in the same write (e.g. RefusalReason, LinkedRequestID); it may not
// change the ID, creation time or subject keys.
//
// The write is an UpdateItem conditioned on status and version: of two
// concurrent transitions from the same version exactly one wins, the other gets
// a *ConflictError with the request's current status and version. A missing
// request is ErrNotFound. The version goes up by one, UpdatedAt is set to now,
// and the request enters or leaves the open-by-due index (GSI2) with its status.
func (s *Store) TransitionStatus(ctx context.Context, id string, from, to dsr.Status, expectedVersion int, mutate func(*dsr.Request)) (*dsr.Request, error) {
	if err := s.canTransition(from, to); err != nil {
		return nil, fmt.Errorf("transition request %s: %w", id, err)
	}
	r, err := s.update(ctx, id, expectedVersion, &from, to, mutate, keyAdd{})
	if err != nil {
		return nil, fmt.Errorf("transition request %s %s→%s: %w", id, from, to, err)
	}
	return r, nil
}

// UpdateRequest changes fields other than the status (DueAt, VerifiedAt,
// ExecutionStarted, ...) with the same version guard as TransitionStatus:
// a stale expectedVersion is a *ConflictError. mutate may not change the
// status, ID, creation time or subject keys.
func (s *Store) UpdateRequest(ctx context.Context, id string, expectedVersion int, mutate func(*dsr.Request)) (*dsr.Request, error) {
	if mutate == nil {
		return nil, fmt.Errorf("update request %s: nothing to change", id)
	}
	r, err := s.update(ctx, id, expectedVersion, nil, "", mutate, keyAdd{})
	if err != nil {
		return nil, fmt.Errorf("update request %s: %w", id, err)
	}
	return r, nil
}

// ErrImmutable is returned (wrapped) when a mutate function changed a field
// that cannot change after creation.
var ErrImmutable = errors.New("field cannot change")

// keyAdd are keys update adds to a request: the only way keys change.
type keyAdd struct{ subject, hint []string }

func (s *Store) update(ctx context.Context, id string, expectedVersion int, from *dsr.Status, to dsr.Status, mutate func(*dsr.Request), add keyAdd) (*dsr.Request, error) {
	cur, _, err := s.getRequest(ctx, id)
	if err != nil {
		return nil, err
	}
	conflict := func(c *dsr.Request) *ConflictError {
		e := &ConflictError{ID: id, WantVersion: expectedVersion, Status: c.Status, Version: c.Version}
		if from != nil {
			e.WantStatus = *from
		}
		return e
	}
	if cur.Version != expectedVersion || (from != nil && cur.Status != *from) {
		return nil, conflict(cur)
	}

	// The stored form of the current request, taken before mutate runs: next
	// shares pointers and slices with cur, which mutate may change in place.
	oldItem, err := attributevalue.MarshalMap(newRequestItem(cur))
	if err != nil {
		return nil, err
	}
	next := *cur
	next.SubjectKeys = slices.Clone(cur.SubjectKeys)
	next.HintKeys = slices.Clone(cur.HintKeys)
	if mutate != nil {
		mutate(&next)
	}
	switch {
	case next.ID != cur.ID:
		return nil, fmt.Errorf("id: %w", ErrImmutable)
	case !next.CreatedAt.Equal(cur.CreatedAt):
		return nil, fmt.Errorf("createdAt: %w", ErrImmutable)
	case !slices.Equal(next.SubjectKeys, cur.SubjectKeys):
		return nil, fmt.Errorf("subjectKeys: %w (use AddSubjectKeys)", ErrImmutable)
	case !slices.Equal(next.HintKeys, cur.HintKeys):
		return nil, fmt.Errorf("hintKeys: %w", ErrImmutable)
	case from == nil && next.Status != cur.Status:
		return nil, fmt.Errorf("status: %w (use TransitionStatus)", ErrImmutable)
	}
	next.SubjectKeys = append(next.SubjectKeys, add.subject...)
	next.HintKeys = append(next.HintKeys, add.hint...)
	next.Version = cur.Version + 1
	next.UpdatedAt = s.now()
	if from != nil {
		next.Status = to
		if to.Terminal() && next.ClosedAt == nil {
			closed := next.UpdatedAt
			next.ClosedAt = &closed
		}
	}

	newItem, err := attributevalue.MarshalMap(newRequestItem(&next))
	if err != nil {
		return nil, err
	}
	upd, err := diffUpdate(oldItem, newItem)
	if err != nil {
		return nil, err
	}
	cond := expression.AttributeExists(expression.Name(attrPK)).
		And(expression.Name("version").Equal(expression.Value(expectedVersion)))
	if from != nil {
		cond = cond.And(expression.Name("status").Equal(expression.Value(*from)))
	}
	expr, err := expression.NewBuilder().WithCondition(cond).WithUpdate(upd).Build()
	if err != nil {
		return nil, err
	}
	key, err := keyOf(requestPK(id), skRequest)
	if err != nil {
		return nil, err
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
		now, _, gerr := s.getRequest(ctx, id)
		if gerr != nil {
			return nil, gerr
		}
		return nil, conflict(now)
	}
	if err != nil {
		return nil, callErr("UpdateItem", err)
	}
	return &next, nil
}

// diffUpdate returns the update that turns item old into item new: SET for
// every attribute that is new or changed, REMOVE for every attribute that is
// gone. Keys never change. Attributes that are not part of the request (the
// audit chain head) are not in either map and so are left alone.
func diffUpdate(old, new map[string]types.AttributeValue) (expression.UpdateBuilder, error) {
	var upd expression.UpdateBuilder
	n := 0
	for _, name := range sortedKeys(new) {
		if name == attrPK || name == attrSK {
			continue
		}
		if ov, ok := old[name]; ok && reflect.DeepEqual(ov, new[name]) {
			continue
		}
		upd = upd.Set(expression.Name(name), expression.Value(new[name]))
		n++
	}
	for _, name := range sortedKeys(old) {
		if _, ok := new[name]; !ok {
			upd = upd.Remove(expression.Name(name))
			n++
		}
	}
	if n == 0 {
		return upd, errors.New("nothing to update")
	}
	return upd, nil
}

func sortedKeys(m map[string]types.AttributeValue) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// FindBySubject returns the requests whose verified subject keys include
// subjectKey, oldest first. It looks the key up in GSI1 and re-reads every
// request it finds, so the answer shows each request's current state even
// when the index lags.
func (s *Store) FindBySubject(ctx context.Context, subjectKey string) ([]dsr.Request, error) {
	return s.findByKey(ctx, skSubjPrefix, subjectKey, func(r *dsr.Request) []string { return r.SubjectKeys })
}

// FindByHint returns the requests whose typed identifiers (or verified
// ones) include key, oldest first: an operator's search by a person's email,
// phone or account ID. Nothing is decided on its answer.
func (s *Store) FindByHint(ctx context.Context, key string) ([]dsr.Request, error) {
	hints, err := s.findByKey(ctx, skHintPrefix, key, func(r *dsr.Request) []string { return r.HintKeys })
	if err != nil {
		return nil, err
	}
	verified, err := s.FindBySubject(ctx, key)
	if err != nil {
		return nil, err
	}
	for _, r := range verified {
		if !slices.ContainsFunc(hints, func(h dsr.Request) bool { return h.ID == r.ID }) {
			hints = append(hints, r)
		}
	}
	sortByCreation(hints)
	return hints, nil
}

func sortByCreation(reqs []dsr.Request) {
	slices.SortStableFunc(reqs, func(a, b dsr.Request) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

func (s *Store) findByKey(ctx context.Context, prefix, subjectKey string, keysOf func(*dsr.Request) []string) ([]dsr.Request, error) {
	if subjectKey == "" {
		return nil, errors.New("find by subject: empty subject key")
	}
	kc := expression.Key(attrGSI1PK).Equal(expression.Value(prefix + subjectKey))
	expr, err := expression.NewBuilder().WithKeyCondition(kc).Build()
	if err != nil {
		return nil, fmt.Errorf("find by subject: %w", err)
	}
	p := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		IndexName:                 aws.String(gsiSubject),
		KeyConditionExpression:    expr.KeyCondition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	})
	var ids []string
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("find by subject: %w", callErr("Query", err))
		}
		more, err := requestIDs(out.Items)
		if err != nil {
			return nil, fmt.Errorf("find by subject: %w", err)
		}
		ids = append(ids, more...)
	}
	found, err := s.getRequests(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("find by subject: %w", err)
	}
	var out []dsr.Request
	for _, id := range ids {
		if r, ok := found[id]; ok && slices.Contains(keysOf(r), subjectKey) {
			out = append(out, *r)
		}
	}
	sortByCreation(out)
	return out, nil
}

// OpenPage is one page of open requests, earliest due first.
type OpenPage struct {
	Requests []dsr.Request
	// Next is the cursor of the following page; empty on the last page.
	Next string
}

// ListOpenByDue lists open requests due strictly before before, earliest due
// first, at most limit per page; pass the previous page's Next as cursor to
// continue (empty for the first page). Requests come from GSI2 and are re-read,
// so one that closed or moved its due date since the index was written is left
// out; a page may then hold fewer than limit requests while Next is not empty.
func (s *Store) ListOpenByDue(ctx context.Context, before time.Time, limit int, cursor string) (OpenPage, error) {
	if limit <= 0 {
		return OpenPage{}, fmt.Errorf("list open requests: limit %d, want > 0", limit)
	}
	start, err := decodeCursor(cursor)
	if err != nil {
		return OpenPage{}, fmt.Errorf("list open requests: %w", err)
	}
	kc := expression.Key(attrGSI2PK).Equal(expression.Value(openPK)).
		And(expression.Key(attrGSI2SK).LessThan(expression.Value(before.UTC().Format(keyTime))))
	expr, err := expression.NewBuilder().WithKeyCondition(kc).Build()
	if err != nil {
		return OpenPage{}, fmt.Errorf("list open requests: %w", err)
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
		return OpenPage{}, fmt.Errorf("list open requests: %w", callErr("Query", err))
	}
	ids, err := requestIDs(out.Items)
	if err != nil {
		return OpenPage{}, fmt.Errorf("list open requests: %w", err)
	}
	found, err := s.getRequests(ctx, ids)
	if err != nil {
		return OpenPage{}, fmt.Errorf("list open requests: %w", err)
	}
	var page OpenPage
	for _, id := range ids {
		r, ok := found[id]
		if ok && r.Status.Open() && r.DueAt != nil && r.DueAt.Before(before) {
			page.Requests = append(page.Requests, *r)
		}
	}
	if len(out.LastEvaluatedKey) > 0 {
		if page.Next, err = encodeCursor(out.LastEvaluatedKey); err != nil {
			return OpenPage{}, fmt.Errorf("list open requests: %w", err)
		}
	}
	return page, nil
}

// ListOpen returns every open request, earliest due first and those without
// a due date last (the reconciler's pass), through GSI2: no scan. Requests
// are re-read, so one that closed since the index was written is left out;
// one opened a moment ago may not be in the index yet.
func (s *Store) ListOpen(ctx context.Context) ([]dsr.Request, error) {
	keys, err := s.indexKeys(ctx, openPK)
	if err != nil {
		return nil, fmt.Errorf("list open requests: %w", err)
	}
	ids := make([]string, 0, len(keys))
	for _, k := range keys {
		if id, ok := strings.CutPrefix(k.PK, pkPrefix); ok && k.SK == skRequest {
			ids = append(ids, id)
		}
	}
	found, err := s.getRequests(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("list open requests: %w", err)
	}
	var out []dsr.Request
	for _, id := range ids {
		if r, ok := found[id]; ok && r.Status.Open() {
			out = append(out, *r)
		}
	}
	return out, nil
}

// requestIDs reads the request IDs from index items' PK.
func requestIDs(items []map[string]types.AttributeValue) ([]string, error) {
	var keys []itemKey
	if err := attributevalue.UnmarshalListOfMaps(items, &keys); err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(keys))
	for _, k := range keys {
		id, ok := strings.CutPrefix(k.PK, pkPrefix)
		if !ok {
			return nil, fmt.Errorf("index item with unexpected key %q", k.PK)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// batchGetAttempts bounds the retries of unprocessed keys in getRequests.
const batchGetAttempts = 8

// getRequests reads requests by ID with strongly consistent BatchGetItem calls.
// Requests that do not exist are absent from the result.
func (s *Store) getRequests(ctx context.Context, ids []string) (map[string]*dsr.Request, error) {
	found := make(map[string]*dsr.Request, len(ids))
	seen := make(map[string]bool, len(ids))
	var keys []map[string]types.AttributeValue
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		k, err := keyOf(requestPK(id), skRequest)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	for chunk := range slices.Chunk(keys, 100) {
		pending := map[string]types.KeysAndAttributes{
			s.table: {Keys: chunk, ConsistentRead: aws.Bool(true)},
		}
		for attempt := 0; len(pending) > 0; attempt++ {
			if attempt == batchGetAttempts {
				return nil, fmt.Errorf("read requests: %d keys still unprocessed after %d attempts", len(pending[s.table].Keys), attempt)
			}
			if attempt > 0 {
				if err := sleep(ctx, backoff(attempt)); err != nil {
					return nil, err
				}
			}
			out, err := s.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: pending})
			if err != nil {
				return nil, fmt.Errorf("read requests: %w", callErr("BatchGetItem", err))
			}
			var items []requestItem
			if err := attributevalue.UnmarshalListOfMaps(out.Responses[s.table], &items); err != nil {
				return nil, fmt.Errorf("read requests: %w", err)
			}
			for i := range items {
				found[items[i].ID] = &items[i].Request
			}
			pending = out.UnprocessedKeys
		}
	}
	return found, nil
}

// backoff is a jittered delay for retry attempt n (n ≥ 1): up to 2ⁿ ms, capped
// at 500ms.
func backoff(n int) time.Duration {
	ceiling := time.Duration(1<<min(n, 9)) * time.Millisecond
	return min(ceiling/2+rand.N(ceiling/2+1), 500*time.Millisecond)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// cursorKey is the last evaluated key of a GSI2 query.
type cursorKey struct {
	PK     string `dynamodbav:"PK" json:"pk"`
	SK     string `dynamodbav:"SK" json:"sk"`
	GSI2PK string `dynamodbav:"GSI2PK" json:"gpk"`
	GSI2SK string `dynamodbav:"GSI2SK" json:"gsk"`
}

func encodeCursor(lek map[string]types.AttributeValue) (string, error) {
	return encodeKey[cursorKey](lek)
}

// encodeKey turns a last evaluated key into an opaque cursor, keeping only
// the attributes of K.
func encodeKey[K any](lek map[string]types.AttributeValue) (string, error) {
	var k K
	if err := attributevalue.UnmarshalMap(lek, &k); err != nil {
		return "", fmt.Errorf("encode cursor: %w", err)
	}
	b, err := json.Marshal(k)
	if err != nil {
		return "", fmt.Errorf("encode cursor: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// ErrBadCursor is returned (wrapped) for a cursor ListOpenByDue did not issue.
var ErrBadCursor = errors.New("invalid cursor")

func decodeCursor(c string) (map[string]types.AttributeValue, error) {
	return decodeKey(c, func(k cursorKey) bool {
		return k.GSI2PK == openPK && strings.HasPrefix(k.PK, pkPrefix) && k.SK == skRequest && k.GSI2SK != ""
	})
}

// decodeKey reads a cursor encodeKey issued for K; an empty cursor is the
// first page, and anything not valid for K is ErrBadCursor.
func decodeKey[K any](c string, valid func(K) bool) (map[string]types.AttributeValue, error) {
	if c == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return nil, ErrBadCursor
	}
	var k K
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&k); err != nil || !valid(k) {
		return nil, ErrBadCursor
	}
	return attributevalue.MarshalMap(k)
}
