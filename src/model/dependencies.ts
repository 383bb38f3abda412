/**
 * The dependency index: which parts of the mesh model each node's compiled
 * resources are made from, and a content hash of each part, so that an apply
 * recomputes only the nodes whose inputs changed (issue 20 item 1).
 *
 * A node (one per service) reads, in src/translate:
 * - its own manifest and its own policies (ServicePolicies: access, retries,
 *   timeouts, circuit breaker, rate limit, split, routes; `defaults:` are
 *   already merged into every service's policies by the loader, so a defaults
 *   change changes every service's policy hash);
 * - for each service it calls: that manifest and those policies
 *   (upstreams.ts: the callee's ports, versions, endpoints, access, retries...);
 * - for each caller its access rules name: whether that service exists
 *   (access.ts). Indexed as a dependency on the caller's manifest, which is
 *   coarser than needed (a caller's port change recomputes the callee too) and
 *   never wrong;
 * - an ingress gateway's node: its `gateways.<name>` declaration and, as a
 *   caller's, the services its routes reach;
 * - the mesh-wide parts: mesh.yml settings, externals, guardrails, the mesh
 *   directory. Any change there recomputes every node.
 *
 * Hashes leave out source positions (pos, fieldPos, ...): no Envoy resource
 * carries one, and a line inserted near the top of mesh_policies.yml moves the
 * position of every policy below it. The IR of a node that is kept keeps the
 * positions it was compiled with (src/xds/control-plane.ts says what reads them).
 * test/xds/incremental.test.ts checks, for random edit sequences, that
 * recomputing only what this index names gives the bytes of a full recompute.
 */
import { createHash } from 'node:crypto';
import type { MeshModel } from './types';

export interface DependencyIndex {
  /** Hash of the mesh-wide inputs: when it changes, every node is recomputed. */
  readonly global: string;
  /** Service -> hash of its manifest and of its policies (without positions). */
  readonly services: ReadonlyMap<string, string>;
  /** Node (service) -> the services whose hash it reads, itself included, sorted. */
  readonly reads: ReadonlyMap<string, readonly string[]>;
}

/** Keys that hold source positions only: they never reach an Envoy resource. */
const POSITION_KEYS = new Set(['pos', 'fieldPos', 'namePos', 'trustDomainPos', 'callPos', 'portPos', 'hostPos', 'toPos', 'certPos']);

function hashOf(value: unknown): string {
  const text = JSON.stringify(value, (k, v: unknown) => (POSITION_KEYS.has(k) ? undefined : v));
  return createHash('sha256').update(text ?? 'undefined').digest('base64');
}

/**
 * Per manifest and policies object: the loader's source cache
 * (src/config/source-cache.ts) hands the next apply the very objects of an
 * unchanged file, whose hash is then not computed again (10,000 services'
 * hashes were a third of a one-manifest apply). The model is never mutated.
 */
const hashes = new WeakMap<object, string>();
function memoHash(o: object | null): string {
  if (o === null) return hashOf(null);
  let h = hashes.get(o);
  if (h === undefined) hashes.set(o, (h = hashOf(o)));
  return h;
}

/** One service's entry of the index: a function of its manifest and policies objects alone. */
interface ServiceEntry {
  readonly hash: string;
  readonly reads: readonly string[];
}

/**
 * Per (manifest, policies) pair: an apply that changes one manifest of 10,000
 * reuses the other 9,999 entries as they were (the objects of unchanged files
 * are the source cache's), instead of hashing and sorting each again. A
 * service without policies is keyed by its manifest under NO_POLICIES.
 */
const entries = new WeakMap<object, WeakMap<object, ServiceEntry>>();
const NO_POLICIES = {};
function serviceEntry(s: MeshModel['services'][number], p: MeshModel['policies'][number] | undefined): ServiceEntry {
  let byPolicies = entries.get(s);
  if (!byPolicies) entries.set(s, (byPolicies = new WeakMap()));
  const hit = byPolicies.get(p ?? NO_POLICIES);
  if (hit) return hit;
  // A name read that is not a service (an unknown callee or caller, which lint reports) has no
  // hash: it counts as changed when it appears or disappears, as services do.
  const names = new Set<string>([s.name]);
  for (const c of s.calls) names.add(c.target);
  for (const rule of p?.access.allow ?? []) names.add(rule.caller);
  const entry = { hash: hashOf([memoHash(s), memoHash(p ?? null)]), reads: [...names].sort() };
  byPolicies.set(p ?? NO_POLICIES, entry);
  return entry;
}

/** Per model: an apply's lint (the MESH070 gap cache) and its recompute ask for the same model's index. */
const byModel = new WeakMap<MeshModel, DependencyIndex>();

export function buildDependencyIndex(model: MeshModel): DependencyIndex {
  let index = byModel.get(model);
  if (!index) byModel.set(model, (index = indexOf(model)));
  return index;
}

function indexOf(model: MeshModel): DependencyIndex {
  const policies = new Map(model.policies.map((p) => [p.service, p]));
  const services = new Map<string, string>();
  const reads = new Map<string, readonly string[]>();
  for (const s of model.services) {
    const e = serviceEntry(s, policies.get(s.name));
    services.set(s.name, e.hash);
    // A duplicated name (MESH030, an error: never compiled) reads what its last manifest reads, as before.
    reads.set(s.name, e.reads);
  }
  // An ingress gateway (translate/gateway.ts) is a node too: it reads its own declaration and the
  // services its routes reach; a service whose access names it reads its hash as a caller's. One
  // named like a service (MESH220) is not a node of its own.
  for (const g of model.gateways ?? []) {
    if (services.has(g.name)) continue;
    services.set(g.name, hashOf(['gateway', g]));
    reads.set(g.name, [...new Set([g.name, ...g.routes.map((r) => r.to)])].sort());
  }
  const global = hashOf({
    dir: model.dir,
    displayDir: model.displayDir,
    settings: model.settings,
    externals: model.externals ?? [],
    guardrails: model.guardrails ?? [],
  });
  return { global, services, reads };
}

/**
 * The nodes of `next` to recompute after `prev` was compiled: all of them when
 * there is no `prev` or a mesh-wide input changed, else those reading a
 * service whose hash changed, appeared or disappeared (a node's own manifest
 * changing its calls changes its own hash, so new reads are covered).
 */
export function nodesToRecompute(prev: DependencyIndex | undefined, next: DependencyIndex): Set<string> {
  if (!prev || prev.global !== next.global) return new Set(next.reads.keys());
  const changed = new Set<string>();
  for (const [name, h] of next.services) if (prev.services.get(name) !== h) changed.add(name);
  for (const name of prev.services.keys()) if (!next.services.has(name)) changed.add(name);
  const out = new Set<string>();
  for (const [node, names] of next.reads) if (names.some((n) => changed.has(n))) out.add(node);
  return out;
}
