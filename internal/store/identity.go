package store

import (
	"context"
	"errors"
	"fmt"

	"dsrflow/internal/dsr"
)

// identityItem is what the identity step established (REQ#<id> / IDENTITY).
type identityItem struct {
	PK string `dynamodbav:"PK"`
	SK string `dynamodbav:"SK"`
	dsr.Identity
	Version   int   `dynamodbav:"version"`
	ExpiresAt int64 `dynamodbav:"expiresAt,omitempty"`
}

// GetIdentity reads request id's identity; a request that has none yet
// gives an empty Identity.
func (s *Store) GetIdentity(ctx context.Context, id string) (*dsr.Identity, error) {
	var it identityItem
	if _, err := s.getItem(ctx, requestPK(id), skIdentity, &it); err != nil {
		return nil, fmt.Errorf("load identity of %s: %w", id, err)
	}
	return &it.Identity, nil
}

// UpdateIdentity applies mutate to request id's identity with a versioned
// write, retrying when a concurrent writer got there first.
func (s *Store) UpdateIdentity(ctx context.Context, id string, mutate func(*dsr.Identity) error) (*dsr.Identity, error) {
	for range 8 {
		var it identityItem
		if _, err := s.getItem(ctx, requestPK(id), skIdentity, &it); err != nil {
			return nil, fmt.Errorf("update identity of %s: %w", id, err)
		}
		it.PK, it.SK = requestPK(id), skIdentity
		prev := it.Version
		if err := mutate(&it.Identity); err != nil {
			return nil, err
		}
		it.Version = prev + 1
		err := s.putVersioned(ctx, it, prev)
		if errors.Is(err, ErrStale) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("update identity of %s: %w", id, err)
		}
		return &it.Identity, nil
	}
	return nil, fmt.Errorf("update identity of %s: %w", id, ErrContention)
}
