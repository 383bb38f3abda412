/**
 * Processor (last): what a proxyless gRPC node cannot enforce. The policy is
 * still compiled wherever gRPC accepts it; each gap is reported as data so the
 * lint can warn (MESH070) at the line that asked for it.
 *
 * Checked against the gRFCs and against what @grpc/grpc-js-xds 1.14.1 (the
 * pinned client) actually validates and applies.
 */
import { rulesFor } from './guardrails';
import type { SourcePos } from '../diag/diagnostic';
import type { PolicyGap, Provenance } from '../ir/types';
import { compareStrings } from '../ir/sort';
import { posOf, type TranslateContext } from './context';
import type { NodeDraft, UpstreamDraft } from './draft';
import { mapRetryOnForGrpc } from './retries';

/**
 * Environment a proxyless server needs. grpc-js-xds 1.14.1 registers the RBAC
 * filter only when GRPC_XDS_EXPERIMENTAL_RBAC=true (A41, "Temporary
 * environment variable protection"). Without it the server listener, whose
 * RBAC filter is not optional, is NACKed and the server never serves: access
 * fails closed, never open. src/sdk sets it.
 */
export const GRPC_REQUIRED_ENV: Readonly<Record<string, string>> = { GRPC_XDS_EXPERIMENTAL_RBAC: 'true' };

/** gRPC's retry layer caps maxAttempts (= num_retries + 1) at 5 (A6, "Retry policy"; grpc-js retrying-call). */
export const GRPC_MAX_RETRIES = 4;

type GapInput = Omit<PolicyGap, 'service'>;

export function grpcGapsProcessor(ctx: TranslateContext, draft: NodeDraft): void {
  if (draft.kind !== 'grpc') return;
  const gaps: GapInput[] = [...serverGaps(draft), ...controlPlaneGaps(ctx, draft), ...externalGaps(ctx, draft), ...guardrailGaps(ctx, draft)];
  for (const up of draft.upstreams) gaps.push(...retryGaps(up), ...circuitBreakerGaps(up), ...routeGaps(up));
  draft.gaps = gaps
    .map((g) => ({ service: draft.service.name, ...g }))
    .sort((a, b) => compareStrings(a.policy, b.policy) || compareStrings(a.target, b.target));
}

function serverGaps(draft: NodeDraft): GapInput[] {
  const rl = draft.policies?.rateLimit;
  if (!rl) return [];
  return [
    {
      target: draft.service.name,
      policy: 'rate_limits',
      reason: 'gRPC servers have no local rate limit filter (xDS HTTP filters supported: router, fault, RBAC); requests are not limited',
      proposal: 'A39',
      pos: rl.pos,
    },
  ];
}

/**
 * Not a policy anyone wrote: the mesh's "mTLS everywhere" default, which a
 * proxyless member cannot keep towards the control plane. It is pointed at
 * the `protocol: grpc` line that made the service proxyless (mesh.yml is
 * optional, and the gap is that service's), and named by the key that sets the
 * plaintext port it uses instead.
 */
function controlPlaneGaps(ctx: TranslateContext, draft: NodeDraft): GapInput[] {
  const port = ctx.model.settings.controlPlane.grpcXdsPort;
  return [
    {
      target: ctx.model.settings.name,
      policy: 'control_plane.grpc_xds_port',
      subject: 'mTLS to the control plane',
      reason:
        'grpc-js-xds 1.14.1 supports only "google_default" and "insecure" xDS channel credentials, not A65 "tls"; ' +
        `it reaches the control plane in plaintext on 127.0.0.1:${port} (control_plane.grpc_xds_port of mesh.yml), where it is not authenticated and is served no secrets; its data-plane calls are still mTLS`,
      proposal: 'A65',
      pos: draft.service.fieldPos['protocol'] ?? draft.service.pos,
    },
  ];
}

/** "cannot enforce <what> for <target>": the one wording of a gap, for lint (MESH070) and `mesh explain`. */
export function gapSummary(g: Pick<PolicyGap, 'policy' | 'subject' | 'target' | 'reason' | 'proposal'>, withTarget = true): string {
  return `cannot enforce ${g.subject ?? g.policy}${withTarget ? ` for ${g.target}` : ''}: ${g.reason} (gRFC ${g.proposal})`;
}

