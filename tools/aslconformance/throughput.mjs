// Measures aws-local-stepfunctions' state transitions per second on the
// definitions of internal/dev/asl's Go benchmarks (BenchmarkPassChain,
// BenchmarkChoiceLoop, BenchmarkMap1000Tasks), for comparison with
// `go test -bench . ./internal/dev/asl`. Prints one JSON object per benchmark.
//
// Usage: node throughput.mjs [SECONDS_PER_BENCHMARK]
import { StateMachine } from 'aws-local-stepfunctions';

const seconds = Number(process.argv[2] ?? 5);
const fnArn = 'arn:aws:lambda:us-east-1:123456789012:function:';

function passChain() {
  const States = {};
  for (let i = 0; i < 1000; i++) {
    States[`S${i}`] = i === 999 ? { Type: 'Pass', End: true } : { Type: 'Pass', Next: `S${i + 1}` };
  }
  // 1,000 states entered per run.
  return { def: { StartAt: 'S0', States }, input: { request: { id: 'r-1', kind: 'erasure' }, count: 0 }, transitions: 1000 };
}

function choiceLoop() {
  const def = {
    StartAt: 'Check',
    States: {
      Check: { Type: 'Choice', Choices: [{ And: [{ Variable: '$.i', IsNumeric: true }, { Variable: '$.i', NumericLessThan: 500 }], Next: 'Inc' }], Default: 'Done' },
      Inc: { Type: 'Pass', Parameters: { 'i.$': 'States.MathAdd($.i, 1)', 'kind.$': '$.kind' }, Next: 'Check' },
      Done: { Type: 'Succeed' },
    },
  };
  // Check 501 times, Inc 500 times, Done once.
  return { def, input: { i: 0, kind: 'erasure' }, transitions: 1002 };
}

function map1000() {
  const items = Array.from({ length: 1000 }, (_, i) => ({ partner: `p${i}` }));
  const def = {
    StartAt: 'Fan',
    States: {
      Fan: {
        Type: 'Map', ItemsPath: '$.items', MaxConcurrency: 10,
        ItemSelector: { 'partner.$': '$$.Map.Item.Value.partner', 'index.$': '$$.Map.Item.Index' },
        ItemProcessor: { StartAt: 'Call', States: { Call: { Type: 'Task', Resource: `${fnArn}notify`, ResultPath: '$.result', End: true } } },
        End: true,
      },
    },
  };
  const overrides = { taskResourceLocalHandlers: { Call: async (input) => ({ ok: true, index: input.index }) } };
  // The Map state plus one Task per item.
  return { def, input: { items }, transitions: 1001, overrides };
}

async function bench(name, { def, input, transitions, overrides }) {
  const sm = new StateMachine(def, { validationOptions: { checkArn: false } });
  let runs = 0;
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(Math.round(seconds * 1e9));
  do {
    await sm.run(input, { overrides }).result;
    runs++;
  } while (process.hrtime.bigint() < deadline);
  const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  return { benchmark: name, runs, seconds: Number(elapsed.toFixed(3)), transitionsPerRun: transitions, transitionsPerSecond: Math.round((runs * transitions) / elapsed) };
}

for (const [name, make] of [['BenchmarkPassChain', passChain], ['BenchmarkChoiceLoop', choiceLoop], ['BenchmarkMap1000Tasks', map1000]]) {
  console.log(JSON.stringify(await bench(name, make())));
}
