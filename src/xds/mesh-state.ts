/**
 * Compiled mesh + live registry + PKI -> one NodeSnapshot per node.
 * The compiled resources come from the same compiler as `mesh build`; here we
 * only merge registered instances into the ClusterLoadAssignments and fill the
 * SDS secret placeholders with PEM from the PKI store, then encode.
 */
import { runSync, type Steps } from '../util/sliced';
import type { CompileResult, NodeOutput } from '../envoy/compile';
import { socketAddress, type JsonObject } from '../envoy/proto-json';
import { parseSecretPlaceholder } from '../envoy/secret';
import { grpcServerListenerName } from '../translate/naming';
import { resourceName, type NodeResources } from '../envoy/resources';
import { contentKey, type CurrentEncodings, type PreparedResource, type ResourceEncoder } from './prepared';
import { encodeWithRegistryLocality, withRegistryLocality } from './live-endpoints';
import type { Instance } from './registry';
import { buildNodeSnapshot, typeVersion, type NodeSnapshot, type TypeSnapshot } from './snapshot';

/** Returns the PEM for a placeholder kind and subject, or throws when the PKI store lacks it. */
export type SecretSource = (kind: 'cert-chain' | 'private-key' | 'trust-bundle', subject: string) => string;

/**
 * Which nodes must be rebuilt when a service's instances change: those with a
 * cluster for it, and a proxyless service itself (its server listeners follow
 * the ports its instances registered, see withInstanceServerListeners).
 */
export function callersIndex(compiled: CompileResult): Map<string, Set<string>> {
  return runSync(callersIndexSteps(compiled));
}

/** callersIndex yielding between nodes (src/util/sliced.ts): built in a sliced apply's prepare. */
export function* callersIndexSteps(compiled: CompileResult): Steps<Map<string, Set<string>>> {
  const index = new Map<string, Set<string>>();
  const add = (service: string, node: string): void => {
    let set = index.get(service);
    if (!set) index.set(service, (set = new Set()));
    set.add(node);
  };
  for (const n of compiled.nodes) {
    for (const c of n.ir.clusters) add(c.service, n.id);
    if (n.kind === 'grpc') add(n.id, n.id);
    yield;
  }
  return index;
}

/**
 * callersIndex of an incremental apply's compile, from the index of the compile it is
 * incremental against: the nodes in `gone` (recomputed or removed, as they were compiled
 * then) are taken out and the `fresh` ones put in, so the work is proportional to the
 * recomputed nodes. `prev` is not changed: a set that changes is copied first.
 */
export function updatedCallersIndex(prev: ReadonlyMap<string, ReadonlySet<string>>, gone: Iterable<NodeOutput>, fresh: Iterable<NodeOutput>): Map<string, Set<string>> {
  const index = new Map(prev) as Map<string, Set<string>>;
  const copied = new Set<string>();
  const own = (service: string): Set<string> => {
    let set = index.get(service);
    if (!copied.has(service)) {
      index.set(service, (set = new Set(set)));
      copied.add(service);
    }
    return set!;
  };
  const servicesOf = (n: NodeOutput): string[] => [...n.ir.clusters.map((c) => c.service), ...(n.kind === 'grpc' ? [n.id] : [])];
  for (const n of gone) for (const service of servicesOf(n)) own(service).delete(n.id);
  for (const n of fresh) for (const service of servicesOf(n)) own(service).add(n.id);
  // As callersIndex builds it: no service without a node.
  for (const service of copied) if (index.get(service)!.size === 0) index.delete(service);
  return index;
}

export function nodeResourcesWithLiveState(node: NodeOutput, instancesOf: LiveInstances, secrets: SecretSource | undefined): NodeResources {
  const byEds = new Map(node.ir.clusters.map((c) => [c.edsServiceName, c]));
  const endpoints = node.resources.endpoints.map((cla) => {
    const cluster = byEds.get(cla['cluster_name'] as string);
    if (!cluster) return cla;
    const live = instancesOf(cluster.service, cluster.version);
    if (live.length === 0) return cla;
    return withRegistryLocality(cla, live);
  });
  const filled = secrets ? node.resources.secrets.map((s) => fillSecret(s, secrets)) : node.resources.secrets;
  const listeners = node.kind === 'grpc' ? withInstanceServerListeners(node, instancesOf(node.id)) : node.resources.listeners;
  return { ...node.resources, listeners, endpoints, secrets: filled };
}

