package devstack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"dsrflow/internal/anchor"
	"dsrflow/internal/certsign"
	"dsrflow/internal/dev/asl"
	"dsrflow/internal/dev/samtemplate"
	"dsrflow/internal/dev/sfnapi"
	"dsrflow/internal/documents"
	"dsrflow/internal/envconfig"
	"dsrflow/internal/mailintake"
	"dsrflow/internal/partner"
	"dsrflow/internal/partner/export"
	"dsrflow/internal/partner/export/exportpage"
	"dsrflow/internal/partner/export/s3bucket"
	"dsrflow/internal/reconcile"
	"dsrflow/internal/secretstore"
	"dsrflow/internal/store"
	"dsrflow/internal/webintake"
	"dsrflow/internal/workflow"
)

// DefinitionFile is the workflow definition, relative to the repository root.
const DefinitionFile = "statemachines/dsr.asl.json"

// Sender address of the local stack's messages.
const MailFrom = "privacy@dsrflow.localhost"

// DefaultHumanHold bounds how long one open task token (a person or a
// partner awaited) keeps its execution's clock at real speed.
const DefaultHumanHold = 10 * time.Minute

type wired struct {
	sfnHandler  http.Handler
	httpHandler http.Handler
	mail        func(context.Context, events.S3Event) error
}

// templateFile is the SAM template, relative to the repository root.
const templateFile = "template.yaml"

// functionArn is the local ARN of a function of the template.
func functionArn(logicalID string) string {
	return "arn:aws:lambda:" + Region + ":" + Account + ":function:" + logicalID
}

// bucketName is the local name of bucket resource logicalID: "dsrflow-"
// and the ID in lower case without "Bucket" (ExportBucket: dsrflow-export).
func bucketName(logicalID string) string {
	return "dsrflow-" + strings.ToLower(strings.TrimSuffix(logicalID, "Bucket"))
}

// localArn is a made-up ARN for a resource that does not exist locally.
func localArn(typ, name string) string {
	service := "local"
	if parts := strings.Split(typ, "::"); len(parts) == 3 {
		service = strings.ToLower(parts[1])
	}
	if service == "s3" {
		return "arn:aws:s3:::" + name
	}
	return "arn:aws:" + service + ":" + Region + ":" + Account + ":" + name
}

// parseEnv reads a function's configuration struct from env, as the
// function's main reads it from its environment.
func parseEnv[T any](env map[string]string) (T, error) {
	return envconfig.ParseFrom[T](env)
}

// local is the template as the local stack reads it: function environments
// and state machine substitutions resolved to local values.
type local struct {
	tmpl *samtemplate.Template
	vals samtemplate.Values
	// overrides replace template values locally (outbox, paths, secrets).
	overrides map[string]string
}

// env is function name's environment: the template's variables, resolved,
// with the local overrides of the variables it has.
func (l *local) env(name string) (map[string]string, error) {
	f, err := l.tmpl.Function(name)
	if err != nil {
		return nil, err
	}
	env, err := l.tmpl.Env(f, l.vals)
	if err != nil {
		return nil, fmt.Errorf("environment of %s: %w", name, err)
	}
	for k, v := range l.overrides {
		if _, ok := env[k]; ok || k == "OUTBOX_DIR" || k == "S3_USE_PATH_STYLE" || k == "CERT_SIGNING_KEY_DIR" || k == "MESSAGE_BUDGET_GLOBAL" {
			env[k] = v
		}
	}
	return env, nil
}

