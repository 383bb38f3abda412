/**
 * Which source line made a field of a compiled resource what it is.
 *
 * The IR keeps a provenance on every policy value; the Envoy layer does not.
 * This maps one to the other with a small rule table per node: a rule names a
 * resource and an anchor (path segments that must appear, in order, in the
 * changed field's path) and the provenances behind it. The most specific
 * (longest) matching anchor wins; the empty anchor is the resource itself.
 * Anchors name the fields the compiler writes (src/envoy/*.ts): when a new
 * field appears there without a rule here, its changes fall back to the
 * resource-level cause, never to nothing.
 */
import type { NodeOutput } from '../../envoy';
import type { NodeIR, OutlierIR, LimitsIR, RetryIR, VirtualHostIR, UpstreamClusterIR } from '../../ir/types';
import type { MeshModel, Provenance, Valued } from '../../model/types';
import { fileProvenance, sameProvenance } from '../provenance';
import { sameSeg, type PathSeg } from './json-diff';

/** Resource kinds of src/envoy, plus the rendered bootstrap. */
export type BlameKind = 'listeners' | 'routes' | 'clusters' | 'endpoints' | 'secrets' | 'bootstrap';

export interface BlameRule {
  readonly kind: BlameKind;
  readonly resource: string;
  readonly anchor: readonly PathSeg[];
  readonly from: readonly Provenance[];
}

const k = (key: string): PathSeg => ({ key });
const n = (name: string): PathSeg => ({ name });
const froms = (...vals: (Valued<unknown> | undefined)[]): Provenance[] => vals.flatMap((v) => (v ? [v.from] : []));

/** The blame rules of one compiled node; `nodes` (every node of the same build) gives callees' access rules. */
export function blameRules(node: NodeOutput, nodes: readonly NodeOutput[], model: MeshModel): BlameRule[] {
  const ir = node.ir;
  const rules: BlameRule[] = [...inboundRules(ir, model), ...bootstrapRules(ir, model)];
  for (const vh of ir.outbound.virtualHosts) rules.push(...virtualHostRules(ir, vh, nodes, model));
  if (ir.outbound.listenerName) {
    const own = model.services.find((s) => s.name === ir.service)?.fieldPos['sidecar.outbound_port'];
    rules.push({ kind: 'listeners', resource: ir.outbound.listenerName, anchor: [], from: [own ? fileProvenance(own) : settingsFrom(model)] });
  }
  for (const s of ir.secrets) rules.push({ kind: 'secrets', resource: s.name, anchor: [], from: [fileProvenance(ir.pos)] });
  return rules;
}

/** Provenances behind a change at `path` of one resource: the longest matching anchor's (ties merge). */
export function blame(rules: readonly BlameRule[], kind: BlameKind, resource: string, path: readonly PathSeg[]): Provenance[] {
  let best: BlameRule[] = [];
  for (const r of rules) {
    if (r.kind !== kind || r.resource !== resource || !isSubsequence(r.anchor, path)) continue;
    if (best.length === 0 || r.anchor.length > best[0].anchor.length) best = [r];
    else if (r.anchor.length === best[0].anchor.length) best.push(r);
  }
  const all = dedupe(best.flatMap((r) => r.from));
  // A builtin beside a written line adds nothing a reviewer can act on (e.g. the fixed 1 s fill interval of a rate limit).
  const written = all.filter((p) => p.kind !== 'builtin');
  return written.length ? written : all;
}

