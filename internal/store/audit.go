package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Event is one entry of a request's audit trail. Events form a hash chain:
// each carries the hash of the one before it (PrevHash, empty for the first)
// and its own Hash over its content, so an edited, reordered or missing event
// shows (see VerifyChain).
type Event struct {
	// Seq numbers a request's events 1, 2, 3, ... without gaps.
	Seq  int       `json:"seq" dynamodbav:"seq"`
	Type string    `json:"type" dynamodbav:"type"`
	At   time.Time `json:"at" dynamodbav:"at"`
	// Actor is who acted: a function name, "operator:<id>", "partner:<name>".
	Actor string `json:"actor" dynamodbav:"actor"`
	// Data holds details: IDs, codes, statuses. Never personal data.
	Data     map[string]string `json:"data,omitempty" dynamodbav:"data,omitempty"`
	PrevHash string            `json:"prevHash" dynamodbav:"prevHash"`
	Hash     string            `json:"hash" dynamodbav:"hash"`
}

type eventItem struct {
	PK        string `dynamodbav:"PK"`
	SK        string `dynamodbav:"SK"`
	RequestID string `dynamodbav:"requestId"`
	Event
}

// chainHead is the audit chain head recorded on the request item. It lets
// VerifyChain notice a chain whose last events were deleted.
type chainHead struct {
	Seq  int    `dynamodbav:"auditSeq"`
	Hash string `dynamodbav:"auditHead"`
}

// EventHash is the hash of an event of request requestID: the hex SHA-256 of
// its canonical JSON without Hash, that is
//
//	{"requestId":…,"seq":…,"type":…,"at":…,"actor":…,"data":{…},"prevHash":…}
//
// with the fields in that order, data's keys sorted (null when empty), at in
// RFC 3339 with nanoseconds in UTC, and no HTML escaping. Including the request
// ID keeps an event from being moved into another request's chain.
func EventHash(requestID string, e Event) string {
	data := e.Data
	if len(data) == 0 {
		data = nil
	}
	in := struct {
		RequestID string            `json:"requestId"`
		Seq       int               `json:"seq"`
		Type      string            `json:"type"`
		At        string            `json:"at"`
		Actor     string            `json:"actor"`
		Data      map[string]string `json:"data"`
		PrevHash  string            `json:"prevHash"`
	}{requestID, e.Seq, e.Type, e.At.UTC().Format(time.RFC3339Nano), e.Actor, data, e.PrevHash}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	// Encoding strings, an int and a map[string]string cannot fail.
	_ = enc.Encode(in)
	sum := sha256.Sum256(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
	return hex.EncodeToString(sum[:])
}

// ErrContention is returned (wrapped) when AppendEvent lost the race for the
// next sequence number more often than Store.AppendAttempts.
var ErrContention = errors.New("too many concurrent writers")

// AppendEvent adds ev to the end of request id's audit trail and returns it
// with Seq, PrevHash and Hash filled in. Type and Actor are required; At
// defaults to now. The request must exist (ErrNotFound otherwise).
//
// The event is written with a put conditioned on its sequence number being
// free; when another writer took it, AppendEvent reads the new head and tries
// the next number, up to AppendAttempts times. Afterwards it records the new
// head on the request item (a guarded update that only moves forward). If
// that last step fails, the event is stored and AppendEvent returns it together
// with the error; the next append records the head again.
func (s *Store) AppendEvent(ctx context.Context, id string, ev Event) (Event, error) {
	if ev.Type == "" {
		return Event{}, fmt.Errorf("append event to %s: empty type", id)
	}
	if ev.Actor == "" {
		return Event{}, fmt.Errorf("append event to %s: empty actor", id)
	}
	if _, ok := ev.Data[""]; ok {
		return Event{}, fmt.Errorf("append event to %s: empty data key", id)
	}
	if ev.At.IsZero() {
		ev.At = s.now()
	}
	ev.At = ev.At.UTC()
	if len(ev.Data) == 0 {
		ev.Data = nil
	}

	// The head recorded on the request is usually the real head; if it lags,
	// the conditional put fails and the head is read from the events.
	_, raw, err := s.getRequest(ctx, id)
	if err != nil {
		return Event{}, fmt.Errorf("append event to %s: %w", id, err)
	}
	var head chainHead
	if err := attributevalue.UnmarshalMap(raw, &head); err != nil {
		return Event{}, fmt.Errorf("append event to %s: %w", id, err)
	}
	cond := expression.AttributeNotExists(expression.Name(attrPK))
	expr, err := expression.NewBuilder().WithCondition(cond).Build()
	if err != nil {
		return Event{}, fmt.Errorf("append event to %s: %w", id, err)
	}
	attempts := max(s.appendAttempts, 1)
	for attempt := range attempts {
		if attempt > 0 {
			if err := sleep(ctx, backoff(attempt)); err != nil {
				return Event{}, fmt.Errorf("append event to %s: %w", id, err)
			}
			if head, err = s.eventHead(ctx, id); err != nil {
				return Event{}, fmt.Errorf("append event to %s: %w", id, err)
			}
		}
		e := ev
		e.Seq = head.Seq + 1
		e.PrevHash = head.Hash
		e.Hash = EventHash(id, e)
		item, err := attributevalue.MarshalMap(eventItem{PK: requestPK(id), SK: eventSK(e.Seq), RequestID: id, Event: e})
		if err != nil {
			return Event{}, fmt.Errorf("append event to %s: %w", id, err)
		}
		_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
			TableName:                 aws.String(s.table),
			Item:                      item,
			ConditionExpression:       expr.Condition(),
			ExpressionAttributeNames:  expr.Names(),
			ExpressionAttributeValues: expr.Values(),
		})
		if isConditionFailed(err) {
			continue
		}
		if err != nil {
			return Event{}, fmt.Errorf("append event to %s: %w", id, callErr("PutItem", err))
		}
		if err := s.recordHead(ctx, id, chainHead{Seq: e.Seq, Hash: e.Hash}); err != nil {
			return e, fmt.Errorf("append event to %s: event %d stored, chain head not recorded: %w", id, e.Seq, err)
		}
		return e, nil
	}
	return Event{}, fmt.Errorf("append event to %s: %d attempts: %w", id, attempts, ErrContention)
}

