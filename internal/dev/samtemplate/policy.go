package samtemplate

import (
	"fmt"
	"sort"
	"strings"
)

// Statement is one IAM statement of a function's Policies, with SAM policy
// templates expanded to the statements SAM makes of them.
type Statement struct {
	Sid    string
	Effect string
	// Actions as written ("dynamodb:GetItem", "s3:*").
	Actions []string
	// Resources as written: strings or intrinsics (Ref, Fn::GetAtt,
	// Fn::Sub, Fn::If).
	Resources []any
	Condition map[string]any
	// If names the template condition the statement is under (Fn::If's
	// true branch), "" when unconditional.
	If string
	// Template is the SAM policy template the statement comes from
	// ("DynamoDBCrudPolicy"), "" for a written statement.
	Template string
}

// samPolicyActions are the actions of the SAM policy templates this
// template has used (github.com/aws/serverless-application-model,
// policy_templates.json); others are refused by Statements.
var samPolicyActions = map[string][]string{
	"DynamoDBCrudPolicy": {"dynamodb:GetItem", "dynamodb:DeleteItem", "dynamodb:PutItem", "dynamodb:Scan", "dynamodb:Query",
		"dynamodb:UpdateItem", "dynamodb:BatchWriteItem", "dynamodb:BatchGetItem", "dynamodb:DescribeTable", "dynamodb:ConditionCheckItem"},
	"DynamoDBReadPolicy":           {"dynamodb:GetItem", "dynamodb:Scan", "dynamodb:Query", "dynamodb:BatchGetItem", "dynamodb:DescribeTable"},
	"DynamoDBWritePolicy":          {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:BatchWriteItem"},
	"StepFunctionsExecutionPolicy": {"states:StartExecution"},
	"LambdaInvokePolicy":           {"lambda:InvokeFunction"},
}

// Statements flattens a Policies list: written statements, the statements
// of Fn::If branches (the true branch, marked with its condition; an
// AWS::NoValue false branch adds nothing) and SAM policy templates.
func Statements(policies []any) ([]Statement, error) {
	var out []Statement
	var walk func(p any, cond string) error
	walk = func(p any, cond string) error {
		m := asMap(p)
		if m == nil {
			return fmt.Errorf("policy %v: not an object", p)
		}
		if f, ok := m["Fn::If"].([]any); ok && len(f) == 3 {
			name, _ := f[0].(string)
			for _, branch := range f[1:] {
				if in, ok := AsIntrinsic(branch); ok && in.Func == "Ref" && in.Target == "AWS::NoValue" {
					continue
				}
				if err := walk(branch, name); err != nil {
					return err
				}
			}
			return nil
		}
		if stmts, ok := m["Statement"].([]any); ok {
			for _, s := range stmts {
				sm := asMap(s)
				if f, ok := sm["Fn::If"].([]any); ok && len(f) == 3 {
					name, _ := f[0].(string)
					for _, branch := range f[1:] {
						if in, ok := AsIntrinsic(branch); ok && in.Func == "Ref" && in.Target == "AWS::NoValue" {
							continue
						}
						if err := walk(map[string]any{"Statement": []any{branch}}, name); err != nil {
							return err
						}
					}
					continue
				}
				st := Statement{If: cond, Condition: asMap(sm["Condition"])}
				st.Sid, _ = sm["Sid"].(string)
				st.Effect, _ = sm["Effect"].(string)
				for _, a := range listOf(sm["Action"]) {
					if s, ok := a.(string); ok {
						st.Actions = append(st.Actions, s)
					}
				}
				st.Resources = listOf(sm["Resource"])
				out = append(out, st)
			}
			return nil
		}
		if len(m) == 1 {
			for name, args := range m {
				acts, ok := samPolicyActions[name]
				if !ok {
					return fmt.Errorf("SAM policy template %s: not known here (add its actions to samPolicyActions)", name)
				}
				out = append(out, Statement{Effect: "Allow", Actions: acts, Resources: []any{args}, If: cond, Template: name})
			}
			return nil
		}
		return fmt.Errorf("policy %v: neither a statement list nor a SAM policy template", p)
	}
	for _, p := range policies {
		if err := walk(p, ""); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Actions returns the distinct actions the Allow statements grant, sorted.
func Actions(stmts []Statement) []string {
	seen := map[string]bool{}
	for _, s := range stmts {
		if s.Effect != "Allow" {
			continue
		}
		for _, a := range s.Actions {
			seen[a] = true
		}
	}
	out := make([]string, 0, len(seen))
	for a := range seen {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

// Grants reports whether s allows action: written exactly or matched by a
// wildcard ("dynamodb:*", "*").
func (s Statement) Grants(action string) bool {
	if s.Effect != "Allow" {
		return false
	}
	for _, a := range s.Actions {
		if a == "*" || strings.EqualFold(a, action) {
			return true
		}
		if p, ok := strings.CutSuffix(a, "*"); ok && strings.HasPrefix(strings.ToLower(action), strings.ToLower(p)) {
			return true
		}
	}
	return false
}

func listOf(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	if v == nil {
		return nil
	}
	return []any{v}
}
