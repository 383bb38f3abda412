/**
 * Processor: request timeouts. The callee's timeout applies on each caller's
 * route (Envoy RouteAction.timeout; gRPC max_stream_duration, A31) and on the
 * callee's own inbound route, so the inbound side never cuts a call shorter
 * than the callers were promised (Envoy's route default would be 15 s).
 */
import type { TranslateContext } from './context';
import type { NodeDraft } from './draft';

export function timeoutsProcessor(_ctx: TranslateContext, draft: NodeDraft): void {
  for (const up of draft.upstreams) up.timeoutMs = up.policies.timeouts.requestMs;
  const inbound = draft.inbound;
  if (!inbound) throw new Error(`bug: timeouts processor ran before identity for ${draft.service.name}`);
  // Every declared service has a policies entry; builtin 15 s if somehow not (Envoy's route default).
  inbound.timeoutMs = draft.policies?.timeouts.requestMs ?? { value: 15000, from: { kind: 'builtin' } };
}
