// Splits a text/event-stream byte stream into whole events as it passes, without decoding or buffering the stream.

/** A run of stream bytes: a whole event (ending with its blank line), or bytes to pass on untouched. */
export interface SsePiece {
  readonly bytes: Buffer;
  /** True for a complete event block, which may be rewritten; false for bytes that must pass as they are. */
  readonly event: boolean;
  /**
   * The LF of a CRLF whose CR ended the previous piece (the chunk was cut between them). It belongs to that
   * piece: a consumer that rewrote the previous piece drops it, one that passed it on passes this too.
   */
  readonly continuation?: true;
  /** The piece ends with an event's blank line (always so for `event: true`). */
  readonly endsEvent?: true;
}

export interface SseFramer {
  /** Feeds the next chunk; returns what can go on now. Chunks may split anywhere, even inside a UTF-8 sequence. */
  push(chunk: Uint8Array): SsePiece[];
  /** The stream ended: whatever is held (an event with no closing blank line) goes on as it is. */
  end(): SsePiece[];
  /** Bytes of an unfinished event are held. */
  holding(): boolean;
}

/**
 * Asked about the held start of an event while it is incomplete: true lets the rest of it pass as it arrives
 * (it needs no rewrite), false holds it to its end, undefined asks again after the next chunk.
 */
export type PassEarly = (heldStart: Buffer) => boolean | undefined;

const LF = 0x0a;
const CR = 0x0d;
/** An event larger than this is passed on as it arrives, unread: toolgate holds at most this much per stream. */
export const MAX_HELD_EVENT_BYTES = 8 * 1024 * 1024;

/**
 * Events end at a blank line; lines end at CRLF, LF or CR (WHATWG rules). Only those ASCII bytes are looked at,
 * so a multi-byte UTF-8 sequence split across chunks is simply carried in the held bytes.
 */
export function createSseFramer(maxHeld = MAX_HELD_EVENT_BYTES, passEarly?: PassEarly): SseFramer {
  let held: Buffer[] = [];
  let heldBytes = 0;
  // Whether the line being read has a byte yet: a terminator on an empty line ends the event.
  let lineHasContent = false;
  // A chunk ended in CR: an LF first in the next one belongs to that CR.
  let skipLf = false;
  // The held event outgrew maxHeld, or passEarly let it go: the rest of it goes on unread until its blank line.
  let passing = false;
  // passEarly gave its answer for the event being read.
  let decided = false;

  const take = (tail: Buffer): Buffer => {
    const bytes = held.length === 0 ? tail : Buffer.concat([...held, tail]);
    held = [];
    heldBytes = 0;
    return bytes;
  };

  return {
    push(input) {
      const chunk = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
      const out: SsePiece[] = [];
      const n = chunk.length;
      let start = 0;
      let i = 0;
      if (skipLf && n > 0) {
        if (chunk[0] === LF) {
          i = 1;
          // The CR ended an event: its LF goes out on its own, so the next event starts clean.
          if (held.length === 0 && !lineHasContent) {
            out.push({ bytes: chunk.subarray(0, 1), event: false, continuation: true });
            start = 1;
          }
        }
        skipLf = false;
      }
      // Next LF and CR at or after i, found with indexOf and kept until passed (one scan of the chunk per byte value).
      let nextLf = chunk.indexOf(LF, i);
      let nextCr = chunk.indexOf(CR, i);
      while (i < n) {
        if (nextLf !== -1 && nextLf < i) nextLf = chunk.indexOf(LF, i);
        if (nextCr !== -1 && nextCr < i) nextCr = chunk.indexOf(CR, i);
        const t = nextLf === -1 ? nextCr : nextCr === -1 ? nextLf : Math.min(nextLf, nextCr);
        if (t === -1) {
          lineHasContent = true;
          break;
        }
        const blank = t === i && !lineHasContent;
        lineHasContent = false;
        let end = t + 1;
        if (chunk[t] === CR) {
          if (end < n) {
            if (chunk[end] === LF) end++;
          } else {
            skipLf = true;
          }
        }
        if (blank) {
          out.push({ bytes: take(chunk.subarray(start, end)), event: !passing, endsEvent: true });
          passing = false;
          decided = false;
          start = end;
        }
        i = end;
      }
      if (start < n) {
        const rest = chunk.subarray(start);
        if (passing) {
          out.push({ bytes: rest, event: false });
        } else {
          held.push(rest);
          heldBytes += rest.length;
          if (!decided && passEarly) {
            const verdict = passEarly(held.length === 1 ? rest : Buffer.concat(held));
            decided = verdict !== undefined;
            if (verdict === true) passing = true;
          }
          if (passing || heldBytes > maxHeld) {
            out.push({ bytes: take(Buffer.alloc(0)), event: false });
            passing = true;
          }
        }
      }
      return out;
    },
    end() {
      const rest = take(Buffer.alloc(0));
      lineHasContent = false;
      skipLf = false;
      passing = false;
      decided = false;
      return rest.length > 0 ? [{ bytes: rest, event: false }] : [];
    },
    holding: () => heldBytes > 0,
  };
}
