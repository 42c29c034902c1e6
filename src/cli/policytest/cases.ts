// Policy test case files (`toolgate test`): YAML validated with zod, each case a request and the outcome it must get.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { ConfigError, formatPath } from '../../core/config/errors.js';
import { REASONS, type ReasonCode } from '../../core/mcp/reply-table.js';

const reason = z.string().refine((r): r is ReasonCode => Object.hasOwn(REASONS, r), { message: 'must be a reason code from src/core/mcp/reply-table.ts' });

/** `allow`; `deny` (any reason); `{deny: reason}`; `{wouldDeny: reason}`: forwarded in dry-run with that would-be denial. */
const expectation = z.union([
  z.enum(['allow', 'deny']),
  z.object({ deny: reason }).strict(),
  z.object({ wouldDeny: reason }).strict(),
]);

/** A JSON-RPC request; `jsonrpc` and `id` are filled in when left out. */
const request = z.object({ method: z.string().min(1), params: z.record(z.string(), z.unknown()).optional(), id: z.union([z.string(), z.number()]).optional() }).passthrough();

const headers = z.record(z.string(), z.string());

const step = z
  .object({
    /** Replaces the case's request for this step. */
    request: request.optional(),
    /** Added to (and overriding) the case's headers for this step. */
    headers: headers.optional(),
    expect: expectation,
    /** The same call this many times, each expecting the same outcome. */
    times: z.number().int().positive().max(10_000).default(1),
  })
  .strict();

/** Definitions one backend listed before the calls; each list is judged against the config's pins as ext_proc judges it. */
const definitions = z.array(z.record(z.string(), z.unknown()));
const listed = z
  .object({
    /** The backend that listed them; leave it out in a single-backend (sidecar) config. */
    backend: z.string().min(1).optional(),
    tools: definitions.optional(),
    prompts: definitions.optional(),
    resourceTemplates: definitions.optional(),
  })
  .strict();

const testCase = z
  .object({
    name: z.string().min(1),
    /** Claims of a token `toolgate test` mints with a key of its own (issuer, audience, iat and exp are filled in). */
    claims: z.record(z.string(), z.unknown()).optional(),
    /** A real signed token instead, verified with the config's own key set (jwksFile, or jwksUri over the network). */
    token: z.string().min(1).optional(),
    headers: headers.default({}),
    /** Lists that passed through before the calls (pinned definitions: a changed item's calls are refused). */
    listed: z.array(listed).optional(),
    /** The JSON-RPC request; leave it out for a 2026 call judged on its Mcp-Method/Mcp-Name headers alone (Envoy's header-only route: the client still sends its body, toolgate does not read it). */
    request: request.optional(),
    /** HTTP method and path; default POST on the path of `resource`. */
    http: z.object({ method: z.string().min(1).default('POST'), path: z.string().startsWith('/').optional() }).strict().default({ method: 'POST' }),
    expect: expectation.optional(),
    /** A sequence of calls sharing one store (quotas, budgets, the loop breaker), each with its outcome. */
    steps: z.array(step).min(1).optional(),
  })
  .strict()
  .refine((c) => (c.expect === undefined) !== (c.steps === undefined), { message: 'give exactly one of expect or steps' })
  .refine((c) => !(c.claims && c.token), { message: 'give claims or token, not both' });

export const caseFileSchema = z
  .object({
    /** The config the cases run against, relative to the case file; `--config` overrides it. */
    config: z.string().min(1).optional(),
    cases: z.array(testCase).min(1),
  })
  .strict();

export type Expectation = z.output<typeof expectation>;
export type TestRequest = z.output<typeof request>;
export type TestStep = z.output<typeof step>;
export type TestCase = z.output<typeof testCase>;
export type Listed = z.output<typeof listed>;

export interface CaseFile {
  readonly file: string;
  /** Absolute path of the config named in the file, if any. */
  readonly config: string | undefined;
  readonly cases: readonly TestCase[];
}

/** Throws ConfigError naming the field, as config loading does. */
export function loadCaseFile(file: string): CaseFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [{ path: '', message: `cannot read file: ${(err as NodeJS.ErrnoException).code ?? String(err)}` }]);
  }
  const doc = parseDocument(text, { prettyErrors: false });
  if (doc.errors.length > 0) throw new ConfigError(file, doc.errors.map((e) => ({ path: '', message: `YAML: ${e.message.split('\n')[0] ?? e.message}` })));
  const parsed = caseFileSchema.safeParse(doc.toJS());
  if (!parsed.success) throw new ConfigError(file, parsed.error.issues.map((i) => ({ path: formatPath(i.path), message: i.message })));
  const config = parsed.data.config === undefined ? undefined : path.resolve(path.dirname(path.resolve(file)), parsed.data.config);
  return { file, config, cases: parsed.data.cases };
}

/** The steps of a case: its own `steps`, or the one call its `expect` describes. */
export function stepsOf(c: TestCase): readonly TestStep[] {
  return c.steps ?? [{ expect: c.expect as Expectation, times: 1 }];
}

export function describeExpectation(e: Expectation): string {
  if (typeof e === 'string') return e;
  return 'deny' in e ? `deny ${e.deny}` : `dry-run, would deny ${e.wouldDeny}`;
}
