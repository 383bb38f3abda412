/**
 * Processor: calls to external systems (`externals:`). One per `calls:` edge
 * whose target is an external system that `access.<name>` allows: a virtual
 * host on the outbound listener and a cluster that originates TLS, checked
 * against the system's CA and names (src/envoy/external.ts). A host the mesh
 * does not declare has no virtual host, so the sidecar refuses it (404,
 * `x-mesh-error: no-route`). Proxyless gRPC members cannot originate TLS to a
 * non-mesh host with their A29 certificate providers: their calls to
 * externals are not compiled and reported (grpc-gaps.ts, MESH070).
 */
import type { ExternalService } from '../model/types';
import { uniqueSorted } from '../ir/sort';
import { builtin, type TranslateContext } from './context';
import type { NodeDraft } from './draft';
import { isCallAllowed } from './access';
import { CONNECT_TIMEOUT_MS } from './finalize';
import { retryFor } from './retries';

export const externalClusterName = (name: string): string => `external|${name}`;

export function externalsProcessor(ctx: TranslateContext, draft: NodeDraft): void {
  const externals = new Map((ctx.model.externals ?? []).map((e) => [e.name, e]));
  if (draft.kind !== 'envoy' || externals.size === 0 || !draft.outbound) return;
  const out = [];
  for (const call of draft.service.calls) {
    const e = externals.get(call.target);
    if (!e || ctx.services.has(call.target) || !isCallAllowed(e.policies, draft.service.name)) continue;
    const retry = retryFor('envoy', e.policies.retries, true);
    out.push({
      name: e.name,
      host: e.host,
      port: e.port,
      ...(e.address !== undefined ? { address: e.address } : {}),
      domains: externalDomains(e, draft.service.outboundPort),
      clusterName: externalClusterName(e.name),
      sni: e.tls.sni,
      subjectAltNames: e.tls.subjectAltNames,
      caFile: e.tls.caFile,
      ...(retry ? { retry } : {}),
      timeoutMs: e.policies.timeouts.requestMs,
      connectTimeoutMs: builtin(CONNECT_TIMEOUT_MS),
      callPos: call.pos,
      pos: e.pos,
    });
  }
  if (out.length) draft.outbound.externals = out.sort((a, b) => (a.name < b.name ? -1 : 1));
}

/** The name the mesh gives it and its real host, each with or without a port (its own, or the caller's outbound port). */
function externalDomains(e: ExternalService, outboundPort: number): string[] {
  return uniqueSorted([e.name, e.host].flatMap((n) => [n, `${n}:${e.port}`, `${n}:${outboundPort}`]));
}
