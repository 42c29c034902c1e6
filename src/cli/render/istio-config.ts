// The toolgate config as it goes into the ConfigMap: file paths point at the mounts, secrets never inline.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { isMap, isScalar, parseDocument, type Document } from 'yaml';
import { ConfigError, type ConfigIssue } from '../../core/config/errors.js';
import type { ParsedConfig } from '../../core/config/schema.js';
import { ADMIN_SECRET_NAME, ADMIN_TOKEN_FILE, CONFIG_DIR, EGRESS_SERVICE, SECRETS_DIR, type IstioPlan } from './istio-plan.js';

export interface MountedConfig {
  /** config.yaml as the pod reads it (comments of the source kept). */
  readonly text: string;
  /** Other ConfigMap keys (a jwksFile's contents). */
  readonly files: Readonly<Record<string, string>>;
  /** Keys the `toolgate-secrets` Secret must hold, each with what it is. */
  readonly secrets: ReadonlyArray<{ readonly key: string; readonly what: string }>;
}

/** The key a session key's secret has in the Secret (and the file name under SECRETS_DIR). */
export const sessionSecretKey = (kid: string): string => `session-${kid}`;

/**
 * Rewrites what only makes sense on the machine the config was written on: secret files move to the Secret
 * mount, a JWKS file into the ConfigMap, the gateway's egress URL to the mesh route for fan-out. A config
 * without session keys gets one from the Secret: every replica must open the tokens the others sealed.
 */
export function mountedConfig(text: string, config: ParsedConfig, file: string, plan: IstioPlan): MountedConfig {
  const doc = parseDocument(text);
  const issues: ConfigIssue[] = [];
  const secrets: Array<{ key: string; what: string }> = [];
  const files: Record<string, string> = {};
  const secretPath = (key: string, what: string) => {
    secrets.push({ key, what });
    return `${SECRETS_DIR}/${key}`;
  };

  const keys = config.session.keys;
  if (keys === undefined) {
    doc.setIn(['session', 'keys'], doc.createNode([{ kid: 'k1', secretFile: secretPath(sessionSecretKey('k1'), 'session key k1: 32 random bytes, base64url') }]));
    commentKey(doc, ['session', 'keys'], ' Added by `toolgate render istio`: replicas must share the key that seals session tokens.');
  }
  keys?.forEach((k, i) => {
    if (k.secret !== undefined) {
      issues.push({ path: `session.keys[${i}].secret`, message: 'an inline secret would be written into a ConfigMap; use secretFile (it becomes a key of the Secret)' });
      return;
    }
    doc.setIn(['session', 'keys', i, 'secretFile'], secretPath(sessionSecretKey(k.kid), `session key ${k.kid}: 32 random bytes, base64url`));
  });

  if (config.store.type === 'redis' && config.store.passwordFile !== undefined) {
    doc.setIn(['store', 'passwordFile'], secretPath('redis-password', 'the Redis password'));
  }
  // In a pod toolgate serves other pods' Envoys; which of them may connect is the NetworkPolicy's and mTLS's to decide.
  setCommented(doc, ['server', 'host'], '0.0.0.0', ' Rewritten by `toolgate render istio`: the Envoys of other pods call toolgate. The overlay\'s\n'
    + ' NetworkPolicy admits only them to the gRPC port, and only monitoring to the admin port.');
  setCommented(doc, ['server', 'adminTokenFile'], ADMIN_TOKEN_FILE, ` Set by \`toolgate render istio\`: the admin API's bearer token, key \`token\` of the Secret ${ADMIN_SECRET_NAME}.`);
  const tls = config.server.tls;
  if (tls) {
    // The mesh already encrypts Envoy → toolgate; kept working for whoever wants both.
    doc.setIn(['server', 'tls'], doc.createNode({
      certFile: secretPath('tls.crt', 'toolgate\'s server certificate (PEM)'),
      keyFile: secretPath('tls.key', 'its private key (PEM)'),
      caFile: secretPath('ca.crt', 'the CA that signs Envoy\'s client certificates (PEM)'),
    }));
  }
  const jwksFile = config.identity.jwt.jwksFile;
  if (jwksFile !== undefined) {
    const source = path.resolve(path.dirname(path.resolve(file)), jwksFile);
    try {
      files['jwks.json'] = readFileSync(source, 'utf8');
      doc.setIn(['identity', 'jwt', 'jwksFile'], `${CONFIG_DIR}/jwks.json`);
    } catch (err) {
      issues.push({ path: 'identity.jwt.jwksFile', message: `cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}` });
    }
  }
  if (plan.mode === 'gateway') rerouteEgress(doc, plan);
  if (config.server.eventsPort !== undefined && plan.eventsPort === undefined) withoutEventStream(doc);
  if (plan.eventsPort !== undefined) {
    commentKey(doc, ['server', 'eventsPort'], ' Serves each client\'s GET event stream, merging the backends\': the gateway\'s VirtualService routes\n'
      + ' granted GETs here (route events-stream, Service toolgate-events).');
  }
  if (issues.length > 0) throw new ConfigError(file, issues);
  return { text: doc.toString({ lineWidth: 0, flowCollectionPadding: false }), files, secrets };
}

/** No loopback egress listener in a pod: fan-out goes through toolgate's own sidecar to a mesh-routed name. */
function rerouteEgress(doc: Document, plan: IstioPlan): void {
  doc.setIn(['egress', 'url'], `http://${EGRESS_SERVICE}.${plan.namespace}.svc.cluster.local`);
  commentKey(doc, ['egress'], ' Rewritten by `toolgate render istio`: no loopback egress listener here. toolgate\'s own sidecar\n'
    + ' routes this name on x-toolgate-backend (VirtualService toolgate-egress), so the fan-out of initialize,\n'
    + ' the list methods and DELETE gets the mesh\'s mTLS, hashing and retries.');
}

/**
 * Sidecar mode passes GET streams through to the server: only the gateway overlay routes GETs to toolgate's
 * event-stream server (istio-events.ts), so elsewhere the port would be opened for nobody.
 */
function withoutEventStream(doc: Document): void {
  doc.deleteIn(['server', 'eventsPort']);
  commentKey(doc, ['server'], ' server.eventsPort removed by `toolgate render istio`: in the sidecar pattern GET streams go to the\n'
    + ' MCP server itself, so nothing routes to toolgate\'s event-stream server.');
}

/** Sets `keys` to `value` with `text` as the comment above it (replacing the source's line, which described another machine). */
function setCommented(doc: Document, keys: readonly string[], value: string, text: string): void {
  doc.setIn(keys, value);
  const parent = doc.getIn(keys.slice(0, -1), true);
  if (!isMap(parent)) return;
  const pair = parent.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === keys.at(-1));
  if (!pair) return;
  // A key added by setIn is a plain string, which cannot carry a comment.
  if (!isScalar(pair.key)) pair.key = doc.createNode(pair.key);
  if (isScalar(pair.key)) pair.key.commentBefore = text;
  // The comment above a map's first key belongs to the map itself.
  if (parent.items[0] === pair) parent.commentBefore = undefined;
}

/** Replaces the comment above the map key at `keys` (the source's may describe the machine it came from). */
function commentKey(doc: Document, keys: readonly string[], text: string): void {
  const parent = keys.length === 1 ? doc.contents : doc.getIn(keys.slice(0, -1), true);
  if (!isMap(parent)) return;
  const pair = parent.items.find((p) => isScalar(p.key) && p.key.value === keys.at(-1));
  if (pair && isScalar(pair.key)) pair.key.commentBefore = text;
}
