package samtemplate_test

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"dsrflow/internal/dev/samtemplate"
)

// Least privilege in template.yaml (issue 15, item 4): one test per rule.

// dynamoAccess is what each function's code does to the requests table:
// the DynamoDB actions by item family (the partition key prefix of the
// items, internal/store's package doc), by index ("index/GSI1") and Scan.
// It was found by following each function's handler through
// internal/store to its DynamoDB calls (tools/iamscan: a static call graph
// from the handler, golang.org/x/tools/go/callgraph/vta, over the store's
// unexported helpers to the DB interface's methods and the key builders
// they use; `cd tools/iamscan && go run . ../..` prints this table), then
// checked by reading the handlers. template.yaml grants exactly this:
// one statement per family, limited to it by dynamodb:LeadingKeys; index
// queries on the index's ARN only (KEYS_ONLY indexes: they return keys,
// the items are read through the table under LeadingKeys); Scan only for
// reconcile's one-time purge-index backfill. Change a function's store
// calls, change this table and the template together.
var dynamoAccess = map[string]map[string][]string{
	"admit":                {"REQ#": rw},
	"anchor-audit":         {"REQ#": {"GetItem", "Query", "UpdateItem"}, "index/GSI1": {"Query"}},
	"await-operator":       {"REQ#": rw},
	"close":                {"REQ#": rw, "BUDGET#": {"UpdateItem"}},
	"confirm-backup-purge": {"REQ#": rw},
	"escalate-backups":     {"REQ#": rw},
	"intake-mail": {"REQ#": with(rw, "BatchGetItem"), "MAIL#": {"PutItem", "UpdateItem"}, "MAILACK#": {"PutItem"},
		"BUDGET#": {"UpdateItem"}, "index/GSI1": {"Query"}},
	"intake-web":       {"REQ#": with(rw, "BatchGetItem"), "BUDGET#": {"UpdateItem"}, "index/GSI1": {"Query"}},
	"partner":          {"REQ#": rw},
	"partner-callback": {"REQ#": rw},
	"partner-escalate": {"REQ#": rw},
	"purge-personal":   {"REQ#": with(rw, "DeleteItem")},
	"reconcile": {"REQ#": with(rw, "BatchGetItem", "DeleteItem"), "SWEEP#": {"GetItem", "PutItem"},
		"index/GSI2": {"Query"}, "Scan": {"Scan"}},
	"reply":           {"REQ#": with(rw, "DeleteItem"), "HOLD#": {"GetItem"}, "BUDGET#": {"UpdateItem"}},
	"review":          {"REQ#": with(rw, "BatchGetItem"), "HOLD#": {"GetItem"}, "BUDGET#": {"UpdateItem"}, "index/GSI1": {"Query"}},
	"verify-identity": {"REQ#": rw, "BUDGET#": {"UpdateItem"}},
}

// rw: read a request's items, write them, query its partition (events,
// partner tasks, documents).
var rw = []string{"GetItem", "PutItem", "UpdateItem", "Query"}

func with(base []string, more ...string) []string { return append(slices.Clone(base), more...) }

const tableArn = "RequestsTable.Arn"

// functionStatements returns each function's statements by folder name.
func functionStatements(t *testing.T, tpl *samtemplate.Template) map[string][]samtemplate.Statement {
	t.Helper()
	out := map[string][]samtemplate.Statement{}
	for _, f := range functions(t, tpl) {
		stmts, err := samtemplate.Statements(f.Policies)
		if err != nil {
			t.Fatalf("%s: %v", f.LogicalID, err)
		}
		out[f.Name] = stmts
	}
	return out
}

// isGetAtt reports whether v is !GetAtt target (LogicalID.Attribute).
func isGetAtt(v any, target string) bool {
	in, ok := samtemplate.AsIntrinsic(v)
	return ok && in.Func == "Fn::GetAtt" && in.Target+"."+in.Attribute == target
}

