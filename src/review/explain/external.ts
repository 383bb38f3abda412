/**
 * `mesh explain <caller> <external>` and `mesh explain <caller> <host>`: a
 * call leaving the mesh. No callee sidecar decides anything: the compiler
 * gives the caller's sidecar a virtual host for an external system only when
 * the call is declared and access.<external> allows it (translate/
 * externals.ts); every other host finds no virtual host and the sidecar
 * answers 404 with `x-mesh-error: no-route`. The route, TLS origination and
 * guardrail rules are read from the caller's compiled resources.
 */
import type { NodeOutput } from '../../envoy';
import type { JsonObject } from '../../envoy/proto-json';
import type { ExternalService, MeshModel } from '../../model/types';
import { formatProvenance, provenanceJson } from '../provenance';
import { callerVirtualHost, retryOf } from './caller-side';
import { guardrailRefusal, guardrailsOn } from './guardrail';
import { byName, findRoute, list, obj, type Headers } from './match';
import type { ExplainResult, ExternalExplainResult, ExternalRouteAnswer, GuardrailAnswer } from './types';

const NO_ROUTE = { status: 404, meshError: 'no-route' } as const;

/** `target` is an external's name or a host; `e` the external it names (by name or host), if any. */
export function explainExternal(model: MeshModel | undefined, from: NodeOutput, target: string, e: ExternalService | undefined, request: ExplainResult['request'], headers: Headers): ExternalExplainResult {
  const caller = from.id;
  const name = e?.name ?? target;
  const call = e ? model?.services.find((s) => s.name === caller)?.calls.find((c) => c.target === e.name) : undefined;
  const rule = e?.policies.access.allow.find((r) => r.caller === caller);
  const access = e
    ? { allowed: rule !== undefined, ...(rule ? { rule: provenanceJson({ kind: 'file', pos: rule.pos }) } : {}), accessPolicy: e.policies.access.pos ? provenanceJson({ kind: 'file', pos: e.policies.access.pos }) : { kind: 'builtin' as const } }
    : undefined;
  const lookup = callerVirtualHost(from, request.authority);
  const vh = 'failure' in lookup ? undefined : lookup.found.vh;
  const ours = vh !== undefined && String(vh['name']) === `external|${name}`;
  const route = ours && !('failure' in lookup) ? externalRoute(from, lookup.listenerName, String(lookup.routeConfig['name']), lookup.found, headers, e) : undefined;
  const guardrails = ours ? guardrailsOn(from, name, vh, headers) : [];
  const base = {
    kind: 'external' as const, caller, callee: target, request,
    ...(e ? { external: { name: e.name, host: e.host, port: e.port, ...(e.address !== undefined ? { address: e.address } : {}), from: provenanceJson({ kind: 'file', pos: e.pos }) } } : {}),
    ...(call ? { declaredCall: provenanceJson({ kind: 'file', pos: call.pos }) } : {}),
    ...(access ? { access } : {}),
    ...(route ? { route } : {}),
    guardrails,
    notes: notesFor(from, name, route, guardrails),
  };
  const refused = (verdict: ExternalExplainResult['verdict'], why: string): ExternalExplainResult => ({
    ...base, verdict, reason: `${why}: ${caller}'s sidecar answers 404 with x-mesh-error: no-route and sends nothing on`, refusal: NO_ROUTE,
  });
  if (!e && !ours) return refused('no-route', `the mesh declares no external system "${request.authority}" and ${caller}'s sidecar has no virtual host for it`);
  if (e && !call) return refused('no-route', `${caller} does not declare ${e.name} under calls: (${from.ir.file}), so the compiler gives its sidecar no route to ${e.host}`);
  if (e && !access!.allowed) {
    const why = access!.accessPolicy.kind === 'builtin' ? `${e.name} has no access policy (default deny)` : `access.${e.name}.allow (${formatProvenance(access!.accessPolicy)}) does not list ${caller}`;
    return refused('denied', `${why}, so the compiler gives ${caller}'s sidecar no route to ${e.host}`);
  }
  if (!route) return refused('no-route', 'failure' in lookup ? lookup.failure : `"${request.authority}" selects virtual host ${String(vh?.['name'])}, not ${name}'s`);
  if (!route.present) return { ...base, verdict: 'no-route', reason: `${caller}'s route points at cluster ${route.cluster}, which it does not have (503 NC)` };
  const g = guardrailRefusal(guardrails);
  if (g) return { ...base, verdict: 'denied', reason: `guardrail ${g.rule} finds what it detects in header ${g.header}: ${caller}'s sidecar answers 403 (x-mesh-error: guardrail) and sends nothing on`, refusal: { status: 403, meshError: 'guardrail', guardrail: g.rule } };
  const tls = route.tls ? `, originating TLS (SNI ${route.tls.sni}, verified against ${route.tls.caFile} for ${route.tls.subjectAltNames.join(', ')})` : ', WITHOUT TLS';
  const rules = guardrails.length ? `; body inspected by guardrail ${guardrails.map((r) => r.rule).join(', ')}` : '';
  return { ...base, verdict: 'allowed', reason: `allowed by access.${name}.allow (${formatProvenance(access!.rule!)}); ${caller}'s sidecar sends it to ${route.upstream ?? e!.host}${tls}${rules}` };
}

