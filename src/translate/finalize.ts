/**
 * Turns a filled NodeDraft into the readonly NodeIR: checks that the
 * processors set what they must (a missing field is a bug, so it throws) and
 * sorts every list whose order carries no meaning.
 */
import type { ClusterDraft, NodeDraft, UpstreamDraft } from './draft';
import type { NodeIR, UpstreamClusterIR, VirtualHostIR } from '../ir/types';
import { sortedBy } from '../ir/sort';
import { builtin } from './context';

/** Envoy's connect_timeout default is 5 s; inside a mesh a peer that takes longer is down. */
export const CONNECT_TIMEOUT_MS = 1000;

export function finalizeNode(d: NodeDraft): NodeIR {
  const name = d.service.name;
  const need = <T>(v: T | undefined, what: string): T => {
    if (v === undefined) throw new Error(`bug: ${what} not set for node ${name}`);
    return v;
  };
  const inbound = need(d.inbound, 'inbound');
  const outbound = need(d.outbound, 'outbound');
  return {
    id: name,
    cluster: name,
    kind: d.kind,
    service: name,
    version: d.service.version,
    file: d.service.file,
    pos: d.service.pos,
    identity: need(d.identity, 'identity'),
    inbound: {
      ...inbound,
      access: need(inbound.access, 'inbound.access'),
      timeoutMs: need(inbound.timeoutMs, 'inbound.timeoutMs'),
    },
    outbound: { ...outbound, virtualHosts: sortedBy(d.upstreams.map(finalizeVirtualHost), (v) => v.name) },
    clusters: sortedBy(
      d.upstreams.flatMap((up) => up.clusters.map((c) => finalizeCluster(up, c))),
      (c) => c.name,
    ),
    loadAssignments: sortedBy(d.loadAssignments, (l) => l.clusterName),
    secrets: sortedBy(d.secrets, (s) => s.name),
    bootstrap: need(d.bootstrap, 'bootstrap'),
    gaps: d.gaps,
  };
}

function finalizeVirtualHost(up: UpstreamDraft): VirtualHostIR {
  if (up.timeoutMs === undefined) throw new Error(`bug: timeout not set for upstream ${up.target.name}`);
  return {
    name: up.target.name,
    service: up.target.name,
    protocol: up.target.protocol,
    domains: up.domains,
    routeConfigName: up.routeConfigName,
    ...(up.apiListenerName !== undefined ? { apiListenerName: up.apiListenerName } : {}),
    targets: sortedBy(up.targets, (t) => t.cluster),
    ...(up.split ? { split: up.split } : {}),
    ...(up.retry ? { retry: up.retry } : {}),
    timeoutMs: up.timeoutMs,
    callPos: up.call.pos,
    ...(up.routes ? { routes: up.routes } : {}),
  };
}

function finalizeCluster(up: UpstreamDraft, c: ClusterDraft): UpstreamClusterIR {
  return {
    name: c.name,
    service: up.target.name,
    ...(c.version !== undefined ? { version: c.version } : {}),
    protocol: up.target.protocol,
    edsServiceName: c.name,
    connectTimeoutMs: builtin(CONNECT_TIMEOUT_MS),
    // SNI = the callee's name; its certificate carries it as a DNS SAN (src/pki/identity.ts).
    sni: up.target.name,
    peerSpiffeId: up.peerSpiffeId,
    ...(c.outlier ? { outlier: c.outlier } : {}),
    ...(c.limits ? { limits: c.limits } : {}),
  };
}
