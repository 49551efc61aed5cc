package workflow

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Function is one task function of the workflow: its Lambda function name
// (functions/<Name>/main.go, template.yaml), the DefinitionSubstitutions key
// of its ARN in statemachines/dsr.asl.json, and its handler.
type Function struct {
	Name string
	// ArnKey is the ${...} placeholder of the function's ARN.
	ArnKey  string
	Handler func(h *Handlers) any
	// SendsMail: the function writes to requesters, so its main passes an
	// EmailFactory to FromEnv; the others link no email client. The
	// workflow's tests fail when a function not marked sends a message.
	SendsMail bool
	// UsesExports: the function reads or writes the export bucket, so its
	// main passes s3bucket.Open (to FromEnv or partner.LazyAWSDispatcher);
	// the others link no S3 client. The workflow's tests fail when a
	// function not marked touches the bucket.
	UsesExports bool
}

// Functions lists the workflow's task functions, the partner task
// functions of the fan-out included.
func Functions() []Function {
	fs := []Function{
		{Name: "admit", ArnKey: "AdmitFunctionArn", Handler: func(h *Handlers) any { return h.Admit }},
		{Name: "verify-identity", SendsMail: true, ArnKey: "VerifyIdentityFunctionArn", Handler: func(h *Handlers) any { return h.VerifyIdentity }},
		{Name: "await-operator", ArnKey: "AwaitOperatorFunctionArn", Handler: func(h *Handlers) any { return h.AwaitOperator }},
		{Name: "review", ArnKey: "ReviewFunctionArn", Handler: func(h *Handlers) any { return h.Review }},
		{Name: "proceed", ArnKey: "ProceedFunctionArn", Handler: func(h *Handlers) any { return h.Proceed }},
		{Name: "reply", SendsMail: true, UsesExports: true, ArnKey: "ReplyFunctionArn", Handler: func(h *Handlers) any { return h.Reply }},
		{Name: "close", SendsMail: true, ArnKey: "CloseFunctionArn", Handler: func(h *Handlers) any { return h.Close }},
		{Name: "escalate-backups", ArnKey: "EscalateBackupsFunctionArn", Handler: func(h *Handlers) any { return h.EscalateBackups }},
	}
	return append(fs, partnerFunctions()...)
}

// PartitionKey is the substitution holding the AWS partition ("aws",
// "aws-cn"), used in service-integration ARNs.
const PartitionKey = "Partition"

var placeholder = regexp.MustCompile(`\$\{([A-Za-z0-9_]+)\}`)

// Substitute replaces ${Name} placeholders in a definition, as SAM's
// DefinitionSubstitutions does. Every placeholder must have a value.
func Substitute(def []byte, vars map[string]string) ([]byte, error) {
	var missing []string
	out := placeholder.ReplaceAllFunc(def, func(m []byte) []byte {
		name := string(m[2 : len(m)-1])
		v, ok := vars[name]
		if !ok {
			missing = append(missing, name)
			return m
		}
		return []byte(v)
	})
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, fmt.Errorf("definition substitutions missing: %s", strings.Join(missing, ", "))
	}
	return out, nil
}

// LocalSubstitutions are substitutions for running the definition outside
// AWS: function ARNs in partition, region and account, named after
// Functions().
func LocalSubstitutions(partition, region, account string) map[string]string {
	vars := map[string]string{PartitionKey: partition}
	for _, f := range Functions() {
		vars[f.ArnKey] = fmt.Sprintf("arn:%s:lambda:%s:%s:function:%s", partition, region, account, f.Name)
	}
	return vars
}
