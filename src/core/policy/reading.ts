// Refuses a call whose target text is not the name or URI the server will look up, before any pattern sees it.
import { readTarget, targetOf, type Reading, type Target, type TargetSource } from '../mcp/canonical.js';
import type { Deny } from './decision.js';

/** Echoed targets come from the agent; keep them from bloating the reply. */
const MAX_SHOWN = 200;

const WHAT: Readonly<Record<Target['kind'], string>> = {
  tool: 'tool name',
  prompt: 'prompt name',
  resource: 'resource URI',
  'resource-template': 'resource template',
};

/** A denial when the call's target is not canonical; undefined when it is (or the call names none). */
export function readingDeny(call: TargetSource): Deny | undefined {
  const target = targetOf(call);
  if (target === undefined) return undefined;
  const reading = readTarget(target);
  if (reading.ok) return undefined;
  return { allow: false, reason: reasonOf(target, reading), message: readingMessage(target, reading), task: undefined, policy: undefined };
}

function reasonOf(target: Target, reading: Exclude<Reading, { ok: true }>): Deny['reason'] {
  if (target.kind === 'tool' || target.kind === 'prompt') return 'name-not-canonical';
  return reading.invalid ? 'uri-invalid' : 'uri-not-canonical';
}

/** The sentence an agent reads: what was refused, why, the form to send instead when there is one. */
export function readingMessage(target: Target, reading: Exclude<Reading, { ok: true }>): string {
  const what = WHAT[target.kind];
  const head = `The ${what} ${quote(target.text)}`;
  const retry = 'Do not retry it unchanged.';
  if (reading.canonical === undefined) {
    return `${head} has no single reading: ${reading.why}. toolgate refuses it rather than guess what the server will look up. ${retry}`;
  }
  const instead = quote(reading.canonical);
  const noun = target.kind === 'tool' ? 'tool' : target.kind === 'prompt' ? 'prompt' : 'resource';
  if (target.kind === 'tool' || target.kind === 'prompt') {
    return (
      `${head} is not in canonical form: ${reading.why}. Servers and toolgate could read it as two different names, ` +
      `so toolgate judges names only in canonical form: send ${instead} if that is the ${noun} you mean. ${retry}`
    );
  }
  return (
    `${head} is not in the form the server reads: ${reading.why}, so the server would read it as ${instead}. ` +
    `toolgate judges a URI only in that normal form: send ${instead} if that is the ${noun} you mean. ${retry}`
  );
}

/** JSON quoting makes a tab, a newline or a zero-width character visible in the sentence. */
function quote(text: string): string {
  const shown = text.length > MAX_SHOWN ? `${text.slice(0, MAX_SHOWN)}…` : text;
  return JSON.stringify(shown).replace(UNSHOWN, escapeUnits);
}

/** What JSON.stringify leaves as is but a reader cannot see: DEL, C1 controls, format and separator characters. */
const UNSHOWN = /[\x7f-\x9f\p{Cf}\p{Zl}\p{Zp}]/gu;

function escapeUnits(char: string): string {
  let out = '';
  for (let i = 0; i < char.length; i++) out += `\\u${char.charCodeAt(i).toString(16).padStart(4, '0')}`;
  return out;
}
