/**
 * Processor: ClusterLoadAssignments from the manifests' static endpoints.
 * A per-version cluster gets the endpoints running that version; an
 * unversioned cluster gets them all. The registry adds live instances at
 * serve time (src/xds); what is compiled here is the static baseline.
 */
import type { EndpointIR } from '../ir/types';
import { compareStrings } from '../ir/sort';
import type { TranslateContext } from './context';
import type { NodeDraft } from './draft';

export function endpointsProcessor(_ctx: TranslateContext, draft: NodeDraft): void {
  for (const up of draft.upstreams) {
    for (const cluster of up.clusters) {
      const endpoints: EndpointIR[] = up.target.endpoints
        .filter((e) => cluster.version === undefined || e.version === cluster.version)
        .map((e) => ({ address: e.address, port: e.port, version: e.version, pos: e.pos }));
      draft.loadAssignments.push({ clusterName: cluster.name, endpoints: sortEndpoints(endpoints) });
    }
  }
}

/**
 * Address then port: endpoint order has no meaning to round robin, so sort for
 * stable output. Duplicates are dropped: gRPC NACKs a ClusterLoadAssignment
 * that lists an address twice (grpc-js-xds endpoint-resource-type.ts).
 */
export function sortEndpoints(endpoints: readonly EndpointIR[]): EndpointIR[] {
  const sorted = [...endpoints].sort((a, b) => compareStrings(a.address, b.address) || a.port - b.port);
  return sorted.filter((e, i) => i === 0 || e.address !== sorted[i - 1].address || e.port !== sorted[i - 1].port);
}