function externalRoute(from: NodeOutput, listener: string, routeConfig: string, found: { vh: JsonObject; domain: string }, headers: Headers, e: ExternalService | undefined): ExternalRouteAnswer | undefined {
  const r = findRoute(found.vh, headers);
  if (!r) return undefined;
  const action = obj(r['route']) ?? {};
  const clusterName = String(action['cluster'] ?? '');
  const cluster = byName(from.resources.clusters, clusterName);
  const ir = from.ir.outbound.externals?.find((x) => x.clusterName === clusterName);
  const tlsCtx = obj(obj(cluster?.['transport_socket'])?.['typed_config']);
  const vc = obj(obj(tlsCtx?.['common_tls_context'])?.['validation_context']);
  const addr = obj(obj(list(list(obj(cluster?.['load_assignment'])?.['endpoints'])[0]?.['lb_endpoints'])[0]?.['endpoint'])?.['address'])?.['socket_address'];
  const sock = obj(addr);
  const at = e?.fieldPos['tls.ca_file'] ?? e?.pos;
  return {
    listener, routeConfig, virtualHost: String(found.vh['name']), matchedDomain: found.domain, route: String(r['name'] ?? '(unnamed)'),
    cluster: clusterName, present: cluster !== undefined,
    ...(typeof action['host_rewrite_literal'] === 'string' ? { hostRewrite: action['host_rewrite_literal'] } : {}),
    ...(sock ? { upstream: `${String(sock['address'])}:${String(sock['port_value'])}` } : {}),
    ...(tlsCtx && vc ? {
      tls: {
        sni: String(tlsCtx['sni'] ?? ''),
        caFile: String(obj(vc['trusted_ca'])?.['filename'] ?? ''),
        subjectAltNames: list(vc['match_typed_subject_alt_names']).map((m) => String(obj(m['matcher'])?.['exact'] ?? '')),
        from: at ? provenanceJson({ kind: 'file', pos: at }) : { kind: 'builtin' as const },
      },
    } : {}),
    ...(action['timeout'] !== undefined && ir ? { timeout: { value: String(action['timeout']), from: provenanceJson(ir.timeoutMs.from) } } : {}),
    ...(ir ? retryOf(action, ir) : {}),
  };
}

function notesFor(from: NodeOutput, name: string, route: ExternalRouteAnswer | undefined, guardrails: readonly GuardrailAnswer[]): string[] {
  const notes = from.ir.gaps.filter((g) => g.target === name).map((g) => `${from.id} (proxyless gRPC): ${g.reason}`);
  // Only when a rule inspects bodies: without one there are no "body rules above" to speak of.
  if (route && guardrails.some((g) => g.inspect.includes('body'))) notes.push('explain sees no body: the body rules above are enforced by the sidecar, not evaluated here');
  notes.push('a sidecar alone cannot stop an app that bypasses it (docs/policy-language.md, "External systems and egress")');
  return notes;
}
