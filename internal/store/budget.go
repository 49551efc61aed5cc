package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// A budget counter (BUDGET#<key> / WINDOW#<window start>) counts what was
// taken from a budget in one fixed time window: the message budget of
// package notify (a keyed hash of a mailbox, or the global budget), and
// intake-web's count of posts per client network (a keyed hash). It holds
// a count and its TTL, nothing else. Windows are aligned on multiples of
// their length since the zero time (24h windows start at 00:00 UTC), so
// every process that shares a budget agrees on the window without talking.
//
// A counter is taken with one UpdateItem: ADD taken :one under the
// condition that fewer than limit were taken, so concurrent takes can never
// overshoot (no read-then-write). The key of a window names its start, so
// a counter is never read again after its window ends; its TTL, the window's
// end plus BudgetTTLSlack, only tidies up.

// BudgetTTLSlack is how long a budget counter is kept after its window
// ends: a margin for clocks that disagree by a little.
const BudgetTTLSlack = time.Hour

// Limits of TakeBudget's arguments: a key is a short opaque name (a keyed
// hash), never an address.
const (
	maxBudgetKeyLen = 100
	minBudgetWindow = time.Second
)

// checkBudget reports a key, limit or window TakeBudget must refuse. It
// never quotes the key.
func checkBudget(key string, limit int, window time.Duration) error {
	if key == "" || len(key) > maxBudgetKeyLen {
		return fmt.Errorf("budget key must be 1 to %d bytes", maxBudgetKeyLen)
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == ':' || c == '.'
		if !ok {
			return errors.New("budget key may hold only A-Z, a-z, 0-9, '-', '_', ':' and '.'")
		}
	}
	if limit < 1 {
		return errors.New("budget limit must be at least 1")
	}
	if window < minBudgetWindow {
		return fmt.Errorf("budget window must be at least %s", minBudgetWindow)
	}
	return nil
}

// budgetWindow is the start of the window of length window that holds now.
func budgetWindow(now time.Time, window time.Duration) time.Time {
	return now.UTC().Truncate(window)
}

func budgetKey(key string, start time.Time) (map[string]types.AttributeValue, error) {
	return keyOf(budgetPK(key), budgetSK(start))
}

// TakeBudget takes one from budget key in the window of length window that
// holds now, unless limit were taken in that window already: then ok is
// false and nothing changes. Concurrent takes never exceed limit. An error
// means nothing is known to have been taken.
func (s *Store) TakeBudget(ctx context.Context, key string, limit int, window time.Duration, now time.Time) (ok bool, err error) {
	if err := checkBudget(key, limit, window); err != nil {
		return false, fmt.Errorf("take budget: %w", err)
	}
	start := budgetWindow(now, window)
	k, err := budgetKey(key, start)
	if err != nil {
		return false, fmt.Errorf("take budget: %w", err)
	}
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(s.table),
		Key:                 k,
		UpdateExpression:    aws.String("ADD taken :one SET expiresAt = :ttl"),
		ConditionExpression: aws.String("attribute_not_exists(taken) OR taken < :limit"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":one":   &types.AttributeValueMemberN{Value: "1"},
			":limit": &types.AttributeValueMemberN{Value: strconv.Itoa(limit)},
			":ttl":   &types.AttributeValueMemberN{Value: strconv.FormatInt(epoch(start.Add(window).Add(BudgetTTLSlack)), 10)},
		},
	})
	if isConditionFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("take budget: %w", callErr("UpdateItem", err))
	}
	return true, nil
}

// ReturnBudget gives back one taken from budget key in the window of
// length window that holds now (a take whose message was not sent after
// all). It never takes a counter below zero, and does nothing when the
// window has no counter.
func (s *Store) ReturnBudget(ctx context.Context, key string, window time.Duration, now time.Time) error {
	if err := checkBudget(key, 1, window); err != nil {
		return fmt.Errorf("return budget: %w", err)
	}
	k, err := budgetKey(key, budgetWindow(now, window))
	if err != nil {
		return fmt.Errorf("return budget: %w", err)
	}
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       k,
		UpdateExpression:          aws.String("ADD taken :minus"),
		ConditionExpression:       aws.String("taken > :zero"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":minus": &types.AttributeValueMemberN{Value: "-1"}, ":zero": &types.AttributeValueMemberN{Value: "0"}},
	})
	if isConditionFailed(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("return budget: %w", callErr("UpdateItem", err))
	}
	return nil
}

// BudgetTaken is how many were taken from budget key in the window of
// length window that holds now (for tests and operators).
func (s *Store) BudgetTaken(ctx context.Context, key string, window time.Duration, now time.Time) (int, error) {
	if err := checkBudget(key, 1, window); err != nil {
		return 0, fmt.Errorf("read budget: %w", err)
	}
	var it struct {
		Taken int `dynamodbav:"taken"`
	}
	if _, err := s.getItem(ctx, budgetPK(key), budgetSK(budgetWindow(now, window)), &it); err != nil {
		return 0, fmt.Errorf("read budget: %w", err)
	}
	return it.Taken, nil
}
