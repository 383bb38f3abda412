/**
 * xDS type URLs and the order in which a node is told about changes.
 *
 * Order (xDS protocol, "Eventual consistency considerations"): clusters before
 * the endpoints of those clusters, listeners before the route configurations
 * they name, and both before anything is removed, so a node never holds a
 * reference to something it has not received. Secrets come first: clusters and
 * listeners reference them, and Envoy warms a cluster only once its SDS
 * secret arrives.
 * https://www.envoyproxy.io/docs/envoy/latest/api-docs/xds_protocol#eventual-consistency-considerations
 */
import type { ResourceKind } from '../envoy/resources';

export const TYPE_URL: Readonly<Record<ResourceKind, string>> = {
  listeners: 'type.googleapis.com/envoy.config.listener.v3.Listener',
  routes: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
  clusters: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  endpoints: 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
  secrets: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret',
};

/** Push order on a snapshot change. */
export const PUSH_ORDER: readonly ResourceKind[] = ['secrets', 'clusters', 'endpoints', 'listeners', 'routes'];

const KIND_OF_URL = new Map(Object.entries(TYPE_URL).map(([k, v]) => [v, k as ResourceKind]));

export function kindOfUrl(typeUrl: string): ResourceKind | undefined {
  return KIND_OF_URL.get(typeUrl);
}

/**
 * Listeners and clusters may be requested as a wildcard (all of the node's);
 * routes, endpoints and secrets are only ever sent by name.
 */
export function allowsWildcard(kind: ResourceKind): boolean {
  return kind === 'listeners' || kind === 'clusters';
}
