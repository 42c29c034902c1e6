// Incremental text/event-stream parser (WHATWG "server-sent events" rules) for backend MCP responses.

/** One dispatched event. `data` lines are joined with `\n`; `event` defaults to `message`. */
export interface SseEvent {
  readonly event: string;
  readonly data: string;
  /** The last event id seen on the stream so far (it persists across events, as in the spec). */
  readonly id: string | undefined;
  /** Reconnection time in ms, when the event carried a valid `retry` field. */
  readonly retry: number | undefined;
}

export interface SseParser {
  /** Feeds the next chunk; returns the events it completed. Chunks may split anywhere, even inside a UTF-8 sequence. */
  push(chunk: string | Uint8Array): SseEvent[];
  /**
   * Ends the stream. Returns nothing today: the spec discards an event that was not closed by a
   * blank line, so a half-written event never reaches the caller as if it were complete.
   */
  end(): SseEvent[];
}

export function createSseParser(): SseParser {
  // One decoder per stream, in streaming mode, so a code point split across chunks survives. It keeps
  // the BOM so string and byte input are stripped by the same rule below.
  const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  let line = '';
  // A chunk that ends in `\r` may be followed by `\n` in the next one; that `\n` is not a second line end.
  let skipLeadingLf = false;
  let atStreamStart = true;
  let data: string[] = [];
  let eventType = '';
  let lastId: string | undefined;
  let retry: number | undefined;

  function takeLine(text: string, out: SseEvent[]): void {
    if (text === '') {
      dispatch(out);
      return;
    }
    if (text.startsWith(':')) return; // comment, often a keep-alive
    const colon = text.indexOf(':');
    const field = colon === -1 ? text : text.slice(0, colon);
    let value = colon === -1 ? '' : text.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'data':
        data.push(value);
        break;
      case 'event':
        eventType = value;
        break;
      case 'id':
        if (!value.includes('\0')) lastId = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) retry = Number(value);
        break;
      default:
        break; // unknown fields are ignored by the spec
    }
  }

  function dispatch(out: SseEvent[]): void {
    // An event with no data line is not dispatched, but it still resets the event type.
    if (data.length > 0) out.push({ event: eventType || 'message', data: data.join('\n'), id: lastId, retry });
    data = [];
    eventType = '';
    retry = undefined;
  }

  function scan(text: string): SseEvent[] {
    const out: SseEvent[] = [];
    let start = 0;
    let i = 0;
    if (skipLeadingLf && text.startsWith('\n')) start = i = 1;
    skipLeadingLf = false;
    for (; i < text.length; i++) {
      const ch = text.charCodeAt(i);
      if (ch !== 0x0a && ch !== 0x0d) continue;
      takeLine(line + text.slice(start, i), out);
      line = '';
      if (ch === 0x0d) {
        if (i + 1 === text.length) skipLeadingLf = true;
        else if (text.charCodeAt(i + 1) === 0x0a) i++;
      }
      start = i + 1;
    }
    line += text.slice(start);
    return out;
  }

  return {
    push(chunk) {
      let text = typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
      if (atStreamStart && text.length > 0) {
        atStreamStart = false;
        if (text.charCodeAt(0) === 0xfeff) text = text.slice(1); // a leading BOM is not data
      }
      return scan(text);
    },
    end() {
      const rest = decoder.decode();
      if (rest) scan(rest);
      line = '';
      data = [];
      return [];
    },
  };
}
