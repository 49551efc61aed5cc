package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Notice states.
const (
	NoticeSending = "sending"
	NoticeSent    = "sent"
)

// Notice marks a message sent to the requester (REQ#<id> /
// NOTICE#<template>): each template is sent once per request. It holds the
// template, channel, state and time, never the address or the text.
type Notice struct {
	Template  string    `json:"template" dynamodbav:"template"`
	State     string    `json:"state" dynamodbav:"state"`
	Channel   string    `json:"channel,omitempty" dynamodbav:"channel,omitempty"`
	MessageID string    `json:"messageId,omitempty" dynamodbav:"messageId,omitempty"`
	At        time.Time `json:"at" dynamodbav:"at"`
}

type noticeItem struct {
	PK string `dynamodbav:"PK"`
	SK string `dynamodbav:"SK"`
	Notice
}

// GetNotice reads the marker of template for request id; nil when none.
func (s *Store) GetNotice(ctx context.Context, id, template string) (*Notice, error) {
	var it noticeItem
	found, err := s.getItem(ctx, requestPK(id), noticeSK(template), &it)
	if err != nil {
		return nil, fmt.Errorf("load notice %s of %s: %w", template, id, err)
	}
	if !found {
		return nil, nil
	}
	it.Notice.Template = template
	return &it.Notice, nil
}

// PutNotice writes the marker of n.Template for request id (At defaults to
// now).
func (s *Store) PutNotice(ctx context.Context, id string, n Notice) error {
	if n.At.IsZero() {
		n.At = s.now()
	}
	if err := s.putItem(ctx, noticeItem{PK: requestPK(id), SK: noticeSK(n.Template), Notice: n}); err != nil {
		return fmt.Errorf("save notice %s of %s: %w", n.Template, id, err)
	}
	return nil
}

// ListNotices returns the messages recorded for request id, by template.
func (s *Store) ListNotices(ctx context.Context, id string) ([]Notice, error) {
	var out []Notice
	err := s.queryPrefix(ctx, requestPK(id), skNoticePrefix, func(av map[string]types.AttributeValue) error {
		var it noticeItem
		if err := attributevalue.UnmarshalMap(av, &it); err != nil {
			return err
		}
		it.Notice.Template = strings.TrimPrefix(it.SK, skNoticePrefix)
		out = append(out, it.Notice)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list notices of %s: %w", id, err)
	}
	return out, nil
}
