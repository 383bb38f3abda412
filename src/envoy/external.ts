/**
 * Calls to external systems (translate/externals.ts): a virtual host on the
 * outbound route config that rewrites Host to the system's real name, and a
 * cluster that originates TLS. The upstream certificate must chain to the
 * declared CA (trusted_ca, read by Envoy from ca_file) and carry one of the
 * declared DNS names (match_typed_subject_alt_names); SNI is sent. No client
 * certificate: the mesh identity means nothing to a system outside it.
 */
import type { ExternalUpstreamIR } from '../ir/types';
import { TYPE, duration, socketAddress, type JsonObject } from './proto-json';
import { deadlineCap } from './deadline';

export function externalVirtualHost(e: ExternalUpstreamIR, retryPolicy: (e: ExternalUpstreamIR) => JsonObject | undefined): JsonObject {
  const retry = retryPolicy(e);
  return {
    name: `external|${e.name}`,
    domains: [...e.domains],
    routes: [
      {
        name: 'default',
        match: { prefix: '/' },
        route: {
          cluster: e.clusterName,
          timeout: duration(e.timeoutMs.value),
          ...deadlineCap(e.timeoutMs.value),
          // The app may say Host: <name>; the system expects its own name.
          host_rewrite_literal: e.host,
          ...(retry ? { retry_policy: retry } : {}),
        },
      },
    ],
  };
}

export function externalCluster(e: ExternalUpstreamIR): JsonObject {
  return {
    '@type': TYPE.cluster,
    name: e.clusterName,
    // A fixed address needs no DNS; a host name is resolved by Envoy and re-resolved as it changes.
    type: e.address !== undefined ? 'STATIC' : 'LOGICAL_DNS',
    ...(e.address === undefined ? { dns_lookup_family: 'V4_PREFERRED' } : {}),
    connect_timeout: duration(e.connectTimeoutMs.value),
    lb_policy: 'ROUND_ROBIN',
    load_assignment: {
      cluster_name: e.clusterName,
      endpoints: [{ lb_endpoints: [{ endpoint: { address: socketAddress(e.address ?? e.host, e.port) } }] }],
    },
    transport_socket: {
      name: 'envoy.transport_sockets.tls',
      typed_config: {
        '@type': TYPE.upstreamTlsContext,
        sni: e.sni,
        common_tls_context: {
          validation_context: {
            trusted_ca: { filename: e.caFile },
            match_typed_subject_alt_names: e.subjectAltNames.map((n) => ({ san_type: 'DNS', matcher: { exact: n } })),
          },
        },
      },
    },
  };
}