// eventHead reads the last event of a request's chain (zero if none).
func (s *Store) eventHead(ctx context.Context, id string) (chainHead, error) {
	kc := expression.Key(attrPK).Equal(expression.Value(requestPK(id))).
		And(expression.Key(attrSK).BeginsWith(skEventPrefix))
	expr, err := expression.NewBuilder().WithKeyCondition(kc).Build()
	if err != nil {
		return chainHead{}, err
	}
	out, err := s.db.Query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    expr.KeyCondition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		ScanIndexForward:          aws.Bool(false),
		Limit:                     aws.Int32(1),
		ConsistentRead:            aws.Bool(true),
	})
	if err != nil {
		return chainHead{}, callErr("Query", err)
	}
	if len(out.Items) == 0 {
		return chainHead{}, nil
	}
	var it eventItem
	if err := attributevalue.UnmarshalMap(out.Items[0], &it); err != nil {
		return chainHead{}, err
	}
	return chainHead{Seq: it.Seq, Hash: it.Hash}, nil
}

// recordHead moves the chain head recorded on the request forward to h and
// marks the chain as changed since its last anchor. A head already at or past
// h (a concurrent appender got there first, and marked it) is left alone.
func (s *Store) recordHead(ctx context.Context, id string, h chainHead) error {
	cond := expression.AttributeExists(expression.Name(attrPK)).And(
		expression.Or(
			expression.AttributeNotExists(expression.Name("auditSeq")),
			expression.Name("auditSeq").LessThan(expression.Value(h.Seq)),
		))
	// The chain changed: the request joins the index of chains to anchor
	// (anchor.go), in the same write that moves its head.
	upd := expression.Set(expression.Name("auditSeq"), expression.Value(h.Seq)).
		Set(expression.Name("auditHead"), expression.Value(h.Hash)).
		Set(expression.Name(attrGSI1PK), expression.Value(unanchoredPK)).
		Set(expression.Name(attrGSI1SK), expression.Value(id))
	expr, err := expression.NewBuilder().WithCondition(cond).WithUpdate(upd).Build()
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
		return nil
	}
	return callErr("UpdateItem", err)
}

