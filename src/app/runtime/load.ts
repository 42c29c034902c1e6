// Reads a config file once, validates it, and derives everything derivable into a frozen Runtime.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { ConfigError, formatPath, type ConfigIssue } from '../../core/config/errors.js';
import { configSchema, type ParsedConfig } from '../../core/config/schema.js';
import { compilePolicy } from '../../core/policy/compile.js';
import { createJwtVerifier, type JwtVerifier } from '../../core/identity/jwt.js';
import { buildMetadata } from '../../core/identity/metadata.js';
import { keyringFromConfig } from '../../core/session/keyring-config.js';
import { durationMs } from '../../core/config/duration.js';
import { compileNaming } from '../../core/mcp/names.js';
import { compilePins } from '../../core/pins/settings.js';
import type { Runtime } from '../../core/runtime.js';
import { createToolCatalog } from '../../core/mcp/catalog.js';

export type { Runtime } from '../../core/runtime.js';

/** `version` is 1 at start; a reload passes the one after the runtime it replaces, and that runtime as `previous`. */
export function loadConfigFile(file: string, version = 1, previous?: Runtime): Runtime {
  const absolute = path.resolve(file);
  let text: string;
  try {
    text = readFileSync(absolute, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [{ path: '', message: `cannot read file: ${(err as NodeJS.ErrnoException).code ?? String(err)}` }]);
  }
  return buildRuntime(parseConfigText(text, file), file, version, previous);
}

export function parseConfigText(text: string, file: string): ParsedConfig {
  const doc = parseDocument(text, { prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new ConfigError(file, doc.errors.map((e) => ({ path: '', message: `YAML: ${e.message.split('\n')[0] ?? e.message}` })));
  }
  const result = configSchema.safeParse(doc.toJS());
  if (!result.success) {
    const issues: ConfigIssue[] = result.error.issues.map((i) => ({ path: formatPath(i.path), message: describeIssue(i) }));
    throw new ConfigError(file, issues);
  }
  return result.data;
}

/** `previous`: the runtime this one replaces (a reload), whose random session key it keeps when neither configures keys. */
export function buildRuntime(config: ParsedConfig, file: string, version = 1, previous?: Runtime): Runtime {
  const dir = path.dirname(path.resolve(file));
  const policy = compilePolicy(config, file);
  const audience = config.identity.jwt.audience ?? config.resource;
  let verifier: JwtVerifier;
  try {
    verifier = createJwtVerifier({
      jwt: config.identity.jwt,
      audience: Array.isArray(audience) ? audience : [audience],
      resolvePath: (p) => path.resolve(dir, p),
    });
  } catch (err) {
    const field = config.identity.jwt.jwksFile ? 'identity.jwt.jwksFile' : 'identity.jwt.jwksUri';
    throw new ConfigError(file, [{ path: field, message: `cannot load key set: ${(err as Error).message}` }]);
  }
  checkGateway(config, file);
  const { keyring, ephemeral } = keyringFromConfig(config, file, (p) => path.resolve(dir, p), previous?.sessions.ephemeral ? previous.sessions.keyring : undefined);
  const sessions = Object.freeze({ keyring, ephemeral, ttlSeconds: Math.round(durationMs(config.session.ttl) / 1000) });
  return Object.freeze({ file, version, config, policy, verifier, metadata: buildMetadata(config), sessions, pins: compilePins(config), catalog: createToolCatalog() });
}

function describeIssue(issue: { code: string; message: string; keys?: readonly PropertyKey[]; expected?: unknown }): string {
  if (issue.code === 'unrecognized_keys' && issue.keys) return `unknown field(s): ${issue.keys.map(String).join(', ')}`;
  if (issue.code === 'invalid_type' && /received undefined$/.test(issue.message)) return `required (${String(issue.expected)})`;
  return issue.message;
}

/** Several backends need Envoy's egress listener for fan-out, and prefixes that split back off unambiguously. */
function checkGateway(config: ParsedConfig, file: string): void {
  const names = Object.keys(config.backends);
  if (names.length <= 1) return;
  if (!config.egress) throw new ConfigError(file, [{ path: 'egress', message: 'required when more than one backend is configured (toolgate reaches backends through Envoy\'s egress listener)' }]);
  try {
    compileNaming(config.backends);
  } catch (err) {
    throw new ConfigError(file, [{ path: 'backends', message: (err as Error).message }]);
  }
}
