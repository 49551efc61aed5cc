package partner

import (
	"context"

	"dsrflow/internal/partner/export"
)

// Function is one partner task function for the state machine: its Lambda
// name, the DefinitionSubstitutions key of its ARN, and its handler (for
// lambda.Start or the local engine's asl.Handlers).
type Function struct {
	Name    string
	ArnKey  string
	Handler any
}

// Functions lists the partner task functions over d (and a, for the export
// package of access and portability requests; nil leaves it out). The
// callback endpoint is not a task: it is Callback.Handle.
func Functions(d *Dispatcher, a *export.Assembler) []Function {
	fs := []Function{
		{Name: "dsr-partner-plan", ArnKey: "PartnerPlanFunctionArn", Handler: d.Plan},
		{Name: "dsr-partner-dispatch", ArnKey: "PartnerDispatchFunctionArn", Handler: d.Dispatch},
		{Name: "dsr-partner-await", ArnKey: "PartnerAwaitFunctionArn", Handler: d.Await},
		{Name: "dsr-partner-escalate", ArnKey: "PartnerEscalateFunctionArn", Handler: d.Escalate},
		{Name: "dsr-account-precheck", ArnKey: "AccountPrecheckFunctionArn", Handler: d.Precheck},
		{Name: "dsr-backup-window", ArnKey: "BackupWindowFunctionArn", Handler: d.BackupWindow},
		{Name: "dsr-confirm-backup-purge", ArnKey: "ConfirmBackupPurgeFunctionArn", Handler: d.ConfirmBackupPurge},
	}
	if a != nil {
		fs = append(fs, Function{Name: "dsr-export-assemble", ArnKey: "ExportAssembleFunctionArn", Handler: a.Handle})
	}
	return fs
}

// handler signatures, checked at compile time.
var (
	_ func(context.Context, PlanInput) (PlanOutput, error)                 = (*Dispatcher)(nil).Plan
	_ func(context.Context, DispatchInput) (DispatchOutput, error)         = (*Dispatcher)(nil).Dispatch
	_ func(context.Context, AwaitInput) error                              = (*Dispatcher)(nil).Await
	_ func(context.Context, EscalateInput) (DispatchOutput, error)         = (*Dispatcher)(nil).Escalate
	_ func(context.Context, PrecheckInput) (PrecheckOutput, error)         = (*Dispatcher)(nil).Precheck
	_ func(context.Context, BackupWindowInput) (BackupWindowOutput, error) = (*Dispatcher)(nil).BackupWindow
	_ func(context.Context, BackupWindowInput) (ConfirmOutput, error)      = (*Dispatcher)(nil).ConfirmBackupPurge
)