// ChainReason says what is wrong with an audit event.
type ChainReason string

const (
	// ReasonEdited: the event's content does not match its hash.
	ReasonEdited ChainReason = "edited"
	// ReasonBrokenLink: the event's prevHash is not the previous event's hash
	// (the previous event was replaced, or this one was re-hashed after an edit).
	ReasonBrokenLink ChainReason = "broken_link"
	// ReasonMissing: no event has this sequence number.
	ReasonMissing ChainReason = "missing"
	// ReasonReordered: the event is stored under another sequence number than
	// its own, or its number appears twice.
	ReasonReordered ChainReason = "reordered"
	// ReasonTruncated: the request records a head further on than the last
	// stored event: events at the end were deleted.
	ReasonTruncated ChainReason = "truncated"
	// ReasonHeadMismatch: the event at the head recorded on the request has
	// another hash than the one recorded.
	ReasonHeadMismatch ChainReason = "head_mismatch"
	// ReasonMalformed: the stored item is not an event.
	ReasonMalformed ChainReason = "malformed"
)

// ChainProblem is one defect of an audit chain.
type ChainProblem struct {
	// Seq is the sequence number (position) where the chain breaks.
	Seq    int         `json:"seq"`
	Reason ChainReason `json:"reason"`
	Detail string      `json:"detail"`
}

// ChainReport is the result of verifying a request's audit chain.
type ChainReport struct {
	RequestID string `json:"requestId"`
	// Events is how many event items were read.
	Events int `json:"events"`
	// HeadSeq and HeadHash are the last stored event's number and hash; only a
	// chain that is OK has a head worth quoting.
	HeadSeq  int    `json:"headSeq"`
	HeadHash string `json:"headHash"`
	// RecordedSeq and RecordedHash are the head recorded on the request item.
	RecordedSeq  int            `json:"recordedSeq"`
	RecordedHash string         `json:"recordedHash"`
	Problems     []ChainProblem `json:"problems,omitempty"`
}

// OK reports whether the chain has no problems.
func (r ChainReport) OK() bool { return len(r.Problems) == 0 }

