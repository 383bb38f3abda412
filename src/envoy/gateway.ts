/**
 * An ingress gateway's public side (translate/gateway.ts): one listener per
 * port, one filter chain per declared listener picked by the TLS server name
 * (filter_chain_match.server_names), each with its certificate and its own
 * route configuration holding only its hostnames. A connection whose SNI
 * names no declared hostname (or that sends none) matches no filter chain,
 * and Envoy closes it during the handshake: the gateway presents no
 * certificate for a name it does not serve. A request whose Host is not the
 * chain's (domain fronting across certificates) gets 404 (no route).
 *
 * Its clusters, endpoints and secrets are a sidecar's (cluster.ts: upstream
 * mTLS with the gateway's own certificate, so the callee's RBAC sees
 * spiffe://<td>/svc/<gateway>).
 */
import type { GatewayChainIR, GatewayListenerIR, GatewayRouteIR, NodeIR } from '../ir/types';
import { stdoutAccessLog } from './access-log';
import { httpFilters } from './filters';
import { hcmNetworkFilter, httpConnectionManager } from './hcm';
import { TYPE, adsConfigSource, socketAddress, type JsonObject } from './proto-json';
import { envoyRoutes } from './route';

export function buildGatewayListeners(node: NodeIR): JsonObject[] {
  return (node.gateway?.listeners ?? []).map((l) => gatewayListener(node, l));
}

function gatewayListener(node: NodeIR, l: GatewayListenerIR): JsonObject {
  return {
    '@type': TYPE.listener,
    name: l.name,
    address: socketAddress(l.address, l.port),
    // SNI is in the ClientHello: the TLS inspector must read it before a filter chain is chosen.
    listener_filters: [{ name: 'envoy.filters.listener.tls_inspector', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector' } }],
    filter_chains: l.chains.map((c) => gatewayChain(node, c)),
  };
}

function gatewayChain(node: NodeIR, c: GatewayChainIR): JsonObject {
  const hcm = httpConnectionManager({
    statPrefix: `gateway_${c.name}`,
    rdsName: c.routeConfigName,
    httpFilters: httpFilters({ chain: 'envoy-gateway', node }),
    extra: {
      codec_type: 'AUTO',
      access_log: [stdoutAccessLog('outbound', node.id)],
      // The edge: the client's address is the connection's, not an X-Forwarded-For it sent.
      use_remote_address: true,
      // A request id from outside is not trusted as the trace id of a mesh call chain.
      generate_request_id: true,
      preserve_external_request_id: false,
      // Clients never talk mTLS here; a forged x-forwarded-client-cert is dropped.
      forward_client_cert_details: 'SANITIZE',
      // Host: docs.ceq.gov:8443 and docs.ceq.gov select the same virtual host.
      strip_any_host_port: true,
    },
  });
  return {
    name: c.name,
    filter_chain_match: { server_names: [...c.hostnames] },
    filters: [hcmNetworkFilter(hcm)],
    transport_socket: {
      name: 'envoy.transport_sockets.tls',
      typed_config: {
        '@type': TYPE.downstreamTlsContext,
        common_tls_context: {
          alpn_protocols: ['h2', 'http/1.1'],
          ...(c.tls.kind === 'mesh'
            ? { tls_certificate_sds_secret_configs: [{ name: c.tls.secret, sds_config: adsConfigSource() }] }
            : { tls_certificates: [{ certificate_chain: { filename: c.tls.certFile }, private_key: { filename: c.tls.keyFile } }] }),
        },
      },
    },
  };
}

export function buildGatewayRoutes(node: NodeIR): JsonObject[] {
  return (node.gateway?.listeners ?? []).flatMap((l) => l.chains.map(gatewayRouteConfig));
}

function gatewayRouteConfig(c: GatewayChainIR): JsonObject {
  return {
    '@type': TYPE.routeConfiguration,
    name: c.routeConfigName,
    // Sorted by hostname: virtual hosts are matched by domain, not position.
    virtual_hosts: c.virtualHosts.map((v) => ({
      name: v.hostname,
      domains: [v.hostname],
      // First match wins: the order translate/gateway.ts decided is kept.
      routes: v.routes.flatMap(gatewayRoute),
    })),
  };
}

function gatewayRoute(r: GatewayRouteIR): JsonObject[] {
  const match = r.path.kind === 'exact' ? { path: r.path.value } : { prefix: r.path.value };
  return envoyRoutes(r.name, match, r);
}