function retryGaps(up: UpstreamDraft): GapInput[] {
  const r = up.policies.retries;
  if (r.attempts.value < 1) return [];
  const target = up.target.name;
  const at = (from: Provenance | undefined): SourcePos => (from && posOf(from)) ?? r.pos ?? up.call.pos;
  const gaps: GapInput[] = [];
  if (r.perTryTimeoutMs) {
    gaps.push({ target, policy: 'retries.per_try_timeout', proposal: 'A44', pos: at(r.perTryTimeoutMs.from),
      reason: 'gRPC does not support per_try_timeout; each try may use the whole request timeout' });
  }
  const { mapped, dropped } = mapRetryOnForGrpc(r.retryOn.value);
  if (dropped.length > 0) {
    const effect = mapped.length === 0 ? 'so calls are not retried at all' : `retrying only on ${mapped.join(', ')}`;
    gaps.push({ target, policy: 'retries.retry_on', proposal: 'A44', pos: at(r.retryOn.from),
      reason: `gRPC retries only on gRPC status codes; ${dropped.join(', ')} ignored, ${effect}` });
  }
  if (mapped.length > 0 && r.attempts.value > GRPC_MAX_RETRIES) {
    gaps.push({ target, policy: 'retries.attempts', proposal: 'A6', pos: at(r.attempts.from),
      reason: `gRPC caps attempts at 5 (${GRPC_MAX_RETRIES} retries); ${r.attempts.value} retries become ${GRPC_MAX_RETRIES}` });
  }
  return gaps;
}

function circuitBreakerGaps(up: UpstreamDraft): GapInput[] {
  const cb = up.policies.circuitBreaker;
  if (!cb) return [];
  const target = up.target.name;
  const gaps: GapInput[] = [
    { target, policy: 'circuit_breakers.max_failures', proposal: 'A50', pos: posOf(cb.maxFailures.from) ?? cb.pos,
      reason: `gRPC outlier detection has no consecutive-failure ejection; an instance is ejected when it failed all of at least ${cb.maxFailures.value} calls within one interval (failure-percentage ejection)` },
  ];
  const limits = [
    ['max_connections', cb.maxConnections],
    ['max_pending_requests', cb.maxPendingRequests],
  ] as const;
  for (const [key, v] of limits) {
    // Only a value someone wrote is worth a warning; a builtin default asked for nothing.
    if (v.from.kind === 'builtin') continue;
    gaps.push({ target, policy: `circuit_breakers.${key}`, proposal: 'A32', pos: posOf(v.from) ?? cb.pos,
      reason: `gRPC circuit breaking honours only max_requests; ${key} is ignored` });
  }
  return gaps;
}

/** What a proxyless caller does with `routes.<callee>` that differs from what it says (translate/routes.ts). */
function routeGaps(up: UpstreamDraft): GapInput[] {
  const target = up.target.name;
  const gaps: GapInput[] = [];
  for (const r of up.policies.routes ?? []) {
    const m = r.match.methods;
    if (m) {
      const effect = m.values.includes('POST') ? 'the route is compiled without the method condition' : 'without POST the route can never match and is left out';
      gaps.push({ target, policy: 'routes.match.method', subject: `routes.${target}.${r.name} method match`, proposal: 'A28', pos: m.pos,
        reason: `every gRPC call is a POST; ${effect}` });
    }
    if (r.fault) {
      gaps.push({ target, policy: 'routes.fault', subject: `routes.${target}.${r.name} fault injection`, proposal: 'A33', pos: r.fault.pos,
        reason: 'the mesh compiles fault injection only into Envoy sidecars (proxyless callers get no fault filter); calls from this member are not delayed or aborted' });
    }
  }
  return gaps;
}

/** translate/externals.ts: a proxyless member's calls to external systems are not compiled. */
function externalGaps(ctx: TranslateContext, draft: NodeDraft): GapInput[] {
  const externals = new Set((ctx.model.externals ?? []).map((e) => e.name));
  return draft.service.calls
    .filter((c) => externals.has(c.target))
    .map((c) => ({ target: c.target, policy: 'externals', subject: `the call to external system ${c.target}`, proposal: 'A29', pos: c.pos,
      reason: 'gRPC\'s xDS TLS (certificate providers) trusts only the mesh CA and presents the mesh identity, so it cannot originate TLS to a system outside the mesh; the call is not compiled' }));
}

/** translate/guardrails.ts: no sidecar, so no request of a proxyless member is inspected. */
function guardrailGaps(ctx: TranslateContext, draft: NodeDraft): GapInput[] {
  return rulesFor(ctx.model.guardrails ?? [], draft.service.name)
    .map((r) => ({ target: draft.service.name, policy: 'guardrails', subject: `guardrail ${r.name}`, proposal: 'A39', pos: r.pos,
      reason: 'gRPC has no body-inspecting HTTP filter (its xDS filters are fault, RBAC and router), so its outgoing requests are not inspected; serve it over HTTP behind a sidecar (protocol: http), or leave it out of from:' }));
}
