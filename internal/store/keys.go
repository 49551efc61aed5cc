package store

import (
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Index and key layout: the package doc's table. Nothing outside this
// package spells a key (internal/boundaries checks it).
const (
	gsiSubject = "GSI1"
	gsiOpen    = "GSI2"

	attrPK     = "PK"
	attrSK     = "SK"
	attrGSI1PK = "GSI1PK"
	attrGSI1SK = "GSI1SK"
	attrGSI2PK = "GSI2PK"
	attrGSI2SK = "GSI2SK"

	pkPrefix       = "REQ#"
	skRequest      = "REQUEST"
	skPersonal     = "PERSONAL"
	skIdentity     = "IDENTITY"
	skDocPrefix    = "DOC#"
	skEventPrefix  = "EVT#"
	skSubjPrefix   = "SUBJ#"
	skHintPrefix   = "HINT#"
	skVerify       = "VERIFY"
	skOperatorPfx  = "OPERATOR#"
	skNoticePrefix = "NOTICE#"
	skCertificate  = "CERTIFICATE"
	skTokenPrefix  = "TOKEN#"

	holdPKPrefix = "HOLD#"
	skHold       = "HOLD"
	holdsPK      = "HOLDS"

	mailPKPrefix = "MAIL#"
	skMail       = "MAIL"
	mailTriagePK = "MAIL#TRIAGE"

	mailAckPKPrefix = "MAILACK#"
	skMailAck       = "MAILACK"
	budgetPKPrefix  = "BUDGET#"
	skBudgetPrefix  = "WINDOW#"

	openPK = "OPEN"
	// purgePK is the GSI2 partition of closed requests whose personal data
	// is not purged yet (purge.go).
	purgePK = "PURGE"

	sweepPKPrefix = "SWEEP#"
	skSweep       = "SWEEP"
	// unanchoredPK is the GSI1 partition of requests whose audit chain
	// changed since it was last anchored (anchor.go).
	unanchoredPK = "AUDIT#UNANCHORED"
	// noDueSort sorts open requests without a due date after every dated
	// one: '~' comes after every digit.
	noDueSort = "~"

	// keyTime formats times inside sort keys: fixed width, so string order is
	// time order.
	keyTime = "2006-01-02T15:04:05.000000000Z"
)

func requestPK(id string) string     { return pkPrefix + id }
func eventSK(seq int) string         { return fmt.Sprintf("%s%010d", skEventPrefix, seq) }
func docSK(n int) string             { return fmt.Sprintf("%s%04d", skDocPrefix, n) }
func operatorSK(stage string) string { return skOperatorPfx + stage }
func noticeSK(template string) string {
	return skNoticePrefix + template
}
func tokenSK(name string) string      { return skTokenPrefix + name }
func holdPK(subjectKey string) string { return holdPKPrefix + subjectKey }
func mailPK(dedupeKey string) string  { return mailPKPrefix + dedupeKey }
func mailAckPK(senderKey string) string {
	return mailAckPKPrefix + senderKey
}
func budgetPK(key string) string { return budgetPKPrefix + key }
func budgetSK(start time.Time) string {
	return skBudgetPrefix + start.UTC().Format(keyTime)
}

type itemKey struct {
	PK string `dynamodbav:"PK"`
	SK string `dynamodbav:"SK"`
}

func keyOf(pk, sk string) (map[string]types.AttributeValue, error) {
	return attributevalue.MarshalMap(itemKey{PK: pk, SK: sk})
}

// updateTTLInput sets expiresAt on an item that exists.
func updateTTLInput(table string, key map[string]types.AttributeValue, ttl types.AttributeValue) *dynamodb.UpdateItemInput {
	return &dynamodb.UpdateItemInput{
		TableName:                 aws.String(table),
		Key:                       key,
		UpdateExpression:          aws.String("SET expiresAt = :t"),
		ConditionExpression:       aws.String("attribute_exists(PK)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":t": ttl},
	}
}
