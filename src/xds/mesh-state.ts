/**
 * Compiled mesh + live registry + PKI -> one NodeSnapshot per node.
 * The compiled resources come from the same compiler as `mesh build`; here we
 * only merge registered instances into the ClusterLoadAssignments and fill the
 * SDS secret placeholders with PEM from the PKI store, then encode.
 */
import type { CompileResult, NodeOutput } from '../envoy/compile';
import { socketAddress, type JsonObject } from '../envoy/proto-json';
import type { NodeResources } from '../envoy/resources';
import { parseSecretPlaceholder } from '../envoy/secret';
import { grpcServerListenerName } from '../translate/naming';
import type { ResourceEncoder } from './prepared';
import type { Instance } from './registry';
import { buildNodeSnapshot, type NodeSnapshot } from './snapshot';

/** Returns the PEM for a placeholder kind and subject, or throws when the PKI store lacks it. */
export type SecretSource = (kind: 'cert-chain' | 'private-key' | 'trust-bundle', subject: string) => string;

/**
 * Which nodes must be rebuilt when a service's instances change: those with a
 * cluster for it, and a proxyless service itself (its server listeners follow
 * the ports its instances registered, see withInstanceServerListeners).
 */
export function callersIndex(compiled: CompileResult): Map<string, Set<string>> {
  const index = new Map<string, Set<string>>();
  const add = (service: string, node: string): void => {
    let set = index.get(service);
    if (!set) index.set(service, (set = new Set()));
    set.add(node);
  };
  for (const n of compiled.nodes) {
    for (const c of n.ir.clusters) add(c.service, n.id);
    if (n.kind === 'grpc') add(n.id, n.id);
  }
  return index;
}

export function nodeResourcesWithLiveState(node: NodeOutput, instancesOf: (service: string) => readonly Instance[], secrets: SecretSource | undefined): NodeResources {
  const byEds = new Map(node.ir.clusters.map((c) => [c.edsServiceName, c]));
  const endpoints = node.resources.endpoints.map((cla) => {
    const cluster = byEds.get(cla['cluster_name'] as string);
    if (!cluster) return cla;
    const live = instancesOf(cluster.service).filter((i) => cluster.version === undefined || i.version === cluster.version);
    if (live.length === 0) return cla;
    return withRegistryLocality(cla, live);
  });
  const filled = secrets ? node.resources.secrets.map((s) => fillSecret(s, secrets)) : node.resources.secrets;
  const listeners = node.kind === 'grpc' ? withInstanceServerListeners(node, instancesOf(node.id)) : node.resources.listeners;
  return { ...node.resources, listeners, endpoints, secrets: filled };
}

/**
 * A36: an xDS-enabled gRPC server asks for the Listener named after the exact
 * address it binds (`0.0.0.0:<port>`) and serves nothing until it gets it. The
 * compiled server listener covers the manifest's port; an instance registered
 * on another port (several instances on one host, v1 beside v2) gets a copy
 * for its own port, identical but for the name and address, so it serves the
 * same mTLS and RBAC. Only the service's own certificate can register it.
 */
function withInstanceServerListeners(node: NodeOutput, own: readonly Instance[]): readonly JsonObject[] {
  const inbound = node.ir.inbound;
  const template = node.ir.bootstrap.serverListenerTemplate;
  const base = node.resources.listeners.find((l) => l['name'] === inbound.listenerName);
  if (!base || template === undefined) return node.resources.listeners;
  const ports = [...new Set(own.map((i) => i.port))].filter((p) => p !== inbound.port).sort((a, b) => a - b);
  const copies = ports.map((port) => ({ ...base, name: grpcServerListenerName(inbound.address, port, template), address: socketAddress(inbound.address, port) }));
  return [...node.resources.listeners, ...copies];
}

/**
 * Registered instances are a locality of their own beside the static one (gRPC
 * needs a locality and a weight, A27). An instance that is also a static
 * endpoint is listed once: grpc-js-xds NACKs a ClusterLoadAssignment naming
 * an address twice, even across localities (endpoint-resource-type.ts).
 */
function withRegistryLocality(cla: JsonObject, all: readonly Instance[]): JsonObject {
  const existing = (cla['endpoints'] as JsonObject[] | undefined) ?? [];
  const staticAddresses = new Set(
    existing.flatMap((l) => ((l['lb_endpoints'] as JsonObject[] | undefined) ?? []).map((e) => addressKey(e))),
  );
  const live = all.filter((i) => !staticAddresses.has(`${i.address}:${i.port}`));
  if (live.length === 0) return cla;
  return {
    ...cla,
    endpoints: [
      ...existing,
      {
        locality: { zone: 'registry' },
        load_balancing_weight: 1,
        lb_endpoints: live.map((i) => ({ endpoint: { address: { socket_address: { address: i.address, port_value: i.port } } } })),
      },
    ],
  };
}

function addressKey(lbEndpoint: JsonObject): string {
  const sa = ((lbEndpoint['endpoint'] as JsonObject | undefined)?.['address'] as JsonObject | undefined)?.['socket_address'] as JsonObject | undefined;
  return `${String(sa?.['address'])}:${String(sa?.['port_value'])}`;
}

function fillSecret(secret: JsonObject, source: SecretSource): JsonObject {
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') {
      const p = parseSecretPlaceholder(v);
      return p ? source(p.kind, p.subject) : v;
    }
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return walk(secret) as JsonObject;
}

export function buildSnapshots(
  compiled: CompileResult,
  nodeIds: Iterable<string>,
  instancesOf: (service: string) => readonly Instance[],
  secrets: SecretSource | undefined,
  encoder: ResourceEncoder,
): Map<string, NodeSnapshot> {
  const byId = new Map(compiled.nodes.map((n) => [n.id, n]));
  const out = new Map<string, NodeSnapshot>();
  for (const id of nodeIds) {
    const node = byId.get(id);
    if (!node) continue;
    out.set(id, buildNodeSnapshot(id, node.kind, nodeResourcesWithLiveState(node, instancesOf, secrets), encoder));
  }
  return out;
}
