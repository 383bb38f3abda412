/**
 * `mesh explain` as a pure function: one request from a caller to a callee,
 * evaluated offline against the compiled config. The answer reflects what the
 * data plane does because it reads the same resources the proxies are served
 * (the caller's routes and clusters, the callee's RBAC and rate limit); the
 * IR only supplies each value's provenance.
 *
 * Pure on purpose: the end-to-end tests against the live proxyless gRPC data
 * plane call it and compare its verdict with what the real call did.
 */
import { UserError } from '../../diag/errors';
import { compileMesh, type CompileResult, type NodeOutput } from '../../envoy';
import type { MeshModel } from '../../model/types';
import { gapSummary, nodeManifests } from '../../translate';
import { formatProvenance, provenanceJson } from '../provenance';
import { calleeSide, sanAccepted, type CalleeView } from './callee-side';
import { callerRoute } from './caller-side';
import type { Headers } from './match';
import { explainExternal } from './external';
import { guardrailRefusal, guardrailsOn } from './guardrail';
import type { ExplainRequest, ExplainResult, ExternalExplainResult, RouteAnswer, Verdict } from './types';

/** A model, its compiled output, or both (the model adds the `calls:` line of edges the compiler left out). */
export type ExplainSource = MeshModel | CompileResult | { readonly model: MeshModel; readonly compiled: CompileResult };

/**
 * A call to a service (explainRequest), to a declared external system (by its
 * name or host), or to a host the mesh does not declare (one with a dot or a
 * port: a bare unknown name is still MESH111, most likely a typo).
 */
export function explainCall(source: ExplainSource, caller: string, callee: string, request: ExplainRequest = {}): ExplainResult | ExternalExplainResult {
  const { model, compiled } = resolveSource(source);
  if (compiled.nodes.some((n) => n.id === callee)) return explainRequest({ ...(model ? { model } : {}), compiled } as ExplainSource, caller, callee, request);
  const externals = model?.externals ?? [];
  const e = externals.find((x) => x.name === callee) ?? externals.find((x) => x.host === callee);
  if (!e && !/[.:]/.test(callee)) nodeOf(compiled, callee, 'callee', externals.map((x) => x.name));
  if (externals.some((x) => x.name === caller)) throw new UserError('MESH111', `caller "${caller}" is an external system: it has no sidecar, and its calls do not pass through the mesh`);
  const from = nodeOf(compiled, caller, 'caller');
  const req = normalizeRequest(request, callee);
  const headers: Headers = new Map([...Object.entries(req.headers), [':method', req.method], [':path', req.path], [':authority', req.authority]]);
  return explainExternal(model, from, callee, e, req, headers);
}

export function explainRequest(source: ExplainSource, caller: string, callee: string, request: ExplainRequest = {}): ExplainResult {
  const { model, compiled } = resolveSource(source);
  const from = nodeOf(compiled, caller, 'caller');
  const to = nodeOf(compiled, callee, 'callee');
  const req = normalizeRequest(request, from.ir.gateway ? gatewayAuthority(from, callee) : callee);
  const headers: Headers = new Map([
    ...Object.entries(req.headers),
    [':method', req.method],
    [':path', req.path],
    [':authority', req.authority],
  ]);
  const principal = from.ir.identity.spiffeId;
  const inbound = calleeSide(to, principal, headers);
  const routed = toCallee(callerRoute(from, req.authority, headers), from, callee);
  const route = 'route' in routed ? routed.route : undefined;
  const callerClusters = from.ir.clusters.filter((c) => c.service === callee).map((c) => c.name);
  const call = from.ir.outbound.virtualHosts.find((v) => v.service === callee)?.callPos
    // A gateway's manifest (translate/gateway.ts) has its routes' services as calls, denied ones included.
    ?? (model ? nodeManifests(model) : []).find((s) => s.name === caller)?.calls.find((c) => c.target === callee)?.pos;
  const vh = 'failure' in routed ? undefined : from.resources.routes.flatMap((rc) => (rc['virtual_hosts'] as Record<string, unknown>[] | undefined) ?? []).find((v) => v['name'] === routed.route.virtualHost);
  const guardrails = route ? guardrailsOn(from, callee, vh, headers) : [];
  const decided = decide(from, to, inbound, routed, route, call !== undefined);
  const g = decided.verdict === 'allowed' ? guardrailRefusal(guardrails) : undefined;
  const { verdict, reason } = g
    ? { verdict: 'denied' as const, reason: `guardrail ${g.rule} finds what it detects in header ${g.header}: ${caller}'s sidecar answers 403 (x-mesh-error: guardrail) before ${callee} sees it` }
    : decided;
  return {
    caller,
    callee,
    request: req,
    verdict,
    reason,
    ...(from.ir.gateway ? { callerIsGateway: true } : {}),
    ...(call ? { declaredCall: provenanceJson({ kind: 'file', pos: call }) } : {}),
    access: inbound.access,
    mtls: {
      calleeAcceptsCaller: inbound.calleeAcceptsCaller,
      ...(callerClusters.length ? { callerAcceptsCallee: callerAcceptsCallee(from, callerClusters, to.ir.identity.spiffeId) } : {}),
    },
    ...(route ? { route } : {}),
    callerClusters,
    ...(inbound.rateLimit ? { rateLimit: inbound.rateLimit } : {}),
    ...(inbound.inboundTimeout ? { inboundTimeout: inbound.inboundTimeout } : {}),
    ...(guardrails.length ? { guardrails } : {}),
    notes: notesFor(from, to, route),
  };
}

