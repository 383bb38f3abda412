/**
 * Every name HMS-SVC gives an xDS resource, in one place (docs/compiler.md,
 * "Naming"). Names are stable: they key the xDS caches and `mesh diff`, so a
 * rename is a behaviour change.
 *
 * `|` separates parts because it cannot occur in a service name, a version or
 * a port, so names never collide (Istio uses the same separator).
 */
import { spiffeId } from '../model/types';
import { controlPlane, identitySpiffeId } from '../pki/identity';

/** Envoy inbound mTLS listener of a sidecar. */
export const inboundListenerName = (port: number): string => `inbound|${port}`;
/** STATIC cluster from the inbound listener to the app on 127.0.0.1. */
export const localClusterName = (port: number): string => `inbound|${port}|local`;
/** Envoy outbound listener the app calls (plain HTTP on 127.0.0.1). */
export const outboundListenerName = (port: number): string => `outbound|${port}`;
/** Envoy: one RouteConfiguration for the outbound listener, one virtual host per callee. */
export const OUTBOUND_ROUTE_CONFIG = 'outbound';

/**
 * One EDS cluster per (callee, version) when a split applies, else one per
 * callee covering every version. Per-version clusters (not one cluster with
 * subsets) because proxyless gRPC has no subset LB: A28 routes splits with
 * weighted_clusters only.
 */
export function upstreamClusterName(service: string, version?: string): string {
  return version === undefined ? `outbound|${service}` : `outbound|${service}|${version}`;
}

/**
 * gRPC client API listener: a channel to `xds:///grant-pay` asks for the
 * Listener named `grant-pay`, because the bootstrap's
 * client_default_listener_resource_name_template defaults to `%s` (A27,
 * "Listener"; grpc-js-xds resolver-xds.ts getListenerResourceName).
 */
export const grpcApiListenerName = (service: string): string => service;
/** gRPC: one RouteConfiguration per API listener (each HCM names exactly one via RDS). */
export const grpcRouteConfigName = (service: string): string => `outbound|${service}`;

/**
 * A36 "Server Listener": an xDS-enabled server bound to `ip:port` asks for the
 * Listener named by the bootstrap's server_listener_resource_name_template with
 * `%s` replaced by that exact string. The SDK must bind `0.0.0.0:<port>`.
 */
export const GRPC_SERVER_LISTENER_TEMPLATE = 'grpc/server?xds.resource.listening_address=%s';
export function grpcServerListenerName(address: string, port: number, template = GRPC_SERVER_LISTENER_TEMPLATE): string {
  return template.split('%s').join(`${address}:${port}`);
}

/**
 * SDS secret names follow SPIRE's convention: the node's certificate is named
 * by its SPIFFE ID, the trust bundle by the trust domain's SPIFFE ID. Unique
 * across nodes, so a shared cache can hold every node's secrets.
 */
export const certSecretName = (trustDomain: string, service: string): string => spiffeId(trustDomain, service);
export const trustBundleSecretName = (trustDomain: string): string => `spiffe://${trustDomain}`;

/** A29 certificate provider instance defined in every gRPC bootstrap (identity and roots). */
export const GRPC_CERT_PROVIDER_INSTANCE = 'default';

/** Static cluster of every Envoy bootstrap that reaches the control plane. */
export const XDS_CLUSTER = 'xds_cluster';

/** The control plane's own identity, as the PKI issues it. */
export const controlPlaneSpiffeId = (trustDomain: string): string => identitySpiffeId(trustDomain, controlPlane);
