// Package invoke runs one function of template.yaml on one event on this
// machine, without Docker: the local equivalent of `sam local invoke`. It
// builds the function's bootstrap for the host, gives it the environment the
// template declares (with local values), runs it against a Runtime API on
// loopback (internal/dev/lambdaruntime) and returns its response or error.
//
// When the local stack (`make run`) is running, its endpoints and names are
// read from <local dir>/env and its secrets from <local dir>/secrets.env, so
// the function talks to the local DynamoDB, S3 and Step Functions.
package invoke

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"time"

	"dsrflow/internal/dev/lambdaruntime"
	"dsrflow/internal/dev/samtemplate"
)

// Options say what to run and where.
type Options struct {
	// Root is the repository root (template.yaml, go.mod); default ".".
	Root string
	// Template is the template path relative to Root; default template.yaml.
	Template string
	// Function is the function's folder name ("intake-web") or logical ID.
	Function string
	// Event is the event payload (JSON).
	Event []byte
	// LocalDir is the local stack's folder (default Root/.local); its env
	// and secrets.env are used when they exist.
	LocalDir string
	// Env overrides variables last.
	Env map[string]string
	// BuildDir receives the host build (default Root/.build/invoke).
	BuildDir string
	// Logs receives the build's and the function's output.
	Logs io.Writer
	// Timeout is the invocation deadline (default 30s).
	Timeout time.Duration
}

// Result is the function's answer.
type Result struct {
	LogicalID string
	// Payload is the response; Err the function's error.
	Payload []byte
	Err     *lambdaruntime.FunctionError
	// Init and Duration are the init phase and the invocation.
	Init, Duration time.Duration
}

// Run builds and runs the function on the event.
func Run(ctx context.Context, o Options) (*Result, error) {
	if o.Root == "" {
		o.Root = "."
	}
	if o.Template == "" {
		o.Template = "template.yaml"
	}
	if o.LocalDir == "" {
		o.LocalDir = filepath.Join(o.Root, ".local")
	}
	if o.BuildDir == "" {
		o.BuildDir = filepath.Join(o.Root, ".build", "invoke")
	}
	if o.Logs == nil {
		o.Logs = io.Discard
	}
	if !json.Valid(o.Event) {
		return nil, ErrBadEvent
	}
	tpl, err := samtemplate.Load(filepath.Join(o.Root, o.Template))
	if err != nil {
		return nil, err
	}
	fn, err := tpl.Function(o.Function)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnknownFunction, err)
	}
	local, err := ReadLocal(o.LocalDir)
	if err != nil {
		return nil, err
	}
	environ, err := Environment(tpl, fn, local, o.Env)
	if err != nil {
		return nil, err
	}
	if environ["SECRETS_DIR"] == "" && namesSecrets(environ) {
		dir, err := filepath.Abs(filepath.Join(o.BuildDir, "secrets"))
		if err != nil {
			return nil, err
		}
		if err := writePlaceholderSecrets(o.Root, dir, tpl); err != nil {
			return nil, fmt.Errorf("placeholder secrets: %w", err)
		}
		environ["SECRETS_DIR"] = dir
	}
	dir := filepath.Join(o.BuildDir, fn.LogicalID)
	bin, err := Build(ctx, o.Root, o.LocalDir, fn, dir, o.Logs)
	if err != nil {
		return nil, err
	}
	inst, err := lambdaruntime.Start(lambdaruntime.Function{
		Path: bin, Name: fn.Name, Env: environ, Dir: dir, Stdout: o.Logs, Stderr: o.Logs, Timeout: o.Timeout,
	})
	if err != nil {
		return nil, err
	}
	defer inst.Stop()
	init, err := inst.InitDuration(ctx)
	if err != nil {
		return nil, fmt.Errorf("function %s: %w", fn.Name, err)
	}
	start := time.Now()
	res, err := inst.Invoke(ctx, o.Event)
	if err != nil {
		return nil, fmt.Errorf("function %s: %w", fn.Name, err)
	}
	return &Result{LogicalID: fn.LogicalID, Payload: res.Payload, Err: res.Err, Init: init, Duration: time.Since(start)}, nil
}

// Errors of the caller's input.
var (
	ErrBadEvent        = errors.New("the event is not valid JSON")
	ErrUnknownFunction = errors.New("unknown function")
)

