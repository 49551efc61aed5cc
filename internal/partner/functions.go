package partner

import "context"

// Function is one partner task function for the state machine: its Lambda
// name, the DefinitionSubstitutions key of its ARN, and its handler (for
// lambda.Start or the local engine's asl.Handlers).
type Function struct {
	Name    string
	ArnKey  string
	Handler any
}

// Functions lists the partner task functions over d: one Map iteration
// (Run) and its Catch (Escalate). The callback endpoint is not a task: it
// is Callback, an http.Handler.
func Functions(d *Dispatcher) []Function {
	return []Function{
		{Name: "partner", ArnKey: "PartnerFunctionArn", Handler: d.Run},
		{Name: "partner-escalate", ArnKey: "PartnerEscalateFunctionArn", Handler: d.Escalate},
	}
}

// handler signatures, checked at compile time.
var (
	_ func(context.Context, RunInput) (DispatchOutput, error)      = (*Dispatcher)(nil).Run
	_ func(context.Context, EscalateInput) (DispatchOutput, error) = (*Dispatcher)(nil).Escalate
)
