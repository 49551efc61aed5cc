package store

import (
	"context"
	"fmt"
)

// certificateItem keeps a request's deletion certificate (REQ#<id> /
// CERTIFICATE): the signed JSON document, exactly as issued.
type certificateItem struct {
	PK          string `dynamodbav:"PK"`
	SK          string `dynamodbav:"SK"`
	Certificate string `dynamodbav:"certificate"`
	Digest      string `dynamodbav:"digest"`
}

// PutCertificate stores request id's certificate once; created is false when
// one was already stored (the stored one stands).
func (s *Store) PutCertificate(ctx context.Context, id string, doc []byte, digest string) (created bool, err error) {
	created, err = s.putNew(ctx, certificateItem{PK: requestPK(id), SK: skCertificate, Certificate: string(doc), Digest: digest})
	if err != nil {
		return false, fmt.Errorf("store certificate of %s: %w", id, err)
	}
	return created, nil
}

// GetCertificate reads request id's certificate; ErrNotFound when it has
// none.
func (s *Store) GetCertificate(ctx context.Context, id string) ([]byte, error) {
	var it certificateItem
	found, err := s.getItem(ctx, requestPK(id), skCertificate, &it)
	if err != nil {
		return nil, fmt.Errorf("load certificate of %s: %w", id, err)
	}
	if !found || it.Certificate == "" {
		return nil, fmt.Errorf("certificate of %s: %w", id, ErrNotFound)
	}
	return []byte(it.Certificate), nil
}
