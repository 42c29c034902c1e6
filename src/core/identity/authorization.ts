// Reads the Authorization header exactly one way: `Bearer`, one space, one RFC 6750 token — anything else is named.
//
// What arrives is what Envoy's ext_authz puts in CheckRequest `headers`: repeated headers joined with a comma
// (checked on Envoy 1.40: two `Authorization: Bearer x` lines arrive as "Bearer x,Bearer x"; an empty line next to
// a real one is dropped). A bearer token has no comma (RFC 6750 b64token), so a comma means two credentials,
// whether they came as two headers or one, and no reader may pick "the first" while another picks "the last".

export type AuthorizationProblem = 'several' | 'empty' | 'scheme' | 'no-token' | 'whitespace' | 'token-characters';

export type ParsedAuthorization =
  | { readonly kind: 'none' }
  | { readonly kind: 'bearer'; readonly token: string }
  /** `detail` is short plain ASCII (audit log, `error_description`); `message` is the sentence the client reads. */
  | { readonly kind: 'malformed'; readonly problem: AuthorizationProblem; readonly detail: string; readonly message: string };

const SEND = 'Send exactly one header `Authorization: Bearer <token>`.';
// RFC 6750 §2.1 b64token.
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
// RFC 9110 token characters: a scheme that is safe to repeat back in the sentence.
const SCHEME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,32}$/;

export function parseAuthorization(header: string | undefined): ParsedAuthorization {
  if (header === undefined) return { kind: 'none' };
  if (header.includes(',')) {
    return malformed('several', 'more than one credential', `The request carries more than one Authorization header (or several credentials in one, separated by a comma), so it is not clear which one to check. ${SEND}`);
  }
  if (header.trim() === '') {
    return malformed('empty', 'empty Authorization header', `The Authorization header is empty. ${SEND}`);
  }
  const space = header.search(/\s/);
  const scheme = space === -1 ? header : header.slice(0, space);
  if (scheme.toLowerCase() !== 'bearer') {
    const named = SCHEME.test(scheme) ? `the "${scheme}" scheme` : 'an unknown scheme';
    return malformed('scheme', 'not a Bearer credential', `The Authorization header uses ${named}; this resource accepts only OAuth bearer tokens. ${SEND}`);
  }
  if (space === -1 || header.slice(space).trim() === '') {
    return malformed('no-token', 'Bearer without a token', `The Authorization header says Bearer but carries no token. ${SEND}`);
  }
  const token = header.slice(space + 1);
  if (header[space] !== ' ' || /\s/.test(token)) {
    return malformed('whitespace', 'malformed Bearer credential', `The Authorization header is malformed: write \`Bearer\`, exactly one space, then the token, with no other whitespace. ${SEND}`);
  }
  if (!B64TOKEN.test(token)) {
    return malformed('token-characters', 'token has characters no token can have', 'The bearer token in the Authorization header has characters no token can have (only letters, digits and -._~+/ are allowed, = at the end). Send the token exactly as it was issued.');
  }
  return { kind: 'bearer', token };
}

function malformed(problem: AuthorizationProblem, detail: string, message: string): ParsedAuthorization {
  return { kind: 'malformed', problem, detail, message };
}