func stringSet(v any) []string {
	var out []string
	for _, e := range listOf(v) {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// dynamoGrants reads a function's DynamoDB statements as dynamoAccess
// writes them, and reports any statement that is not of one of its shapes.
func dynamoGrants(stmts []samtemplate.Statement) (map[string][]string, []string) {
	got := map[string][]string{}
	var bad []string
	for _, s := range stmts {
		var acts []string
		for _, a := range s.Actions {
			if strings.HasPrefix(a, "dynamodb:") || a == "*" {
				acts = append(acts, strings.TrimPrefix(a, "dynamodb:"))
			}
		}
		if len(acts) == 0 || s.Effect != "Allow" {
			continue
		}
		if s.Template != "" {
			bad = append(bad, fmt.Sprintf("SAM policy template %s", s.Template))
			continue
		}
		if len(s.Resources) != 1 {
			bad = append(bad, fmt.Sprintf("%s: %d resources, want one", s.Sid, len(s.Resources)))
			continue
		}
		for _, a := range acts {
			if strings.Contains(a, "*") {
				bad = append(bad, fmt.Sprintf("%s: wildcard action %s", s.Sid, a))
			}
		}
		r := s.Resources[0]
		var families []string
		switch {
		case isGetAtt(r, tableArn):
			lk := nested(s.Condition, "ForAllValues:StringLike", "dynamodb:LeadingKeys")
			if lk == nil {
				if !slices.Equal(acts, []string{"Scan"}) {
					bad = append(bad, fmt.Sprintf("%s: %v on the table without dynamodb:LeadingKeys", s.Sid, acts))
					continue
				}
				families = []string{"Scan"}
				break
			}
			if slices.Contains(acts, "Scan") {
				bad = append(bad, fmt.Sprintf("%s: Scan under LeadingKeys (a Scan has no leading keys: ForAllValues would pass it)", s.Sid))
			}
			for _, k := range stringSet(lk) {
				fam, ok := strings.CutSuffix(k, "*")
				if !ok || strings.Contains(fam, "*") || !strings.HasSuffix(fam, "#") {
					bad = append(bad, fmt.Sprintf("%s: LeadingKeys %q is not one family (PREFIX#*)", s.Sid, k))
				}
				families = append(families, fam)
			}
		default:
			sub, _ := asMapAny(r)["Fn::Sub"].(string)
			idx, ok := strings.CutPrefix(sub, "${"+tableArn+"}/index/")
			if !ok || idx == "" || strings.Contains(idx, "*") || !slices.Equal(acts, []string{"Query"}) {
				bad = append(bad, fmt.Sprintf("%s: %v on %v: want the table ARN, or Query on one index's ARN", s.Sid, acts, r))
				continue
			}
			families = []string{"index/" + idx}
		}
		for _, f := range families {
			got[f] = append(got[f], acts...)
		}
	}
	for k := range got {
		slices.Sort(got[k])
		got[k] = slices.Compact(got[k])
	}
	return got, bad
}

// TestDynamoDBAccessPerFunction: each function may do to the table exactly
// what its code does (dynamoAccess), item family by item family.
func TestDynamoDBAccessPerFunction(t *testing.T) {
	t.Parallel()
	tpl, _ := load(t)
	all := functionStatements(t, tpl)
	for name, stmts := range all {
		want, ok := dynamoAccess[name]
		if !ok {
			t.Errorf("%s: no row in dynamoAccess: find what its code does to the table and add it", name)
			continue
		}
		got, bad := dynamoGrants(stmts)
		for _, b := range bad {
			t.Errorf("%s: %s", name, b)
		}
		norm := map[string][]string{}
		for k, v := range want {
			norm[k] = slices.Sorted(slices.Values(v))
		}
		for _, fam := range slices.Sorted(maps.Keys(mergeKeys(got, norm))) {
			if !slices.Equal(got[fam], norm[fam]) {
				t.Errorf("%s: %s: template grants %v, the code needs %v", name, fam, got[fam], norm[fam])
			}
		}
	}
	for name := range dynamoAccess {
		if _, ok := all[name]; !ok {
			t.Errorf("dynamoAccess has %s, which is not a function of the template", name)
		}
	}
}

func mergeKeys(a, b map[string][]string) map[string]bool {
	out := map[string]bool{}
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

// TestNoCrudPolicyOnTheTable: no function gets a SAM DynamoDB policy
// template (they grant every action on the whole table and its indexes),
// a dynamodb:* wildcard, or a table action without dynamodb:LeadingKeys
// (except reconcile's Scan, which has no leading key).
func TestNoCrudPolicyOnTheTable(t *testing.T) {
	t.Parallel()
	tpl, _ := load(t)
	for name, stmts := range functionStatements(t, tpl) {
		for _, s := range stmts {
			if strings.HasPrefix(s.Template, "DynamoDB") {
				t.Errorf("%s has %s: grant the actions and item families it needs instead", name, s.Template)
			}
		}
		_, bad := dynamoGrants(stmts)
		for _, b := range bad {
			t.Errorf("%s: %s", name, b)
		}
	}
}

// internetFacing are the functions behind the HTTP API.
func internetFacing(t *testing.T, tpl *samtemplate.Template) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, f := range functions(t, tpl) {
		for _, e := range f.Events {
			if e.Type == "HttpApi" || e.Type == "Api" {
				out[f.Name] = true
			}
		}
	}
	if !out["intake-web"] || !out["partner-callback"] {
		t.Fatalf("internet-facing functions = %v, want intake-web and partner-callback among them", out)
	}
	return out
}

// TestInternetFacingFunctionsCannotScanOrDelete: the functions behind the
// HTTP API may not Scan the table (nor delete from it).
func TestInternetFacingFunctionsCannotScanOrDelete(t *testing.T) {
	t.Parallel()
	tpl, _ := load(t)
	all := functionStatements(t, tpl)
	for name := range internetFacing(t, tpl) {
		for _, s := range all[name] {
			for _, a := range []string{"dynamodb:Scan", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem", "dynamodb:PartiQLSelect"} {
				if s.Grants(a) {
					t.Errorf("%s (internet-facing) may %s (statement %q)", name, a, s.Sid)
				}
			}
		}
	}
}

// deleters are the functions that delete items, and why.
var deleters = map[string]string{
	"purge-personal": "purges a closed request's personal items (store.PurgePersonal)",
	"reconcile":      "purges what the workflow's Purge missed (store.PurgePersonal)",
	"reply":          "deletes its own task token once answered (store.DeleteTaskToken)",
}

// TestOnlyDeletersDelete: dynamodb:DeleteItem (or BatchWriteItem, which
// deletes too) only for the functions whose code deletes.
func TestOnlyDeletersDelete(t *testing.T) {
	t.Parallel()
	tpl, _ := load(t)
	got := map[string]bool{}
	for name, stmts := range functionStatements(t, tpl) {
		for _, s := range stmts {
			if s.Grants("dynamodb:DeleteItem") || s.Grants("dynamodb:BatchWriteItem") {
				got[name] = true
			}
		}
	}
	for name := range got {
		if _, ok := deleters[name]; !ok {
			t.Errorf("%s may delete items, but its code deletes none", name)
		}
	}
	for name, why := range deleters {
		if !got[name] {
			t.Errorf("%s may not delete items, but it %s", name, why)
		}
	}
}

// TestSESScopedToMailFrom: ses:SendRawEmail only as MailFrom (its address
// identity or its domain's) and the configuration set, never identity/*,
// and only where SES exists.
func TestSESScopedToMailFrom(t *testing.T) {
	t.Parallel()
	tpl, _ := load(t)
	prefix := "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:"
	senders := 0
	for name, stmts := range functionStatements(t, tpl) {
		for _, s := range stmts {
			if !s.Grants("ses:SendRawEmail") {
				continue
			}
			senders++
			if s.If != "HasSes" {
				t.Errorf("%s: %s grants ses:SendRawEmail outside Fn::If HasSes (no SES in aws-cn)", name, s.Sid)
			}
			if !slices.Equal(s.Actions, []string{"ses:SendRawEmail"}) {
				t.Errorf("%s: %s grants %v, want ses:SendRawEmail alone", name, s.Sid, s.Actions)
			}
			var address, domain, cfgSet bool
			for _, r := range s.Resources {
				m := asMapAny(r)
				switch sub := m["Fn::Sub"].(type) {
				case string:
					switch sub {
					case prefix + "identity/${MailFrom}":
						address = true
					default:
						t.Errorf("%s: %s: resource %q is not MailFrom's identity", name, s.Sid, sub)
					}
				case []any:
					tmpl, _ := sub[0].(string)
					vars := asMapAny(sub[1])
					split := fmt.Sprint(vars["Domain"])
					if tmpl == prefix+"identity/${Domain}" && strings.Contains(split, "Fn::Split:[@ map[Ref:MailFrom]]") && strings.Contains(split, "Fn::Select:[1") {
						domain = true
					} else {
						t.Errorf("%s: %s: resource %v is not MailFrom's domain identity", name, s.Sid, sub)
					}
				default:
					if f, ok := m["Fn::If"].([]any); ok && len(f) == 3 && f[0] == "HasSesConfigurationSet" &&
						fmt.Sprint(asMapAny(f[1])["Fn::Sub"]) == prefix+"configuration-set/${SesConfigurationSet}" {
						cfgSet = true
						continue
					}
					t.Errorf("%s: %s: resource %v is not MailFrom's identity or the configuration set", name, s.Sid, r)
				}
			}
			if !address || !domain || !cfgSet {
				t.Errorf("%s: %s: address %v, domain %v, configuration set %v: want all three", name, s.Sid, address, domain, cfgSet)
			}
		}
	}
	if senders == 0 {
		t.Fatal("no function may send with SES")
	}
}

// dataKey returns the logical ID of the key the table is encrypted with,
// checking it is a customer managed, symmetric, rotated key.
func dataKey(t *testing.T, tpl *samtemplate.Template) string {
	t.Helper()
	sse := asMapAny(tpl.Resources["RequestsTable"].Properties["SSESpecification"])
	in, ok := samtemplate.AsIntrinsic(sse["KMSMasterKeyId"])
	if sse["SSEEnabled"] != true || sse["SSEType"] != "KMS" || !ok || in.Func != "Fn::GetAtt" || in.Attribute != "Arn" {
		t.Fatalf("RequestsTable: SSESpecification = %v, want SSEType KMS under !GetAtt <key>.Arn", sse)
	}
	k := tpl.Resources[in.Target]
	if k.Type != "AWS::KMS::Key" {
		t.Fatalf("the table's key %s is a %s, not an AWS::KMS::Key of the template", in.Target, k.Type)
	}
	p := k.Properties
	if p["EnableKeyRotation"] != true || (p["KeySpec"] != nil && p["KeySpec"] != "SYMMETRIC_DEFAULT") || (p["KeyUsage"] != nil && p["KeyUsage"] != "ENCRYPT_DECRYPT") {
		t.Errorf("%s: EnableKeyRotation %v, KeySpec %v, KeyUsage %v: want a rotated symmetric encryption key", in.Target, p["EnableKeyRotation"], p["KeySpec"], p["KeyUsage"])
	}
	if tplDeletionPolicy(tpl, in.Target) != "Retain" {
		t.Errorf("%s: DeletionPolicy %q, want Retain (it encrypts retained data)", in.Target, tplDeletionPolicy(tpl, in.Target))
	}
	return in.Target
}

func tplDeletionPolicy(tpl *samtemplate.Template, id string) string {
	s, _ := asMapAny(asMapAny(tpl.Doc["Resources"])[id])["DeletionPolicy"].(string)
	return s
}

// TestPersonalDataOnTheCustomerManagedKey: one customer managed key
// encrypts the table, the mailbox bucket and the export bucket; the
// buckets refuse objects under any other encryption; the upload forms and
// exports name that key; the audit anchor bucket stays on SSE-S3 (see
// the template: anchors must outlive any key).
func TestPersonalDataOnTheCustomerManagedKey(t *testing.T) {
	t.Parallel()
	tpl, _ := load(t)
	key := dataKey(t, tpl)
	for _, bucket := range []string{"MailboxBucket", "ExportBucket"} {
		enc, _ := nested(tpl.Resources[bucket].Properties, "BucketEncryption", "ServerSideEncryptionConfiguration").([]any)
		def := asMapAny(nested(map[string]any{"e": firstOf(enc)}, "e", "ServerSideEncryptionByDefault"))
		if def["SSEAlgorithm"] != "aws:kms" || !isGetAtt(def["KMSMasterKeyID"], key+".Arn") {
			t.Errorf("%s: default encryption %v, want aws:kms under %s", bucket, def, key)
		}
		var algo, keyID bool
		for _, s := range bucketPolicy(t, tpl, bucket) {
			if s["Effect"] != "Deny" || !slices.Contains(stringSet(s["Action"]), "s3:PutObject") {
				continue
			}
			cond := asMapAny(asMapAny(s["Condition"])["StringNotEqualsIfExists"])
			algo = algo || cond["s3:x-amz-server-side-encryption"] == "aws:kms"
			keyID = keyID || isGetAtt(cond["s3:x-amz-server-side-encryption-aws-kms-key-id"], key+".Arn")
		}
		if !algo || !keyID {
			t.Errorf("%s's policy denies PutObject under another algorithm %v, under another key %v: want both", bucket, algo, keyID)
		}
	}
	enc, _ := nested(tpl.Resources["AuditAnchorBucket"].Properties, "BucketEncryption", "ServerSideEncryptionConfiguration").([]any)
	if a := nested(map[string]any{"e": firstOf(enc)}, "e", "ServerSideEncryptionByDefault", "SSEAlgorithm"); a != "AES256" {
		t.Errorf("AuditAnchorBucket: %v, want AES256 (anchors must stay readable whatever becomes of the data key)", a)
	}
	web, err := tpl.Function("intake-web")
	if err != nil {
		t.Fatal(err)
	}
	if web.Environment["UPLOAD_SSE"] != "aws:kms" || !isGetAtt(web.Environment["UPLOAD_KMS_KEY_ID"], key+".Arn") {
		t.Errorf("intake-web: UPLOAD_SSE %v, UPLOAD_KMS_KEY_ID %v: want aws:kms under %s", web.Environment["UPLOAD_SSE"], web.Environment["UPLOAD_KMS_KEY_ID"], key)
	}
	for _, f := range functions(t, tpl) {
		stmts, _ := samtemplate.Statements(f.Policies)
		writesExports := false
		for _, s := range stmts {
			for _, r := range s.Resources {
				if strings.HasPrefix(fmt.Sprint(asMapAny(r)["Fn::Sub"]), "${ExportBucket.Arn}") && s.Grants("s3:PutObject") {
					writesExports = true
				}
			}
		}
		if writesExports && !isGetAtt(f.Environment["EXPORT_KMS_KEY_ID"], key+".Arn") {
			t.Errorf("%s writes exports without EXPORT_KMS_KEY_ID naming %s (aws:kms without a key ID means aws/s3's key)", f.Name, key)
		}
	}
}

func firstOf(l []any) any {
	if len(l) == 0 {
		return nil
	}
	return l[0]
}

func bucketPolicy(t *testing.T, tpl *samtemplate.Template, bucket string) []map[string]any {
	t.Helper()
	for _, r := range tpl.Resources {
		if r.Type != "AWS::S3::BucketPolicy" {
			continue
		}
		if in, ok := samtemplate.AsIntrinsic(r.Properties["Bucket"]); !ok || in.Target != bucket {
			continue
		}
		var out []map[string]any
		for _, s := range listOf(nested(r.Properties, "PolicyDocument", "Statement")) {
			out = append(out, asMapAny(s))
		}
		return out
	}
	t.Fatalf("no bucket policy for %s", bucket)
	return nil
}

// TestFunctionsUseTheDataKeyOnly: a function that reads or writes the
// table or the encrypted buckets may use the data key for that and nothing
// else: Decrypt (and DescribeKey, for DynamoDB) through DynamoDB, Decrypt
// and GenerateDataKey through S3 where it reads or writes objects; only
// that key, only through those services (kms:ViaService).
func TestFunctionsUseTheDataKeyOnly(t *testing.T) {
	t.Parallel()
	tpl, _ := load(t)
	key := dataKey(t, tpl)
	allowed := map[string][]string{
		"dynamodb.${AWS::Region}.${AWS::URLSuffix}": {"kms:Decrypt", "kms:DescribeKey"},
		"s3.${AWS::Region}.${AWS::URLSuffix}":       {"kms:Decrypt", "kms:GenerateDataKey"},
	}
	for name, stmts := range functionStatements(t, tpl) {
		via := map[string][]string{}
		var usesTable, readsObjects, writesObjects bool
		for _, s := range stmts {
			for _, a := range s.Actions {
				if strings.HasPrefix(a, "dynamodb:") {
					usesTable = true
				}
			}
			for _, r := range s.Resources {
				res := fmt.Sprint(r)
				encrypted := strings.Contains(res, "MailboxBucket") || strings.Contains(res, "ExportBucket") || strings.Contains(res, "-mailbox-")
				readsObjects = readsObjects || (encrypted && s.Grants("s3:GetObject"))
				writesObjects = writesObjects || (encrypted && s.Grants("s3:PutObject"))
			}
			var kmsActs []string
			for _, a := range s.Actions {
				if strings.HasPrefix(a, "kms:") || a == "*" {
					kmsActs = append(kmsActs, a)
				}
			}
			if len(kmsActs) == 0 {
				continue
			}
			if len(s.Resources) == 1 && isGetAtt(s.Resources[0], "CertificateSigningKey.Arn") {
				continue // close signs certificates with its own key
			}
			if len(s.Resources) != 1 || !isGetAtt(s.Resources[0], key+".Arn") {
				t.Errorf("%s: %s: %v on %v, want the data key %s only", name, s.Sid, kmsActs, s.Resources, key)
				continue
			}
			svc := nested(s.Condition, "StringEquals", "kms:ViaService")
			sub, _ := asMapAny(svc)["Fn::Sub"].(string)
			acts, ok := allowed[sub]
			if !ok {
				t.Errorf("%s: %s: kms:ViaService %v, want DynamoDB's or S3's", name, s.Sid, svc)
				continue
			}
			for _, a := range kmsActs {
				if !slices.Contains(acts, a) {
					t.Errorf("%s: %s: %s through %s", name, s.Sid, a, sub)
				}
				via[sub] = append(via[sub], a)
			}
		}
		need := func(svc, act string, needed bool) {
			has := slices.Contains(via[svc], act)
			if needed && !has {
				t.Errorf("%s needs %s through %s", name, act, strings.SplitN(svc, ".", 2)[0])
			}
			if !needed && has {
				t.Errorf("%s may %s through %s, which it does not need", name, act, strings.SplitN(svc, ".", 2)[0])
			}
		}
		need("dynamodb.${AWS::Region}.${AWS::URLSuffix}", "kms:Decrypt", usesTable)
		need("s3.${AWS::Region}.${AWS::URLSuffix}", "kms:Decrypt", readsObjects)
		need("s3.${AWS::Region}.${AWS::URLSuffix}", "kms:GenerateDataKey", writesObjects)
	}
}

// secretIDVars are the variables that name Secrets Manager secrets.
func isSecretIDVar(name string) bool {
	return strings.HasSuffix(name, "_SECRET_ID") || name == "PARTNER_SECRETS_ID"
}

// TestSecretsAreNotEnvironmentVariables (issue 15, item 5): no secret is a
// parameter (NoEcho) or an environment value (a dynamic reference, or a
// variable named like a secret); a function's environment names the
// stack's Secrets Manager secrets it reads, and its role may read exactly
// those (and the Alibaba Cloud SMS key, which the SMS provider reads).
func TestSecretsAreNotEnvironmentVariables(t *testing.T) {
	t.Parallel()
	tpl, _ := load(t)
	for name, p := range tpl.Parameters {
		if p["NoEcho"] == true || p["NoEcho"] == "true" {
			t.Errorf("parameter %s is NoEcho: a secret must be a Secrets Manager secret of the stack, read at run time", name)
		}
	}
	for _, f := range functions(t, tpl) {
		named := map[string]bool{}
		for k, v := range f.Environment {
			if strings.Contains(fmt.Sprint(v), "{{resolve:") {
				t.Errorf("%s: %s is a dynamic reference: the secret's value would be an environment variable", f.Name, k)
			}
			upper := strings.ToUpper(k)
			if (strings.HasSuffix(upper, "SECRET") || strings.Contains(upper, "PASSWORD") && !isSecretIDVar(k)) && k != "ALIYUN_SMS_CREDENTIALS_SECRET" {
				t.Errorf("%s: %s looks like a secret value; name the secret (%s_ID) instead", f.Name, k, k)
			}
			if !isSecretIDVar(k) {
				continue
			}
			in, ok := samtemplate.AsIntrinsic(v)
			if !ok || in.Func != "Ref" || tpl.Resources[in.Target].Type != "AWS::SecretsManager::Secret" {
				t.Errorf("%s: %s = %v, want !Ref to an AWS::SecretsManager::Secret of the template", f.Name, k, v)
				continue
			}
			named[in.Target] = true
		}
		stmts, err := samtemplate.Statements(f.Policies)
		if err != nil {
			t.Fatal(err)
		}
		readable := map[string]bool{}
		for _, s := range stmts {
			if !s.Grants("secretsmanager:GetSecretValue") {
				continue
			}
			if !slices.Equal(s.Actions, []string{"secretsmanager:GetSecretValue"}) {
				t.Errorf("%s: %s grants %v, want secretsmanager:GetSecretValue alone", f.Name, s.Sid, s.Actions)
			}
			for _, r := range s.Resources {
				in, ok := samtemplate.AsIntrinsic(r)
				switch {
				case ok && in.Func == "Ref" && in.Target == "AliyunSmsCredentialsSecret" && s.If == "SmsByAliyun":
				case ok && in.Func == "Ref" && tpl.Resources[in.Target].Type == "AWS::SecretsManager::Secret":
					readable[in.Target] = true
				default:
					t.Errorf("%s: %s may read secret %v, which is not one of the stack's", f.Name, s.Sid, r)
				}
			}
		}
		for s := range named {
			if !readable[s] {
				t.Errorf("%s names secret %s but may not read it", f.Name, s)
			}
		}
		for s := range readable {
			if !named[s] {
				t.Errorf("%s may read secret %s, which its environment does not name (least privilege)", f.Name, s)
			}
		}
	}
	// The partners' secrets are read by the functions that sign partner
	// calls or verify their callbacks, and by no other.
	for _, f := range functions(t, tpl) {
		_, has := f.Environment["PARTNER_SECRETS_ID"]
		if has != signsPartnerCalls[f.Name] {
			t.Errorf("%s: PARTNER_SECRETS_ID set %v, signs partner calls %v", f.Name, has, signsPartnerCalls[f.Name])
		}
	}
}

// TestIAMActionsPerFunction reports each function's IAM actions (the
// figures of issue 15's closing note; run with -v) and holds the line
// the other tests draw. IAM_TEMPLATE=<path> counts another template (the
// one before this change, for the before figures).
func TestIAMActionsPerFunction(t *testing.T) {
	t.Parallel()
	tpl, _ := load(t)
	if p := os.Getenv("IAM_TEMPLATE"); p != "" {
		var err error
		if tpl, err = samtemplate.Load(p); err != nil {
			t.Fatal(err)
		}
	}
	type row struct {
		name              string
		actions, dynamodb int
		tableWide         bool
	}
	var rows []row
	for name, stmts := range functionStatements(t, tpl) {
		r := row{name: name}
		acts := samtemplate.Actions(stmts)
		r.actions = len(acts)
		for _, a := range acts {
			if strings.HasPrefix(a, "dynamodb:") {
				r.dynamodb++
			}
		}
		for _, s := range stmts {
			if strings.HasPrefix(s.Template, "DynamoDB") {
				r.tableWide = true
			}
		}
		rows = append(rows, r)
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].name < rows[j].name })
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n%-22s %8s %9s %s\n", filepath.Base(tpl.Path), "function", "actions", "dynamodb", "whole table (CrudPolicy)")
	for _, r := range rows {
		fmt.Fprintf(&b, "%-22s %8d %9d %v\n", r.name, r.actions, r.dynamodb, r.tableWide)
	}
	t.Log("\n" + b.String())
}

