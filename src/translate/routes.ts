/**
 * Processor: request-level routes (`routes.<callee>`). Runs after split.ts
 * and before endpoints.ts: a route's own split may need per-version clusters
 * the callee's policy alone did not, and those clusters need endpoints and
 * circuit breakers like any other.
 *
 * Routes are ordered most specific first (src/model/route-order.ts); the
 * callee's own route(s) stay last, for every request no route matches.
 *
 * Proxyless gRPC callers: every gRPC call is a POST, so a route whose
 * `method:` leaves out POST can never match and is left out, and one that
 * includes it is compiled without the method condition. Fault injection is
 * not compiled for them. Both are reported as gaps (grpc-gaps.ts, MESH070).
 */
import type { FaultIR, RouteIR, RouteMatchIR } from '../ir/types';
import { orderRoutes } from '../model/route-order';
import type { RoutePolicy } from '../model/types';
import type { TranslateContext } from './context';
import type { NodeDraft, UpstreamDraft } from './draft';
import { retryFor } from './retries';
import { splitTargets } from './split';

export function routesProcessor(_ctx: TranslateContext, draft: NodeDraft): void {
  for (const up of draft.upstreams) {
    const routes = up.policies.routes;
    if (!routes) continue;
    const compiled = orderRoutes(routes)
      .filter((r) => draft.kind !== 'grpc' || !r.match.methods || r.match.methods.values.includes('POST'))
      .map((r) => compileRoute(draft, up, r));
    up.routes = compiled;
  }
}

function compileRoute(draft: NodeDraft, up: UpstreamDraft, r: RoutePolicy): RouteIR {
  const { clusters, targets } = splitTargets(up.target.name, r.split);
  for (const c of clusters) if (!up.clusters.some((have) => have.name === c.name)) up.clusters.push(c);
  const retry = retryFor(draft.kind, r.retries, up.target.protocol === 'http');
  const grpc = draft.kind === 'grpc';
  return {
    name: r.name,
    match: matchIR(r, grpc),
    targets,
    ...(r.split ? { split: { kind: 'file', pos: r.split.pos } } : {}),
    ...(retry ? { retry } : {}),
    timeoutMs: r.timeouts.requestMs,
    ...(r.fault && !grpc ? { fault: faultIR(r) } : {}),
    pos: r.pos,
  };
}

function matchIR(r: RoutePolicy, grpc: boolean): RouteMatchIR {
  const m = r.match;
  return {
    ...(m.path ? { path: { kind: m.path.kind, value: m.path.value } } : {}),
    ...(m.methods && !grpc ? { methods: m.methods.values } : {}),
    headers: m.headers.map((h) => ({ name: h.name, kind: h.kind, ...(h.value !== undefined ? { value: h.value } : {}) })),
    from: { kind: 'file', pos: m.pos },
  };
}

function faultIR(r: RoutePolicy): FaultIR {
  const f = r.fault!;
  return {
    ...(f.delay ? { delay: f.delay } : {}),
    ...(f.abort ? { abort: f.abort } : {}),
    from: { kind: 'file', pos: f.pos },
  };
}
