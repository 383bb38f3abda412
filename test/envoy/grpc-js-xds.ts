/**
 * The real acceptance test for proxyless output: the pinned @grpc/grpc-js-xds
 * decodes our resources (encoded to protobuf by src/validate's codec) with its
 * own validators, the same code a gRPC app runs on every xDS update.
 *
 * These are internal modules of grpc-js-xds (build/src/...); if an upgrade
 * moves them, this helper is the one place to fix.
 */
import type { JsonObject } from '../../src/envoy/proto-json';
import { toAny } from '../../src/validate';

const BASE = '@grpc/grpc-js-xds/build/src';

let loaded: any;
function lib(): any {
  if (loaded) return loaded;
  // Read once at module load by grpc-js-xds (A41: the RBAC filter is gated by this variable).
  process.env.GRPC_XDS_EXPERIMENTAL_RBAC = 'true';
  require('@grpc/grpc-js-xds').register();
  loaded = {
    validateBootstrapConfig: require(`${BASE}/xds-bootstrap`).validateBootstrapConfig,
    listeners: require(`${BASE}/xds-resource-type/listener-resource-type`).ListenerResourceType,
    routes: require(`${BASE}/xds-resource-type/route-config-resource-type`).RouteConfigurationResourceType,
    clusters: require(`${BASE}/xds-resource-type/cluster-resource-type`).ClusterResourceType,
    endpoints: require(`${BASE}/xds-resource-type/endpoint-resource-type`).EndpointResourceType,
  };
  return loaded;
}

/** Throws what grpc-js-xds throws for a bootstrap it rejects. */
export function grpcBootstrapInfo(bootstrapJson: string): any {
  return lib().validateBootstrapConfig(JSON.parse(bootstrapJson));
}

/** grpc-js-xds's verdict on one resource: its decoded name and error, if any. */
export function grpcDecode(
  kind: 'listeners' | 'routes' | 'clusters' | 'endpoints',
  resource: JsonObject,
  bootstrapInfo: any,
): { name: string; error?: string; value?: any } {
  const any = toAny(resource);
  const ctx = { bootstrap: bootstrapInfo, server: bootstrapInfo.xdsServers[0] };
  return lib()[kind].get().decode(ctx, { type_url: any.type_url, value: Buffer.from(any.value) });
}
