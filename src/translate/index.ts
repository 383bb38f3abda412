import * as path from 'node:path';
/**
 * model -> IR. One node per service; each node is built by an ordered list of
 * small processors (Contour's pattern), one file per policy kind. Order
 * matters only where a processor reads what an earlier one wrote (noted per
 * entry); everything is sorted at the end (finalize.ts), so input order never
 * shows in the output.
 *
 * Invalid references (unknown callee, denied call, access rule for an unknown
 * service) are skipped, never fatal: the lint reports them with positions.
 */
import type { Diagnostic } from '../diag/diagnostic';
import type { MeshModel, ServiceManifest } from '../model/types';
import type { MeshIR, NodeIR, PolicyGap } from '../ir/types';
import { compareStrings, sortedBy, uniqueSorted } from '../ir/sort';
import { buildContext, type TranslateContext, type TranslateOptions } from './context';
import { newDraft, type NodeDraft } from './draft';
import { identityProcessor } from './node';
import { accessProcessor } from './access';
import { upstreamsProcessor } from './upstreams';
import { externalsProcessor } from './externals';
import { guardrailsProcessor } from './guardrails';
import { splitProcessor } from './split';
import { routesProcessor } from './routes';
import { endpointsProcessor } from './endpoints';
import { retriesProcessor } from './retries';
import { timeoutsProcessor } from './timeouts';
import { circuitBreakerProcessor } from './circuit-breaker';
import { rateLimitProcessor } from './ratelimit';
import { grpcGapsProcessor } from './grpc-gaps';
import { finalizeNode } from './finalize';
import { runSync, type Steps } from '../util/sliced';
import { gatewayManifests, gatewayNode } from './gateway';

export type Processor = (ctx: TranslateContext, draft: NodeDraft) => void;

export const PROCESSORS: readonly { readonly name: string; readonly run: Processor }[] = [
  // First: names, ports and identity that everything else hangs off.
  { name: 'identity', run: identityProcessor },
  { name: 'access', run: accessProcessor },
  // Needs nothing but the model; creates one upstream per allowed call.
  { name: 'upstreams', run: upstreamsProcessor },
  // Calls to external systems: their own virtual hosts and clusters, nothing shared with the mesh upstreams.
  { name: 'externals', run: externalsProcessor },
  // After upstreams and externals: a guardrail rule attaches to the callees they allowed.
  { name: 'guardrails', run: guardrailsProcessor },
  // Decides each upstream's clusters; endpoints and circuit breakers fill those clusters.
  { name: 'split', run: splitProcessor },
  // After split (a route's split may add per-version clusters), before endpoints and breakers fill the clusters.
  { name: 'routes', run: routesProcessor },
  { name: 'endpoints', run: endpointsProcessor },
  { name: 'retries', run: retriesProcessor },
  { name: 'timeouts', run: timeoutsProcessor },
  { name: 'circuit-breaker', run: circuitBreakerProcessor },
  { name: 'rate-limit', run: rateLimitProcessor },
  // Last: reads the final upstream set to report what gRPC cannot enforce.
  { name: 'grpc-gaps', run: grpcGapsProcessor },
];

export interface TranslateResult {
  readonly ir: MeshIR;
  readonly diagnostics: Diagnostic[];
}

export function translateMesh(model: MeshModel, opts: TranslateOptions = {}, only?: (service: ServiceManifest) => boolean): TranslateResult {
  const ctx = buildContext(model, opts);
  // Gateways are nodes too (gateway.ts), compiled through the same processors.
  // A partial compile (an incremental apply, src/xds/control-plane.ts) filters them like services.
  const services = only ? nodeManifests(model).filter(only) : nodeManifests(model);
  const nodes: NodeIR[] = sortedBy(services, (s) => s.name).map((svc) => translateNode(ctx, svc));
  return {
    ir: { meshName: model.settings.name, trustDomain: model.settings.trustDomain, sources: sourcesOf(model), nodes },
    diagnostics: [],
  };
}

