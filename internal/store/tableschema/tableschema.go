// Package tableschema turns the DynamoDB table defined in template.yaml into a
// CreateTableInput, so that tests and the local stack create exactly the table
// that is deployed. The template is the single source of the schema.
//
// The template is read with github.com/awslabs/goformation/v7: its intrinsic
// processor resolves the short-form tags (!Ref, !Sub, !GetAtt, ...) and the
// table's properties are decoded into goformation's AWS::DynamoDB::Table type,
// which rejects unknown properties. Only the named table resource is decoded, so
// a SAM resource goformation does not know yet cannot break loading the table.
package tableschema

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	cfndynamodb "github.com/awslabs/goformation/v7/cloudformation/dynamodb"
	"github.com/awslabs/goformation/v7/intrinsics"
)

// RequestsTable is the logical ID of the requests table in template.yaml.
const RequestsTable = "RequestsTable"

const tableType = "AWS::DynamoDB::Table"

// Table is the definition of one AWS::DynamoDB::Table resource of a template.
type Table struct {
	LogicalID string
	// Properties is the resource as goformation decoded it.
	Properties *cfndynamodb.Table
}

// processMu serialises goformation's YAML processing: intrinsics.ProcessYAML
// registers its tag resolvers in a package-level map on every call, so two
// concurrent calls anywhere in the process race ("concurrent map iteration
// and map write"). Every caller in this module goes through ProcessYAML.
var processMu sync.Mutex

// ProcessYAML is goformation's intrinsics.ProcessYAML behind the one lock
// that every caller in the process shares.
func ProcessYAML(template []byte, opts *intrinsics.ProcessorOptions) ([]byte, error) {
	processMu.Lock()
	defer processMu.Unlock()
	return intrinsics.ProcessYAML(template, opts)
}

// Load reads the template at path and returns the table resource logicalID.
func Load(path, logicalID string) (*Table, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read template: %w", err)
	}
	t, err := Parse(data, logicalID)
	if err != nil {
		return nil, fmt.Errorf("template %s: %w", path, err)
	}
	return t, nil
}

