package samtemplate_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	env "github.com/caarlos0/env/v11"

	"dsrflow/internal/anchor"
	"dsrflow/internal/dev/dynamotest"
	"dsrflow/internal/dev/samtemplate"
	"dsrflow/internal/mailintake"
	"dsrflow/internal/notify/smstransport"
	"dsrflow/internal/partner"
	"dsrflow/internal/reconcile"
	"dsrflow/internal/store/tableschema"
	"dsrflow/internal/webintake"
	"dsrflow/internal/workflow"
)

// configTypes maps each function (its folder under functions/) to the
// config struct its main loads from the environment. A function without a
// row fails TestEnvironmentMatchesConfig.
var configTypes = map[string]reflect.Type{
	"intake-web":       reflect.TypeFor[webintake.Config](),
	"intake-mail":      reflect.TypeFor[mailintake.Config](),
	"partner-callback": reflect.TypeFor[partner.FunctionConfig](),
	"reconcile":        reflect.TypeFor[reconcile.Config](),
	// Every task function of the workflow (workflow.Functions) reads
	// workflow.Config: see init.
	"anchor-audit": reflect.TypeFor[anchor.FunctionConfig](),
}

// signsPartnerCalls are the functions that call partners (signing) or
// verify their callbacks, and so read the partners' secrets
// (PARTNER_SECRETS_ID).
var signsPartnerCalls = map[string]bool{"partner-callback": true, "partner": true, "review": true, "confirm-backup-purge": true}

// workflowWithSMS is what the functions that write to requesters read:
// their mains add the SMS provider's configuration (smstransport.FromEnv).
type workflowWithSMS struct {
	Workflow workflow.Config
	SMS      smstransport.Config
}

