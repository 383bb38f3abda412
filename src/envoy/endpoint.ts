/**
 * ClusterLoadAssignments (EDS), one per upstream cluster, from the static
 * endpoints of the manifests. The registry merges live instances in at serve
 * time; it can add them as another locality.
 *
 * The single locality has an explicit load_balancing_weight and a non-empty
 * locality: gRPC drops localities without a weight and NACKs endpoints without
 * a locality (A27 "EDS"; grpc-js-xds xds-dependency-manager.ts,
 * endpoint-resource-type.ts). Envoy ignores the weight unless locality-weighted
 * load balancing is on.
 */
import type { LoadAssignmentIR, NodeIR } from '../ir/types';
import { TYPE, socketAddress, type JsonObject } from './proto-json';

/** The locality static endpoints live in. */
export const STATIC_LOCALITY = { zone: 'static' } as const;

export function buildEndpoints(node: NodeIR): JsonObject[] {
  return node.loadAssignments.map(loadAssignment);
}

function loadAssignment(la: LoadAssignmentIR): JsonObject {
  return {
    '@type': TYPE.clusterLoadAssignment,
    cluster_name: la.clusterName,
    // An empty list is valid: the cluster exists, no instance is known yet.
    endpoints:
      la.endpoints.length === 0
        ? []
        : [
            {
              locality: { ...STATIC_LOCALITY },
              load_balancing_weight: 1,
              lb_endpoints: la.endpoints.map((e) => ({ endpoint: { address: socketAddress(e.address, e.port) } })),
            },
          ],
  };
}
