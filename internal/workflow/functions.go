package workflow

import (
	"context"
	"dsrflow/internal/partner"
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
	// SignsCertificates: the function signs deletion certificates (KMS).
	SignsCertificates bool
	// DeletesDocuments: the function deletes requests' documents (S3).
	DeletesDocuments bool
}

// Functions lists the workflow's task functions, the partner fan-out's
// iteration and its Catch included.
func Functions() []Function {
	return []Function{
		{Name: "admit", ArnKey: "AdmitFunctionArn", Handler: func(h *Handlers) any { return h.Admit }},
		{Name: "verify-identity", SendsMail: true, ArnKey: "VerifyIdentityFunctionArn", Handler: func(h *Handlers) any { return h.Verify }},
		{Name: "review", SendsMail: true, ArnKey: "ReviewFunctionArn", Handler: func(h *Handlers) any { return h.Review }},
		{Name: "await-operator", ArnKey: "AwaitOperatorFunctionArn", Handler: func(h *Handlers) any { return h.AwaitOperator }},
		{Name: "partner", UsesExports: true, ArnKey: "PartnerFunctionArn", Handler: func(h *Handlers) any { return h.Partner }},
		{Name: "partner-escalate", UsesExports: true, ArnKey: "PartnerEscalateFunctionArn", Handler: func(h *Handlers) any { return h.EscalatePartner }},
		{Name: "reply", SendsMail: true, UsesExports: true, ArnKey: "ReplyFunctionArn", Handler: func(h *Handlers) any { return h.Reply }},
		{Name: "confirm-backup-purge", ArnKey: "ConfirmBackupPurgeFunctionArn", Handler: func(h *Handlers) any { return h.ConfirmBackupPurge }},
		{Name: "escalate-backups", ArnKey: "EscalateBackupsFunctionArn", Handler: func(h *Handlers) any { return h.EscalateBackups }},
		{Name: "close", SendsMail: true, SignsCertificates: true, ArnKey: "CloseFunctionArn", Handler: func(h *Handlers) any { return h.Close }},
		{Name: "purge-personal", DeletesDocuments: true, ArnKey: "PurgePersonalFunctionArn", Handler: func(h *Handlers) any { return h.Purge }},
	}
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

// Partner is one partner iteration of the fan-out (partner.Dispatcher.Run).
func (h *Handlers) Partner(ctx context.Context, in partner.RunInput) (partner.DispatchOutput, error) {
	return h.partners.Run(ctx, in)
}

// EscalatePartner is the Catch of a partner iteration
// (partner.Dispatcher.Escalate).
func (h *Handlers) EscalatePartner(ctx context.Context, in partner.EscalateInput) (partner.DispatchOutput, error) {
	return h.partners.Escalate(ctx, in)
}
