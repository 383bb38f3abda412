/**
 * Compiled mesh + live registry + PKI -> one NodeSnapshot per node.
 * The compiled resources come from the same compiler as `mesh build`; here we
 * only merge registered instances into the ClusterLoadAssignments and fill the
 * SDS secret placeholders with PEM from the PKI store, then encode.
 */
import type { CompileResult, NodeOutput } from '../envoy/compile';
import type { JsonObject } from '../envoy/proto-json';
import type { NodeResources } from '../envoy/resources';
import { parseSecretPlaceholder } from '../envoy/secret';
import type { ResourceEncoder } from './prepared';
import type { Instance } from './registry';
import { buildNodeSnapshot, type NodeSnapshot } from './snapshot';

/** Returns the PEM for a placeholder kind and subject, or throws when the PKI store lacks it. */
export type SecretSource = (kind: 'cert-chain' | 'private-key' | 'trust-bundle', subject: string) => string;

/** Which nodes must be rebuilt when a service's instances change: those with a cluster for it. */
export function callersIndex(compiled: CompileResult): Map<string, Set<string>> {
  const index = new Map<string, Set<string>>();
  for (const n of compiled.nodes) {
    for (const c of n.ir.clusters) {
      let set = index.get(c.service);
      if (!set) index.set(c.service, (set = new Set()));
      set.add(n.id);
    }
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
  return { ...node.resources, endpoints, secrets: filled };
}

/** Registered instances are a locality of their own beside the static one (gRPC needs a locality and a weight, A27). */
function withRegistryLocality(cla: JsonObject, live: readonly Instance[]): JsonObject {
  const existing = (cla['endpoints'] as JsonObject[] | undefined) ?? [];
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
