package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"dsrflow/internal/dsr"
)

// ErrPurged is returned (wrapped) for personal data that was deleted at the
// end of the request's follow-up period.
var ErrPurged = errors.New("personal data purged")

// personalItem is a request's personal data (REQ#<id> / PERSONAL).
type personalItem struct {
	PK string `dynamodbav:"PK"`
	SK string `dynamodbav:"SK"`
	dsr.Personal
	Version int `dynamodbav:"version"`
	// ExpiresAt (epoch seconds) is set when the request closes: DynamoDB's
	// TTL deletes the item then if PurgePersonal did not.
	ExpiresAt int64 `dynamodbav:"expiresAt,omitempty"`
}

// GetPersonal reads request id's personal data. A request whose personal
// data was purged gives ErrPurged; a missing request ErrNotFound.
func (s *Store) GetPersonal(ctx context.Context, id string) (*dsr.Personal, error) {
	var it personalItem
	found, err := s.getItem(ctx, requestPK(id), skPersonal, &it)
	if err != nil {
		return nil, fmt.Errorf("load personal data of %s: %w", id, err)
	}
	if found {
		return &it.Personal, nil
	}
	r, err := s.GetRequest(ctx, id)
	if err != nil {
		return nil, err
	}
	if r.PersonalPurgedAt != nil {
		return nil, fmt.Errorf("personal data of %s: %w", id, ErrPurged)
	}
	// A request stored without personal data (a test, or a request created
	// before the personal item was written): nothing to reach anyone with.
	return &dsr.Personal{}, nil
}

// UpdatePersonal applies mutate to request id's personal data with a
// versioned write, retrying when a concurrent writer got there first (an
// operator amending identifiers while a follow-up mail adds a hint).
func (s *Store) UpdatePersonal(ctx context.Context, id string, mutate func(*dsr.Personal)) (*dsr.Personal, error) {
	for range 8 {
		var it personalItem
		found, err := s.getItem(ctx, requestPK(id), skPersonal, &it)
		if err != nil {
			return nil, fmt.Errorf("update personal data of %s: %w", id, err)
		}
		if !found {
			r, err := s.GetRequest(ctx, id)
			if err != nil {
				return nil, err
			}
			if r.PersonalPurgedAt != nil {
				return nil, fmt.Errorf("update personal data of %s: %w", id, ErrPurged)
			}
			it = personalItem{PK: requestPK(id), SK: skPersonal}
		}
		prev := it.Version
		mutate(&it.Personal)
		it.Version = prev + 1
		err = s.putVersioned(ctx, it, prev)
		if errors.Is(err, ErrStale) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("update personal data of %s: %w", id, err)
		}
		return &it.Personal, nil
	}
	return nil, fmt.Errorf("update personal data of %s: %w", id, ErrContention)
}

// personalSKs are the sort keys of the items PurgePersonal deletes and
// ExpirePersonal marks; document items are found by prefix.
var personalSKs = []string{skPersonal, skIdentity}

// ExpirePersonal sets the TTL of request id's personal, identity and
// document items to at: DynamoDB deletes them then, should PurgePersonal
// never run (a backstop; the workflow purges first).
func (s *Store) ExpirePersonal(ctx context.Context, id string, at time.Time) error {
	sks := append([]string(nil), personalSKs...)
	docs, err := s.documentSKs(ctx, id)
	if err != nil {
		return fmt.Errorf("expire personal data of %s: %w", id, err)
	}
	sks = append(sks, docs...)
	for _, sk := range sks {
		if err := s.setTTL(ctx, requestPK(id), sk, at); err != nil {
			return fmt.Errorf("expire personal data of %s: %w", id, err)
		}
	}
	return nil
}

// setTTL sets expiresAt on an existing item (none: nothing to do).
func (s *Store) setTTL(ctx context.Context, pk, sk string, at time.Time) error {
	key, err := keyOf(pk, sk)
	if err != nil {
		return err
	}
	ttl, err := attributevalue.Marshal(epoch(at))
	if err != nil {
		return err
	}
	_, err = s.db.UpdateItem(ctx, updateTTLInput(s.table, key, ttl))
	if isConditionFailed(err) {
		return nil
	}
	return callErr("UpdateItem", err)
}

// PurgePersonal deletes request id's personal, identity and document items,
// and the personal data a request item stored before the personal item
// existed still holds (legacyPersonalAttrs), and records the purge on the
// request (PersonalPurgedAt), which takes it out of the purge index
// (ListUnpurged). What stays is what
// proves the request was handled: keyed hashes, kind, dates, outcome,
// partner receipts and the audit chain. Running it again changes nothing.
// The documents' objects in S3 are the caller's to delete first (their keys
// are on the document items: ListDocuments).
func (s *Store) PurgePersonal(ctx context.Context, id string) (*dsr.Request, error) {
	sks := append([]string(nil), personalSKs...)
	docs, err := s.documentSKs(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("purge personal data of %s: %w", id, err)
	}
	sks = append(sks, docs...)
	for _, sk := range sks {
		if err := s.deleteItem(ctx, requestPK(id), sk); err != nil {
			return nil, fmt.Errorf("purge personal data of %s: %w", id, err)
		}
	}
	for range 8 {
		r, raw, err := s.getRequest(ctx, id)
		if err != nil {
			return nil, err
		}
		if err := s.removeLegacyPersonal(ctx, id, raw); err != nil {
			return nil, fmt.Errorf("purge personal data of %s: %w", id, err)
		}
		if r.PersonalPurgedAt != nil {
			return r, nil
		}
		at := s.now()
		nr, err := s.UpdateRequest(ctx, id, r.Version, func(n *dsr.Request) { n.PersonalPurgedAt = &at })
		var ce *ConflictError
		if errors.As(err, &ce) {
			continue
		}
		return nr, err
	}
	return nil, fmt.Errorf("purge personal data of %s: %w", id, ErrContention)
}