func init() {
	for _, f := range workflow.Functions() {
		if _, ok := configTypes[f.Name]; ok {
			continue
		}
		configTypes[f.Name] = reflect.TypeFor[workflow.Config]()
		if f.SendsMail {
			configTypes[f.Name] = reflect.TypeFor[workflowWithSMS]()
		}
	}
}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := dynamotest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func load(t *testing.T) (*samtemplate.Template, string) {
	t.Helper()
	root := repoRoot(t)
	tpl, err := samtemplate.Load(filepath.Join(root, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return tpl, root
}

func functions(t *testing.T, tpl *samtemplate.Template) []samtemplate.Function {
	t.Helper()
	fns, err := tpl.Functions()
	if err != nil {
		t.Fatal(err)
	}
	return fns
}

// TestFunctionsBuild: every function is a provided.al2023 arm64 bootstrap
// built by the Makefile from an existing main package, every functions/*
// folder is in the template, and `make build-<LogicalId>` builds it into
// $(ARTIFACTS_DIR)/bootstrap with the required flags.
func TestFunctionsBuild(t *testing.T) {
	t.Parallel()
	tpl, root := load(t)
	fns := functions(t, tpl)
	inTemplate := map[string]string{}
	for _, f := range fns {
		if prev, dup := inTemplate[f.Name]; dup {
			t.Errorf("functions %s and %s both build %s", prev, f.LogicalID, f.Main)
		}
		inTemplate[f.Name] = f.LogicalID
		checks := []struct{ what, got, want string }{
			{"Runtime", f.Runtime, "provided.al2023"},
			{"Handler", f.Handler, "bootstrap"},
			{"Architectures", strings.Join(f.Architectures, ","), "arm64"},
			{"Metadata.BuildMethod", f.BuildMethod, "makefile"},
			{"CodeUri (the folder with the Makefile and go.mod)", f.CodeUri, "."},
			{"Metadata.Main", f.Main, "./functions/" + f.Name},
		}
		for _, c := range checks {
			if c.got != c.want {
				t.Errorf("%s: %s = %q, want %q", f.LogicalID, c.what, c.got, c.want)
			}
		}
		src, err := os.ReadFile(filepath.Join(root, f.Main, "main.go"))
		if err != nil {
			t.Errorf("%s: source: %v", f.LogicalID, err)
		} else if !regexp.MustCompile(`(?m)^package main$`).Match(src) {
			t.Errorf("%s: %s/main.go is not package main", f.LogicalID, f.Main)
		}
	}
	dirs, err := os.ReadDir(filepath.Join(root, "functions"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if d.IsDir() && inTemplate[d.Name()] == "" {
			t.Errorf("functions/%s is not in template.yaml (add an AWS::Serverless::Function with Metadata.Main ./functions/%s)", d.Name(), d.Name())
		}
	}

	for _, f := range fns {
		cmd := exec.Command("make", "-n", "-s", "-C", root, "build-"+f.LogicalID, "ARTIFACTS_DIR=/artifacts/"+f.LogicalID)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("make -n build-%s: %v\n%s", f.LogicalID, err, out)
			continue
		}
		s := string(out)
		for _, want := range []string{
			"CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64", "-tags lambda.norpc", "-trimpath",
			`-ldflags "-s -w"`, "-o /artifacts/" + f.LogicalID + "/bootstrap", "lambdabuild main " + f.LogicalID,
		} {
			if !strings.Contains(s, want) {
				t.Errorf("make build-%s does not run %q:\n%s", f.LogicalID, want, s)
			}
		}
	}
}

// definitions returns each state machine with its definition file.
func definitions(t *testing.T, tpl *samtemplate.Template, root string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	sms := tpl.StateMachines()
	if len(sms) == 0 {
		t.Fatal("no AWS::Serverless::StateMachine in the template")
	}
	for _, sm := range sms {
		if sm.DefinitionUri == "" {
			t.Errorf("%s: no DefinitionUri", sm.LogicalID)
			continue
		}
		b, err := os.ReadFile(filepath.Join(root, sm.DefinitionUri))
		if err != nil {
			t.Errorf("%s: %v", sm.LogicalID, err)
			continue
		}
		out[sm.LogicalID] = b
	}
	return out
}

// TestStateMachineSubstitutions: every ${Name} in a definition has a
// DefinitionSubstitutions entry and every entry is used.
func TestStateMachineSubstitutions(t *testing.T) {
	t.Parallel()
	tpl, root := load(t)
	defs := definitions(t, tpl, root)
	for _, sm := range tpl.StateMachines() {
		def, ok := defs[sm.LogicalID]
		if !ok {
			continue
		}
		used := samtemplate.Placeholders(def)
		for _, name := range used {
			if _, ok := sm.Substitutions[name]; !ok {
				t.Errorf("%s: %s uses ${%s}, which has no DefinitionSubstitutions entry", sm.LogicalID, sm.DefinitionUri, name)
			}
		}
		for name := range sm.Substitutions {
			if !slices.Contains(used, name) {
				t.Errorf("%s: substitution %s is not used in %s", sm.LogicalID, name, sm.DefinitionUri)
			}
		}
	}
}

// taskFunctions returns the substitution names of the Lambda functions a
// definition calls: "Resource": "${X}" and lambda:invoke's
// "FunctionName": "${X}", at any depth (Map, Parallel).
func taskFunctions(t *testing.T, def []byte) []string {
	t.Helper()
	var doc any
	if err := json.Unmarshal(def, &doc); err != nil {
		t.Fatalf("definition: %v", err)
	}
	seen := map[string]bool{}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if x["Type"] == "Task" {
				res, _ := x["Resource"].(string)
				var target string
				if strings.Contains(res, ":states:::lambda:invoke") {
					params, _ := x["Parameters"].(map[string]any)
					target, _ = params["FunctionName"].(string)
				} else if !strings.Contains(res, ":states:::") {
					target = res
				}
				if m := regexp.MustCompile(`^\$\{([^}]+)\}`).FindStringSubmatch(target); m != nil {
					seen[m[1]] = true
				} else if target != "" {
					t.Errorf("task resource %q is not a ${...} substitution", target)
				}
			}
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(doc)
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// invokable returns the functions a state machine's policies let it invoke
// (LambdaInvokePolicy on Ref F, or lambda:InvokeFunction statements on
// Fn::GetAtt F.Arn).
func invokable(policies []any) map[string]bool {
	out := map[string]bool{}
	for _, p := range policies {
		m, _ := p.(map[string]any)
		if lip, ok := m["LambdaInvokePolicy"].(map[string]any); ok {
			if in, ok := samtemplate.AsIntrinsic(lip["FunctionName"]); ok && in.Func == "Ref" {
				out[in.Target] = true
			}
		}
		stmts, _ := m["Statement"].([]any)
		for _, s := range stmts {
			sm, _ := s.(map[string]any)
			if sm["Effect"] != "Allow" || !containsString(sm["Action"], "lambda:InvokeFunction") {
				continue
			}
			res := sm["Resource"]
			if l, ok := res.([]any); ok {
				for _, r := range l {
					if in, ok := samtemplate.AsIntrinsic(r); ok && in.Func == "Fn::GetAtt" && in.Attribute == "Arn" {
						out[in.Target] = true
					}
				}
			} else if in, ok := samtemplate.AsIntrinsic(res); ok && in.Func == "Fn::GetAtt" && in.Attribute == "Arn" {
				out[in.Target] = true
			}
		}
	}
	return out
}

func containsString(v any, s string) bool {
	switch x := v.(type) {
	case string:
		return x == s
	case []any:
		for _, e := range x {
			if e == s {
				return true
			}
		}
	}
	return false
}

// TestStateMachineMayInvokeItsTasks: every function the definition calls is
// a function of the template that the state machine's policy allows it to
// invoke, and the policy allows no other function.
func TestStateMachineMayInvokeItsTasks(t *testing.T) {
	t.Parallel()
	tpl, root := load(t)
	defs := definitions(t, tpl, root)
	for _, sm := range tpl.StateMachines() {
		def, ok := defs[sm.LogicalID]
		if !ok {
			continue
		}
		allowed := invokable(sm.Policies)
		called := map[string]bool{}
		for _, name := range taskFunctions(t, def) {
			in, ok := samtemplate.AsIntrinsic(sm.Substitutions[name])
			if !ok || in.Func != "Fn::GetAtt" || in.Attribute != "Arn" {
				t.Errorf("%s: substitution %s = %v, want !GetAtt <Function>.Arn", sm.LogicalID, name, sm.Substitutions[name])
				continue
			}
			if r, ok := tpl.Resources[in.Target]; !ok || r.Type != samtemplate.TypeFunction {
				t.Errorf("%s: %s names %s, which is not a function of the template", sm.LogicalID, name, in.Target)
				continue
			}
			called[in.Target] = true
			if !allowed[in.Target] {
				t.Errorf("%s calls %s (${%s}) but its Policies do not allow invoking it (add LambdaInvokePolicy: {FunctionName: !Ref %s})", sm.LogicalID, in.Target, name, in.Target)
			}
		}
		for fn := range allowed {
			if !called[fn] {
				t.Errorf("%s may invoke %s, which its definition never calls (least privilege)", sm.LogicalID, fn)
			}
		}
	}
}

// envTag is one environment variable of a config struct.
type envTag struct {
	required bool
}

// envTags reads the env tags of a config struct (and its nested structs).
func envTags(typ reflect.Type) map[string]envTag {
	out := map[string]envTag{}
	for i := range typ.NumField() {
		f := typ.Field(i)
		tag, ok := f.Tag.Lookup("env")
		if !ok {
			if f.Type.Kind() == reflect.Struct {
				for k, v := range envTags(f.Type) {
					out[k] = v
				}
			}
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			continue
		}
		out[name] = envTag{required: slices.Contains(strings.Split(opts, ","), "required")}
	}
	return out
}

// localValues resolves the template for tests: test secrets for the
// parameters without a default, placeholders for resources.
func localValues(tpl *samtemplate.Template) samtemplate.Values {
	v := samtemplate.Values{Parameters: map[string]string{}, Resources: map[string]string{}}
	for name, p := range tpl.Parameters {
		if _, ok := p["Default"]; ok {
			continue
		}
		switch {
		case strings.HasSuffix(name, "Secret"):
			v.Parameters[name] = strings.Repeat("s", 40)
		case name == "MailFrom":
			v.Parameters[name] = "privacy@example.cn"
		default:
			v.Parameters[name] = "test-" + name
		}
	}
	for id, r := range tpl.Resources {
		v.Resources[id] = "local-" + id
		if r.Type == samtemplate.TypeStateMachine {
			v.Resources[id] = "arn:aws:states:us-east-1:123456789012:stateMachine:" + id
		}
		for _, attr := range []string{"Name", "QueueName"} {
			v.Resources[id+"."+attr] = "local-" + id + "-" + attr
		}
		v.Resources[id+".Arn"] = "arn:aws:local:us-east-1:123456789012:" + id
	}
	return v
}

// goRuntimeVars are read by the Go runtime itself, not by a config struct
// (the collector's settings of the functions a person waits on).
var goRuntimeVars = map[string]bool{"GOGC": true, "GOMEMLIMIT": true}

// TestEnvironmentMatchesConfig: each function sets exactly variables its
// config struct reads, every required one, and the values (parameter
// defaults and test values for secrets) load without error.
func TestEnvironmentMatchesConfig(t *testing.T) {
	t.Parallel()
	tpl, root := load(t)
	vals := localValues(tpl)
	// The partner configuration names its signing secrets as keys of the
	// partner secret (secretsmanager:#KEY), never as variables.
	partners, err := partner.LoadConfig(filepath.Join(root, "config", "partners.example.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range partners.Partners {
		if !strings.HasPrefix(p.SecretRef, partner.SecretStoreScheme+":#") {
			t.Errorf("config/partners.example.json: partner %s: secretRef %q, want secretsmanager:#KEY (a key of the stack's PartnerSecrets)", p.ID, p.SecretRef)
		}
	}
	for _, f := range functions(t, tpl) {
		typ, ok := configTypes[f.Name]
		if !ok {
			t.Errorf("%s: no config type for function %s in this test's configTypes", f.LogicalID, f.Name)
			continue
		}
		tags := envTags(typ)
		for name := range f.Environment {
			if _, ok := tags[name]; !ok && !goRuntimeVars[name] {
				t.Errorf("%s sets %s, which %s does not read", f.LogicalID, name, typ)
			}
		}
		for name, tag := range tags {
			if _, ok := f.Environment[name]; tag.required && !ok {
				t.Errorf("%s does not set %s, which %s requires", f.LogicalID, name, typ)
			}
		}
		// The defaults, and an SMTP relay without and with a user (the
		// China regions).
		relay := func(url, user string) samtemplate.Values {
			v := samtemplate.Values{Parameters: maps.Clone(vals.Parameters), Resources: vals.Resources}
			v.Parameters["SmtpUrl"], v.Parameters["SmtpUsername"] = url, user
			return v
		}
		for _, v := range []samtemplate.Values{vals, relay("smtps://smtpdm.aliyun.com", ""), relay("smtps://smtpdm.aliyun.com", "privacy@example.cn")} {
			resolved, err := tpl.Env(f, v)
			if err != nil {
				t.Errorf("%s: %v", f.LogicalID, err)
				break
			}
			cfg := reflect.New(typ)
			if err := env.ParseWithOptions(cfg.Interface(), env.Options{Environment: resolved}); err != nil {
				t.Errorf("%s: environment does not load into %s: %v", f.LogicalID, typ, err)
				break
			}
			if c, ok := cfg.Elem().Interface().(interface{ Check() error }); ok {
				if err := c.Check(); err != nil {
					t.Errorf("%s (SmtpUrl %q, SmtpUsername %q): %s.Check: %v", f.LogicalID, v.Parameters["SmtpUrl"], v.Parameters["SmtpUsername"], typ, err)
				}
			}
		}
	}
}

// TestReferencesExist: every Ref, Fn::GetAtt and Fn::Sub variable names a
// resource, a parameter or a pseudo parameter; GetAtt names a resource;
// every resource Condition is declared.
func TestReferencesExist(t *testing.T) {
	t.Parallel()
	tpl, _ := load(t)
	refs := tpl.References()
	if len(refs) == 0 {
		t.Fatal("no references found: the walk is broken")
	}
	for _, r := range refs {
		_, isRes := tpl.Resources[r.Target]
		_, isParam := tpl.Parameters[r.Target]
		isPseudo := slices.Contains(samtemplate.PseudoParameters, r.Target)
		switch {
		case r.Func == "Fn::GetAtt" && !isRes:
			t.Errorf("%s: Fn::GetAtt %s: no such resource", r.Path, r.Target)
		case !isRes && !isParam && !isPseudo:
			t.Errorf("%s: %s %s: no such resource, parameter or pseudo parameter", r.Path, r.Func, r.Target)
		}
	}
	conds, _ := tpl.Doc["Conditions"].(map[string]any)
	for id, r := range tpl.Resources {
		if r.Condition != "" && conds[r.Condition] == nil {
			t.Errorf("%s: Condition %s is not declared", id, r.Condition)
		}
	}
}

// TestNoLiteralPartition: no ARN in the template or a state machine
// definition names a partition literally (aws-cn must work).
func TestNoLiteralPartition(t *testing.T) {
	t.Parallel()
	tpl, root := load(t)
	literal := regexp.MustCompile(`arn:aws(-[a-z]+)*:`)
	for p, s := range tpl.Strings() {
		if literal.MatchString(s) {
			t.Errorf("%s: %q names a partition; use ${AWS::Partition}", p, s)
		}
	}
	for id, def := range definitions(t, tpl, root) {
		if m := literal.Find(def); m != nil {
			t.Errorf("%s definition: %q names a partition; use ${Partition}", id, m)
		}
	}
}

// TestTableSchema: the table that tests and the local stack create
// (dynamotest → tableschema) is RequestsTable of this template, with its keys
// and indexes, and the table has point-in-time recovery, encryption and a
// time-to-live attribute.
func TestTableSchema(t *testing.T) {
	t.Parallel()
	tpl, root := load(t)
	res, ok := tpl.Resources[tableschema.RequestsTable]
	if !ok || res.Type != "AWS::DynamoDB::Table" {
		t.Fatalf("no AWS::DynamoDB::Table %s", tableschema.RequestsTable)
	}
	schema, err := (&dynamotest.Emulator{Root: root}).Schema()
	if err != nil {
		t.Fatal(err)
	}
	in, err := schema.CreateTableInput("t")
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.Marshal(map[string]any{"KeySchema": in.KeySchema, "GlobalSecondaryIndexes": len(in.GlobalSecondaryIndexes), "AttributeDefinitions": len(in.AttributeDefinitions)})
	if err != nil {
		t.Fatal(err)
	}
	p := res.Properties
	wantKeys := []map[string]any{}
	for _, k := range p["KeySchema"].([]any) {
		wantKeys = append(wantKeys, k.(map[string]any))
	}
	want, _ := json.Marshal(map[string]any{"KeySchema": wantKeys, "GlobalSecondaryIndexes": len(p["GlobalSecondaryIndexes"].([]any)), "AttributeDefinitions": len(p["AttributeDefinitions"].([]any))})
	var g, w any
	_ = json.Unmarshal(got, &g)
	_ = json.Unmarshal(want, &w)
	if !reflect.DeepEqual(g, w) {
		t.Errorf("dynamotest's table = %s, template's = %s", got, want)
	}
	if len(in.GlobalSecondaryIndexes) == 0 {
		t.Error("the table has no GSIs")
	}
	checks := map[string]bool{
		"PointInTimeRecoveryEnabled": nested(p, "PointInTimeRecoverySpecification", "PointInTimeRecoveryEnabled") == true,
		"SSEEnabled":                 nested(p, "SSESpecification", "SSEEnabled") == true,
		"TimeToLive enabled":         nested(p, "TimeToLiveSpecification", "Enabled") == true,
		"TimeToLive attribute":       nested(p, "TimeToLiveSpecification", "AttributeName") != nil,
	}
	for what, ok := range checks {
		if !ok {
			t.Errorf("%s: %s is not set", tableschema.RequestsTable, what)
		}
	}
}

func nested(m map[string]any, keys ...string) any {
	var v any = m
	for _, k := range keys {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[k]
	}
	return v
}

// TestStateMachineObservability: Standard workflow, logs without execution
// data (no personal data in CloudWatch), tracing on.
func TestStateMachineObservability(t *testing.T) {
	t.Parallel()
	tpl, _ := load(t)
	for _, sm := range tpl.StateMachines() {
		p := sm.Properties
		if got := nested(p, "Type"); got != "STANDARD" {
			t.Errorf("%s: Type = %v, want STANDARD", sm.LogicalID, got)
		}
		if got := nested(p, "Logging", "IncludeExecutionData"); got != false {
			t.Errorf("%s: Logging.IncludeExecutionData = %v, want false", sm.LogicalID, got)
		}
		if lvl, _ := nested(p, "Logging", "Level").(string); lvl == "" || lvl == "OFF" {
			t.Errorf("%s: Logging.Level = %q, want ALL, ERROR or FATAL", sm.LogicalID, lvl)
		}
		if dst, _ := nested(p, "Logging", "Destinations").([]any); len(dst) != 1 {
			t.Errorf("%s: Logging.Destinations = %v, want one log group", sm.LogicalID, dst)
		}
		if got := nested(p, "Tracing", "Enabled"); got != true {
			t.Errorf("%s: Tracing.Enabled = %v, want true", sm.LogicalID, got)
		}
	}
}

// TestMailbox: the bucket is encrypted, private, expires mail; intake-mail
// is notified for inbox/ only (never for the attachments it writes), has a
// destination for failed asynchronous invocations; the SES receipt rule is
// conditional and off in aws-cn.
func TestMailbox(t *testing.T) {
	t.Parallel()
	tpl, _ := load(t)
	fn, err := tpl.Function("intake-mail")
	if err != nil {
		t.Fatal(err)
	}
	var bucket, prefix string
	for name, e := range fn.Events {
		if e.Type != "S3" {
			continue
		}
		in, ok := samtemplate.AsIntrinsic(e.Properties["Bucket"])
		if !ok || in.Func != "Ref" {
			t.Errorf("event %s: Bucket is not a Ref to a bucket of the template", name)
			continue
		}
		bucket = in.Target
		rules, _ := nested(e.Properties, "Filter", "S3Key", "Rules").([]any)
		for _, r := range rules {
			m, _ := r.(map[string]any)
			if strings.EqualFold(fmt.Sprint(m["Name"]), "prefix") {
				prefix, _ = m["Value"].(string)
			}
		}
	}
	attachments, _ := fn.Environment["ATTACHMENT_PREFIX"].(string)
	switch {
	case bucket == "":
		t.Fatal("intake-mail has no S3 event")
	case prefix == "":
		t.Error("intake-mail's S3 event has no prefix filter: it would see every object, its own attachments too")
	case attachments == "" || strings.HasPrefix(attachments, prefix) || strings.HasPrefix(prefix, attachments):
		t.Errorf("notification prefix %q and ATTACHMENT_PREFIX %q overlap", prefix, attachments)
	}
	if nested(map[string]any{"c": tpl.Resources[fn.LogicalID].Properties}, "c", "EventInvokeConfig", "DestinationConfig", "OnFailure", "Destination") == nil {
		t.Error("intake-mail: no EventInvokeConfig.DestinationConfig.OnFailure for failed S3 invocations")
	}
	b := tpl.Resources[bucket].Properties
	if b == nil {
		t.Fatalf("bucket %s is not a resource", bucket)
	}
	enc, _ := nested(b, "BucketEncryption", "ServerSideEncryptionConfiguration").([]any)
	if len(enc) == 0 {
		t.Errorf("%s: no default encryption", bucket)
	}
	for _, k := range []string{"BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"} {
		if nested(b, "PublicAccessBlockConfiguration", k) != true {
			t.Errorf("%s: PublicAccessBlockConfiguration.%s is not true", bucket, k)
		}
	}
	expires := map[string]bool{}
	rules, _ := nested(b, "LifecycleConfiguration", "Rules").([]any)
	for _, r := range rules {
		m, _ := r.(map[string]any)
		if m["ExpirationInDays"] != nil && m["Status"] == "Enabled" {
			p, _ := m["Prefix"].(string)
			expires[p] = true
		}
	}
	if !expires[prefix] || !expires[attachments] {
		t.Errorf("%s: lifecycle expiry for %q and %q = %v, want both", bucket, prefix, attachments, expires)
	}
	var rules2 int
	for id, r := range tpl.Resources {
		if r.Type != "AWS::SES::ReceiptRule" {
			continue
		}
		rules2++
		if r.Condition == "" {
			t.Errorf("%s: the SES receipt rule must have a Condition (no SES in aws-cn)", id)
		}
		cond, _ := json.Marshal(tpl.Doc["Conditions"])
		if !strings.Contains(string(cond), "aws-cn") {
			t.Errorf("%s: no condition mentions the aws-cn partition", id)
		}
	}
	if rules2 == 0 {
		t.Error("no AWS::SES::ReceiptRule")
	}
}

// TestAlarms: failed executions, requests past due and partner escalations
// are alarmed on, the custom metrics with the names and namespace their
// publishers use.
func TestAlarms(t *testing.T) {
	t.Parallel()
	tpl, _ := load(t)
	type key struct{ ns, metric, dim string }
	have := map[key]bool{}
	for _, r := range tpl.Resources {
		if r.Type != "AWS::CloudWatch::Alarm" {
			continue
		}
		ns, _ := r.Properties["Namespace"].(string)
		m, _ := r.Properties["MetricName"].(string)
		dims, _ := r.Properties["Dimensions"].([]any)
		if len(dims) == 0 {
			have[key{ns, m, ""}] = true
		}
		for _, d := range dims {
			dm, _ := d.(map[string]any)
			v, _ := dm["Value"].(string)
			if in, ok := samtemplate.AsIntrinsic(dm["Value"]); ok {
				v = in.Target
			}
			have[key{ns, m, fmt.Sprint(dm["Name"]) + "=" + v}] = true
		}
		// SNS does not exist in aws-cn: actions are the topic where SNS
		// is (Fn::If HasSns), none in the China regions.
		acts, _ := r.Properties["AlarmActions"].([]any)
		if cond, ok := asMapAny(r.Properties["AlarmActions"])["Fn::If"].([]any); ok && len(cond) == 3 && cond[0] == "HasSns" {
			acts, _ = cond[1].([]any)
		}
		if len(acts) == 0 {
			t.Errorf("alarm on %s %s has no AlarmActions where SNS exists", ns, m)
		}
	}
	for id, r := range tpl.Resources {
		if strings.HasPrefix(r.Type, "AWS::SNS::") && r.Condition != "HasSns" && r.Condition != "HasAlarmEmail" {
			t.Errorf("%s (%s) is not conditioned on HasSns: SNS does not exist in the China regions", id, r.Type)
		}
	}
	var sm string
	for _, s := range tpl.StateMachines() {
		sm = s.LogicalID
	}
	for _, want := range []key{
		{"AWS/States", "ExecutionsFailed", "StateMachineArn=" + sm},
		{reconcile.Namespace, reconcile.MetricRequestsPastDue, "Service=reconcile"},
		{reconcile.Namespace, "PartnerEscalations", ""},
	} {
		if !have[want] {
			t.Errorf("no alarm on %+v", want)
		}
	}

	// Metrics from log lines: the message each filter counts is one the
	// code logs.
	root := repoRoot(t)
	msg := regexp.MustCompile(`\$\.msg\s*=\s*"([^"]+)"`)
	for id, r := range tpl.Resources {
		if r.Type != "AWS::Logs::MetricFilter" {
			continue
		}
		pattern, _ := r.Properties["FilterPattern"].(string)
		m := msg.FindStringSubmatch(pattern)
		if m == nil {
			t.Errorf("%s: pattern %q does not match a log message ($.msg)", id, pattern)
			continue
		}
		if !sourceContains(t, filepath.Join(root, "internal"), strconv.Quote(m[1])) {
			t.Errorf("%s counts log message %q, which no package under internal/ logs", id, m[1])
		}
	}
}

// sourceContains reports whether a non-test Go file under dir contains s.
func sourceContains(t *testing.T, dir, s string) bool {
	t.Helper()
	found := false
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || found || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return err
		}
		b, err := os.ReadFile(p)
		if err == nil && strings.Contains(string(b), s) {
			found = true
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// s3Statements are the Allow statements of policies that grant s3:
// actions, with their actions and resources as written (Fn::Sub strings).
type s3Statement struct {
	Sid       string
	Actions   []string
	Resources []string
	Condition map[string]any
}

func s3Statements(policies []any) []s3Statement {
	var out []s3Statement
	for _, p := range policies {
		stmts, _ := nested(map[string]any{"p": p}, "p", "Statement").([]any)
		for _, s := range stmts {
			m, _ := s.(map[string]any)
			if m == nil || m["Effect"] != "Allow" {
				continue
			}
			st := s3Statement{Condition: asMapAny(m["Condition"])}
			st.Sid, _ = m["Sid"].(string)
			for _, a := range listOf(m["Action"]) {
				if as, ok := a.(string); ok && strings.HasPrefix(as, "s3:") {
					st.Actions = append(st.Actions, as)
				}
			}
			if len(st.Actions) == 0 {
				continue
			}
			for _, r := range listOf(m["Resource"]) {
				switch rv := r.(type) {
				case string:
					st.Resources = append(st.Resources, rv)
				case map[string]any:
					sub, _ := rv["Fn::Sub"].(string)
					st.Resources = append(st.Resources, sub)
				}
			}
			out = append(out, st)
		}
	}
	return out
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

func asMapAny(v any) map[string]any { m, _ := v.(map[string]any); return m }

// TestUploads: intake-web's documents go to a private, encrypted bucket
// under UPLOAD_PREFIX, apart from the mail the bucket receives; the function
// may write there only encrypted as the bucket is, read and delete only its
// uploads, and list nothing; unconfirmed uploads expire after a day, kept
// ones have the attachments' backstop; the purge may delete kept ones; and
// the pages S3 redirects to are routed.
func TestUploads(t *testing.T) {
	t.Parallel()
	tpl, _ := load(t)
	web, err := tpl.Function("intake-web")
	if err != nil {
		t.Fatal(err)
	}
	ref, ok := samtemplate.AsIntrinsic(web.Environment["UPLOAD_BUCKET"])
	if !ok || ref.Func != "Ref" {
		t.Fatalf("UPLOAD_BUCKET = %v, want a Ref to a bucket of the template", web.Environment["UPLOAD_BUCKET"])
	}
	bucket := ref.Target
	b := tpl.Resources[bucket].Properties
	if tpl.Resources[bucket].Type != "AWS::S3::Bucket" || b == nil {
		t.Fatalf("UPLOAD_BUCKET names %s, not a bucket", bucket)
	}
	prefix, _ := web.Environment["UPLOAD_PREFIX"].(string)
	if prefix == "" || !strings.HasSuffix(prefix, "/") {
		t.Fatalf("UPLOAD_PREFIX = %q", prefix)
	}
	mail, _ := tpl.Function("intake-mail")
	if a, _ := mail.Environment["ATTACHMENT_PREFIX"].(string); a == "" || strings.HasPrefix(prefix, a) || strings.HasPrefix(a, prefix) || strings.HasPrefix(prefix, "inbox/") {
		t.Errorf("UPLOAD_PREFIX %q overlaps the mail prefixes (inbox/, %q)", prefix, a)
	}

	enc, _ := nested(b, "BucketEncryption", "ServerSideEncryptionConfiguration").([]any)
	var algo string
	if len(enc) > 0 {
		algo, _ = nested(map[string]any{"e": enc[0]}, "e", "ServerSideEncryptionByDefault", "SSEAlgorithm").(string)
	}
	if sse, _ := web.Environment["UPLOAD_SSE"].(string); algo == "" || sse != algo {
		t.Errorf("UPLOAD_SSE = %q, bucket encryption %q: want the bucket's", sse, algo)
	}
	for _, k := range []string{"BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"} {
		if nested(b, "PublicAccessBlockConfiguration", k) != true {
			t.Errorf("%s: PublicAccessBlockConfiguration.%s is not true", bucket, k)
		}
	}
	if b["CorsConfiguration"] != nil {
		t.Errorf("%s has CORS: form posts need none", bucket)
	}
	expiry := map[string]any{}
	rules, _ := nested(b, "LifecycleConfiguration", "Rules").([]any)
	for _, r := range rules {
		m, _ := r.(map[string]any)
		if p, _ := m["Prefix"].(string); m["Status"] == "Enabled" && m["ExpirationInDays"] != nil {
			expiry[p] = m["ExpirationInDays"]
		}
	}
	if d := fmt.Sprint(expiry[prefix+"incoming/"]); d != "1" {
		t.Errorf("%sincoming/ expires after %s days, want 1", prefix, d)
	}
	if fmt.Sprint(expiry[prefix+"documents/"]) != fmt.Sprint(expiry["attachments/"]) || expiry["attachments/"] == nil {
		t.Errorf("%sdocuments/ expires after %v, attachments/ after %v: want the same backstop", prefix, expiry[prefix+"documents/"], expiry["attachments/"])
	}

	arn := "${" + bucket + ".Arn}/" + prefix
	var puts int
	for _, st := range s3Statements(web.Policies) {
		for _, r := range st.Resources {
			if !strings.HasPrefix(r, arn) {
				t.Errorf("intake-web: %s grants %v on %q, outside %s", st.Sid, st.Actions, r, arn)
			}
		}
		for _, a := range st.Actions {
			switch a {
			case "s3:PutObject":
				puts++
				if fmt.Sprint(nested(st.Condition, "StringEquals", "s3:x-amz-server-side-encryption")) != algo {
					t.Errorf("intake-web: %s allows s3:PutObject without requiring %s encryption", st.Sid, algo)
				}
			case "s3:GetObject", "s3:DeleteObject":
				for _, r := range st.Resources {
					if a == "s3:DeleteObject" && !strings.HasPrefix(r, arn+"incoming/") {
						t.Errorf("intake-web may delete %q: only unconfirmed uploads", r)
					}
				}
			default:
				t.Errorf("intake-web: %s grants %s", st.Sid, a)
			}
		}
	}
	if puts == 0 {
		t.Error("intake-web may not put uploads: presigned forms act with its s3:PutObject")
	}

	purge, err := tpl.Function("purge-personal")
	if err != nil {
		t.Fatal(err)
	}
	deletes := false
	for _, st := range s3Statements(purge.Policies) {
		for _, r := range st.Resources {
			deletes = deletes || (slices.Contains(st.Actions, "s3:DeleteObject") && r == arn+"documents/*")
		}
	}
	if !deletes {
		t.Errorf("purge-personal may not delete %sdocuments/*: kept uploads would outlive the purge", arn)
	}

	routes, err := tpl.Routes()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"GET /requests/{id}/documents": false, "GET /requests/{id}/documents/received": false}
	for _, r := range routes {
		if _, ok := want[r.Key()]; ok && r.Function == "intake-web" {
			want[r.Key()] = true
		}
	}
	for k, ok := range want {
		if !ok {
			t.Errorf("no route %s to intake-web", k)
		}
	}
}