// TestRouteThrottles (issue 15, item 2): the routes an anonymous caller
// can make the system mail from have their own throttle, the partners'
// callbacks a separate one, each from parameters; and no web ACL claims
// to protect the HTTP API (WAF cannot attach to one; see PrivacyApi).
func TestRouteThrottles(t *testing.T) {
	t.Parallel()
	tpl, _ := load(t)
	want := map[string]string{ // route → parameter prefix
		"POST /requests":                     "IntakeThrottle",
		"POST /requests/{id}/verification":   "IntakeThrottle",
		"POST /partners/{partner}/callbacks": "PartnerCallbackThrottle",
	}
	seen := map[string]bool{}
	for _, f := range functions(t, tpl) {
		for name, e := range f.Events {
			if e.Type != "HttpApi" {
				continue
			}
			key := strings.ToUpper(fmt.Sprint(e.Properties["Method"])) + " " + fmt.Sprint(e.Properties["Path"])
			prefix, ok := want[key]
			if !ok {
				continue
			}
			seen[key] = true
			rs := asMapAny(e.Properties["RouteSettings"])
			for _, k := range []string{"Rate", "Burst"} {
				v := rs["Throttling"+k+"Limit"]
				in, ok := samtemplate.AsIntrinsic(v)
				if !ok || in.Func != "Ref" || in.Target != prefix+k {
					t.Errorf("%s (%s.%s): Throttling%sLimit = %v, want !Ref %s%s", key, f.LogicalID, name, k, v, prefix, k)
				} else if _, ok := tpl.Parameters[in.Target]; !ok {
					t.Errorf("%s: parameter %s is missing", key, in.Target)
				}
			}
		}
	}
	for key := range want {
		if !seen[key] {
			t.Errorf("no route %s", key)
		}
	}
	for id, r := range tpl.Resources {
		if r.Type == "AWS::WAFv2::WebACLAssociation" {
			if strings.Contains(fmt.Sprint(r.Properties["ResourceArn"]), "PrivacyApi") {
				t.Errorf("%s associates a web ACL with the HTTP API, which WAF does not support", id)
			}
		}
	}
}
