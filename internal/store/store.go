// Package store owns the requests table (template.yaml, RequestsTable): no
// other package of the product reads or writes it, builds one of its keys or
// links the DynamoDB client (internal/boundaries checks this). It works
// through aws-sdk-go-v2 with the attributevalue and expression packages.
//
// # Items
//
// One file per item family holds its type and methods. Keys are built by the
// unexported functions of keys.go. PII marks items that hold personal data:
// they are deleted when the request's follow-up period ends (PurgePersonal)
// and carry the TTL attribute expiresAt as a backstop.
//
//	item             PK                 SK                    GSI                                  TTL (expiresAt, epoch seconds)
//	request          REQ#<id>           REQUEST               GSI2 OPEN / <dueAt|~createdAt>#<id>  none: the proof that a request was handled
//	                                                          while the request is open;
//	                                                          GSI2 PURGE / <closedAt>#<id> once
//	                                                          closed, until PurgePersonal
//	                                                          GSI1 AUDIT#UNANCHORED / <id>
//	                                                          while its audit chain has
//	                                                          events no anchor holds (anchor.go)
//	personal (PII)   REQ#<id>           PERSONAL              -                                    closedAt + CONTACT_RETENTION
//	identity (PII)   REQ#<id>           IDENTITY              -                                    closedAt + CONTACT_RETENTION
//	document (PII)   REQ#<id>           DOC#<n>               -                                    closedAt + CONTACT_RETENTION
//	subject key      REQ#<id>           SUBJ#<key>            GSI1 SUBJ#<key> / <createdAt>#<id>   none (a keyed hash, for repeat checks)
//	hint key         REQ#<id>           HINT#<key>            GSI1 HINT#<key> / <createdAt>#<id>   none (a keyed hash, for operators' search)
//	audit event      REQ#<id>           EVT#<seq, 10 digits>  -                                    none: the audit chain
//	partner task     REQ#<id>           PARTNER#<partner>     -                                    none: receipts
//	verification     REQ#<id>           VERIFY                -                                    created + VerificationTTL
//	operator wait    REQ#<id>           OPERATOR#<stage>      -                                    none
//	notice marker    REQ#<id>           NOTICE#<template>     -                                    none
//	certificate      REQ#<id>           CERTIFICATE           -                                    none
//	task token       REQ#<id>           TOKEN#<name>          -                                    none
//	legal hold       HOLD#<key>         HOLD                  GSI2 HOLDS / <createdAt>#<key>       none
//	mail record      MAIL#<dedupe key>  MAIL                  GSI2 MAIL#TRIAGE / <receivedAt>#<k>  receivedAt + MailRecordTTL
//	                                                          while it waits for a person
//	sweep progress   SWEEP#<name>       SWEEP                 -                                    none (one item per one-time sweep)
//	mail ack marker  MAILACK#<sender k> MAILACK               -                                    claim + the acknowledgement window
//	budget counter   BUDGET#<key>       WINDOW#<start>        -                                    window end + BudgetTTLSlack
//
// The request item holds no personal data: kind, status, channel, role,
// locale, dates, keyed hashes (HMAC-SHA256) of identifiers, outcome codes and
// the head of the audit chain. The requester's contact details, typed
// identifiers, free text and corrections are on the personal item; what the
// identity step verified and resolved is on the identity item
// (docs/ARCHITECTURE.md, "The system forgets too").
//
// A budget counter (budget.go) counts the messages package notify sent in
// one window to one mailbox or in all: <key> is that package's keyed hash of
// the mailbox (never the address) or "global".
//
// Every write is a single-item conditional write; there are no transactions
// (docs/ARCHITECTURE.md, rule 3). Where one change touches two items (a
// request and its subject index items; an event and the request's record of
// the chain head), the request is the truth and the second write is
// idempotent and may lag: lookups through an index re-read the requests they
// find.
//
// # Indexes
//
//   - GSI1 (KEYS_ONLY) finds a subject's requests. A request has one small
//     index item per key, because one item carries only one GSI1 key.
//     SUBJ# keys are verified: proved by a code or a login, or resolved from
//     a verified identifier by the account system; duplicate and repeat
//     checks use only these (FindBySubject). HINT# keys are what was typed
//     or found in a mail: operators search them (FindByHint), nothing
//     decides on them.
//     AUDIT#UNANCHORED lists the request items whose audit chain changed
//     since it was last anchored (anchor.go): the audit anchor reads it
//     instead of scanning.
//   - GSI2 (KEYS_ONLY, sparse) lists open requests (partition OPEN), earliest
//     due first and those without a due date last (sort key ~<createdAt>),
//     closed requests whose personal data is not purged yet (PURGE, earliest
//     closed first; purge.go), legal holds (HOLDS) and the mail waiting for
//     a person (MAIL#TRIAGE).
//     One partition key value takes about 1,000 writes per second; requests
//     arrive at a tiny fraction of that. If that ever changes, shard as
//     OPEN#<n> and merge the shards in ListOpen.
//
// Times in keys are UTC with nanoseconds, fixed width, so they sort as
// strings. The TTL attribute expiresAt is always a Number of epoch seconds:
// a string would never expire (TestTTLIsANumber).
package store

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"dsrflow/internal/dsr"
)

