// Body admission: from the raw bytes and the headers that say how to decode them to the one message toolgate judges.
//
// An MCP server built the way the SDK recommends (`createMcpExpressApp()`, i.e. express.json()) decodes a body by
// its declared charset (utf-7 and utf-16 included) and inflates gzip, deflate and br. toolgate reads bytes as
// UTF-8. Whenever the two could differ, the body is refused here and never forwarded: a media type other than
// application/json, a charset other than UTF-8, any Content-Encoding, a byte order mark, invalid UTF-8. What is
// forwarded then carries a canonical `content-type: application/json` (FORWARDED_CONTENT_TYPE), so no backend
// can pick another decoder. The JSON text itself is read by json-reader.ts.
import { isUtf8 } from 'node:buffer';
import { REASONS } from './reply-table.js';
import { classify, type BodyRefusalReason, type McpInvalid, type McpMessage } from './message.js';

/** An HTTP request as it reaches toolgate: the body as the bytes the client sent. */
export interface RawHttpFacts {
  readonly method: string;
  /** Lower-case header names. */
  readonly headers: Readonly<Record<string, string>>;
  /** Undefined when the body was not sent to toolgate (bodyless request or headers-only fast path). */
  readonly body: Uint8Array | undefined;
}

/** The Content-Type every forwarded request carries, whatever spelling the client used. */
export const FORWARDED_CONTENT_TYPE = 'application/json';

/**
 * Whether the backend will decode a body of this request: every MCP POST carries one (on a 2026 headers-only route
 * toolgate never sees it), and so does any request that arrived with bytes.
 */
export function carriesBody(http: RawHttpFacts): boolean {
  return http.method === 'POST' || (http.body !== undefined && http.body.length > 0);
}

/** Admission, then one strict reading, then classification: the only way toolgate turns a request into a message. */
export function readRequest(http: RawHttpFacts): McpMessage {
  if (carriesBody(http)) {
    const refused = admitHeaders(http.headers);
    if (refused) return refused;
  }
  let text: string | undefined;
  if (http.body !== undefined && http.body.length > 0) {
    const decoded = decodeBody(http.body);
    if (typeof decoded !== 'string') return decoded;
    text = decoded;
  }
  return classify({ method: http.method, headers: http.headers, body: text });
}

/** The headers that decide how a backend decodes the body: exactly one reading (JSON in UTF-8, as sent) or a refusal. */
export function admitHeaders(headers: Readonly<Record<string, string>>): McpInvalid | undefined {
  const encoding = headers['content-encoding'];
  if (encoding !== undefined) {
    return refuse(
      'content-encoding',
      `The request declares Content-Encoding ${shown(encoding)}; toolgate forwards only bodies the MCP server reads exactly as sent. ` +
        'Send the JSON uncompressed, with no Content-Encoding header.',
    );
  }
  const type = headers['content-type'];
  // The common spellings skip the parser.
  if (type === FORWARDED_CONTENT_TYPE || type === 'application/json; charset=utf-8') return undefined;
  if (type === undefined) {
    return refuse('unsupported-media-type', 'The request has no Content-Type; an MCP POST must be sent as Content-Type: application/json.');
  }
  const media = parseMediaType(type);
  if (media === undefined || media.type !== 'application/json') {
    return refuse(
      'unsupported-media-type',
      `The request body is sent as Content-Type ${shown(type)}; an MCP POST must be sent as Content-Type: application/json. It was not forwarded.`,
    );
  }
  if (media.charsets.some((c) => !UTF8_LABELS.has(c))) {
    return refuse(
      'unsupported-charset',
      `The request body declares charset ${shown(media.charsets.join(', '))}; the MCP server could decode it into another message than toolgate read. ` +
        'Send UTF-8 JSON as Content-Type: application/json (charset=utf-8 or no charset).',
    );
  }
  return undefined;
}

/** The body as text when its bytes are UTF-8 with no byte order mark; otherwise the refusal. */
export function decodeBody(bytes: Uint8Array): string | McpInvalid {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
    // JSON.parse refuses a BOM, but the SDK's and express's decoders strip it: refuse it by name.
    return refuse('body-bom', 'The request body starts with a UTF-8 byte order mark; send UTF-8 JSON without one (RFC 8259 forbids it).');
  }
  // A lenient decoder turns invalid bytes into U+FFFD, and other decoders into something else: refuse them.
  if (!isUtf8(bytes)) {
    return refuse('invalid-utf8', 'The request body is not valid UTF-8; send the JSON encoded as UTF-8.');
  }
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
}

/** Spellings of UTF-8 in a charset parameter, lower-cased (quotes already removed). */
const UTF8_LABELS: ReadonlySet<string> = new Set(['utf-8', 'utf8']);

interface MediaType {
  /** `type/subtype`, lower-cased. */
  readonly type: string;
  /** Every charset parameter's value, lower-cased; usually none or one. */
  readonly charsets: readonly string[];
}

const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
const TYPE_RE = new RegExp(`^[ \\t]*(${TOKEN}/${TOKEN})[ \\t]*`, 'y');
/** One `; name=value` (RFC 9110 §5.6.6; an empty parameter is allowed), value a token or a quoted string. */
const PARAM_RE = new RegExp(`;[ \\t]*(?:(${TOKEN})=(?:(${TOKEN})|"((?:[\\t !#-\\[\\]-~\\x80-\\xff]|\\\\[\\t -~\\x80-\\xff])*)"))?[ \\t]*`, 'y');

/** RFC 9110 media type; undefined when the value does not parse (several values joined by commas do not). */
function parseMediaType(value: string): MediaType | undefined {
  TYPE_RE.lastIndex = 0;
  const head = TYPE_RE.exec(value);
  if (!head) return undefined;
  const charsets: string[] = [];
  let at = TYPE_RE.lastIndex;
  while (at < value.length) {
    PARAM_RE.lastIndex = at;
    const param = PARAM_RE.exec(value);
    if (!param) return undefined;
    at = PARAM_RE.lastIndex;
    const [, name, token, quoted] = param;
    if (name !== undefined && name.toLowerCase() === 'charset') {
      charsets.push((token ?? (quoted ?? '').replace(/\\(.)/g, '$1')).toLowerCase());
    }
  }
  return { type: (head[1] as string).toLowerCase(), charsets };
}

function refuse(reason: BodyRefusalReason, message: string): McpInvalid {
  return { type: 'invalid', reason, code: REASONS[reason].jsonrpc, message, id: null };
}

/** A header value quoted for a sentence, cut short so a client cannot flood the log or the reply. */
function shown(value: string): string {
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
}