function inboundRules(ir: NodeIR, model: MeshModel): BlameRule[] {
  const resource = ir.inbound.listenerName;
  const rule = (anchor: PathSeg[], from: Provenance[]): BlameRule => ({ kind: 'listeners', resource, anchor, from });
  // Envoy sidecars keep access, rate limit and timeout in the inbound RDS config of the same name
  // (src/envoy/route.ts); proxyless gRPC servers in the listener.
  const inRoute = ir.kind === 'envoy';
  const policy = (anchor: PathSeg[], from: Provenance[]): BlameRule => ({ kind: inRoute ? 'routes' : 'listeners', resource, anchor, from });
  const svc = model.services.find((s) => s.name === ir.service);
  const portPos = ir.kind === 'envoy' ? svc?.fieldPos['mesh_port'] : svc?.fieldPos['port'];
  const rbac = inRoute ? [k('envoy.filters.http.rbac')] : [n('envoy.filters.http.rbac')];
  const rules = [
    rule([], [fileProvenance(ir.pos)]),
    ...(inRoute ? [policy([], [fileProvenance(ir.pos)])] : []),
    rule([k('address')], [portPos ? fileProvenance(portPos) : settingsFrom(model)]),
    policy(rbac, [ir.inbound.access.from]),
    ...ir.inbound.access.allowed.map((c) => policy([...rbac, k('policies'), k(`allow|${c.service}`)], [c.from])),
    policy(inRoute ? [k('route'), k('timeout')] : [k('route_config'), k('timeout')], [ir.inbound.timeoutMs.from]),
  ];
  const rl = ir.inbound.rateLimit;
  if (rl) {
    const filter = inRoute ? k('envoy.filters.http.local_ratelimit') : n('envoy.filters.http.local_ratelimit');
    const bucket = [filter, k('token_bucket')];
    rules.push(
      policy([filter], froms(rl.rps, rl.burst, rl.fillIntervalMs)),
      policy([...bucket, k('max_tokens')], froms(rl.burst)),
      policy([...bucket, k('tokens_per_fill')], froms(rl.rps)),
      policy([...bucket, k('fill_interval')], froms(rl.fillIntervalMs)),
    );
  }
  if (ir.inbound.localCluster) {
    const port = svc?.fieldPos['port'];
    rules.push({ kind: 'clusters', resource: ir.inbound.localCluster.name, anchor: [], from: [fileProvenance(port ?? ir.pos)] });
  }
  return rules;
}

function virtualHostRules(ir: NodeIR, vh: VirtualHostIR, nodes: readonly NodeOutput[], model: MeshModel): BlameRule[] {
  // Why the callee is reachable at all: the `calls:` entry and the callee's access rule for this caller.
  const callee = nodes.find((x) => x.id === vh.service)?.ir;
  const allowRule = callee?.inbound.access.allowed.find((a) => a.service === ir.service)?.from;
  const why = [fileProvenance(vh.callPos), ...(allowRule ? [allowRule] : [])];
  const grpc = ir.kind === 'grpc';
  // Envoy: one route config, a virtual host per callee. gRPC: one route config per callee.
  const routeResource = vh.routeConfigName;
  const scope = grpc ? [] : [k('virtual_hosts'), n(vh.name)];
  const route = (anchor: PathSeg[], from: Provenance[]): BlameRule => ({ kind: 'routes', resource: routeResource, anchor: [...scope, ...anchor], from });
  const rules: BlameRule[] = [
    route([], why),
    route([k('timeout')], froms(vh.timeoutMs)),
    route([k('max_stream_duration')], froms(vh.timeoutMs)),
    route([k('cluster')], vh.targets.map((t) => t.weight.from)),
    route([k('weighted_clusters')], [...(vh.split ? [vh.split] : []), ...vh.targets.map((t) => t.weight.from)]),
    ...vh.targets.map((t) => route([k('weighted_clusters'), n(t.cluster)], [t.weight.from])),
    ...retryRules(vh.retry).map(([anchor, from]) => route(anchor, from)),
  ];
  if (vh.apiListenerName) rules.push({ kind: 'listeners', resource: vh.apiListenerName, anchor: [], from: why });
  for (const t of vh.targets) {
    const cluster = ir.clusters.find((c) => c.name === t.cluster);
    const clusterWhy = [...why, ...(vh.split ? [t.weight.from] : [])];
    rules.push(...clusterRules(cluster, t.cluster, clusterWhy, model));
    const la = ir.loadAssignments.find((l) => l.clusterName === t.cluster);
    // An EDS resource exists because its cluster does; its contents are the manifest's static endpoints.
    const eps = la?.endpoints.map((e) => fileProvenance(e.pos)) ?? [];
    rules.push({ kind: 'endpoints', resource: t.cluster, anchor: [], from: clusterWhy });
    rules.push({ kind: 'endpoints', resource: t.cluster, anchor: [k('endpoints')], from: eps.length ? eps : clusterWhy });
  }
  return rules;
}

