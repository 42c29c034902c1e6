// The Authorization header, read one way: exactly `Bearer <token>`, else a named problem and a sentence.
import { describe, expect, it } from 'vitest';
import { parseAuthorization, type AuthorizationProblem } from '../../src/core/identity/authorization.js';

const JWT = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJl';

describe('parseAuthorization', () => {
  it.each<[string, string | undefined, string | undefined]>([
    ['no header', undefined, undefined],
    ['Bearer and a JWT', `Bearer ${JWT}`, JWT],
    ['the scheme in any case (RFC 9110 §11.1)', `bEaReR ${JWT}`, JWT],
    ['every b64token character, with = padding', 'Bearer aZ09-._~+/==', 'aZ09-._~+/=='],
  ])('accepts %s', (_name, header, token) => {
    const parsed = parseAuthorization(header);
    expect(parsed).toEqual(token === undefined ? { kind: 'none' } : { kind: 'bearer', token });
  });

  it.each<[string, string, AuthorizationProblem, RegExp]>([
    // Envoy joins repeated headers with a comma (two lines arrive as "Bearer a,Bearer b").
    ['two headers as Envoy joins them', `Bearer ${JWT},Bearer ${JWT}`, 'several', /more than one Authorization header/],
    ['two credentials joined by comma and space', `Bearer ${JWT}, Bearer other`, 'several', /more than one Authorization header/],
    ['a trailing comma', `Bearer ${JWT},`, 'several', /more than one Authorization header/],
    ['a Basic credential', 'Basic dXNlcjpwYXNz', 'scheme', /uses the "Basic" scheme; this resource accepts only OAuth bearer tokens/],
    ['a DPoP credential', `DPoP ${JWT}`, 'scheme', /uses the "DPoP" scheme/],
    ['a scheme that cannot be repeated safely', 'B"ar<x> y', 'scheme', /uses an unknown scheme/],
    ['a bare token', JWT, 'scheme', /only OAuth bearer tokens/],
    ['an empty value', '', 'empty', /is empty/],
    ['only spaces', '   ', 'empty', /is empty/],
    ['Bearer with no token', 'Bearer', 'no-token', /says Bearer but carries no token/],
    ['Bearer and a space', 'Bearer ', 'no-token', /carries no token/],
    ['two spaces after Bearer', `Bearer  ${JWT}`, 'whitespace', /exactly one space/],
    ['a tab after Bearer', `Bearer\t${JWT}`, 'whitespace', /exactly one space/],
    ['a space inside the token', 'Bearer abc def', 'whitespace', /exactly one space/],
    ['a trailing space', `Bearer ${JWT} `, 'whitespace', /exactly one space/],
    ['a character no token has', 'Bearer abc"def', 'token-characters', /characters no token can have/],
    ['= inside the token', 'Bearer ab=cd', 'token-characters', /characters no token can have/],
  ])('refuses %s', (_name, header, problem, sentence) => {
    const parsed = parseAuthorization(header);
    expect(parsed).toMatchObject({ kind: 'malformed', problem });
    if (parsed.kind !== 'malformed') return;
    expect(parsed.message).toMatch(sentence);
    // The challenge's error_description allows printable ASCII without quotes or backslashes (RFC 6750 §3).
    expect(parsed.detail).toMatch(/^[\x20\x21\x23-\x5B\x5D-\x7E]+$/);
    expect(parsed.message).not.toContain(JWT);
  });
});
