// Package asl parses, validates and runs Amazon States Language state
// machines in-process, with AWS Step Functions' semantics: InputPath,
// Parameters, ResultSelector, ResultPath and OutputPath; the context object;
// every States.* intrinsic function; Choice rules; Wait on an injectable
// Clock; Parallel and (inline) Map; Retry and Catch with AWS's error names;
// Task states resolved to in-process aws-lambda-go handlers (direct Lambda
// ARNs, arn:aws:states:::lambda:invoke with its Payload/StatusCode output, and
// .waitForTaskToken callbacks); payload and history quotas; and execution
// history in the shape of GetExecutionHistory.
//
// Design notes:
//
//   - Validation and compilation are one pass (Validate and Parse share it),
//     so every problem is reported with a JSON Pointer location and a stable
//     code, and a definition that validates is exactly one that compiles.
//   - JSONPath is hand-written (path.go): ASL needs reading with the Jayway
//     subset (wildcards, slices, unions, filters, recursive descent) and
//     writing reference paths (ResultPath creates nested objects). Paths,
//     intrinsic calls and payload templates are compiled once at Parse time;
//     a definite path evaluates as a slice of field/index steps.
//   - Values between states are decoded JSON (map[string]any, []any,
//     json.Number, ...). Numbers keep their text, so integers stay integers.
//     Values are never mutated after creation (ResultPath copies the path it
//     writes), so history events keep references and encode them only when
//     History is read. History records keep the rarely used fields behind a
//     pointer. These values are encoded, and plain JSON decoded, without
//     encoding/json's reflection, with the same bytes and values (tests
//     compare both on random documents); anything unusual goes through
//     encoding/json.
//   - Each execution runs its states in one goroutine; Parallel branches and
//     Map iterations get their own. Handlers made by lambda.NewHandler run
//     one invocation at a time each (their output buffer is reused), like a
//     single Lambda instance; NewHandler keeps a pool of instances, so its
//     invocations run at once, like Lambda's concurrent instances.
//   - A Task handler learns which state it runs for from its context:
//     TaskInfo (state name, retry count, execution ARN, task token),
//     StateName and ExecutionArnFrom; WithTaskInfo builds such a context
//     for tests.
//   - Time comes from Options.Clock, or per execution from
//     Options.ExecutionClock: each execution may run on a clock of its own
//     (the local stack gives each a virtual clock, so one execution's long
//     waits do not move the others' dates).
//   - Not supported yet, and rejected by validation with code UNSUPPORTED:
//     JSONata (QueryLanguage, Arguments, Output, Condition), variables
//     (Assign), Distributed Map (ItemReader, ItemBatcher, ResultWriter,
//     ToleratedFailure*, Mode DISTRIBUTED) and activities.
//   - Go maps do not keep key order, so objects in outputs (and in
//     States.JsonToString) have their keys sorted, where AWS keeps them in
//     insertion order; JSON compared by meaning is the same.
package asl