/** A citizen addresses the gateway by a public name: by default the host of its first route to the callee (else its first hostname). */
function gatewayAuthority(from: NodeOutput, callee: string): string {
  const chains = from.ir.gateway!.listeners.flatMap((l) => l.chains);
  const vh = chains.flatMap((c) => c.virtualHosts).find((v) => v.routes.some((r) => r.service === callee));
  return vh?.hostname.replace(/^\*\./, 'www.') ?? chains[0]?.hostnames[0]?.replace(/^\*\./, 'www.') ?? callee;
}

/** A gateway's routes pick the service by host and path: one that reaches another service is no route to this callee. */
function toCallee(routed: ReturnType<typeof callerRoute>, from: NodeOutput, callee: string): ReturnType<typeof callerRoute> {
  if (!('route' in routed) || routed.route.service === undefined || routed.route.service === callee) return routed;
  return { failure: `gateway ${from.id}'s route ${routed.route.route} for ${routed.route.virtualHost} sends this request to ${routed.route.service}, not ${callee}` };
}

function nodeOf(compiled: CompileResult, name: string, role: string, externals: readonly string[] = []): NodeOutput {
  const node = compiled.nodes.find((n) => n.id === name);
  if (!node) {
    const known = compiled.nodes.filter((n) => !n.ir.gateway).map((n) => n.id).join(', ');
    const gateways = compiled.nodes.filter((n) => n.ir.gateway).map((n) => n.id);
    const ext = `${gateways.length ? `; gateways: ${gateways.join(', ')}` : ''}${externals.length ? `; external systems: ${externals.join(', ')}` : ''}`;
    throw new UserError('MESH111', `${role} "${name}" is not a service of the mesh (services: ${known}${ext})`);
  }
  return node;
}

function normalizeRequest(r: ExplainRequest, callee: string): ExplainResult['request'] {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(r.headers ?? {})) headers[k.toLowerCase()] = v;
  // The app calls its sidecar with Host = the callee's name; a gRPC channel's authority is its target's.
  const authority = headers['host'] ?? headers[':authority'] ?? callee;
  delete headers[':authority'];
  return { method: (r.method ?? 'GET').toUpperCase(), path: r.path ?? '/', authority, headers };
}

function resolveSource(source: ExplainSource): { model?: MeshModel; compiled: CompileResult } {
  if ('compiled' in source) return source;
  if ('nodes' in source && 'ir' in source) return { compiled: source };
  return { model: source, compiled: compileMesh(source) };
}

function decide(
  from: NodeOutput, to: NodeOutput, inbound: CalleeView, routed: ReturnType<typeof callerRoute>, route: RouteAnswer | undefined, declared: boolean,
): { verdict: Verdict; reason: string } {
  const a = inbound.access;
  if (a.decision === 'deny') {
    const why = a.accessPolicy.kind === 'builtin'
      ? `${to.id} has no access policy, so nobody may call it (default deny)`
      : `access.${to.id}.allow (${formatProvenance(a.accessPolicy)}) does not list ${from.id}`;
    const also = route ? '' : `; ${from.id}'s proxy has no route to it either (the compiler leaves denied calls out)`;
    return { verdict: 'denied', reason: `${to.id}'s RBAC on ${a.listener} denies ${a.principal}: ${why}${also}` };
  }
  if (!inbound.calleeAcceptsCaller) {
    return { verdict: 'denied', reason: `${to.id}'s listener ${a.listener} rejects the TLS certificate of ${a.principal}` };
  }
  if ('failure' in routed) {
    const hint = declared ? '' : from.ir.gateway
      ? `; no route of gateway ${from.id} goes to ${to.id} (${from.ir.file})`
      : `; ${from.id} does not list ${to.id} under calls: (${from.ir.file})`;
    return { verdict: 'no-route', reason: `${routed.failure}${hint}` };
  }
  const missing = route!.clusters.filter((c) => !c.present).map((c) => c.name);
  if (missing.length) return { verdict: 'no-route', reason: `${from.id}'s route points at cluster(s) it does not have: ${missing.join(', ')} (503 NC)` };
  const rule = a.rule ? ` (${formatProvenance(a.rule)})` : '';
  const split = route!.clusters.map((c) => `${c.name} ${c.percent}%`).join(', ');
  const f = route!.fault;
  const fault = f
    ? `; FAULT INJECTION on route ${route!.route.split('|')[0]}: ${[f.abort ? `${f.abort.percent.value}% aborted with ${f.abort.status.value}` : '', f.delay ? `${f.delay.percent.value}% delayed ${f.delay.fixed.value}` : ''].filter(Boolean).join(', ')}`
    : '';
  return { verdict: 'allowed', reason: `allowed by ${a.policy ?? 'RBAC'}${rule}; routed to ${split}${fault}` };
}

function callerAcceptsCallee(from: NodeOutput, clusters: readonly string[], calleeId: string): boolean {
  return clusters.every((name) => {
    const c = from.resources.clusters.find((r) => r['name'] === name);
    return c !== undefined && sanAccepted(c['transport_socket'], calleeId);
  });
}

function notesFor(from: NodeOutput, to: NodeOutput, route: RouteAnswer | undefined): string[] {
  const notes: string[] = [];
  for (const g of from.ir.gaps.filter((g) => g.target === to.id)) {
    notes.push(`${from.id} (proxyless gRPC) ${gapSummary(g, false)}`);
  }
  for (const g of to.ir.gaps.filter((g) => g.target === to.id)) {
    notes.push(`${to.id} (proxyless gRPC) ${gapSummary(g, false)}`);
  }
  for (const c of route?.clusters ?? []) {
    if (c.staticEndpoints === 0) notes.push(`${c.name} has no static endpoints: requests routed there need instances registered with the control plane`);
  }
  return notes;
}