/** A service's instances (of one version, if given); the same array until the service changes. */
export type LiveInstances = (service: string, version?: string) => readonly Instance[];

/**
 * A registry change, incrementally: the node's snapshot with only what
 * registered instances feed rebuilt (the ClusterLoadAssignments of the changed
 * services and, for a proxyless service that changed, its own server
 * listeners); every other resource, and every other type, is the previous
 * snapshot's, untouched. Rebuilding whole snapshots, secrets included, for
 * each caller on each registration made registering slow (188 a second
 * with 4,000 instances in a 2,000-service mesh, and slower as they grew). The result is what buildSnapshots would give for the same state.
 */
export function refreshLiveState(prev: NodeSnapshot, node: NodeOutput, changed: ReadonlySet<string>, instancesOf: LiveInstances, current: CurrentEncodings): NodeSnapshot {
  const byEds = clustersByEds(node);
  const endpoints: PreparedResource[] = [];
  for (const cla of node.resources.endpoints) {
    const name = cla['cluster_name'] as string;
    const cluster = byEds.get(name);
    const kept = prev.types.endpoints.resources.get(name);
    if (kept && (!cluster || !changed.has(cluster.service))) {
      endpoints.push(kept);
      continue;
    }
    const live = cluster ? instancesOf(cluster.service, cluster.version) : [];
    // Keyed by the static CLA's content: every caller with the same cluster shares the slot, and one build.
    endpoints.push(...current.get(`eds\0${contentKey(cla)}`, live, () => [liveEndpoints(cla, name, live, current)]));
  }
  const types = { ...prev.types, endpoints: typeOf(endpoints) };
  if (node.kind === 'grpc' && changed.has(node.id)) {
    const statics = node.resources.listeners.map((l) => prev.types.listeners.resources.get(resourceName(l)));
    if (statics.every((p) => p !== undefined)) {
      const own = instancesOf(node.id);
      const ports = [...new Set(own.map((i) => i.port))].sort((a, b) => a - b).join(',');
      const copies = current.get(`lds\0${node.id}`, ports, () => withInstanceServerListeners(node, own).slice(node.resources.listeners.length).map((l) => current.encode('listeners', l)));
      types.listeners = typeOf([...statics, ...copies]);
    }
  }
  return { ...prev, types };
}

const edsIndex = new WeakMap<NodeOutput, Map<string, NodeOutput['ir']['clusters'][number]>>();
function clustersByEds(node: NodeOutput): Map<string, NodeOutput['ir']['clusters'][number]> {
  let m = edsIndex.get(node);
  if (!m) edsIndex.set(node, (m = new Map(node.ir.clusters.map((c) => [c.edsServiceName, c]))));
  return m;
}

function liveEndpoints(cla: JsonObject, name: string, live: readonly Instance[], current: CurrentEncodings): PreparedResource {
  if (live.length === 0) return current.encode('endpoints', cla);
  const w = encodeWithRegistryLocality(cla, live);
  return w ? current.fromWriter('endpoints', name, w.typeUrl, w.length, w.write) : current.encode('endpoints', withRegistryLocality(cla, live));
}

/** A type's snapshot of these resources: by name, with its version and size. */
export function typeOf(list: readonly PreparedResource[]): TypeSnapshot {
  const resources = new Map<string, PreparedResource>();
  let bytes = 0;
  for (const p of list) {
    resources.set(p.name, p);
    bytes += p.sotwFrame.length;
  }
  return { version: typeVersion(resources), resources, bytes };
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

export function fillSecret(secret: JsonObject, source: SecretSource): JsonObject {
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
  instancesOf: LiveInstances,
  secrets: SecretSource | undefined,
  encoder: ResourceEncoder,
): Map<string, NodeSnapshot> {
  const byId = new Map(compiled.nodes.map((n) => [n.id, n]));
  const out = new Map<string, NodeSnapshot>();
  for (const id of nodeIds) {
    const node = byId.get(id);
    if (!node) continue;
    out.set(id, snapshotOfNode(node, instancesOf, secrets, encoder));
  }
  return out;
}

/** One node's snapshot with its live state (buildSnapshots for one node, without indexing the compile). */
export function snapshotOfNode(node: NodeOutput, instancesOf: LiveInstances, secrets: SecretSource | undefined, encoder: ResourceEncoder): NodeSnapshot {
  return buildNodeSnapshot(node.id, node.kind, nodeResourcesWithLiveState(node, instancesOf, secrets), encoder);
}
