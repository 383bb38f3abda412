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
 *
 * External systems (`externals:`) are nodes of their own kind, outside the
 * mesh: the same three edge kinds, decided by the caller's `calls:` and
 * access.<external> (an allowed call compiles to a TLS-originating route in
 * the caller's sidecar; a denied one to nothing, so the sidecar answers 404).
 *
 * An ingress gateway is a node of its own kind and a caller like any service
 * (its routes are its calls, translate/gateway.ts); its edges also carry the
 * host and path of each route to that service.
 */
import type { CompileResult } from '../../envoy';
import type { ExternalUpstreamIR, NodeIR, NodeKind, RouteIR, VirtualHostIR } from '../../ir/types';
import { nodeManifests } from '../../translate';
import { compareStrings, uniqueSorted } from '../../ir/sort';
import type { MeshModel } from '../../model/types';

export type EdgeKind = 'call' | 'denied' | 'unused';

/** A sidecar or proxyless member, an ingress gateway, or an external system (outside the mesh). */
export type GraphNodeKind = NodeKind | 'gateway' | 'external';

export interface GraphNode {
  readonly id: string;
  readonly kind: GraphNodeKind;
  readonly versions: readonly string[];
  /** The service's own inbound rate limit, e.g. `50 rps`. */
  readonly rateLimit?: string;
  /** What else identifies it: a gateway's public names and ports. */
  readonly detail?: string;
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
  // Gateways are callers like services: their routes are their calls (translate/gateway.ts).
  const callers = nodeManifests(model);
  const names = new Set(callers.map((s) => s.name));
  const externals = new Map((model.externals ?? []).map((e) => [e.name, e]));
  const edges: GraphEdge[] = [];
  const declared = new Set<string>();
  for (const svc of callers) {
    for (const call of svc.calls) {
      // Unknown callees (MESH040) have no node to point at.
      if ((!names.has(call.target) && !externals.has(call.target)) || declared.has(`${svc.name}>${call.target}`)) continue;
      declared.add(`${svc.name}>${call.target}`);
      const caller = irOf.get(svc.name);
      const ext = externals.get(call.target);
      if (ext) {
        const up = caller?.outbound.externals?.find((x) => x.name === ext.name);
        edges.push(up ? externalEdge(caller!, up) : deniedEdge(svc.name, ext.name, ext.policies.access.pos !== undefined));
        continue;
      }
      const vh = caller?.outbound.virtualHosts.find((v) => v.service === call.target);
      if (!vh) edges.push(deniedEdge(svc.name, call.target, model.policies.find((p) => p.service === call.target)?.access.pos !== undefined));
      else edges.push(caller?.gateway ? gatewayEdge(caller, vh, irOf) : callEdge(svc.name, vh, irOf));
    }
  }
  // Permissions nobody uses: an access rule (of a service or an external system) whose caller does not declare the call.
  for (const p of [...model.policies, ...[...externals.values()].map((e) => e.policies)]) {
    for (const rule of p.access.allow) {
      if (!names.has(rule.caller) || declared.has(`${rule.caller}>${p.service}`)) continue;
      edges.push({ from: rule.caller, to: p.service, kind: 'unused', labels: ['allowed, not called'] });
    }
  }
  edges.sort((a, b) => compareStrings(a.from, b.from) || compareStrings(a.to, b.to));
  const versions = new Map(model.services.map((s) => [s.name, s.versions]));
  const nodes = [
    ...[...irOf.values()].map((ir) => graphNode(ir, versions.get(ir.id) ?? [])),
    ...[...externals.values()].map((e): GraphNode => ({ id: e.name, kind: 'external', versions: [], detail: `external ${e.host}:${e.port}` })),
  ].sort((a, b) => compareStrings(a.id, b.id));
  return { mesh: model.settings.name, nodes, edges };
}

function graphNode(ir: NodeIR, versions: readonly string[]): GraphNode {
  if (ir.gateway) {
    const listeners = ir.gateway.listeners.map((l) => `${uniqueSorted(l.chains.flatMap((c) => c.hostnames)).join(', ')}:${l.port}`);
    return { id: ir.id, kind: 'gateway', versions: [], detail: `gateway ${listeners.join('; ')}` };
  }
  const rl = ir.inbound.rateLimit;
  return { id: ir.id, kind: ir.kind, versions, ...(rl ? { rateLimit: `${rl.rps.value} rps` } : {}) };
}

/** A gateway's edge: the callee's policy labels (the gateway is its caller), then one line per route that reaches it, in the order Envoy tries them. */
function gatewayEdge(gw: NodeIR, vh: VirtualHostIR, irOf: ReadonlyMap<string, NodeIR>): GraphEdge {
  const edge = callEdge(gw.id, vh, irOf);
  const routes = gw.gateway!.listeners.flatMap((l) => l.chains.flatMap((c) => c.virtualHosts.flatMap((v) =>
    v.routes.filter((r) => r.service === vh.service).map((r) => `${v.hostname}:${l.port} ${r.path.kind} ${r.path.value}${r.timeoutMs.value !== vh.timeoutMs.value ? ` (timeout ${seconds(r.timeoutMs.value)})` : ''}`))));
  return { ...edge, labels: [...routes.map((r) => `route ${r}`), ...edge.labels] };
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

function deniedEdge(from: string, to: string, hasPolicy: boolean): GraphEdge {
  return { from, to, kind: 'denied', labels: ['DENIED', hasPolicy ? `not in access.${to}.allow` : `${to} has no access policy`] };
}

/**
 * A call leaving the mesh: the caller's sidecar originates TLS to the declared
 * host (translate/externals.ts), with the external's timeout and retries, and
 * the guardrail rules that inspect what it sends there.
 */
function externalEdge(caller: NodeIR, up: ExternalUpstreamIR): GraphEdge {
  const labels = [`TLS to ${up.host}:${up.port}${up.sni !== up.host ? ` (SNI ${up.sni})` : ''}`, `timeout ${seconds(up.timeoutMs.value)}`];
  const r = up.retry;
  labels.push(r ? `retries ${r.numRetries.value}${r.perTryTimeoutMs ? ` (${seconds(r.perTryTimeoutMs.value)}/try)` : ''}` : 'no retries');
  const rules = caller.outbound.guardrails?.find((g) => g.external && g.callee === up.name)?.rules ?? [];
  for (const g of rules) labels.push(`GUARDRAIL ${g.name} (${g.detect.join(', ')}, fail ${g.failClosed ? 'closed' : 'open'})`);
  return { from: caller.id, to: up.name, kind: 'call', labels };
}

/** 2000 -> `2s`, 500 -> `0.5s`, 90000 -> `90s`. */
export function seconds(ms: number): string {
  return `${ms / 1000}s`;
}
