// Compares two conformance reports (ours from `go test ./internal/dev/asl -run
// TestConformance -args -conformance-report FILE`, theirs from run.mjs) with
// the corpus's expected results, and prints every case where an
// implementation differs from the expectation as a Markdown table.
//
// Usage: node compare.mjs CORPUS_DIR OURS.json THEIRS.json
// It only reports: whether our engine conforms is decided by the Go test
// (TestConformance, with its list of known gaps).
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';

const [dir, oursFile, theirsFile] = process.argv.slice(2);
if (!theirsFile) {
  console.error('usage: node compare.mjs CORPUS_DIR OURS.json THEIRS.json');
  process.exit(2);
}
const ours = JSON.parse(readFileSync(oursFile, 'utf8')).cases;
const theirs = JSON.parse(readFileSync(theirsFile, 'utf8')).cases;

// lambdaCause reads a Lambda error JSON cause as its errorMessage (our engine
// reports scripted throws as Lambda function errors; see aslmock.LambdaCause).
function lambdaCause(error, cause) {
  try {
    const v = JSON.parse(cause);
    if (v && typeof v.errorMessage === 'string' && v.errorType === error) return v.errorMessage;
  } catch {}
  return cause;
}
function normalize(v) {
  if (Array.isArray(v)) return v.map(normalize);
  if (v && typeof v === 'object') {
    const keys = Object.keys(v);
    if (keys.length === 2 && typeof v.Error === 'string' && typeof v.Cause === 'string') {
      return { Error: v.Error, Cause: lambdaCause(v.Error, v.Cause) };
    }
    return Object.fromEntries(keys.map((k) => [k, normalize(v[k])]));
  }
  return v;
}
function within(loc, node) {
  loc = loc === '/' ? '' : loc;
  node = node === '/' ? '' : node;
  return loc === node || loc.startsWith(node + '/');
}

// verdict says how a result differs from the expectation ('' when it agrees).
function verdict(exp, got, checkLocations) {
  if (!got) return 'no result';
  if (exp.valid !== undefined) {
    if (got.valid !== exp.valid) return exp.valid ? 'rejected a valid definition' : 'accepted an invalid definition';
    if (checkLocations && !exp.valid) {
      for (const p of exp.problems ?? []) {
        if (!(got.problems ?? []).some((q) => within(q.location, p.location))) return `no problem at ${p.location || '/'}`;
      }
    }
    return '';
  }
  if (got.status !== exp.status) {
    const detail = got.status === 'SUCCEEDED' ? JSON.stringify(got.output) : `${got.error}: ${got.cause}`;
    return `${got.status} (${String(detail).slice(0, 160)})`;
  }
  if (exp.status === 'SUCCEEDED' && !isDeepStrictEqual(normalize(got.output), exp.output)) {
    return `output ${JSON.stringify(got.output).slice(0, 160)}`;
  }
  if (exp.status === 'FAILED') {
    if (got.error !== exp.error) return `error ${got.error} (${String(got.cause).slice(0, 120)})`;
    if (exp.cause !== undefined && lambdaCause(got.error, got.cause) !== exp.cause) return `cause ${JSON.stringify(got.cause)}`;
  }
  return '';
}

const rows = [];
let total = 0, oursOK = 0, theirsOK = 0;
for (const section of readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort()) {
  for (const file of readdirSync(join(dir, section)).filter((f) => f.endsWith('.json')).sort()) {
    const name = `${section}/${file.replace(/\.json$/, '')}`;
    const c = JSON.parse(readFileSync(join(dir, section, file), 'utf8'));
    total++;
    const vo = verdict(c.expected, ours[name], true);
    const vt = verdict(c.expected, theirs[name], false);
    if (!vo) oursOK++;
    if (!vt) theirsOK++;
    if (vo || vt) rows.push({ name, expected: c.expected, ours: vo || 'as expected', theirs: vt || 'as expected', description: c.description });
  }
}
const exp = (e) => (e.valid !== undefined ? (e.valid ? 'valid' : 'invalid') : e.status === 'SUCCEEDED' ? `SUCCEEDED ${JSON.stringify(e.output).slice(0, 60)}` : `FAILED ${e.error}`);
console.log(`${total} cases: dsrflow internal/dev/asl agrees with the expected result in ${oursOK}, aws-local-stepfunctions/asl-validator in ${theirsOK}.\n`);
console.log('| case | expected (AWS docs) | dsrflow | aws-local-stepfunctions / asl-validator |');
console.log('|---|---|---|---|');
const cell = (s) => String(s).replaceAll('|', '\\|').replaceAll('\n', ' ');
for (const r of rows) console.log(`| ${r.name} | ${cell(exp(r.expected))} | ${cell(r.ours)} | ${cell(r.theirs)} |`);