func (s *Stack) wire(ctx context.Context, secrets map[string]string) (*wired, error) {
	log := s.log
	tmpl, err := samtemplate.Load(filepath.Join(s.opts.Root, templateFile))
	if err != nil {
		return nil, err
	}
	fns, err := tmpl.Functions()
	if err != nil {
		return nil, err
	}
	l := &local{tmpl: tmpl, vals: samtemplate.Values{
		Parameters: map[string]string{
			"PublicBaseUrl": s.HTTPURL,
			"MailFrom":      MailFrom,
		},
		Resources: map[string]string{"RequestsTable": TableName, "MailboxBucket": MailboxBucket, "MailboxBucket.Arn": "arn:aws:s3:::" + MailboxBucket},
		Pseudo:    map[string]string{"AWS::Region": Region, "AWS::AccountId": Account, "AWS::Partition": "aws", "AWS::StackName": "dsrflow"},
	}, overrides: map[string]string{
		"OUTBOX_DIR":        s.Outbox,
		"S3_USE_PATH_STYLE": "true",
		"PARTNERS_CONFIG":   s.Partners.ConfigPath,
		// Certificates are signed with a local key (.local/keys), not KMS.
		"CERT_SIGNING_KEY_ID":  "",
		"CERT_SIGNING_KEY_DIR": s.KeyDir,
		// Audit anchors go to a folder (.local/anchors), not a bucket.
		"ANCHOR_BUCKET": "",
		// The load run sends thousands of codes an hour, each to an
		// address of its own; the per-mailbox budget stays as in AWS.
		"MESSAGE_BUDGET_GLOBAL": "1000000",
		// Every local post comes from 127.0.0.1: the per-network count
		// stays on, with room for the load run.
		"PER_IP_LIMIT": "1000000",
	}}
	// The functions read their secrets (*_SECRET_ID: logical IDs locally)
	// from the stack's copies, as from Secrets Manager in AWS.
	secretSource := secretstore.Dir{Path: filepath.Join(s.opts.Dir, secretsDir)}
	for _, f := range fns {
		l.vals.Resources[f.LogicalID+".Arn"] = functionArn(f.LogicalID)
		l.vals.Resources[f.LogicalID] = f.LogicalID
	}
	// Every other resource: its logical ID as its name, a local ARN; buckets
	// get a local bucket of their own.
	for id, r := range tmpl.Resources {
		if _, ok := l.vals.Resources[id]; ok {
			continue
		}
		name := id
		if r.Type == "AWS::S3::Bucket" {
			name = bucketName(id)
			if err := s.ensureBucket(ctx, name); err != nil {
				return nil, err
			}
		}
		l.vals.Resources[id] = name
		l.vals.Resources[id+".Name"] = name
		l.vals.Resources[id+".Arn"] = localArn(r.Type, name)
	}

	// partner-callback's dispatcher, configured from its environment.
	cbEnv, err := l.env("partner-callback")
	if err != nil {
		return nil, err
	}
	pcfg, err := parseEnv[partner.FunctionConfig](cbEnv)
	if err != nil {
		return nil, fmt.Errorf("partner-callback: %w", err)
	}
	dispatcher, err := s.dispatcher(ctx, pcfg, secretSource)
	if err != nil {
		return nil, err
	}
	callback := partner.NewCallback(dispatcher)

	// The state machine, with the template's substitutions.
	sms := tmpl.StateMachines()
	if len(sms) != 1 {
		return nil, fmt.Errorf("%s: want one state machine, found %d", templateFile, len(sms))
	}
	subs := map[string]string{}
	for k, v := range sms[0].Substitutions {
		if subs[k], err = tmpl.Resolve(v, l.vals); err != nil {
			return nil, fmt.Errorf("substitution %s: %w", k, err)
		}
	}
	defPath := sms[0].DefinitionUri
	if defPath == "" {
		defPath = DefinitionFile
	}
	def, err := os.ReadFile(filepath.Join(s.opts.Root, defPath))
	if err != nil {
		return nil, fmt.Errorf("read workflow definition: %w", err)
	}
	// A task function the definition uses but the template does not list
	// yet still runs locally under a local ARN.
	taskNames := map[string]string{}
	for _, f := range workflow.Functions() {
		taskNames[f.ArnKey] = f.Name
	}
	for _, key := range samtemplate.Placeholders(def) {
		if _, ok := subs[key]; ok {
			continue
		}
		if name, ok := taskNames[key]; ok {
			subs[key] = functionArn(name)
			log.Warn("substitution missing from the template: a local ARN is used", "substitution", key)
		} else if key == workflow.PartitionKey {
			subs[key] = "aws"
		}
	}
	if def, err = workflow.Substitute(def, subs); err != nil {
		return nil, err
	}
	holds := &holds{open: map[string]func(){}, max: s.opts.HumanHold}
	resolver := asl.Handlers{}
	// Handlers are filled in below, once the state machine ARN (part of
	// their configuration) is known; the engine resolves at run time, and
	// asks for each execution's clock as it starts.
	var execClock func(arn string) (asl.Clock, func())
	engine := asl.NewEngine(asl.Options{Clock: asl.RealClock(), Resolver: resolver, Logger: log, Region: Region,
		ExecutionClock: func(arn string) (asl.Clock, func()) {
			if execClock == nil {
				return nil, nil
			}
			return execClock(arn)
		}})
	api := sfnapi.New(sfnapi.ASL(engine), sfnapi.Options{Region: Region, Account: Account, Now: time.Now, Logger: log})
	arn, err := api.CreateStateMachine(ctx, StateMachineName, string(def), "arn:aws:iam::"+Account+":role/dsrflow-workflow")
	if err != nil {
		return nil, fmt.Errorf("create state machine: %w", err)
	}
	s.StateMachineArn = arn
	l.vals.Resources[sms[0].LogicalID] = arn
	l.vals.Resources[sms[0].LogicalID+".Name"] = StateMachineName

	// The workflow's task functions share one set of handlers, configured
	// with the union of their environments in the template.
	taskEnv := map[string]string{}
	found := 0
	for _, f := range workflow.Functions() {
		if _, err := tmpl.Function(f.Name); err != nil {
			continue
		}
		env, err := l.env(f.Name)
		if err != nil {
			return nil, err
		}
		found++
		for k, v := range env {
			taskEnv[k] = v
		}
	}
	if found == 0 {
		return nil, fmt.Errorf("%s: none of the workflow's task functions is defined", templateFile)
	}
	wcfg, err := parseEnv[workflow.Config](taskEnv)
	if err != nil {
		return nil, fmt.Errorf("workflow functions: %w", err)
	}
	if wcfg, err = wcfg.WithSecrets(ctx, secretSource); err != nil {
		return nil, fmt.Errorf("workflow functions: %w", err)
	}
	if wcfg.ExportBucket != "" {
		if err := s.ensureBucket(ctx, wcfg.ExportBucket); err != nil {
			return nil, err
		}
	}
	// The partner configuration and client are read and made once, for
	// the handlers of every execution.
	pc, err := workflow.LoadPartners(wcfg)
	if err != nil {
		return nil, err
	}
	deps := workflow.Deps{
		Store: s.Store, SFN: s.SFN, Exports: s3bucket.New(s.S3, wcfg.ExportBucket), ExportPage: exportpage.Render,
		Documents: documents.New(s.S3), SecretStore: secretSource, Partners: pc,
		PartnerClient: &partner.Client{TryTimeout: wcfg.PartnerTryTimeout}, Clock: time.Now, Logger: log,
	}
	if wcfg.SigningKeyDir != "" {
		signer, err := certsign.OpenLocal(wcfg.SigningKeyDir)
		if err != nil {
			return nil, err
		}
		if deps.Signer, err = certsign.NewDocumentSigner(signer); err != nil {
			return nil, err
		}
	}
	anchors, err := anchor.New(anchor.Config{}, anchor.Deps{Store: s.Store, Sink: anchor.Dir{Path: s.AnchorDir}, Clock: time.Now, Logger: log})
	if err != nil {
		return nil, err
	}
	s.Anchors, deps.Anchors = anchors, anchors
	// Stack.Workflow, on the wall clock: the load run, the console.
	h, err := workflow.New(wcfg, deps)
	if err != nil {
		return nil, err
	}
	s.Workflow = h
	s.statusSecret = []byte(wcfg.StatusTokenSecret)
	// Each execution's handlers: the same configuration and clients, the
	// execution's clock, and a store on that clock.
	newHandlers := func(clock func() time.Time) (*workflow.Handlers, error) {
		d := deps
		d.Store = store.New(store.Config{Table: TableName}, store.Deps{DB: s.DynamoDB, Clock: clock})
		d.Clock = clock
		return workflow.New(wcfg, d)
	}
	s.executions = newExecutions(s.opts.ClockScale, s.executionStart, newHandlers, h, holds)
	execClock = s.executions.clockFor
	s.Partners.followExecutions(s.executions.now)
	// Task handlers by their substitution key (workflow.Function.ArnKey,
	// partner.Function.ArnKey), resolved through the template's
	// substitutions to the ARNs the definition names.
	type task struct {
		name    string
		handler lambda.Handler
	}
	byKey := map[string]task{}
	for _, f := range workflow.Functions() {
		byKey[f.ArnKey] = task{f.Name, s.executions.handler(f)}
	}
	for key, arn := range subs {
		t, ok := byKey[key]
		if !ok {
			if strings.HasSuffix(key, "FunctionArn") {
				s.Unserved = append(s.Unserved, key)
			}
			continue
		}
		handler := t.handler
		if s.opts.WrapHandler != nil {
			handler = s.opts.WrapHandler(t.name, handler)
		}
		resolver[arn] = handler
	}
	sort.Strings(s.Unserved)
	if len(s.Unserved) > 0 {
		log.Warn("state machine tasks without a local handler", "substitutions", s.Unserved)
	}

	// intake-web, with the simulated app provider's keys.
	webEnv, err := l.env("intake-web")
	if err != nil {
		return nil, err
	}
	for k, v := range s.OIDC.Environment() {
		webEnv[k] = v
	}
	webCfg, err := parseEnv[webintake.Config](webEnv)
	if err != nil {
		return nil, fmt.Errorf("intake-web: %w", err)
	}
	if webCfg, err = webCfg.WithSecrets(ctx, secretSource); err != nil {
		return nil, fmt.Errorf("intake-web: %w", err)
	}
	if err := webCfg.Check(); err != nil {
		return nil, err
	}
	web, err := webintake.New(webCfg, webintake.Deps{Store: s.Store, SFN: s.SFN, S3: s.S3, Clock: time.Now, Logger: log})
	if err != nil {
		return nil, err
	}

	// The HTTP API: the template's routes.
	routes, err := tmpl.Routes()
	if err != nil {
		return nil, err
	}
	// The handlers are mounted directly: each route of the template on
	// the handler of its function (an http.Handler, as the Lambda edge
	// adapter serves it in AWS).
	mux := http.NewServeMux()
	// The simulated app's OpenID Connect provider: its keys (JWKS) beside
	// the API, as an identity provider publishes them.
	mux.Handle("/oidc/", http.StripPrefix("/oidc", s.OIDC))
	handlers := map[string]http.Handler{"intake-web": web, "partner-callback": callback}
	for _, rt := range routes {
		fh, ok := handlers[rt.Function]
		if !ok {
			return nil, fmt.Errorf("route %s: function %s is not served locally", rt.Key(), rt.Function)
		}
		pattern := rt.Method + " " + muxPath(rt.Path)
		if rt.Function == "intake-web" && rt.Method == "ANY" {
			pattern = muxPath(rt.Path)
		}
		mux.Handle(pattern, fh)
		s.Routes = append(s.Routes, rt.Key())
	}

	// intake-mail, fed by the mail drop.
	mailEnv, err := l.env("intake-mail")
	if err != nil {
		return nil, err
	}
	mailCfg, err := mailintake.LoadConfig(mailEnv)
	if err != nil {
		return nil, err
	}
	if mailCfg, err = mailCfg.WithSecrets(ctx, secretSource); err != nil {
		return nil, err
	}
	mh, err := mailintake.New(mailCfg, mailintake.Deps{Store: s.Store, S3: s.S3, SFN: s.SFN, Clock: time.Now, Logger: log})
	if err != nil {
		return nil, err
	}

	// The reconciler.
	recEnv, err := l.env("reconcile")
	if err != nil {
		return nil, err
	}
	rcfg, err := reconcile.ConfigFrom(recEnv)
	if err != nil {
		return nil, err
	}
	// Locally a request is in flight for well under a second, and the
	// reconciler passes every few seconds: a late request is logged once
	// (the metrics, at debug level, still count it).
	rcfg.Grace, rcfg.QuietRepeats = 5*time.Second, true
	rec, err := reconcile.New(rcfg, reconcile.Deps{Store: s.Store, SFN: s.SFN, Documents: documents.New(s.S3), Clock: time.Now, Metrics: &logWriter{log: log}, Logger: log})
	if err != nil {
		return nil, err
	}
	s.Reconciler = rec

	return &wired{sfnHandler: holds.observe(api), httpHandler: mux, mail: mh.Handle}, nil
}

