/**
 * Processor: the compliance guardrail (`guardrails:`). For an Envoy node whose
 * service a rule covers (`from`, default all), the rule attaches to each
 * callee the node may call (mesh upstreams and allowed external systems) that
 * `to` selects; src/envoy/filters/guardrail.ts turns them into the Lua filter
 * on the outbound listener. Proxyless gRPC members have no sidecar to inspect
 * a body: their rules are reported as MESH070 (grpc-gaps.ts).
 */
import type { GuardrailRule } from '../model/types';
import type { CalleeGuardrailIR, GuardrailIR } from '../ir/types';
import type { TranslateContext } from './context';
import type { NodeDraft } from './draft';

export function rulesFor(rules: readonly GuardrailRule[], caller: string): GuardrailRule[] {
  return rules.filter((r) => !r.from || r.from.includes(caller));
}

export function selects(rule: GuardrailRule, callee: string, external: boolean): boolean {
  if (rule.to === 'any') return true;
  if (rule.to === 'external') return external;
  return rule.to.includes(callee);
}

const toIR = (r: GuardrailRule): GuardrailIR => ({
  name: r.name, detect: r.detect, inspectHeaders: r.inspectHeaders, inspectBody: r.inspectBody,
  maxBodyBytes: r.maxBodyBytes, failClosed: r.failClosed, pos: r.pos,
});

export function guardrailsProcessor(ctx: TranslateContext, draft: NodeDraft): void {
  const rules = rulesFor(ctx.model.guardrails ?? [], draft.service.name);
  if (draft.kind !== 'envoy' || rules.length === 0 || !draft.outbound) return;
  const callees = [
    ...draft.upstreams.map((u) => ({ callee: u.target.name, external: false })),
    ...(draft.outbound.externals ?? []).map((e) => ({ callee: e.name, external: true })),
  ];
  const out: CalleeGuardrailIR[] = [];
  for (const c of callees) {
    const on = rules.filter((r) => selects(r, c.callee, c.external)).map(toIR);
    if (on.length) out.push({ ...c, rules: on });
  }
  if (out.length) draft.outbound.guardrails = out.sort((a, b) => (a.callee < b.callee ? -1 : 1));
}
