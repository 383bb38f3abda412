/**
 * Processor: access policies (zero trust).
 *
 * Inbound: the callers the node's own access policy allows, by SPIFFE ID.
 * No policy, or an empty allow list, means nobody (default deny).
 *
 * Outbound: `isCallAllowed` decides which `calls:` edges exist at all. A
 * denied edge compiles to nothing on the caller (no virtual host, no cluster):
 * a sidecar knows nothing about services it may not call. The lint reports
 * denied edges (MESH043); translation simply skips them.
 */
import { spiffeId } from '../model/types';
import type { ServicePolicies } from '../model/types';
import { sortedBy } from '../ir/sort';
import { BUILTIN, provenanceOf, type TranslateContext } from './context';
import type { NodeDraft } from './draft';

export function accessProcessor(ctx: TranslateContext, draft: NodeDraft): void {
  const td = ctx.model.settings.trustDomain;
  const policy = draft.policies?.access;
  const allowed = (policy?.allow ?? [])
    // A rule naming an unknown service (MESH042) has no workload to match; skip it. A gateway is a workload too.
    .filter((rule) => ctx.services.has(rule.caller) || ctx.gateways.has(rule.caller))
    .map((rule) => ({
      service: rule.caller,
      spiffeId: spiffeId(td, rule.caller),
      from: { kind: 'file' as const, pos: rule.pos },
    }));
  inbound(draft).access = {
    allowed: sortedBy(allowed, (a) => a.spiffeId),
    from: policy ? provenanceOf(policy.pos) : BUILTIN,
  };
}

/** Does the callee's access policy let `caller` in? */
export function isCallAllowed(callee: ServicePolicies | undefined, caller: string): boolean {
  return callee?.access.allow.some((rule) => rule.caller === caller) ?? false;
}

function inbound(draft: NodeDraft): NonNullable<NodeDraft['inbound']> {
  if (!draft.inbound) throw new Error(`bug: access processor ran before identity for ${draft.service.name}`);
  return draft.inbound;
}
