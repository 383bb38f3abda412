/**
 * What an app started next to its sidecar is handed: `HMS_MEMBER`, one JSON
 * object with everything the Python SDK (sdk/python/svcmesh/_member.py) needs
 * to join the mesh without reading YAML (it depends on `requests` only):
 * who it is, its ports, its callees and their protocols, where the control
 * plane's admin API is and which certificate files prove the identity.
 * `mesh run` and the local-process plan (the lab) set it; the TypeScript SDK
 * reads the mesh's files itself and ignores it.
 *
 * Built from the checked model (the same one the compiler used), so the app
 * sees exactly the ports its sidecar was compiled with.
 */
import * as path from 'node:path';
import type { MeshModel } from '../model/types';
import { appVersion } from './compose';

export interface MemberHandover {
  readonly service: string;
  readonly version: string;
  readonly versions: readonly string[];
  readonly protocol: 'http' | 'grpc';
  /** The app's own port (HTTP: where it listens on 127.0.0.1 behind the sidecar). */
  readonly port: number;
  /** The sidecar's inbound mTLS port: what an HTTP member registers. */
  readonly mesh_port: number;
  readonly outbound_port: number;
  /** The sidecar's Envoy admin (127.0.0.1): the SDK asks its /ready before registering. */
  readonly sidecar_admin_port: number;
  /** Declared callees and their protocols; anything else is refused before sending. */
  readonly calls: Readonly<Record<string, 'http' | 'grpc'>>;
  readonly trust_domain: string;
  readonly admin_url: string;
  readonly chain: string;
  readonly key: string;
  readonly trust_bundle: string;
  /** gRPC members: the xDS bootstrap `mesh build` wrote (out/<service>/bootstrap.json). */
  readonly grpc_bootstrap?: string;
}

export interface MemberHandoverOptions {
  /** The `mesh build` output holding `<service>/bootstrap.json`. Default: `<mesh>/out`. */
  readonly outDir?: string;
  /** Default: https://<control_plane.address>:<admin_port>. */
  readonly adminUrl?: string;
  readonly version?: string;
}

export function memberHandover(model: MeshModel, service: string, opts: MemberHandoverOptions = {}): MemberHandover {
  const svc = model.services.find((s) => s.name === service);
  if (!svc) throw new Error(`bug: ${service} is not in the model`);
  const protocols = new Map(model.services.map((s) => [s.name, s.protocol]));
  const pki = path.resolve(model.dir, model.settings.pkiDir);
  const cp = model.settings.controlPlane;
  return {
    service,
    // Default: the version no static endpoint serves, so every version's cluster has an endpoint (as the lab does).
    version: opts.version ?? appVersion(svc),
    versions: svc.versions,
    protocol: svc.protocol,
    port: svc.port,
    mesh_port: svc.meshPort,
    outbound_port: svc.outboundPort,
    sidecar_admin_port: svc.adminPort,
    calls: Object.fromEntries(svc.calls.map((c) => [c.target, protocols.get(c.target) ?? 'http'])),
    trust_domain: model.settings.trustDomain,
    admin_url: opts.adminUrl ?? `https://${cp.address}:${cp.adminPort}`,
    chain: path.join(pki, 'svc', service, 'chain.pem'),
    key: path.join(pki, 'svc', service, 'key.pem'),
    trust_bundle: path.join(pki, 'trust-bundle.pem'),
    ...(svc.protocol === 'grpc' ? { grpc_bootstrap: path.join(path.resolve(opts.outDir ?? path.join(model.dir, 'out')), service, 'bootstrap.json') } : {}),
  };
}

/** The environment both SDKs read: the handover, the mesh folder, and the `[TRACE ...]` line per call. */
export function memberEnv(model: MeshModel, service: string, opts: MemberHandoverOptions = {}): Record<string, string> {
  const h = memberHandover(model, service, opts);
  return {
    HMS_MEMBER: JSON.stringify(h),
    HMS_MESH_DIR: model.dir,
    ...(opts.outDir ? { HMS_MESH_OUT: path.resolve(opts.outDir) } : {}),
    PORT: String(h.port),
    VERSION: h.version,
    HMS_TRACE_LOG: '1',
  };
}
