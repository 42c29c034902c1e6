// ext_authz's part of pinned definitions: a call to a tool or prompt whose definition was seen changed is refused.
import type { Runtime } from '../../core/runtime.js';
import type { McpCall } from '../../core/mcp/message.js';
import type { Deny } from '../../core/policy/decision.js';
import { storeUnavailableMessage } from '../../core/policy/limit-messages.js';
import type { PinKind } from '../../core/pins/digest.js';
import { pinCandidates, pinScope } from '../../core/pins/settings.js';
import { pinWatch } from '../pins/watch.js';
import type { Deps } from '../../ports/deps.js';

const CALLED: Readonly<Record<string, { kind: PinKind; noun: string }>> = {
  'tools/call': { kind: 'tools', noun: 'tool' },
  'prompts/get': { kind: 'prompts', noun: 'prompt' },
};

export interface PinRefusal {
  readonly deny: Deny;
  readonly detail?: string;
}

/**
 * Undefined when the call may go on. Only reached when some backend enforces pins (`runtime.pins.enforcing`): with
 * pins off, ext_authz does not call this at all. A mark counts while the approval it was made against stands: a
 * config pin that now approves another digest (a re-approval) overrides it.
 */
export async function refuseChangedDefinition(runtime: Runtime, { store, metrics }: Deps, call: McpCall, task: string | undefined): Promise<PinRefusal | undefined> {
  const called = CALLED[call.method];
  if (called === undefined || call.target === undefined) return undefined;
  const watch = pinWatch(store);
  for (const ref of pinCandidates(runtime.pins, call.target)) {
    const scope = pinScope(ref.backend, called.kind);
    const marks = await watch.marks(scope);
    if (!marks.ok) {
      metrics.countStoreError('pins');
      const detail = `store unavailable (${marks.detail}); pinned definitions not checked`;
      if (runtime.policy.onStoreError.pins === 'allow') continue;
      return { deny: { allow: false, reason: 'store-unavailable', message: storeUnavailableMessage(call.target, ['pinned definitions']), task, policy: 'policy.onStoreError.pins' }, detail };
    }
    const departed = marks.marks.get(ref.name);
    if (departed === undefined) continue;
    const configPin = runtime.pins.backends.get(ref.backend)?.pinned[called.kind].get(ref.name);
    if (configPin !== undefined && configPin !== departed) continue;
    return {
      deny: { allow: false, reason: 'definition-changed', message: definitionChangedMessage(called.noun, call.target), task, policy: `backends.${ref.backend}.pins` },
      detail: `${ref.backend} ${called.kind} ${ref.name}: approved ${departed}`,
    };
  }
  return undefined;
}

export function definitionChangedMessage(noun: string, name: string): string {
  return `The ${noun} "${name}" is blocked: its definition changed since it was approved (its description, schema or annotations ` +
    `are no longer the ones an operator approved), so it may not do what it says. It was not called. Do not retry; ` +
    'tell the user that this tool needs to be reviewed and approved again.';
}
