// toolgate's own rules for a signed, unexpired token: exp required, no future iat, typ, maximum lifetime.
import { describe, expect, it } from 'vitest';
import { breaksTokenRules, type TokenRules } from '../../src/core/identity/token-rules.js';

const NOW = 1_800_000_000;
const BASE: TokenRules = { clockToleranceSeconds: 30 };
const HOUR = 3600;

describe('breaksTokenRules', () => {
  it.each<[string, Record<string, unknown>, Record<string, unknown>, TokenRules, RegExp | undefined]>([
    ['a token with exp and iat now', { typ: 'JWT' }, { iat: NOW, exp: NOW + 600 }, BASE, undefined],
    ['no exp', {}, { iat: NOW }, BASE, /^token has no expiry \(exp\)/],
    ['no exp and no iat', {}, {}, BASE, /no expiry \(exp\)/],
    ['iat just inside the clock tolerance', {}, { iat: NOW + 30, exp: NOW + 600 }, BASE, undefined],
    ['iat beyond the clock tolerance', {}, { iat: NOW + 31, exp: NOW + 600 }, BASE, /^token was issued in the future \(iat\), 31 s ahead/],
    ['iat in the past', {}, { iat: NOW - 5000, exp: NOW + 600 }, BASE, undefined],
    ['no iat (allowed: it is optional)', {}, { exp: NOW + 600 }, BASE, undefined],
    ['typ at+jwt when required', { typ: 'at+jwt' }, { exp: NOW + 60 }, { ...BASE, requireType: 'at+jwt' }, undefined],
    ['typ application/AT+JWT when at+jwt is required (RFC 8725 §3.11)', { typ: 'application/AT+JWT' }, { exp: NOW + 60 }, { ...BASE, requireType: 'at+jwt' }, undefined],
    ['typ JWT when at+jwt is required', { typ: 'JWT' }, { exp: NOW + 60 }, { ...BASE, requireType: 'at+jwt' }, /^token type "JWT" is not the required "at\+jwt"$/],
    ['no typ when at+jwt is required', {}, { exp: NOW + 60 }, { ...BASE, requireType: 'at+jwt' }, /^token has no type \(typ\); "at\+jwt" is required$/],
    ['a typ with characters that are not repeated back', { typ: 'a"b\\c' }, { exp: NOW + 60 }, { ...BASE, requireType: 'at+jwt' }, /^token type "a\?b\?c"/],
    ['any typ when none is required', { typ: 'whatever' }, { exp: NOW + 60 }, BASE, undefined],
    ['exp - iat exactly the maximum', {}, { iat: NOW - 10, exp: NOW - 10 + HOUR }, { ...BASE, maxLifetimeSeconds: HOUR }, undefined],
    ['exp - iat over the maximum', {}, { iat: NOW, exp: NOW + 2 * HOUR }, { ...BASE, maxLifetimeSeconds: HOUR }, /^token lifetime \(exp - iat\) of 2h exceeds the maximum of 1h$/],
    ['exp - iat over the maximum though little time is left', {}, { iat: NOW - 2 * HOUR, exp: NOW + 60 }, { ...BASE, maxLifetimeSeconds: HOUR }, /lifetime \(exp - iat\) of 121m exceeds/],
    ['no iat, exp - now within the maximum and the tolerance', {}, { exp: NOW + HOUR + 30 }, { ...BASE, maxLifetimeSeconds: HOUR }, undefined],
    ['no iat, exp - now over the maximum', {}, { exp: NOW + 2 * HOUR }, { ...BASE, maxLifetimeSeconds: HOUR }, /^token lifetime \(no iat: exp - now\) of 2h exceeds the maximum of 1h$/],
    ['typ is checked before the rest', { typ: 'JWT' }, {}, { ...BASE, requireType: 'at+jwt' }, /^token type/],
  ])('%s', (_name, header, claims, rules, broken) => {
    const result = breaksTokenRules(header, claims, NOW, rules);
    if (broken === undefined) expect(result).toBeUndefined();
    else expect(result).toMatch(broken);
  });
});
