/**
 * Immutable per-node snapshots: for each resource type, the prepared
 * resources by name and a type version (a hash of the names and versions).
 * A snapshot is checked for consistency before it is served (every route's
 * cluster, RDS name and EDS cluster present; go-control-plane does the same)
 * and for size: no DiscoveryResponse may exceed what gRPC clients accept.
 */
import { createHash } from 'node:crypto';
import type { JsonObject } from '../envoy/proto-json';
import { RESOURCE_KINDS, type NodeResources, type ResourceKind } from '../envoy/resources';
import type { NodeKind } from '../ir/types';
import type { PreparedResource, ResourceEncoder } from './prepared';
import { TYPE_URL } from './type-urls';

/** gRPC's default max receive message size; a larger response would be refused by proxyless clients. */
export const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

export interface TypeSnapshot {
  readonly version: string;
  readonly resources: ReadonlyMap<string, PreparedResource>;
  /** Bytes of all resource frames: the size of a wildcard SotW response, near enough. */
  readonly bytes: number;
}

export interface NodeSnapshot {
  readonly nodeId: string;
  readonly kind: NodeKind;
  readonly types: Readonly<Record<ResourceKind, TypeSnapshot>>;
}

export interface SnapshotProblem {
  readonly node: string;
  readonly kind: ResourceKind;
  readonly message: string;
}

export function typeVersion(resources: ReadonlyMap<string, PreparedResource>): string {
  // One string, one update: the same digest as hashing the pieces one by one (the bytes are the
  // same), at a fraction of the cost; a registry change recomputes this for every caller node.
  let text = '';
  for (const name of [...resources.keys()].sort()) text += `${name}\0${resources.get(name)!.version}\n`;
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

export function buildNodeSnapshot(nodeId: string, kind: NodeKind, resources: NodeResources, encoder: ResourceEncoder): NodeSnapshot {
  const types = {} as Record<ResourceKind, TypeSnapshot>;
  for (const k of RESOURCE_KINDS) {
    const map = new Map<string, PreparedResource>();
    let bytes = 0;
    for (const json of resources[k]) {
      const p = encoder.prepare(k, json as JsonObject);
      map.set(p.name, p);
      bytes += p.sotwFrame.length;
    }
    types[k] = { version: typeVersion(map), resources: map, bytes };
  }
  return { nodeId, kind, types };
}

/** Problems that make a snapshot unservable (in the given types: those a registry change rebuilt). Empty = fine. */
export function checkSnapshot(s: NodeSnapshot, kinds: readonly ResourceKind[] = RESOURCE_KINDS): SnapshotProblem[] {
  const out: SnapshotProblem[] = [];
  for (const k of kinds) {
    const t = s.types[k];
    if (t.bytes + 1024 > MAX_RESPONSE_BYTES) {
      out.push({ node: s.nodeId, kind: k, message: `${k} of node ${s.nodeId} need ${t.bytes} bytes in one response; gRPC clients accept at most ${MAX_RESPONSE_BYTES}` });
    }
    for (const r of t.resources.values()) {
      if (r.typeUrl !== TYPE_URL[k]) out.push({ node: s.nodeId, kind: k, message: `resource ${r.name} has type ${r.typeUrl}, expected ${TYPE_URL[k]}` });
    }
  }
  return out;
}
