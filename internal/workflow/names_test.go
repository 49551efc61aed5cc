package workflow

import (
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"dsrflow/internal/dsr"
	"dsrflow/internal/intake"
)

func typeName(v any) string { return fmt.Sprintf("%T", v) }

func getVerify(table, id string) *dynamodb.GetItemInput {
	return &dynamodb.GetItemInput{TableName: aws.String(table), Key: map[string]dbtypes.AttributeValue{
		"PK": &dbtypes.AttributeValueMemberS{Value: "REQ#" + id},
		"SK": &dbtypes.AttributeValueMemberS{Value: "VERIFY"},
	}}
}

func unmarshal(item map[string]dbtypes.AttributeValue, v any) error {
	return attributevalue.UnmarshalMap(item, v)
}

func intakeMail(v dsr.Validated) intake.Submission {
	return intake.Submission{Validated: v, Channel: dsr.ChannelMail, NaturalKey: "<msg-1@example.cn>", Source: "s3://mailbox/msg-1"}
}
