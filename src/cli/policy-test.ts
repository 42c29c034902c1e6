// `toolgate test` and `toolgate explain`: policy test cases run through the Check pipeline, without Envoy.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfigFile, type Runtime } from '../app/runtime/load.js';
import { describeExpectation, loadCaseFile, type CaseFile } from './policytest/cases.js';
import { testIdentity, type TestIdentity } from './policytest/identity.js';
import { caseLine, summaryLine, traceLines } from './policytest/report.js';
import { CaseError, describeObserved, runCase, type CaseResult } from './policytest/run.js';
import { POLICY_TEST_USAGE } from './usage.js';

/** Exit 0 when every case passes, 1 when one fails, 2 when a file cannot be read. */
export async function runTest(args: string[]): Promise<number> {
  const parsed = parse(args, false);
  if (typeof parsed === 'number') return parsed;
  const all: CaseResult[] = [];
  const configs = new Map<string, Promise<Judge>>();
  for (const caseFile of parsed.files) {
    const judge = await judgeFor(caseFile, parsed.config, configs);
    if (typeof judge === 'string') {
      console.error(judge);
      return 2;
    }
    console.log(`${caseFile.file} (config ${path.relative(process.cwd(), judge.runtime.file) || judge.runtime.file})`);
    for (const c of caseFile.cases) {
      const result = await runCase(judge.runtime, judge.identity, c).catch((err: unknown) => caseError(caseFile.file, c.name, err));
      if (typeof result === 'number') return result;
      all.push(result);
      console.log(caseLine(result));
      const failed = result.pass ? undefined : result.calls[result.calls.length - 1];
      if (failed) for (const line of traceLines(failed, '          ')) console.log(line);
    }
  }
  console.log(summaryLine(all));
  return all.every((r) => r.pass) ? 0 : 1;
}

/** Prints the decision trace of every call of one case; exit 0 when it passes, 1 when it does not. */
export async function runExplain(args: string[]): Promise<number> {
  const parsed = parse(args, true);
  if (typeof parsed === 'number') return parsed;
  const [caseFile] = parsed.files;
  if (!caseFile || parsed.files.length !== 1) {
    console.error(`toolgate explain takes one case file\n${POLICY_TEST_USAGE}`);
    return 2;
  }
  const wanted = parsed.caseName;
  const c = wanted === undefined ? caseFile.cases[0] : caseFile.cases.find((x) => x.name === wanted);
  if (!c || (wanted === undefined && caseFile.cases.length > 1)) {
    console.error(`${caseFile.file}: ${wanted === undefined ? 'several cases; pick one with --case NAME' : `no case named "${wanted}"`}: ${caseFile.cases.map((x) => JSON.stringify(x.name)).join(', ')}`);
    return 2;
  }
  const judge = await judgeFor(caseFile, parsed.config, new Map());
  if (typeof judge === 'string') {
    console.error(judge);
    return 2;
  }
  const result = await runCase(judge.runtime, judge.identity, c).catch((err: unknown) => caseError(caseFile.file, c.name, err));
  if (typeof result === 'number') return result;
  console.log(`case "${c.name}" (${caseFile.file}, config ${judge.runtime.file})`);
  for (const call of result.calls) {
    console.log(`call ${call.call}: expected ${describeExpectation(call.expected)}, got ${describeObserved(call.observed)}  ${call.pass ? 'ok' : 'MISMATCH'}`);
    for (const line of traceLines(call, '  ')) console.log(line);
  }
  return result.pass ? 0 : 1;
}

interface Parsed {
  readonly config: string | undefined;
  readonly files: readonly CaseFile[];
  readonly caseName: string | undefined;
}

function parse(args: string[], explain: boolean): Parsed | number {
  let values: { config?: string | undefined; case?: string | undefined };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args,
      options: { config: { type: 'string', short: 'c' }, case: { type: 'string' } },
      allowPositionals: true,
      strict: true,
    }));
    if (!explain && values.case !== undefined) throw new Error('--case is an option of toolgate explain');
  } catch (err) {
    console.error(`${(err as Error).message}\n${POLICY_TEST_USAGE}`);
    return 2;
  }
  if (positionals.length === 0) {
    console.error(`no case file given\n${POLICY_TEST_USAGE}`);
    return 2;
  }
  try {
    return { config: values.config, files: positionals.map(loadCaseFile), caseName: values.case };
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    return 2;
  }
}

interface Judge {
  readonly runtime: Runtime;
  readonly identity: TestIdentity;
}

/** The config a case file runs against (`--config` first), loaded once however many case files name it. */
async function judgeFor(caseFile: CaseFile, override: string | undefined, cache: Map<string, Promise<Judge>>): Promise<Judge | string> {
  const file = override ?? caseFile.config;
  if (file === undefined) return `${caseFile.file}: names no config; add \`config: FILE\` to it or pass --config FILE`;
  const key = path.resolve(file);
  let judge = cache.get(key);
  if (!judge) {
    judge = (async () => {
      const runtime = loadConfigFile(file);
      return { runtime, identity: await testIdentity(runtime) };
    })();
    cache.set(key, judge);
  }
  try {
    return await judge;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/** A case the config cannot run as written: exit 2 with the reason, as for an unreadable case file. */
function caseError(file: string, name: string, err: unknown): number {
  if (!(err instanceof CaseError)) throw err;
  console.error(`${file}: case "${name}": ${err.message}`);
  return 2;
}