/** One service's node: every processor in order, then sorted (finalize). Nodes are independent. */
export function translateNode(ctx: TranslateContext, svc: ServiceManifest): NodeIR {
  const draft = newDraft(svc, ctx.policies.get(svc.name));
  for (const p of PROCESSORS) p.run(ctx, draft);
  const node = finalizeNode(draft);
  const gateway = ctx.services.has(svc.name) ? undefined : ctx.gateways.get(svc.name);
  return gateway ? gatewayNode(gateway, node) : node;
}

/** What becomes a node: every service, and every gateway (as its manifest, gateway.ts). */
export function nodeManifests(model: MeshModel): ServiceManifest[] {
  const gateways = gatewayManifests(model);
  return gateways.length ? [...model.services, ...gateways] : [...model.services];
}

/** Gaps computed by an earlier lint of a node whose inputs are unchanged (src/lint/gap-cache.ts). */
export interface GapReuse {
  known(service: string): readonly PolicyGap[] | undefined;
  learn(service: string, gaps: readonly PolicyGap[]): void;
}

/** Every gap of every proxyless gRPC node, for the lint (MESH070). Sorted by service, policy, target. */
export function grpcPolicyGaps(model: MeshModel, reuse?: GapReuse): PolicyGap[] {
  return runSync(grpcPolicyGapsSteps(model, reuse));
}

/** grpcPolicyGaps yielding between nodes (src/util/sliced.ts): the control plane's sliced apply. */
export function* grpcPolicyGapsSteps(model: MeshModel, reuse?: GapReuse): Steps<PolicyGap[]> {
  // Only proxyless nodes have gaps: translating the Envoy nodes too was a tenth of every lint.
  const grpc = model.services.filter((s) => s.protocol === 'grpc');
  const known = new Map<string, readonly PolicyGap[]>();
  for (const s of grpc) {
    const k = reuse?.known(s.name);
    if (k) known.set(s.name, k);
  }
  // translateMesh's nodes without its IR wrapper (sourcesOf over every file was most of a lint that reuses gaps).
  const missing = grpc.filter((s) => !known.has(s.name));
  const ctx = missing.length > 0 ? buildContext(model, {}) : undefined;
  const fresh: NodeIR[] = [];
  for (const s of missing) {
    const n = translateNode(ctx!, s);
    fresh.push(n);
    reuse?.learn(n.id, n.gaps);
    yield;
  }
  return [...fresh.flatMap((n) => n.gaps), ...[...known.values()].flat()]
    .sort(
      (a, b) => compareStrings(a.service, b.service) || compareStrings(a.policy, b.policy) || compareStrings(a.target, b.target),
    );
}

/** The files a mesh was compiled from, for the "generated from" marker. */
export function sourcesOf(model: MeshModel): string[] {
  // Positions, not ServiceManifest.file: every position uses the same (display) path form.
  const files = [model.settings.pos.file, ...model.services.map((s) => s.pos.file), ...(model.gateways ?? []).map((g) => g.pos.file)];
  for (const p of model.policies) {
    for (const pos of [p.access.pos, p.retries.pos, p.timeouts.pos, p.rateLimit?.pos, p.circuitBreaker?.pos, p.split?.pos, p.routes?.[0]?.pos]) {
      if (pos) files.push(pos.file);
    }
  }
  // Relative to the mesh directory: `mesh build ./examples/ceq` and `mesh build examples/ceq` must write the same bytes.
  // Each distinct file once: the policy file is named by every service's policies (80,000 times at 10,000 services).
  return uniqueSorted([...new Set(files)].map((f) => path.relative(model.displayDir, f).split(path.sep).join('/')));
}

export type { TranslateContext, TranslateOptions } from './context';
export { buildContext } from './context';
export { GRPC_REQUIRED_ENV, gapSummary } from './grpc-gaps';