// Build compiles fn's package for this machine as dir/bootstrap, with the
// flags of `make build` (CGO_ENABLED=0, lambda.norpc, -trimpath, -s -w), and
// bundles the partner configuration beside it when the function reads one
// (PARTNERS_CONFIG): the local stack's (in localDir) if there is one, else
// config/partners.example.json.
func Build(ctx context.Context, root, localDir string, fn samtemplate.Function, dir string, logs io.Writer) (string, error) {
	bin, err := BuildPackage(ctx, root, fn.Main, dir, logs)
	if err != nil {
		return "", err
	}
	if name, ok := fn.Environment["PARTNERS_CONFIG"].(string); ok && !filepath.IsAbs(name) {
		if err := bundlePartners(root, localDir, filepath.Join(dir, name)); err != nil {
			return "", err
		}
	}
	return bin, nil
}

// BuildPackage compiles the main package pkg (relative to root) for this
// machine as dir/bootstrap, with the flags of `make build`.
func BuildPackage(ctx context.Context, root, pkg, dir string, logs io.Writer) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	bin, err := filepath.Abs(filepath.Join(dir, "bootstrap"))
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags", "-s -w", "-o", bin, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+runtime.GOOS, "GOARCH="+runtime.GOARCH)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		_, _ = logs.Write(out.Bytes())
		return "", fmt.Errorf("build %s: %w", pkg, err)
	}
	return bin, nil
}

// Local is what the running local stack publishes.
type Local struct {
	// Env is <dir>/env: AWS_ENDPOINT_URL_*, credentials, region, DSR_TABLE,
	// DSR_STATE_MACHINE_ARN, DSR_MAILBOX_BUCKET.
	Env map[string]string
	// Dir is the stack's folder; empty when no stack was found. Its
	// secrets/ folder holds the stack's copies of the template's Secrets
	// Manager secrets, by logical ID (the function reads them there:
	// SECRETS_DIR).
	Dir string
}

// ReadLocal reads what the local stack in dir publishes (nothing when it
// never ran there).
func ReadLocal(dir string) (Local, error) {
	env, err := readKV(filepath.Join(dir, "env"))
	if err != nil {
		return Local{}, err
	}
	l := Local{Env: env}
	if env != nil {
		l.Dir = dir
	}
	return l, nil
}

// readKV reads KEY=VALUE lines; a missing file is nil, nil.
func readKV(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(strings.TrimPrefix(line, "export "), "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%s line %d: want KEY=VALUE", path, n)
		}
		out[k] = v
	}
	return out, sc.Err()
}

// LocalSecret is the value of the placeholder secrets written when no
// local stack runs (at least 32 bytes, as the configs require).
const LocalSecret = "local-invoke-secret-0123456789abcdef"

// typeSecret is a Secrets Manager secret of the template.
const typeSecret = "AWS::SecretsManager::Secret"

// namesSecrets reports whether env names Secrets Manager secrets the
// function reads at run time.
func namesSecrets(env map[string]string) bool {
	for k := range env {
		if strings.HasSuffix(k, "_SECRET_ID") || k == "PARTNER_SECRETS_ID" {
			return true
		}
	}
	return false
}

