/**
 * `mesh graph` as data: who may call whom. Three kinds of edge:
 *
 * - call: declared in the caller's `calls:` and allowed by the callee's access
 *   policy; labelled with what the compiled config applies to it (split,
 *   retries, timeout, circuit breaker, the callee's rate limit);
 * - denied: declared but the callee's access policy does not allow it
 *   (lint error MESH043; the compiler leaves it out, the call gets a 403);
 * - unused: allowed by the callee but not declared by the caller (its proxy
 *   has no route, so the permission is unused).
 *
 * Labels come from the IR (the compiled view), so a policy the compiler drops
 * (e.g. retries a gRPC caller cannot express) does not appear on the edge.
 */
import type { CompileResult } from '../../envoy';
import type { NodeIR, NodeKind, RouteIR, VirtualHostIR } from '../../ir/types';
import { compareStrings } from '../../ir/sort';
import type { MeshModel } from '../../model/types';

export type EdgeKind = 'call' | 'denied' | 'unused';

export interface GraphNode {
  readonly id: string;
  readonly kind: NodeKind;
  readonly versions: readonly string[];
  /** The service's own inbound rate limit, e.g. `50 rps`. */
  readonly rateLimit?: string;
}

export interface GraphEdge {
  readonly from: string;
  readonly to: string;
  readonly kind: EdgeKind;
  /** One policy per line, e.g. `split v1 90% / v2 10%`, `timeout 2s`. */
  readonly labels: readonly string[];
}

export interface MeshGraph {
  readonly mesh: string;
  /** Sorted by id. */
  readonly nodes: readonly GraphNode[];
  /** Sorted by from, then to. */
  readonly edges: readonly GraphEdge[];
}

export function meshGraph(model: MeshModel, compiled: CompileResult): MeshGraph {
  const irOf = new Map(compiled.ir.nodes.map((n) => [n.id, n]));
  const names = new Set(model.services.map((s) => s.name));
  const edges: GraphEdge[] = [];
  const declared = new Set<string>();
  for (const svc of model.services) {
    for (const call of svc.calls) {
      // Unknown callees (MESH040) have no node to point at.
      if (!names.has(call.target) || declared.has(`${svc.name}>${call.target}`)) continue;
      declared.add(`${svc.name}>${call.target}`);
      const vh = irOf.get(svc.name)?.outbound.virtualHosts.find((v) => v.service === call.target);
      edges.push(vh ? callEdge(svc.name, vh, irOf) : deniedEdge(model, svc.name, call.target));
    }
  }
  for (const p of model.policies) {
    for (const rule of p.access.allow) {
      if (!names.has(rule.caller) || declared.has(`${rule.caller}>${p.service}`)) continue;
      edges.push({ from: rule.caller, to: p.service, kind: 'unused', labels: ['allowed, not called'] });
    }
  }
  edges.sort((a, b) => compareStrings(a.from, b.from) || compareStrings(a.to, b.to));
  const versions = new Map(model.services.map((s) => [s.name, s.versions]));
  const nodes = [...irOf.values()].map((ir) => graphNode(ir, versions.get(ir.id) ?? [ir.version])).sort((a, b) => compareStrings(a.id, b.id));
  return { mesh: model.settings.name, nodes, edges };
}

function graphNode(ir: NodeIR, versions: readonly string[]): GraphNode {
  const rl = ir.inbound.rateLimit;
  return { id: ir.id, kind: ir.kind, versions, ...(rl ? { rateLimit: `${rl.rps.value} rps` } : {}) };
}

function callEdge(from: string, vh: VirtualHostIR, irOf: ReadonlyMap<string, NodeIR>): GraphEdge {
  const caller = irOf.get(from)!;
  const callee = irOf.get(vh.service);
  const labels: string[] = [];
  if (vh.split) labels.push(`split ${vh.targets.map((t) => `${t.version} ${t.weight.value}%`).join(' / ')}`);
  labels.push(`timeout ${seconds(vh.timeoutMs.value)}`);
  const r = vh.retry;
  labels.push(r ? `retries ${r.numRetries.value}${r.perTryTimeoutMs ? ` (${seconds(r.perTryTimeoutMs.value)}/try)` : ''}` : 'no retries');
  const cluster = caller.clusters.find((c) => c.name === vh.targets[0]?.cluster);
  if (cluster?.outlier) {
    const o = cluster.outlier;
    labels.push(`breaker ${o.failedCalls.value} fails / ${seconds(o.baseEjectionMs.value)}`);
  }
  const rl = callee?.inbound.rateLimit;
  if (rl) labels.push(`rate limit ${rl.rps.value} rps${rl.burst.value !== rl.rps.value ? ` (burst ${rl.burst.value})` : ''}`);
  for (const route of vh.routes ?? []) labels.push(...routeLabels(route, vh));
  return { from, to: vh.service, kind: 'call', labels };
}

/** One line per `routes:` entry (in the order the proxy tries them), and a loud one per injected fault. */
function routeLabels(r: RouteIR, vh: VirtualHostIR): string[] {
  const m = r.match;
  const conds = [
    ...(m.path ? [`${m.path.kind} ${m.path.value}`] : []),
    ...(m.methods ? [m.methods.join('|')] : []),
    ...m.headers.map((h) => (h.kind === 'present' ? h.name : `${h.name}${h.kind === 'exact' ? '=' : ` ${h.kind} `}${h.value}`)),
  ];
  const same = r.targets.length === vh.targets.length && r.targets.every((t, i) => t.cluster === vh.targets[i]!.cluster && t.weight.value === vh.targets[i]!.weight.value);
  const to = !same ? ` -> ${r.targets.map((t) => `${t.version ?? 'all'} ${t.weight.value}%`).join(' / ')}` : '';
  const f = r.fault;
  const faults = f
    ? [`FAULT ${r.name}: ${[f.abort ? `abort ${f.abort.status.value} ${f.abort.percent.value}%` : '', f.delay ? `delay ${seconds(f.delay.fixedMs.value)} ${f.delay.percent.value}%` : ''].filter(Boolean).join(', ')}`]
    : [];
  return [`route ${r.name}: ${conds.join(', ')}${to}`, ...faults];
}

function deniedEdge(model: MeshModel, from: string, to: string): GraphEdge {
  const policy = model.policies.find((p) => p.service === to)?.access;
  const why = policy?.pos ? `not in access.${to}.allow` : `${to} has no access policy`;
  return { from, to, kind: 'denied', labels: ['DENIED', why] };
}

/** 2000 -> `2s`, 500 -> `0.5s`, 90000 -> `90s`. */
export function seconds(ms: number): string {
  return `${ms / 1000}s`;
}
