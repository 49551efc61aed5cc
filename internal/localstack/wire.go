package localstack

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
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	envparse "github.com/caarlos0/env/v11"

	"dsrflow/internal/asl"
	"dsrflow/internal/intake"
	"dsrflow/internal/mailintake"
	"dsrflow/internal/reconcile"
	"dsrflow/internal/sfnapi"
	"dsrflow/internal/store"
	"dsrflow/internal/webintake"
	"dsrflow/internal/workflow"
)

// DefinitionFile is the workflow definition, relative to the repository root.
const DefinitionFile = "statemachines/dsr.asl.json"

// Sender address of the local stack's messages.
const MailFrom = "privacy@dsrflow.localhost"

// humanWaits are the task functions that wait for a person: while one of
// their task tokens is open, the clock runs at real speed.
var humanWaits = map[string]bool{"verify-identity": true, "await-operator": true}

// DefaultHumanHold bounds how long one human wait keeps the clock at real
// speed.
const DefaultHumanHold = 10 * time.Minute

type wired struct {
	sfnHandler  http.Handler
	httpHandler http.Handler
	mail        func(context.Context, events.S3Event) error
}

// FunctionEnv is the environment of every in-process function: what
// template.yaml sets on the deployed functions, with local values.
func (s *Stack) functionEnv(secrets map[string]string) map[string]string {
	env := map[string]string{
		"TABLE_NAME":         TableName,
		"STATE_MACHINE_ARN":  s.StateMachineArn,
		"PUBLIC_BASE_URL":    s.HTTPURL,
		"OUTBOX_DIR":         s.Outbox,
		"MAIL_FROM":          MailFrom,
		"MAILBOX_BUCKET":     MailboxBucket,
		"S3_USE_PATH_STYLE":  "true",
		"PARTNERS_CONFIG":    s.Partners.ConfigPath,
		"CALLBACK_BASE_URL":  s.HTTPURL,
		"AWS_REGION":         Region,
		"AWS_DEFAULT_REGION": Region,
	}
	for _, kv := range s.Env() {
		if _, ok := env[kv[0]]; !ok {
			env[kv[0]] = kv[1]
		}
	}
	for k, v := range secrets {
		env[k] = v
	}
	return env
}

// parseEnv reads a function's configuration struct from env, as the
// function's main reads it from its environment.
func parseEnv[T any](env map[string]string) (T, error) {
	return envparse.ParseAsWithOptions[T](envparse.Options{Environment: env})
}

