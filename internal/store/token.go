package store

import (
	"context"
	"fmt"
	"time"
)

// tokenItem keeps a task token the workflow waits on outside the
// verification and operator items (REQ#<id> / TOKEN#<name>): the backup
// escalation, the wait for partners that have not acted.
type tokenItem struct {
	PK        string    `dynamodbav:"PK"`
	SK        string    `dynamodbav:"SK"`
	TaskToken string    `dynamodbav:"taskToken"`
	At        time.Time `dynamodbav:"at"`
}

// PutTaskToken records the task token of request id's wait name.
func (s *Store) PutTaskToken(ctx context.Context, id, name, token string) error {
	if err := s.putItem(ctx, tokenItem{PK: requestPK(id), SK: tokenSK(name), TaskToken: token, At: s.now()}); err != nil {
		return fmt.Errorf("store %s task token of %s: %w", name, id, err)
	}
	return nil
}

// TaskToken returns the task token of request id's wait name ("" when none).
func (s *Store) TaskToken(ctx context.Context, id, name string) (string, error) {
	var it tokenItem
	if _, err := s.getItem(ctx, requestPK(id), tokenSK(name), &it); err != nil {
		return "", fmt.Errorf("load %s task token of %s: %w", name, id, err)
	}
	return it.TaskToken, nil
}

// DeleteTaskToken forgets request id's wait name once it was answered.
func (s *Store) DeleteTaskToken(ctx context.Context, id, name string) error {
	if err := s.deleteItem(ctx, requestPK(id), tokenSK(name)); err != nil {
		return fmt.Errorf("delete %s task token of %s: %w", name, id, err)
	}
	return nil
}