// writePlaceholderSecrets writes a placeholder for each Secrets Manager
// secret of the template into dir, by logical ID, in the shape the
// template gives it: a JSON object with the generated key, the partners'
// secret with every key config/partners.example.json names, else a plain
// string.
func writePlaceholderSecrets(root, dir string, tpl *samtemplate.Template) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	partnerKeys := map[string]string{}
	if b, err := os.ReadFile(filepath.Join(root, "config", "partners.example.json")); err == nil {
		for _, m := range regexp.MustCompile(`"secretsmanager:#([A-Za-z0-9_]+)"`).FindAllSubmatch(b, -1) {
			partnerKeys[string(m[1])] = LocalSecret
		}
	}
	for id, r := range tpl.Resources {
		if r.Type != typeSecret {
			continue
		}
		v := []byte(LocalSecret)
		gen, _ := r.Properties["GenerateSecretString"].(map[string]any)
		if key, _ := gen["GenerateStringKey"].(string); key != "" {
			v, _ = json.Marshal(map[string]string{key: LocalSecret})
		} else if str, _ := r.Properties["SecretString"].(string); strings.HasPrefix(str, "{") {
			v, _ = json.Marshal(partnerKeys)
		}
		if err := os.WriteFile(filepath.Join(dir, id), v, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// Environment returns the function's environment: the template's variables
// resolved with local values (the local stack's names and secrets when it
// runs, placeholders otherwise), the AWS_* variables of this process and of
// the local stack (endpoints, credentials, region), and overrides last.
func Environment(tpl *samtemplate.Template, fn samtemplate.Function, local Local, overrides map[string]string) (map[string]string, error) {
	vals := samtemplate.Values{Parameters: map[string]string{}, Resources: map[string]string{}}
	for name, p := range tpl.Parameters {
		if _, ok := p["Default"]; ok {
			continue
		}
		switch {
		case strings.HasSuffix(name, "Secret"):
			vals.Parameters[name] = LocalSecret
		case name == "MailFrom":
			vals.Parameters[name] = "privacy@example.cn"
		}
	}
	region := firstNonEmpty(local.Env["AWS_REGION"], os.Getenv("AWS_REGION"), "us-east-1")
	for id, r := range tpl.Resources {
		arn := fmt.Sprintf("arn:aws:%s:%s:123456789012:%s", serviceOf(r.Type), region, strings.ToLower(id))
		vals.Resources[id] = "dsrflow-" + strings.ToLower(id)
		vals.Resources[id+".Arn"] = arn
		vals.Resources[id+".Name"] = "dsrflow-" + strings.ToLower(id)
		if r.Type == samtemplate.TypeStateMachine {
			vals.Resources[id] = fmt.Sprintf("arn:aws:states:%s:123456789012:stateMachine:%s", region, id)
		}
		if r.Type == "AWS::DynamoDB::Table" && local.Env["DSR_TABLE"] != "" {
			vals.Resources[id] = local.Env["DSR_TABLE"]
		}
		if r.Type == samtemplate.TypeStateMachine && local.Env["DSR_STATE_MACHINE_ARN"] != "" {
			vals.Resources[id] = local.Env["DSR_STATE_MACHINE_ARN"]
		}
		if r.Type == "AWS::S3::Bucket" && local.Env["DSR_MAILBOX_BUCKET"] != "" {
			vals.Resources[id] = local.Env["DSR_MAILBOX_BUCKET"]
		}
		// A secret's name is its logical ID: its file under SECRETS_DIR.
		if r.Type == typeSecret {
			vals.Resources[id] = id
		}
	}
	vals.Pseudo = map[string]string{"AWS::Region": region}
	env, err := tpl.Env(fn, vals)
	if err != nil {
		return nil, err
	}
	// The function reads its secrets from the local stack's copies (Run
	// writes placeholders when no stack runs).
	if local.Dir != "" && namesSecrets(env) {
		if abs, err := filepath.Abs(filepath.Join(local.Dir, "secrets")); err == nil {
			env["SECRETS_DIR"] = abs
		}
	}
	// Secrets Manager dynamic references cannot resolve locally.
	for k, v := range env {
		if strings.HasPrefix(v, "{{resolve:") {
			env[k] = LocalSecret
		}
	}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "AWS_") && !strings.HasPrefix(k, "AWS_LAMBDA_") {
			env[k] = v
		}
	}
	for k, v := range local.Env {
		if strings.HasPrefix(k, "AWS_") {
			env[k] = v
		}
	}
	if local.Dir != "" {
		// The local stack's S3 wants path-style addressing and its mail
		// goes to the outbox folder (read by the functions that send mail).
		env["S3_USE_PATH_STYLE"] = "true"
		if abs, err := filepath.Abs(filepath.Join(local.Dir, "outbox")); err == nil {
			env["OUTBOX_DIR"] = abs
		}
	}
	env["AWS_REGION"] = firstNonEmpty(env["AWS_REGION"], region)
	for k, v := range overrides {
		env[k] = v
	}
	return env, nil
}

func serviceOf(typ string) string {
	parts := strings.Split(typ, "::")
	if len(parts) < 2 {
		return "unknown"
	}
	switch parts[1] {
	case "Serverless":
		if parts[2] == "StateMachine" {
			return "states"
		}
		return "lambda"
	case "StepFunctions":
		return "states"
	}
	return strings.ToLower(parts[1])
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// bundlePartners copies the partner configuration next to the bootstrap:
// the local stack's (its partners point at the simulated partners) when it
// runs, else config/partners.example.json.
func bundlePartners(root, localDir, dst string) error {
	src := filepath.Join(localDir, "partners.json")
	if _, err := os.Stat(src); err != nil {
		src = filepath.Join(root, "config", "partners.example.json")
	}
	b, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("partner configuration: %w", err)
	}
	return os.WriteFile(dst, b, 0o644)
}
