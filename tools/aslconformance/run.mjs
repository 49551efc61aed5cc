// Runs every conformance case (internal/dev/asl/testdata/conformance) through an
// independent implementation: aws-local-stepfunctions for executions and
// asl-validator for validation cases. Prints a JSON report on stdout:
// {"cases": {"<section>/<case>": {"status", "output" | "error", "cause"} | {"valid", "problems"}}}
//
// Usage: node run.mjs CORPUS_DIR
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { StateMachine } from 'aws-local-stepfunctions';

const require = createRequire(import.meta.url);
const aslValidator = require('asl-validator');

const SM_ARN = 'arn:aws:states:us-east-1:123456789012:stateMachine:conformance';
const EXEC_ARN = 'arn:aws:states:us-east-1:123456789012:execution:conformance:case';
const ROLE_ARN = 'arn:aws:iam::123456789012:role/conformance';

// visit calls fn(name, state) for every state, nested ones included.
function visit(machine, fn) {
  for (const [name, st] of Object.entries(machine?.States ?? {})) {
    fn(name, st);
    for (const b of st.Branches ?? []) visit(b, fn);
    if (st.Iterator) visit(st.Iterator, fn);
    if (st.ItemProcessor) visit(st.ItemProcessor, fn);
  }
}

// handlers plays scripted outcomes: invocation i of a state uses entry min(i, len-1).
function handlers(tasks) {
  const out = {};
  for (const [state, outcomes] of Object.entries(tasks ?? {})) {
    let calls = 0;
    out[state] = async () => {
      const o = outcomes[Math.min(calls++, outcomes.length - 1)];
      if (o.throw) {
        const e = new Error(o.throw.cause ?? '');
        e.name = o.throw.error;
        throw e;
      }
      return o.return;
    };
  }
  return out;
}

async function runCase(c) {
  if (c.expected.valid !== undefined) {
    const { isValid, errors } = aslValidator(c.definition);
    return {
      valid: isValid,
      problems: (errors ?? []).map((e) => ({ location: e.path ?? e.instancePath ?? '', message: e.message })),
    };
  }
  const waits = {};
  const retries = {};
  visit(c.definition, (name, st) => {
    if (st.Type === 'Wait') waits[name] = 0;
    if (st.Retry) retries[name] = 0;
  });
  let sm;
  try {
    sm = new StateMachine(c.definition, { validationOptions: { checkArn: false } });
  } catch (e) {
    return { status: 'REJECTED', error: e.name, cause: String(e.message) };
  }
  const input = c.input ?? {};
  const exec = sm.run(input, {
    overrides: { taskResourceLocalHandlers: handlers(c.tasks), waitTimeOverrides: waits, retryIntervalOverrides: retries },
    context: {
      Execution: { Id: EXEC_ARN, Name: 'case', Input: input, RoleArn: ROLE_ARN, StartTime: new Date().toISOString() },
      StateMachine: { Id: SM_ARN, Name: 'conformance' },
    },
  });
  try {
    const output = await exec.result;
    return { status: 'SUCCEEDED', output };
  } catch (e) {
    const inner = e.cause ?? e;
    return { status: 'FAILED', error: inner.name, cause: String(inner.message ?? '') };
  }
}

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node run.mjs CORPUS_DIR');
  process.exit(2);
}
const report = { implementation: 'aws-local-stepfunctions 3.0.0 + asl-validator 4.0.0', cases: {} };
for (const section of readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort()) {
  for (const file of readdirSync(join(dir, section)).filter((f) => f.endsWith('.json')).sort()) {
    const name = `${section}/${file.replace(/\.json$/, '')}`;
    const c = JSON.parse(readFileSync(join(dir, section, file), 'utf8'));
    try {
      report.cases[name] = await runCase(c);
    } catch (e) {
      report.cases[name] = { status: 'CRASHED', error: e.name, cause: String(e.message) };
    }
  }
}
process.stdout.write(JSON.stringify(report, null, 1) + '\n');
