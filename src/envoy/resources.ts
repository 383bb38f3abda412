/** IR node -> every xDS resource it is served, by type, each list sorted by name. */
import type { NodeIR } from '../ir/types';
import { compareStrings } from '../ir/sort';
import { buildClusters } from './cluster';
import { buildEndpoints } from './endpoint';
import { buildGatewayListeners, buildGatewayRoutes } from './gateway';
import { buildListeners } from './listener';
import type { JsonObject } from './proto-json';
import { buildRoutes } from './route';
import { buildSecrets } from './secret';

export type ResourceKind = 'listeners' | 'routes' | 'clusters' | 'endpoints' | 'secrets';

/** Fixed order of the kinds (and of the files written per node). */
export const RESOURCE_KINDS: readonly ResourceKind[] = ['listeners', 'routes', 'clusters', 'endpoints', 'secrets'];

export type NodeResources = { readonly [K in ResourceKind]: readonly JsonObject[] };

export function buildNodeResources(node: NodeIR): NodeResources {
  return {
    // An ingress gateway's public listeners and their routes replace a sidecar's (gateway.ts).
    listeners: sortByName(node.gateway ? buildGatewayListeners(node) : buildListeners(node)),
    routes: sortByName(node.gateway ? buildGatewayRoutes(node) : buildRoutes(node)),
    clusters: sortByName(buildClusters(node)),
    endpoints: sortByName(buildEndpoints(node)),
    secrets: sortByName(buildSecrets(node)),
  };
}

/** The xDS resource name: `name`, or `cluster_name` for a ClusterLoadAssignment. */
export function resourceName(r: JsonObject): string {
  const name = r['name'] ?? r['cluster_name'];
  if (typeof name !== 'string') throw new Error(`bug: resource without a name: ${JSON.stringify(r).slice(0, 80)}`);
  return name;
}

/** Resources of one type are a set keyed by name (xDS SotW); sorted for stable output. */
function sortByName(resources: JsonObject[]): JsonObject[] {
  return [...resources].sort((a, b) => compareStrings(resourceName(a), resourceName(b)));
}