// VerifyChain reads request id's audit events and checks them: each event's
// hash against its content, each link to the event before, the numbering
// (1, 2, 3, ... stored each under its own number), and the end of the chain
// against the head recorded on the request. Every defect found is reported
// with the sequence number where it is and why; the error is for failures to
// read (ErrNotFound for a request that does not exist).
//
// What it can and cannot see: an edited event (edited); an edited event whose
// hash was recomputed (broken_link at the next event); events swapped or
// moved (reordered); a deleted event in the middle or at the start (missing);
// deleted events at the end, up to the head recorded on the request item
// (truncated). The last events appended after the recorded head (if recording
// it failed) can be deleted unseen, and so can a chain rewritten in full,
// with every hash and the recorded head recomputed: the chain has no secret.
// Comparing HeadHash with a copy kept elsewhere (deletion certificates quote
// it) closes both gaps up to that copy.
func (s *Store) VerifyChain(ctx context.Context, id string) (ChainReport, error) {
	rep := ChainReport{RequestID: id}
	_, raw, err := s.getRequest(ctx, id)
	if err != nil {
		return rep, fmt.Errorf("verify chain of %s: %w", id, err)
	}
	var recorded chainHead
	if err := attributevalue.UnmarshalMap(raw, &recorded); err != nil {
		return rep, fmt.Errorf("verify chain of %s: %w", id, err)
	}
	rep.RecordedSeq, rep.RecordedHash = recorded.Seq, recorded.Hash

	kc := expression.Key(attrPK).Equal(expression.Value(requestPK(id))).
		And(expression.Key(attrSK).BeginsWith(skEventPrefix))
	expr, err := expression.NewBuilder().WithKeyCondition(kc).Build()
	if err != nil {
		return rep, fmt.Errorf("verify chain of %s: %w", id, err)
	}
	p := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    expr.KeyCondition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		ConsistentRead:            aws.Bool(true),
	})
	problem := func(seq int, reason ChainReason, format string, args ...any) {
		rep.Problems = append(rep.Problems, ChainProblem{Seq: seq, Reason: reason, Detail: fmt.Sprintf(format, args...)})
	}
	// First pass: every item, in key order; is each event stored under its own
	// number?
	type stored struct {
		pos int
		ev  Event
	}
	var events []stored
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return rep, fmt.Errorf("verify chain of %s: %w", id, callErr("Query", err))
		}
		for _, item := range out.Items {
			rep.Events++
			var it eventItem
			if err := attributevalue.UnmarshalMap(item, &it); err != nil {
				var k itemKey
				_ = attributevalue.UnmarshalMap(item, &k)
				problem(seqOfKey(k.SK), ReasonMalformed, "item %s is not an event: %v", k.SK, err)
				continue
			}
			pos := seqOfKey(it.SK)
			if pos <= 0 || it.SK != eventSK(pos) {
				problem(pos, ReasonMalformed, "item key %s is not an event key", it.SK)
				continue
			}
			if it.Seq != pos {
				problem(pos, ReasonReordered, "position %d holds event %d", pos, it.Seq)
			}
			events = append(events, stored{pos: pos, ev: it.Event})
			rep.HeadSeq, rep.HeadHash = pos, it.Hash
		}
	}

	// Second pass: the chain in the events' own order.
	slices.SortStableFunc(events, func(a, b stored) int {
		if a.ev.Seq != b.ev.Seq {
			return a.ev.Seq - b.ev.Seq
		}
		// Of two events claiming one number, the one in its own place first.
		return boolInt(a.pos != a.ev.Seq) - boolInt(b.pos != b.ev.Seq)
	})
	prev := chainHead{}
	for i, st := range events {
		ev := st.ev
		if i > 0 && ev.Seq == events[i-1].ev.Seq {
			// A second copy of a number, stored elsewhere: reported in pass one.
			continue
		}
		linked := true
		if ev.Seq != prev.Seq+1 {
			if ev.Seq > prev.Seq+1 {
				if ev.Seq == prev.Seq+2 {
					problem(prev.Seq+1, ReasonMissing, "event %d is absent", prev.Seq+1)
				} else {
					problem(prev.Seq+1, ReasonMissing, "events %d to %d are absent", prev.Seq+1, ev.Seq-1)
				}
			} else {
				problem(st.pos, ReasonMalformed, "event number %d is not positive", ev.Seq)
			}
			linked = false
		}
		if EventHash(id, ev) != ev.Hash {
			problem(ev.Seq, ReasonEdited, "content does not match its hash")
		} else if linked && ev.PrevHash != prev.Hash {
			problem(ev.Seq, ReasonBrokenLink, "prevHash is not the hash of event %d", prev.Seq)
		}
		prev = chainHead{Seq: ev.Seq, Hash: ev.Hash}
	}

	// The end of the chain against the head recorded on the request.
	switch {
	case recorded.Seq > rep.HeadSeq:
		problem(rep.HeadSeq+1, ReasonTruncated, "the request records %d events, the chain ends at %d", recorded.Seq, rep.HeadSeq)
	case recorded.Seq > 0:
		i := slices.IndexFunc(events, func(st stored) bool { return st.pos == recorded.Seq })
		if i >= 0 && events[i].ev.Hash != recorded.Hash {
			problem(recorded.Seq, ReasonHeadMismatch, "hash differs from the head recorded on the request")
		}
	}
	slices.SortStableFunc(rep.Problems, func(a, b ChainProblem) int { return a.Seq - b.Seq })
	return rep, nil
}

// seqOfKey returns the number in an event key (EVT#0000000042 → 42), or 0.
func seqOfKey(sk string) int {
	n, err := strconv.Atoi(strings.TrimPrefix(sk, skEventPrefix))
	if err != nil || !strings.HasPrefix(sk, skEventPrefix) {
		return 0
	}
	return n
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// ListEvents reads request id's audit events in order (the timeline of
// `dsr show` and the console). Check them with VerifyChain.
func (s *Store) ListEvents(ctx context.Context, id string) ([]Event, error) {
	var out []Event
	err := s.queryPrefix(ctx, requestPK(id), skEventPrefix, func(av map[string]types.AttributeValue) error {
		var it eventItem
		if err := attributevalue.UnmarshalMap(av, &it); err != nil {
			return err
		}
		out = append(out, it.Event)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list events of %s: %w", id, err)
	}
	return out, nil
}
