// Package store keeps data-subject requests and their audit trails in one
// DynamoDB table (template.yaml, RequestsTable), through aws-sdk-go-v2 with the
// attributevalue and expression packages.
//
// Items (PK / SK):
//
//	request        REQ#<id> / REQUEST             the dsr.Request, plus GSI2 keys while open and due
//	subject index  REQ#<id> / SUBJ#<subject key>  GSI1PK=SUBJ#<subject key>, GSI1SK=<createdAt>#<id>
//	audit event    REQ#<id> / EVT#<seq, 10 digits> a hash chain, see AppendEvent
//
// Every write is a single-item conditional write; there are no transactions
// (DESIGN.md rule 3). Where one change touches two items (a request and its
// subject index items; an event and the request's record of the chain head), the
// request is the truth and the second write is idempotent and may lag: lookups
// through an index re-read the requests they find.
//
// Indexes:
//
//   - GSI1 (KEYS_ONLY) finds a subject's requests. A request has one small index
//     item per subject key (email, phone, account), because one item can carry
//     only one GSI1 key. Index items hold no status: FindBySubject re-reads the
//     requests, so there is no copy of the status to keep in step.
//   - GSI2 (KEYS_ONLY, sparse) lists open requests by due date. Only a request
//     that is open (dsr.Status.Open) and has a due date carries GSI2PK="OPEN" and
//     GSI2SK=<dueAt>#<id>; TransitionStatus and UpdateRequest add and remove them.
//     GSI2 is not sharded: one partition key value takes about 1,000 writes per
//     second, and data-subject requests arrive at a tiny fraction of that. If that
//     ever changes, shard as OPEN#<n> and merge the shards in ListOpenByDue.
//
// Times in keys are UTC with nanoseconds, fixed width, so they sort as strings.
package store

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

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
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
}

// Store reads and writes requests and audit events in one table.
type Store struct {
	db    DB
	table string

	// Now is the clock; it defaults to time.Now.
	Now func() time.Time
	// CanTransition decides which status changes TransitionStatus allows; it
	// defaults to dsr.Transition.
	CanTransition func(from, to dsr.Status) error
	// AppendAttempts bounds how often AppendEvent retries when another writer
	// took the sequence number it tried; it defaults to 20.
	AppendAttempts int
}

// New returns a store over table.
func New(db DB, table string) *Store {
	return &Store{db: db, table: table, Now: time.Now, CanTransition: dsr.Transition, AppendAttempts: 20}
}

// Table returns the table name.
func (s *Store) Table() string { return s.table }

func (s *Store) now() time.Time { return s.Now().UTC() }

// Index and key layout.
const (
	gsiSubject = "GSI1"
	gsiOpen    = "GSI2"

	attrPK     = "PK"
	attrSK     = "SK"
	attrGSI2PK = "GSI2PK"
	attrGSI2SK = "GSI2SK"

	pkPrefix      = "REQ#"
	skRequest     = "REQUEST"
	skEventPrefix = "EVT#"
	skSubjPrefix  = "SUBJ#"
	openPK        = "OPEN"

	// keyTime formats times inside sort keys: fixed width, so string order is
	// time order.
	keyTime = "2006-01-02T15:04:05.000000000Z"
)

func requestPK(id string) string { return pkPrefix + id }
func eventSK(seq int) string     { return fmt.Sprintf("%s%010d", skEventPrefix, seq) }

type itemKey struct {
	PK string `dynamodbav:"PK"`
	SK string `dynamodbav:"SK"`
}

func keyOf(pk, sk string) (map[string]types.AttributeValue, error) {
	return attributevalue.MarshalMap(itemKey{PK: pk, SK: sk})
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
