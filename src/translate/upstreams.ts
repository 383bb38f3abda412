/**
 * Processor: one upstream (virtual host + clusters, filled by later
 * processors) per `calls:` edge that the callee's access policy allows.
 * Edges to unknown services (MESH040) or denied by access (MESH043) are
 * skipped: the lint reports them, the compiled node never hears of them.
 */
import { uniqueSorted } from '../ir/sort';
import { spiffeId } from '../model/types';
import type { TranslateContext } from './context';
import { isCallAllowed } from './access';
import type { NodeDraft } from './draft';
import { OUTBOUND_ROUTE_CONFIG, grpcApiListenerName, grpcRouteConfigName } from './naming';

export function upstreamsProcessor(ctx: TranslateContext, draft: NodeDraft): void {
  for (const call of draft.service.calls) {
    const target = ctx.services.get(call.target);
    const policies = ctx.policies.get(call.target);
    if (!target || !policies || !isCallAllowed(policies, draft.service.name)) continue;
    const grpc = draft.kind === 'grpc';
    draft.upstreams.push({
      target,
      policies,
      call,
      peerSpiffeId: spiffeId(ctx.model.settings.trustDomain, target.name),
      domains: grpc ? grpcDomains(target.name) : envoyDomains(target.name, draft.service.outboundPort),
      routeConfigName: grpc ? grpcRouteConfigName(target.name) : OUTBOUND_ROUTE_CONFIG,
      ...(grpc ? { apiListenerName: grpcApiListenerName(target.name) } : {}),
      targets: [],
      clusters: [],
    });
  }
}

/**
 * What an app may put in Host when calling the outbound listener: the bare
 * name, the `.svc` name, each with or without the outbound port (the
 * CALLER's own: the app calls its own sidecar; Envoy
 * matches the Host header including any port; RouteConfiguration docs,
 * VirtualHost.domains).
 */
export function envoyDomains(service: string, outboundPort: number): string[] {
  const names = [service, `${service}.svc`];
  return uniqueSorted([...names, ...names.map((n) => `${n}:${outboundPort}`)]);
}

/** gRPC matches the channel's authority: `xds:///grant-pay` has authority `grant-pay` (A27, RDS). */
export function grpcDomains(service: string): string[] {
  return [service];
}
