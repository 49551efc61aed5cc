package mailintake

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// DB is the part of the DynamoDB client the mail records use.
type DB interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
}

// Item keys of mail records.
const (
	recordPKPrefix = "MAIL#"
	recordSK       = "MAIL"
	// TriagePK is the GSI2 partition of the records a person must look at
	// (triage and reject), sorted by GSI2SK = <receivedAt>#<dedupe key>.
	TriagePK = "MAIL#TRIAGE"
)

// keyTime formats times in keys: UTC, nanoseconds, fixed width.
const keyTime = "2006-01-02T15:04:05.000000000Z"

// Record is what the mailbox keeps about one message (one dedupe key), in
// the requests table at PK=MAIL#<dedupe key>, SK=MAIL. It holds codes and
// references only, never personal data: no sender, subject, body, filename
// or Message-ID (the dedupe key is its hash). The raw message stays in the
// bucket at Object; `dsr mail classify` on it shows the details.
//
// Triage and reject records also carry GSI2PK=MAIL#TRIAGE and
// GSI2SK=<receivedAt>#<dedupe key>: an operator lists them with a GSI2
// query (ListTriage), oldest first. Ignored messages are recorded without an
// index entry; requests are found by RequestID.
type Record struct {
	DedupeKey string `dynamodbav:"dedupeKey"`
	// Action is request, ignore, triage or reject.
	Action string `dynamodbav:"action"`
	// Reason is "<action>: <code>", e.g. "ignore: bounce", "triage: unclear",
	// "triage: invalid_submission", "reject: too_many_open".
	Reason string `dynamodbav:"reason"`
	// Problems are MIME problem codes or field error codes ("email:invalid_email").
	Problems []string `dynamodbav:"problems,omitempty"`
	Kind     string   `dynamodbav:"kind,omitempty"`
	Role     string   `dynamodbav:"role,omitempty"`
	Language string   `dynamodbav:"language,omitempty"`
	// RequestID is the request the message created (Action request).
	RequestID string `dynamodbav:"requestId,omitempty"`
	// Attachments counts the documents stored for the request.
	Attachments int `dynamodbav:"attachments,omitempty"`
	// Object is the first raw object of the message, "s3://bucket/key".
	Object string `dynamodbav:"object"`
	// Objects are every raw object that carried the message (a string set).
	Objects []string `dynamodbav:"objects,stringset"`
	// Deliveries counts the notifications handled for the message; more than
	// one means duplicate deliveries (the same object notified again, or the
	// same Message-ID in another object).
	Deliveries     int       `dynamodbav:"deliveries"`
	ReceivedAt     time.Time `dynamodbav:"receivedAt"`
	LastDeliveryAt time.Time `dynamodbav:"lastDeliveryAt"`
	Size           int64     `dynamodbav:"size,omitempty"`
}

type recordItem struct {
	PK     string `dynamodbav:"PK"`
	SK     string `dynamodbav:"SK"`
	GSI2PK string `dynamodbav:"GSI2PK,omitempty"`
	GSI2SK string `dynamodbav:"GSI2SK,omitempty"`
	Record
}

// Records reads and writes mail records in the requests table.
type Records struct {
	DB    DB
	Table string
}

func recordKey(dedupeKey string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"PK": &types.AttributeValueMemberS{Value: recordPKPrefix + dedupeKey},
		"SK": &types.AttributeValueMemberS{Value: recordSK},
	}
}

// needsPerson reports whether a record goes on the operator's triage list.
func needsPerson(action string) bool { return action == "triage" || action == "reject" }

// Put records a delivery of a message. The first delivery of a dedupe key
// creates the record (a conditional put) and Put returns duplicate=false;
// a later one adds its object to Objects, counts the delivery and returns
// duplicate=true, leaving the first decision as it was.
func (rs *Records) Put(ctx context.Context, r Record) (duplicate bool, err error) {
	r.ReceivedAt = r.ReceivedAt.UTC()
	r.LastDeliveryAt = r.ReceivedAt
	r.Deliveries = 1
	r.Objects = []string{r.Object}
	it := recordItem{PK: recordPKPrefix + r.DedupeKey, SK: recordSK, Record: r}
	if needsPerson(r.Action) {
		it.GSI2PK = TriagePK
		it.GSI2SK = r.ReceivedAt.Format(keyTime) + "#" + r.DedupeKey
	}
	item, err := attributevalue.MarshalMap(it)
	if err != nil {
		return false, fmt.Errorf("record mail %s: %w", r.DedupeKey, err)
	}
	_, err = rs.DB.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:           aws.String(rs.Table),
		Item:                item,
		ConditionExpression: aws.String("attribute_not_exists(PK)"),
	})
	var ccf *types.ConditionalCheckFailedException
	switch {
	case errors.As(err, &ccf):
	case err != nil:
		return false, fmt.Errorf("record mail %s: %w", r.DedupeKey, err)
	default:
		return false, nil
	}
	_, err = rs.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:        aws.String(rs.Table),
		Key:              recordKey(r.DedupeKey),
		UpdateExpression: aws.String("ADD deliveries :one, objects :obj SET lastDeliveryAt = :at"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":one": &types.AttributeValueMemberN{Value: "1"},
			":obj": &types.AttributeValueMemberSS{Value: []string{r.Object}},
			":at":  &types.AttributeValueMemberS{Value: r.ReceivedAt.Format(time.RFC3339Nano)},
		},
	})
	if err != nil {
		return true, fmt.Errorf("record duplicate delivery of mail %s: %w", r.DedupeKey, err)
	}
	return true, nil
}

// Get reads the record of a dedupe key; found is false when there is none.
func (rs *Records) Get(ctx context.Context, dedupeKey string) (r Record, found bool, err error) {
	out, err := rs.DB.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(rs.Table), Key: recordKey(dedupeKey), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return Record{}, false, fmt.Errorf("read mail record %s: %w", dedupeKey, err)
	}
	if out.Item == nil {
		return Record{}, false, nil
	}
	if err := attributevalue.UnmarshalMap(out.Item, &r); err != nil {
		return Record{}, false, fmt.Errorf("read mail record %s: %w", dedupeKey, err)
	}
	return r, true, nil
}

// ListTriage returns the dedupe keys of the triage and reject records,
// oldest first (a GSI2 query; the index is eventually consistent).
func (rs *Records) ListTriage(ctx context.Context) ([]string, error) {
	var keys []string
	p := dynamodb.NewQueryPaginator(rs.DB, &dynamodb.QueryInput{
		TableName:              aws.String(rs.Table),
		IndexName:              aws.String("GSI2"),
		KeyConditionExpression: aws.String("GSI2PK = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": &types.AttributeValueMemberS{Value: TriagePK},
		},
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list mail triage: %w", err)
		}
		for _, it := range page.Items {
			var k struct {
				PK string `dynamodbav:"PK"`
			}
			if err := attributevalue.UnmarshalMap(it, &k); err != nil {
				return nil, fmt.Errorf("list mail triage: %w", err)
			}
			keys = append(keys, k.PK[len(recordPKPrefix):])
		}
	}
	return keys, nil
}
