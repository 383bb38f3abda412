/**
 * Processor 1: who the node is and where it listens: identity, inbound and
 * outbound listener names and ports, SDS secret references, bootstrap facts.
 */
import * as path from 'node:path';
import { spiffeId } from '../model/types';
import { service } from '../pki/identity';
import { credentialPaths } from '../pki/store';
import type { TranslateContext } from './context';
import type { NodeDraft } from './draft';
import {
  GRPC_CERT_PROVIDER_INSTANCE,
  GRPC_SERVER_LISTENER_TEMPLATE,
  certSecretName,
  controlPlaneSpiffeId,
  grpcServerListenerName,
  inboundListenerName,
  localClusterName,
  outboundListenerName,
  trustBundleSecretName,
} from './naming';

/** Inbound listeners accept callers from other hosts. */
const ANY_ADDRESS = '0.0.0.0';
/** The app and the admin interface are only ever reachable from the same host. */
const LOOPBACK = '127.0.0.1';

export function identityProcessor(ctx: TranslateContext, draft: NodeDraft): void {
  const td = ctx.model.settings.trustDomain;
  const svc = draft.service;
  draft.identity = {
    spiffeId: spiffeId(td, svc.name),
    trustDomain: td,
    certSecret: certSecretName(td, svc.name),
    trustBundleSecret: trustBundleSecretName(td),
    certProviderInstance: GRPC_CERT_PROVIDER_INSTANCE,
  };
  if (draft.kind === 'envoy') {
    draft.inbound = {
      listenerName: inboundListenerName(svc.meshPort),
      address: ANY_ADDRESS,
      port: svc.meshPort,
      localCluster: { name: localClusterName(svc.meshPort), address: LOOPBACK, port: svc.port },
    };
    const out = svc.outboundPort;
    draft.outbound = { listenerName: outboundListenerName(out), address: LOOPBACK, port: out };
    // gRPC nodes get no SDS secrets: A29 certificate providers read files instead.
    draft.secrets.push(
      { name: draft.identity.certSecret, kind: 'tls-certificate', subject: svc.name },
      { name: draft.identity.trustBundleSecret, kind: 'trust-bundle', subject: td },
    );
  } else {
    // A36: the xDS-enabled server itself is the inbound side; it binds 0.0.0.0:<port>.
    draft.inbound = {
      listenerName: grpcServerListenerName(ANY_ADDRESS, svc.port),
      address: ANY_ADDRESS,
      port: svc.port,
    };
    draft.outbound = {};
  }
  draft.bootstrap = buildBootstrapFacts(ctx, draft);
}

/**
 * The replicas a node fails over between, the primary first, each once.
 * Proxyless members reach the plaintext xDS port on loopback only, so they
 * get the replicas' grpc_xds_port on 127.0.0.1: those on their own machine.
 */
function replicasOf(cp: TranslateContext['model']['settings']['controlPlane'], proxyless: boolean): { replicas?: Array<{ address: string; port: number }> } {
  if (!cp.replicas) return {};
  const all = [proxyless ? { address: LOOPBACK, port: cp.grpcXdsPort } : { address: cp.address, port: cp.xdsPort }];
  for (const r of cp.replicas) all.push(proxyless ? { address: LOOPBACK, port: r.grpcXdsPort } : { address: r.address, port: r.xdsPort });
  const seen = new Set<string>();
  return { replicas: all.filter((e) => !seen.has(`${e.address}:${e.port}`) && !!seen.add(`${e.address}:${e.port}`)) };
}

function buildBootstrapFacts(ctx: TranslateContext, draft: NodeDraft): NodeDraft['bootstrap'] {
  const s = ctx.model.settings;
  const file = (rel: string): string => path.posix.join(ctx.pkiDir.split(path.sep).join('/'), rel);
  // The store's own layout (src/pki/store.ts). The chain (leaf + intermediates) is what a node presents.
  const creds = credentialPaths(service(draft.service.name));
  return {
    adminAddress: LOOPBACK,
    adminPort: draft.service.adminPort,
    // Proxyless gRPC members dial the plaintext loopback port: grpc-js-xds 1.14 offers only
    // "insecure" and "google_default" channel credentials to the control plane (MESH070 says so).
    controlPlane: draft.kind === 'grpc'
      ? { address: LOOPBACK, port: s.controlPlane.grpcXdsPort, spiffeId: controlPlaneSpiffeId(s.trustDomain), ...replicasOf(s.controlPlane, true) }
      : { address: s.controlPlane.address, port: s.controlPlane.xdsPort, spiffeId: controlPlaneSpiffeId(s.trustDomain), ...replicasOf(s.controlPlane, false) },
    pki: {
      certFile: file(creds.chain),
      keyFile: file(creds.key),
      caFile: file(creds.trustBundle),
    },
    ...(draft.kind === 'grpc' ? { serverListenerTemplate: GRPC_SERVER_LISTENER_TEMPLATE } : {}),
  };
}