// Document is a document sent as proof of identity or authority (a
// guardian's birth certificate, an agent's power of attorney): its object in
// the mailbox or uploads bucket. The key and file name are personal data.
type Document struct {
	Seq         int       `json:"seq" dynamodbav:"seq"`
	Bucket      string    `json:"bucket" dynamodbav:"bucket"`
	Key         string    `json:"key" dynamodbav:"key"`
	ContentType string    `json:"contentType" dynamodbav:"contentType"`
	Size        int64     `json:"size" dynamodbav:"size"`
	FileName    string    `json:"fileName,omitempty" dynamodbav:"fileName,omitempty"`
	Source      string    `json:"source" dynamodbav:"source"` // mail, upload
	AddedAt     time.Time `json:"addedAt" dynamodbav:"addedAt"`
}

type documentItem struct {
	PK string `dynamodbav:"PK"`
	SK string `dynamodbav:"SK"`
	Document
	ExpiresAt int64 `dynamodbav:"expiresAt,omitempty"`
}

// AddDocument records a document of request id under the next free number
// and counts it on the request. An object already recorded (same bucket and
// key) is not recorded twice.
func (s *Store) AddDocument(ctx context.Context, id string, d Document) (Document, error) {
	docs, err := s.ListDocuments(ctx, id)
	if err != nil {
		return Document{}, err
	}
	for _, have := range docs {
		if have.Bucket == d.Bucket && have.Key == d.Key {
			return have, nil
		}
	}
	if d.AddedAt.IsZero() {
		d.AddedAt = s.now()
	}
	n := len(docs)
	for range 16 {
		n++
		d.Seq = n
		created, err := s.putNew(ctx, documentItem{PK: requestPK(id), SK: docSK(n), Document: d})
		if err != nil {
			return Document{}, fmt.Errorf("add document to %s: %w", id, err)
		}
		if created {
			return d, s.countDocuments(ctx, id, n)
		}
	}
	return Document{}, fmt.Errorf("add document to %s: %w", id, ErrContention)
}

// ErrDocumentLimit is returned (wrapped) by AddDocumentLimited when the
// request already holds its limit of documents from that source.
var ErrDocumentLimit = errors.New("document limit reached")

// AddDocumentLimited records d as AddDocument does, unless request id
// already holds limit documents of d's Source: then ErrDocumentLimit. An
// object already recorded (same bucket and key) is returned as it is, limit
// or not. Document numbers are dense, and each new one is claimed by a
// conditional put at exactly one past the documents read: of concurrent
// calls only one can claim a number, the others read again and see it, so
// the limit holds under any interleaving.
func (s *Store) AddDocumentLimited(ctx context.Context, id string, d Document, limit int) (Document, error) {
	if d.AddedAt.IsZero() {
		d.AddedAt = s.now()
	}
	for range 16 {
		docs, err := s.ListDocuments(ctx, id)
		if err != nil {
			return Document{}, err
		}
		same := 0
		for _, have := range docs {
			if have.Bucket == d.Bucket && have.Key == d.Key {
				return have, nil
			}
			if have.Source == d.Source {
				same++
			}
		}
		if same >= limit {
			return Document{}, fmt.Errorf("add document to %s: %d from %s: %w", id, same, d.Source, ErrDocumentLimit)
		}
		d.Seq = len(docs) + 1
		created, err := s.putNew(ctx, documentItem{PK: requestPK(id), SK: docSK(d.Seq), Document: d})
		if err != nil {
			return Document{}, fmt.Errorf("add document to %s: %w", id, err)
		}
		if created {
			return d, s.countDocuments(ctx, id, d.Seq)
		}
	}
	return Document{}, fmt.Errorf("add document to %s: %w", id, ErrContention)
}

// countDocuments raises the request's document count to at least n.
func (s *Store) countDocuments(ctx context.Context, id string, n int) error {
	for range 8 {
		r, err := s.GetRequest(ctx, id)
		if err != nil {
			return err
		}
		if r.Documents >= n {
			return nil
		}
		_, err = s.UpdateRequest(ctx, id, r.Version, func(x *dsr.Request) { x.Documents = n })
		var ce *ConflictError
		if errors.As(err, &ce) {
			continue
		}
		return err
	}
	return ErrContention
}

// ListDocuments returns request id's documents in the order they came.
func (s *Store) ListDocuments(ctx context.Context, id string) ([]Document, error) {
	var docs []Document
	err := s.queryPrefix(ctx, requestPK(id), skDocPrefix, func(av map[string]types.AttributeValue) error {
		var it documentItem
		if err := attributevalue.UnmarshalMap(av, &it); err != nil {
			return err
		}
		docs = append(docs, it.Document)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list documents of %s: %w", id, err)
	}
	return docs, nil
}

func (s *Store) documentSKs(ctx context.Context, id string) ([]string, error) {
	var sks []string
	err := s.queryPrefix(ctx, requestPK(id), skDocPrefix, func(av map[string]types.AttributeValue) error {
		var k itemKey
		if err := attributevalue.UnmarshalMap(av, &k); err != nil {
			return err
		}
		sks = append(sks, k.SK)
		return nil
	})
	return sks, err
}
