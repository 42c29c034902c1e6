// Gives back what ext_authz charged a call that ext_proc then refuses: only a forwarded call uses up a quota or budget.
import type { Logger } from 'pino';
import { attempt, type Charged, type Store } from '../../ports/store/port.js';
import type { AuthzContext, ExchangeProcessor, Step } from './exchange.js';

/**
 * ext_authz charges quota, budget and loop counters when it allows a tools/call (it is the only place that sees the
 * arguments and the claims together), but ext_proc can still refuse the call: a session token that is foreign,
 * expired or revoked, a gateway tool no backend serves. Every such refusal is a local reply in a request phase, so
 * an immediate answer there (or a phase that throws, which the stream turns into a 500) means the call was not
 * forwarded: the charge is given back through its receipt, at most once. Response phases never refund: by then the
 * backend has the call.
 */
export function refundingExchange(inner: ExchangeProcessor, authz: AuthzContext, store: Store, log: Logger): ExchangeProcessor {
  // Enforced and dry-run counters each have their own receipt naming only their own keys: neither refund crosses over.
  const charges = [authz.charged, authz.chargedDryRun].filter((c): c is Charged => c !== undefined);
  if (charges.length === 0) return inner;
  let refunded = false;

  async function giveBack(why: 'refused' | 'failed'): Promise<void> {
    if (refunded) return;
    refunded = true;
    for (const { receipt, keys } of charges) {
      const done = await attempt(store.refund(receipt, keys));
      if (done.ok) log.info({ event: 'limits.refunded', decisionId: authz.decisionId, receipt, counters: done.value, why }, 'call not forwarded; its charge was given back');
      else log.warn({ event: 'limits.refund-failed', decisionId: authz.decisionId, receipt, error: done.detail, why }, 'call not forwarded, but its charge could not be given back');
    }
  }

  async function guarded(phase: () => Promise<Step> | Step): Promise<Step> {
    let step: Step;
    try {
      step = await phase();
    } catch (err) {
      await giveBack('failed');
      throw err;
    }
    if (step.kind === 'immediate') await giveBack('refused');
    return step;
  }

  return {
    requestHeaders: (facts) => guarded(() => inner.requestHeaders(facts)),
    requestBody: (body, end) => guarded(() => inner.requestBody(body, end)),
    responseHeaders: (facts) => inner.responseHeaders(facts),
    responseBody: (body, end) => inner.responseBody(body, end),
  };
}