// DB is the part of the DynamoDB client the store uses.
type DB interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	Scan(ctx context.Context, in *dynamodb.ScanInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
}

// Config names the table and sets the store's limits.
type Config struct {
	// Table is the table name (template.yaml sets TABLE_NAME).
	Table string
	// AppendAttempts bounds how often AppendEvent retries when another writer
	// took the sequence number it tried; default 20.
	AppendAttempts int
}

// Deps are the store's clients and clock.
type Deps struct {
	DB DB
	// Clock is the time source of every date the store writes; default
	// time.Now.
	Clock func() time.Time
	// Transition decides which status changes TransitionStatus allows;
	// default dsr.Transition.
	Transition func(from, to dsr.Status) error
}

// Store reads and writes the items of one table.
type Store struct {
	db             DB
	table          string
	clock          func() time.Time
	canTransition  func(from, to dsr.Status) error
	appendAttempts int
}

// New returns a store over cfg.Table.
func New(cfg Config, deps Deps) *Store {
	s := &Store{db: deps.DB, table: cfg.Table, clock: deps.Clock, canTransition: deps.Transition, appendAttempts: cfg.AppendAttempts}
	if s.clock == nil {
		s.clock = time.Now
	}
	if s.canTransition == nil {
		s.canTransition = dsr.Transition
	}
	if s.appendAttempts <= 0 {
		s.appendAttempts = 20
	}
	return s
}

// Open returns a store over cfg.Table with a DynamoDB client made from
// awsCfg (its endpoint comes from AWS_ENDPOINT_URL[_DYNAMODB] locally).
func Open(awsCfg aws.Config, cfg Config, clock func() time.Time) *Store {
	return New(cfg, Deps{DB: dynamodb.NewFromConfig(awsCfg), Clock: clock})
}

// Table returns the table name.
func (s *Store) Table() string { return s.table }

// Now is the store's clock, in UTC.
func (s *Store) Now() time.Time { return s.clock().UTC() }

func (s *Store) now() time.Time { return s.clock().UTC() }

// epoch is t as the TTL attribute wants it: a Number of whole seconds.
func epoch(t time.Time) int64 { return t.Unix() }

// getItem reads item pk/sk into out (strongly consistent); found is false
// when there is no such item.
func (s *Store) getItem(ctx context.Context, pk, sk string, out any) (found bool, err error) {
	key, err := keyOf(pk, sk)
	if err != nil {
		return false, err
	}
	res, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: key, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return false, callErr("GetItem", err)
	}
	if res.Item == nil {
		return false, nil
	}
	if err := attributevalue.UnmarshalMap(res.Item, out); err != nil {
		return false, err
	}
	return true, nil
}

// putItem writes item unconditionally.
func (s *Store) putItem(ctx context.Context, item any) error {
	av, err := attributevalue.MarshalMap(item)
	if err != nil {
		return err
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: av})
	return callErr("PutItem", err)
}

// ErrStale is a versioned write that lost to a concurrent one: read again
// and decide again.
var ErrStale = errors.New("item changed since it was read")