// dispatcher builds partner-callback's dispatcher on the local clients, as
// partner.LazyAWSDispatcher does on AWS's; exports go to the local bucket.
func (s *Stack) dispatcher(ctx context.Context, c partner.FunctionConfig, secrets partner.SecretGetter) (*partner.Dispatcher, error) {
	pc, err := partner.LoadConfig(c.PartnersConfig)
	if err != nil {
		return nil, err
	}
	bucket := c.ExportBucket
	if bucket == "" {
		bucket = ExportsBucket
	}
	if err := s.ensureBucket(ctx, bucket); err != nil {
		return nil, err
	}
	exports := &export.Store{Objects: s3bucket.New(s.S3, bucket), SSE: export.SSES3, LinkTTL: c.ExportLinkTTL}
	return partner.NewDispatcher(partner.DispatcherConfig{Partners: pc, CallbackBaseURL: c.PublicBaseURL}, partner.DispatcherDeps{
		Store: s.Store, Client: &partner.Client{TryTimeout: c.PartnerTryTimeout},
		Secrets: partner.NewSecrets(map[string]partner.SecretResolver{
			partner.SecretStoreScheme: partner.SecretStore{Getter: secrets, Default: c.PartnerSecretsID},
		}),
		SFN: s.SFN, Exports: exports, Clock: time.Now, Logger: s.log,
	}), nil
}

