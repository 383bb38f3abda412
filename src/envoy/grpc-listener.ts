/**
 * Proxyless gRPC listeners.
 *
 * Client side (A27 "Listener"): one API listener per callee, named so that
 * `xds:///<callee>` finds it. Its HCM must use RDS or an inline route_config
 * and end with the router; A41 RBAC is server-only, so the router is the only
 * filter.
 *
 * Server side (A36 "xDS Protocol"): one Listener named by the bootstrap
 * template with the bound `ip:port`; its address must equal that address
 * (grpc-js-xds server.ts rejects a mismatch). One filter chain whose only
 * network filter is the HCM (grpc-js-xds requires exactly one), A29 TLS, and
 * an inline route config with non_forwarding_action.
 */
import type { NodeIR, VirtualHostIR } from '../ir/types';
import { httpFilters } from './filters';
import { hcmNetworkFilter, httpConnectionManager } from './hcm';
import { TYPE, socketAddress, type JsonObject } from './proto-json';
import { grpcServerRouteConfig } from './route';
import { grpcDownstreamTls } from './tls';

export function buildGrpcListeners(node: NodeIR): JsonObject[] {
  return [...node.outbound.virtualHosts.map((vh) => apiListener(node, vh)), serverListener(node)];
}

function apiListener(node: NodeIR, vh: VirtualHostIR): JsonObject {
  if (vh.apiListenerName === undefined) throw new Error(`bug: grpc vhost ${vh.name} has no API listener name`);
  const hcm = httpConnectionManager({
    statPrefix: `outbound|${vh.service}`,
    rdsName: vh.routeConfigName,
    httpFilters: httpFilters({ chain: 'grpc-client', node }),
  });
  return { '@type': TYPE.listener, name: vh.apiListenerName, api_listener: { api_listener: hcm } };
}

function serverListener(node: NodeIR): JsonObject {
  const hcm = httpConnectionManager({
    statPrefix: 'inbound',
    routeConfig: grpcServerRouteConfig(node),
    httpFilters: httpFilters({ chain: 'grpc-server', node }),
  });
  return {
    '@type': TYPE.listener,
    name: node.inbound.listenerName,
    address: socketAddress(node.inbound.address, node.inbound.port),
    filter_chains: [{ name: 'inbound-mtls', filters: [hcmNetworkFilter(hcm)], transport_socket: grpcDownstreamTls(node.identity) }],
  };
}