// putVersioned writes item if the stored item is at version prev (0: no
// item yet); otherwise ErrStale.
func (s *Store) putVersioned(ctx context.Context, item any, prev int) error {
	av, err := attributevalue.MarshalMap(item)
	if err != nil {
		return err
	}
	in := &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: av}
	if prev == 0 {
		in.ConditionExpression = aws.String("attribute_not_exists(PK)")
	} else {
		in.ConditionExpression = aws.String("version = :v")
		in.ExpressionAttributeValues = map[string]types.AttributeValue{":v": &types.AttributeValueMemberN{Value: fmt.Sprint(prev)}}
	}
	_, err = s.db.PutItem(ctx, in)
	if isConditionFailed(err) {
		return ErrStale
	}
	return callErr("PutItem", err)
}

// putNew writes item only if no item has its key; created is false when one
// did.
func (s *Store) putNew(ctx context.Context, item any) (created bool, err error) {
	av, err := attributevalue.MarshalMap(item)
	if err != nil {
		return false, err
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.table), Item: av, ConditionExpression: aws.String("attribute_not_exists(PK)"),
	})
	if isConditionFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, callErr("PutItem", err)
	}
	return true, nil
}

// deleteItem deletes pk/sk (no error when it does not exist).
func (s *Store) deleteItem(ctx context.Context, pk, sk string) error {
	key, err := keyOf(pk, sk)
	if err != nil {
		return err
	}
	_, err = s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(s.table), Key: key})
	return callErr("DeleteItem", err)
}

// queryPrefix reads every item of partition pk whose sort key starts with
// prefix, in key order, handing each to fn.
func (s *Store) queryPrefix(ctx context.Context, pk, prefix string, fn func(map[string]types.AttributeValue) error) error {
	var start map[string]types.AttributeValue
	for {
		out, err := s.db.Query(ctx, &dynamodb.QueryInput{
			TableName:              aws.String(s.table),
			KeyConditionExpression: aws.String("PK = :pk AND begins_with(SK, :sk)"),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":pk": &types.AttributeValueMemberS{Value: pk},
				":sk": &types.AttributeValueMemberS{Value: prefix},
			},
			ConsistentRead:    aws.Bool(true),
			ExclusiveStartKey: start,
		})
		if err != nil {
			return callErr("Query", err)
		}
		for _, it := range out.Items {
			if err := fn(it); err != nil {
				return err
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			return nil
		}
		start = out.LastEvaluatedKey
	}
}

// ErrNotFound is returned (wrapped) when a request does not exist.
var ErrNotFound = errors.New("not found")

// ConflictError is a guarded write that lost: the request is no longer in the
// status or at the version the caller read. Reload it and decide again.
type ConflictError struct {
	ID string
	// WantStatus is empty for updates that do not change the status.
	WantStatus  dsr.Status
	WantVersion int
	// Status and Version are the request's state when the write was refused.
	Status  dsr.Status
	Version int
}

func (e *ConflictError) Error() string {
	if e.WantStatus == "" {
		return fmt.Sprintf("request %s changed: version %d, want %d", e.ID, e.Version, e.WantVersion)
	}
	return fmt.Sprintf("request %s changed: status %s version %d, want status %s version %d",
		e.ID, e.Status, e.Version, e.WantStatus, e.WantVersion)
}

// UnreachableError is a call that never got an answer from DynamoDB (connection
// refused, DNS failure, timeout). It names the endpoint that was tried.
type UnreachableError struct {
	Endpoint string // scheme://host[:port]
	Op       string // the DynamoDB operation
	Err      error
}

func (e *UnreachableError) Error() string {
	cause := e.Err
	var ue *url.Error
	if errors.As(cause, &ue) {
		cause = ue.Err // the URL is already named
	}
	return fmt.Sprintf("dynamodb at %s unreachable (%s): %v", e.Endpoint, e.Op, cause)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// callErr classifies an error from a DynamoDB call: a transport failure becomes
// an *UnreachableError naming the endpoint; anything else is returned as is.
func callErr(op string, err error) error {
	if err == nil || errors.Is(err, context.Canceled) {
		return err
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		endpoint := ue.URL
		if u, perr := url.Parse(ue.URL); perr == nil && u.Host != "" {
			endpoint = u.Scheme + "://" + u.Host
		}
		return &UnreachableError{Endpoint: endpoint, Op: op, Err: err}
	}
	return err
}

func isConditionFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}