function retryRules(r: RetryIR | undefined): [PathSeg[], Provenance[]][] {
  if (!r) return [];
  return [
    [[k('retry_policy')], froms(r.numRetries, r.retryOn, r.perTryTimeoutMs)],
    [[k('retry_policy'), k('num_retries')], froms(r.numRetries)],
    [[k('retry_policy'), k('retry_on')], froms(r.retryOn)],
    [[k('retry_policy'), k('per_try_timeout')], froms(r.perTryTimeoutMs)],
  ];
}

const OUTLIER_FIELDS: readonly [string, keyof OutlierIR][] = [
  ['consecutive_5xx', 'consecutiveFailures'],
  ['consecutive_gateway_failure', 'consecutiveFailures'],
  ['consecutive_local_origin_failure', 'consecutiveFailures'],
  ['failure_percentage_request_volume', 'consecutiveFailures'],
  ['base_ejection_time', 'baseEjectionMs'],
  ['interval', 'intervalMs'],
  ['max_ejection_percent', 'maxEjectionPercent'],
];

const LIMIT_FIELDS: readonly [string, keyof LimitsIR][] = [
  ['max_connections', 'maxConnections'],
  ['max_pending_requests', 'maxPendingRequests'],
  ['max_requests', 'maxRequests'],
  ['max_retries', 'maxRetries'],
];

function clusterRules(c: UpstreamClusterIR | undefined, name: string, why: Provenance[], model: MeshModel): BlameRule[] {
  const rule = (anchor: PathSeg[], from: Provenance[]): BlameRule => ({ kind: 'clusters', resource: name, anchor, from });
  const rules = [rule([], why)];
  if (!c) return rules;
  rules.push(rule([k('connect_timeout')], froms(c.connectTimeoutMs)));
  rules.push(rule([k('transport_socket')], [settingsFrom(model), ...why]));
  const o = c.outlier;
  if (o) {
    rules.push(rule([k('outlier_detection')], froms(o.consecutiveFailures, o.baseEjectionMs, o.intervalMs, o.maxEjectionPercent)));
    for (const [field, key] of OUTLIER_FIELDS) rules.push(rule([k('outlier_detection'), k(field)], froms(o[key])));
  }
  const l = c.limits;
  if (l) {
    rules.push(rule([k('circuit_breakers')], froms(l.maxConnections, l.maxPendingRequests, l.maxRequests)));
    for (const [field, key] of LIMIT_FIELDS) rules.push(rule([k('circuit_breakers'), k(field)], froms(l[key])));
  }
  return rules;
}

function bootstrapRules(ir: NodeIR, model: MeshModel): BlameRule[] {
  return [{ kind: 'bootstrap', resource: 'bootstrap', anchor: [], from: [settingsFrom(model), fileProvenance(ir.pos)] }];
}

/** mesh.yml: MeshSettings keeps only the file's position (per-key positions would need the loader to record them). */
function settingsFrom(model: MeshModel): Provenance {
  return fileProvenance(model.settings.pos);
}

function isSubsequence(anchor: readonly PathSeg[], path: readonly PathSeg[]): boolean {
  let i = 0;
  for (const seg of path) if (i < anchor.length && sameSeg(anchor[i], seg)) i++;
  return i === anchor.length;
}

function dedupe(list: Provenance[]): Provenance[] {
  const out: Provenance[] = [];
  for (const p of list) if (!out.some((q) => sameProvenance(p, q))) out.push(p);
  return out;
}