// Parse reads a YAML or JSON template and returns the table resource logicalID.
func Parse(template []byte, logicalID string) (*Table, error) {
	opts := &intrinsics.ProcessorOptions{
		// The table definition must not depend on where the stack is deployed;
		// pseudo parameters resolve to fixed placeholders and unresolvable
		// references (GetAtt, ImportValue) to null, as goformation does.
		IntrinsicHandlerOverrides: map[string]intrinsics.IntrinsicHandler{
			"Ref": ref,
		},
	}
	processed, err := ProcessYAML(template, opts)
	if err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	var doc struct {
		Resources map[string]json.RawMessage `json:"Resources"`
	}
	if err := json.Unmarshal(processed, &doc); err != nil {
		return nil, fmt.Errorf("parse resources: %w", err)
	}
	raw, ok := doc.Resources[logicalID]
	if !ok {
		return nil, fmt.Errorf("no resource %q", logicalID)
	}
	var head struct {
		Type string `json:"Type"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return nil, fmt.Errorf("resource %s: %w", logicalID, err)
	}
	if head.Type != tableType {
		return nil, fmt.Errorf("resource %s is %q, want %s", logicalID, head.Type, tableType)
	}
	var table cfndynamodb.Table
	if err := json.Unmarshal(raw, &table); err != nil {
		return nil, fmt.Errorf("resource %s: %w", logicalID, err)
	}
	return &Table{LogicalID: logicalID, Properties: &table}, nil
}

// pseudo are the values pseudo parameters resolve to while reading a template.
var pseudo = map[string]string{
	"AWS::AccountId": "123456789012",
	"AWS::Partition": "aws",
	"AWS::Region":    "us-east-1",
	"AWS::StackName": "dsrflow",
	"AWS::URLSuffix": "amazonaws.com",
}

// ref resolves Ref: a pseudo parameter to its placeholder, AWS::NoValue to null,
// and anything else as goformation does (a parameter's Default, else null).
func ref(name string, input, template any) any {
	if s, ok := input.(string); ok {
		if v, ok := pseudo[s]; ok {
			return v
		}
	}
	return intrinsics.Ref(name, input, template)
}

// CreateTableInput returns the input that creates this table under name.
// The template's TableName, if any, is ignored: tests use a fresh name each.
// Settings that are separate API calls in DynamoDB (time to live, point-in-time
// recovery) and tags are not part of CreateTable; see TimeToLiveAttribute.
func (t *Table) CreateTableInput(name string) (*dynamodb.CreateTableInput, error) {
	p := t.Properties
	if name == "" {
		return nil, errors.New("table name is empty")
	}
	if len(p.KeySchema) == 0 {
		return nil, fmt.Errorf("resource %s: no KeySchema", t.LogicalID)
	}
	in := &dynamodb.CreateTableInput{
		TableName: aws.String(name),
		KeySchema: keySchema(p.KeySchema),
	}
	for _, a := range p.AttributeDefinitions {
		in.AttributeDefinitions = append(in.AttributeDefinitions, types.AttributeDefinition{
			AttributeName: aws.String(a.AttributeName),
			AttributeType: types.ScalarAttributeType(a.AttributeType),
		})
	}
	billing := types.BillingModeProvisioned
	if p.BillingMode != nil {
		billing = types.BillingMode(*p.BillingMode)
	}
	in.BillingMode = billing
	if billing == types.BillingModeProvisioned {
		tp, err := throughput(p.ProvisionedThroughput)
		if err != nil {
			return nil, fmt.Errorf("resource %s: %w", t.LogicalID, err)
		}
		in.ProvisionedThroughput = tp
	}
	for _, g := range p.GlobalSecondaryIndexes {
		gsi := types.GlobalSecondaryIndex{
			IndexName:  aws.String(g.IndexName),
			KeySchema:  keySchema(g.KeySchema),
			Projection: projection(g.Projection),
		}
		if billing == types.BillingModeProvisioned {
			tp, err := throughput(g.ProvisionedThroughput)
			if err != nil {
				return nil, fmt.Errorf("resource %s index %s: %w", t.LogicalID, g.IndexName, err)
			}
			gsi.ProvisionedThroughput = tp
		}
		in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, gsi)
	}
	for _, l := range p.LocalSecondaryIndexes {
		in.LocalSecondaryIndexes = append(in.LocalSecondaryIndexes, types.LocalSecondaryIndex{
			IndexName:  aws.String(l.IndexName),
			KeySchema:  keySchema(l.KeySchema),
			Projection: projection(l.Projection),
		})
	}
	if s := p.SSESpecification; s != nil {
		in.SSESpecification = &types.SSESpecification{Enabled: aws.Bool(s.SSEEnabled)}
		if s.SSEType != nil {
			in.SSESpecification.SSEType = types.SSEType(*s.SSEType)
		}
		in.SSESpecification.KMSMasterKeyId = s.KMSMasterKeyId
	}
	if s := p.StreamSpecification; s != nil {
		in.StreamSpecification = &types.StreamSpecification{
			StreamEnabled:  aws.Bool(true),
			StreamViewType: types.StreamViewType(s.StreamViewType),
		}
	}
	if p.TableClass != nil {
		in.TableClass = types.TableClass(*p.TableClass)
	}
	return in, nil
}

// TimeToLiveAttribute returns the table's time-to-live attribute name and whether
// time to live is enabled.
func (t *Table) TimeToLiveAttribute() (string, bool) {
	s := t.Properties.TimeToLiveSpecification
	if s == nil || s.AttributeName == nil {
		return "", false
	}
	return *s.AttributeName, s.Enabled
}

func keySchema(ks []cfndynamodb.Table_KeySchema) []types.KeySchemaElement {
	out := make([]types.KeySchemaElement, 0, len(ks))
	for _, k := range ks {
		out = append(out, types.KeySchemaElement{
			AttributeName: aws.String(k.AttributeName),
			KeyType:       types.KeyType(k.KeyType),
		})
	}
	return out
}

func projection(p *cfndynamodb.Table_Projection) *types.Projection {
	if p == nil {
		return &types.Projection{ProjectionType: types.ProjectionTypeKeysOnly}
	}
	out := &types.Projection{ProjectionType: types.ProjectionTypeKeysOnly, NonKeyAttributes: p.NonKeyAttributes}
	if p.ProjectionType != nil {
		out.ProjectionType = types.ProjectionType(*p.ProjectionType)
	}
	return out
}

func throughput(p *cfndynamodb.Table_ProvisionedThroughput) (*types.ProvisionedThroughput, error) {
	if p == nil {
		return nil, errors.New("BillingMode PROVISIONED needs ProvisionedThroughput")
	}
	return &types.ProvisionedThroughput{
		ReadCapacityUnits:  aws.Int64(int64(p.ReadCapacityUnits)),
		WriteCapacityUnits: aws.Int64(int64(p.WriteCapacityUnits)),
	}, nil
}