func (s *Stack) wire(ctx context.Context, secrets map[string]string) (*wired, error) {
	log := s.log
	vars := workflow.LocalSubstitutions("aws", Region, Account)
	def, err := os.ReadFile(filepath.Join(s.opts.Root, DefinitionFile))
	if err != nil {
		return nil, fmt.Errorf("read workflow definition: %w", err)
	}
	def, err = workflow.Substitute(def, vars)
	if err != nil {
		return nil, err
	}
	holds := &holds{clock: s.Clock, open: map[string]func(){}, max: s.opts.HumanHold}
	resolver := asl.Handlers{}
	// Handlers are filled in below, once the state machine ARN (part of
	// their configuration) is known; the engine resolves at run time.
	engine := asl.NewEngine(asl.Options{Clock: s.Clock, Resolver: resolver, Logger: log, Region: Region})
	api := sfnapi.New(sfnapi.ASL(engine), sfnapi.Options{Region: Region, Account: Account, Now: s.Clock.Now, Logger: log})
	arn, err := api.CreateStateMachine(ctx, StateMachineName, string(def), "arn:aws:iam::"+Account+":role/dsrflow-workflow")
	if err != nil {
		return nil, fmt.Errorf("create state machine: %w", err)
	}
	s.StateMachineArn = arn
	env := s.functionEnv(secrets)

	// The workflow's task functions.
	wcfg, err := parseEnv[workflow.Config](env)
	if err != nil {
		return nil, fmt.Errorf("workflow functions: %w", err)
	}
	h, err := workflow.New(wcfg, workflow.Clients{DynamoDB: s.DynamoDB, SFN: s.SFN}, log)
	if err != nil {
		return nil, err
	}
	h.Now = s.Clock.Now
	h.Store.Now = s.Clock.Now
	h.Verification.Now = s.Clock.Now
	h.Operator.Now = s.Clock.Now
	s.Workflow = h
	for _, f := range workflow.Functions() {
		handler := lambda.NewHandler(f.Handler(h))
		if humanWaits[f.Name] {
			handler = holds.wrap(handler)
		}
		if s.opts.WrapHandler != nil {
			handler = s.opts.WrapHandler(f.Name, handler)
		}
		resolver[vars[f.ArnKey]] = handler
	}

	// intake-web behind the HTTP API.
	webCfg, err := parseEnv[webintake.Config](env)
	if err != nil {
		return nil, fmt.Errorf("intake-web: %w", err)
	}
	if err := webCfg.Check(); err != nil {
		return nil, err
	}
	web := webintake.NewHandler(webCfg, webintake.Clients{DynamoDB: s.DynamoDB, SFN: s.SFN}, log)
	web.Now = s.Clock.Now
	setIntakeClock(web.Intake, s.Clock)
	mux := http.NewServeMux()
	mux.Handle("/", webintake.HTTPHandler(web.Handle, log))

	// intake-mail, fed by the mail drop.
	mailCfg, err := mailintake.LoadConfig(env)
	if err != nil {
		return nil, err
	}
	mh, err := mailintake.New(mailCfg, mailintake.Clients{DynamoDB: s.DynamoDB, S3: s.S3, SFN: s.SFN}, log)
	if err != nil {
		return nil, err
	}
	mh.Now = s.Clock.Now
	setIntakeClock(mh.Intake, s.Clock)

	// The reconciler.
	rcfg, err := reconcile.ConfigFrom(env)
	if err != nil {
		return nil, err
	}
	rec, err := reconcile.New(rcfg, reconcile.Clients{DynamoDB: s.DynamoDB, SFN: s.SFN}, log)
	if err != nil {
		return nil, err
	}
	rec.Now = s.Clock.Now
	rec.Metrics = &logWriter{log: log}
	// Locally, a request is in flight for a few real seconds at most.
	rec.Grace = time.Duration(float64(10*time.Second) * s.Clock.Scale())
	setIntakeClock(rec.Intake, s.Clock)
	s.Reconciler = rec

	return &wired{sfnHandler: holds.observe(api), httpHandler: mux, mail: mh.Handle}, nil
}

// setIntakeClock points an intake service (and its store) at the clock.
func setIntakeClock(x any, c *Clock) {
	svc, ok := x.(*intake.Service)
	if !ok {
		return
	}
	svc.Now = c.Now
	if st, ok := svc.Store.(*store.Store); ok {
		st.Now = c.Now
	}
}

// logWriter turns the reconciler's metric lines into log records.
type logWriter struct{ log *slog.Logger }

func (w *logWriter) Write(p []byte) (int, error) {
	w.log.Debug("metrics", "emf", json.RawMessage(bytes.TrimSpace(p)))
	return len(p), nil
}

// holds keeps the clock at real speed while a human-wait task token is open.
type holds struct {
	clock *Clock
	max   time.Duration // <0: no holds
	mu    sync.Mutex
	open  map[string]func()
}

type taskTokenField struct {
	TaskToken string `json:"taskToken"`
}

// wrap holds the clock from the handler's invocation until its task token
// is answered (observe) or hs.max has passed.
func (hs *holds) wrap(h lambda.Handler) lambda.Handler {
	return handlerFunc(func(ctx context.Context, payload []byte) ([]byte, error) {
		var in taskTokenField
		if hs.max > 0 && json.Unmarshal(payload, &in) == nil && in.TaskToken != "" {
			release := hs.clock.Hold()
			hs.mu.Lock()
			if old, ok := hs.open[in.TaskToken]; ok {
				old()
			}
			hs.open[in.TaskToken] = release
			hs.mu.Unlock()
			time.AfterFunc(hs.max, func() { hs.release(in.TaskToken) })
		}
		return h.Invoke(ctx, payload)
	})
}

func (hs *holds) release(token string) {
	hs.mu.Lock()
	release, ok := hs.open[token]
	delete(hs.open, token)
	hs.mu.Unlock()
	if ok {
		release()
	}
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