// muxPath turns an API Gateway route path into a net/http pattern:
// {name} stays, a greedy {name+} becomes {name...}, and a path ending in
// "/" matches only itself ({$}), not everything below it.
func muxPath(p string) string {
	p = strings.ReplaceAll(p, "+}", "...}")
	if strings.HasSuffix(p, "/") {
		p += "{$}"
	}
	return p
}

// logWriter turns the reconciler's metric lines into log records.
type logWriter struct{ log *slog.Logger }

func (w *logWriter) Write(p []byte) (int, error) {
	w.log.Debug("metrics", "emf", json.RawMessage(bytes.TrimSpace(p)))
	return len(p), nil
}

// observe wraps the Step Functions API: SendTaskSuccess and SendTaskFailure
// end the hold of their token.
func (hs *holds) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Header.Get("X-Amz-Target") {
		case "AWSStepFunctions.SendTaskSuccess", "AWSStepFunctions.SendTaskFailure":
			body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
			if err == nil {
				var in taskTokenField
				if json.Unmarshal(body, &in) == nil {
					defer hs.release(in.TaskToken)
				}
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		next.ServeHTTP(w, r)
	})
}

type handlerFunc func(ctx context.Context, payload []byte) ([]byte, error)

func (f handlerFunc) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	return f(ctx, payload)
}
