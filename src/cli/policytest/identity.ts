// A signing key of `toolgate test`'s own: it mints the tokens for cases that give claims, so identity is verified too.
import { exportJWK, generateKeyPair, SignJWT, createLocalJWKSet, type JWTVerifyGetKey } from 'jose';
import type { Runtime } from '../../core/runtime.js';
import { createJwtVerifier } from '../../core/identity/jwt.js';

export interface TestIdentity {
  /** The config's runtime with a verifier that trusts the test key, and nothing else changed (issuer, audience, rules). */
  readonly runtime: Runtime;
  mint(claims: Readonly<Record<string, unknown>>): Promise<string>;
}

export async function testIdentity(runtime: Runtime): Promise<TestIdentity> {
  const { jwt } = runtime.config.identity;
  const alg = jwt.algorithms[0] ?? 'ES256';
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: 'toolgate-test', alg };
  const keys: JWTVerifyGetKey = createLocalJWKSet({ keys: [jwk] });
  const audience = jwt.audience ?? runtime.config.resource;
  const audiences = Array.isArray(audience) ? audience : [audience];
  // The cache is off: a case that changes a claim must be verified afresh, and runs are short.
  const verifier = createJwtVerifier({ jwt, audience: audiences, resolvePath: (p) => p, keys, cacheEntries: 0 });
  return {
    runtime: Object.freeze({ ...runtime, verifier }),
    async mint(claims) {
      const now = Math.floor(Date.now() / 1000);
      // Claims the case gives win, so a case can test a wrong audience or an expired token.
      const payload = { iss: jwt.issuer, aud: audiences[0], sub: 'test-subject', iat: now, exp: now + 300, ...claims };
      return new SignJWT(payload).setProtectedHeader({ alg, kid: 'toolgate-test', typ: jwt.requireType ?? 'JWT' }).sign(privateKey);
    },
  };
}
