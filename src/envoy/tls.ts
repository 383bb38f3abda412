/**
 * TLS transport sockets. Envoy sidecars get certificates over SDS (on the
 * same ADS stream); proxyless gRPC gets A29 certificate provider instances
 * that its bootstrap maps to files (file_watcher plugin).
 */
import type { IdentityIR, UpstreamClusterIR } from '../ir/types';
import { TYPE, adsConfigSource, type JsonObject } from './proto-json';

const TLS_SOCKET = 'envoy.transport_sockets.tls';

function transportSocket(typedConfig: JsonObject): JsonObject {
  return { name: TLS_SOCKET, typed_config: typedConfig };
}

function sdsSecret(name: string): JsonObject {
  return { name, sds_config: adsConfigSource() };
}

/** URI SAN matcher (Envoy's typed matcher; CertificateValidationContext.match_typed_subject_alt_names). */
function uriSan(matcher: JsonObject): JsonObject {
  return { san_type: 'URI', matcher };
}

/**
 * Sidecar inbound: mTLS required; the client certificate must chain to the
 * trust bundle and carry a URI SAN in this trust domain. Which workloads may
 * call is RBAC's job (filters/rbac.ts): TLS authenticates, RBAC authorises.
 */
export function envoyDownstreamTls(id: IdentityIR): JsonObject {
  return transportSocket({
    '@type': TYPE.downstreamTlsContext,
    require_client_certificate: true,
    common_tls_context: {
      // h2 for gRPC callers (proxyless clients and sidecars of grpc callers), http/1.1 for the rest.
      alpn_protocols: ['h2', 'http/1.1'],
      tls_certificate_sds_secret_configs: [sdsSecret(id.certSecret)],
      combined_validation_context: {
        default_validation_context: {
          match_typed_subject_alt_names: [uriSan({ prefix: `spiffe://${id.trustDomain}/` })],
        },
        validation_context_sds_secret_config: sdsSecret(id.trustBundleSecret),
      },
    },
  });
}

/**
 * Sidecar -> upstream: present our certificate, accept only the callee's
 * exact SPIFFE ID. gRPC upstreams speak HTTP/2 only, so offer h2 in ALPN
 * (Node's HTTP/2 server drops TLS connections that do not negotiate h2).
 */
export function envoyUpstreamTls(cluster: UpstreamClusterIR, id: IdentityIR): JsonObject {
  return transportSocket({
    '@type': TYPE.upstreamTlsContext,
    sni: cluster.sni,
    common_tls_context: {
      ...(cluster.protocol === 'grpc' ? { alpn_protocols: ['h2'] } : {}),
      tls_certificate_sds_secret_configs: [sdsSecret(id.certSecret)],
      combined_validation_context: {
        default_validation_context: {
          match_typed_subject_alt_names: [uriSan({ exact: cluster.peerSpiffeId })],
        },
        validation_context_sds_secret_config: sdsSecret(id.trustBundleSecret),
      },
    },
  });
}

function providerInstance(id: IdentityIR): JsonObject {
  return { instance_name: id.certProviderInstance };
}

/**
 * Proxyless server (A29 "LDS for Server Side Security"; A36). grpc-js-xds
 * NACKs a DownstreamTlsContext without tls_certificate_provider_instance or
 * with an SDS validation context (listener-resource-type.ts
 * validateTransportSocket), so only provider instances appear here.
 */
export function grpcDownstreamTls(id: IdentityIR): JsonObject {
  return transportSocket({
    '@type': TYPE.downstreamTlsContext,
    require_client_certificate: true,
    common_tls_context: {
      tls_certificate_provider_instance: providerInstance(id),
      validation_context: { ca_certificate_provider_instance: providerInstance(id) },
    },
  });
}

/**
 * Proxyless client (A29 "CDS for Client Side Security"). Only
 * common_tls_context is read (so no sni). The peer check uses the older
 * match_subject_alt_names: that is the field A29 specifies and the only one
 * grpc-js-xds reads (cluster-resource-type.ts); its `exact` matches URI SANs too.
 */
export function grpcUpstreamTls(cluster: UpstreamClusterIR, id: IdentityIR): JsonObject {
  return transportSocket({
    '@type': TYPE.upstreamTlsContext,
    common_tls_context: {
      tls_certificate_provider_instance: providerInstance(id),
      validation_context: {
        ca_certificate_provider_instance: providerInstance(id),
        match_subject_alt_names: [{ exact: cluster.peerSpiffeId }],
      },
    },
  });
}
