package tableschema

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

const provisioned = `
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Parameters:
  Environment: {Type: String, Default: dev}
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      SomePropertyGoformationDoesNotKnow: true
      Policies:
        - Statement:
            Resource: !Sub 'arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${T}'
  T:
    Type: AWS::DynamoDB::Table
    DeletionPolicy: Retain
    Properties:
      TableName: !Sub 'dsrflow-${Environment}'
      AttributeDefinitions:
        - {AttributeName: id, AttributeType: S}
        - {AttributeName: n, AttributeType: N}
      KeySchema:
        - {AttributeName: id, KeyType: HASH}
      ProvisionedThroughput: {ReadCapacityUnits: 5, WriteCapacityUnits: 2}
      LocalSecondaryIndexes: []
      GlobalSecondaryIndexes:
        - IndexName: ByN
          KeySchema: [{AttributeName: n, KeyType: HASH}]
          Projection: {ProjectionType: INCLUDE, NonKeyAttributes: [a]}
          ProvisionedThroughput: {ReadCapacityUnits: 1, WriteCapacityUnits: 1}
      StreamSpecification: {StreamViewType: NEW_IMAGE}
      Tags:
        - {Key: environment, Value: !Ref Environment}
`

func TestParseProvisioned(t *testing.T) {
	tb, err := Parse([]byte(provisioned), "T")
	if err != nil {
		t.Fatal(err)
	}
	in, err := tb.CreateTableInput("mine")
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(in.TableName) != "mine" {
		t.Errorf("TableName = %s, want the name given, not the template's", aws.ToString(in.TableName))
	}
	if in.BillingMode != types.BillingModeProvisioned || aws.ToInt64(in.ProvisionedThroughput.ReadCapacityUnits) != 5 || aws.ToInt64(in.ProvisionedThroughput.WriteCapacityUnits) != 2 {
		t.Errorf("billing %s throughput %+v, want PROVISIONED 5/2", in.BillingMode, in.ProvisionedThroughput)
	}
	if len(in.AttributeDefinitions) != 2 || in.AttributeDefinitions[1].AttributeType != types.ScalarAttributeTypeN {
		t.Errorf("attribute definitions = %+v", in.AttributeDefinitions)
	}
	if len(in.GlobalSecondaryIndexes) != 1 {
		t.Fatalf("indexes = %+v, want 1", in.GlobalSecondaryIndexes)
	}
	g := in.GlobalSecondaryIndexes[0]
	if aws.ToString(g.IndexName) != "ByN" || g.Projection.ProjectionType != types.ProjectionTypeInclude ||
		len(g.Projection.NonKeyAttributes) != 1 || aws.ToInt64(g.ProvisionedThroughput.ReadCapacityUnits) != 1 {
		t.Errorf("index = %+v / %+v", g, g.Projection)
	}
	if in.StreamSpecification == nil || !aws.ToBool(in.StreamSpecification.StreamEnabled) || in.StreamSpecification.StreamViewType != types.StreamViewTypeNewImage {
		t.Errorf("stream = %+v, want enabled NEW_IMAGE", in.StreamSpecification)
	}
	if in.SSESpecification != nil {
		t.Errorf("SSE = %+v, want none", in.SSESpecification)
	}
	if attr, on := tb.TimeToLiveAttribute(); attr != "" || on {
		t.Errorf("time to live = %q %v, want none", attr, on)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, template, id, want string
	}{
		{"no such resource", provisioned, "Missing", `no resource "Missing"`},
		{"not a table", provisioned, "Fn", `resource Fn is "AWS::Serverless::Function"`},
		{"invalid YAML", "Resources: [", "T", "parse"},
		{"unknown property", "Resources:\n  T:\n    Type: AWS::DynamoDB::Table\n    Properties:\n      BilingMode: PAY_PER_REQUEST\n      KeySchema: []\n", "T", "BilingMode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.template), tt.id)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestCreateTableInputErrors(t *testing.T) {
	tests := []struct {
		name, template, table, want string
	}{
		{"empty name", provisioned, "", "table name is empty"},
		{"no key schema", "Resources:\n  T:\n    Type: AWS::DynamoDB::Table\n    Properties:\n      KeySchema: []\n", "x", "no KeySchema"},
		{"provisioned without throughput", "Resources:\n  T:\n    Type: AWS::DynamoDB::Table\n    Properties:\n      KeySchema: [{AttributeName: a, KeyType: HASH}]\n", "x", "needs ProvisionedThroughput"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tb, err := Parse([]byte(tt.template), "T")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tb.CreateTableInput(tt.table); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// The repository's template.yaml loads, with the settings a privacy audit
// table needs.
func TestRepositoryTemplate(t *testing.T) {
	tb, err := Load(filepath.Join("..", "..", "..", "template.yaml"), RequestsTable)
	if err != nil {
		t.Fatal(err)
	}
	p := tb.Properties
	if p.BillingMode == nil || *p.BillingMode != "PAY_PER_REQUEST" {
		t.Errorf("BillingMode = %v, want PAY_PER_REQUEST", p.BillingMode)
	}
	if p.PointInTimeRecoverySpecification == nil || !aws.ToBool(p.PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled) {
		t.Error("point-in-time recovery is not enabled")
	}
	if p.SSESpecification == nil || !p.SSESpecification.SSEEnabled {
		t.Error("server-side encryption is not enabled")
	}
	if !aws.ToBool(p.DeletionProtectionEnabled) || p.AWSCloudFormationDeletionPolicy != "Retain" || p.AWSCloudFormationUpdateReplacePolicy != "Retain" {
		t.Errorf("deletion protection %v, policies %q/%q; want true, Retain/Retain",
			aws.ToBool(p.DeletionProtectionEnabled), p.AWSCloudFormationDeletionPolicy, p.AWSCloudFormationUpdateReplacePolicy)
	}
	if attr, on := tb.TimeToLiveAttribute(); attr != "expiresAt" || !on {
		t.Errorf("time to live = %q %v, want expiresAt on", attr, on)
	}
	in, err := tb.CreateTableInput("x")
	if err != nil {
		t.Fatal(err)
	}
	if in.SSESpecification == nil || !aws.ToBool(in.SSESpecification.Enabled) {
		t.Errorf("CreateTableInput SSE = %+v, want enabled", in.SSESpecification)
	}
}
