/**
 * `mesh trace <id>`: the hops of one request in order, each with the policy
 * line behind what happened, taken from the provenance `mesh explain` has
 * (src/review/explain): a timeout -> the `timeouts` entry, a denial -> the
 * access rule, a 429 -> the rate limit, an open circuit -> `circuit_breakers`,
 * otherwise the route (split) that sent it.
 */
import type { ExplainResult } from '../review/explain';
import type { ProvenanceJson } from '../review/provenance';
import { escapeControls } from '../diag/excerpt';
import { flagWords, serviceOfSpiffeId, type TapRecord } from './record';

export interface TraceHop {
  readonly record: TapRecord;
  readonly words: readonly string[];
  /** file:line:col of the policy behind the outcome, and what it says ('' when no mesh was given). */
  readonly policy?: { readonly at: string; readonly what: string; readonly text?: string };
}

/** Earliest first; for the same start the caller's outbound hop before the callee's inbound one. */
export function orderHops(records: readonly TapRecord[]): TapRecord[] {
  return [...records].sort((a, b) => a.startMs - b.startMs || (a.direction === b.direction ? a.seq - b.seq : a.direction === 'outbound' ? -1 : 1));
}

export type Explainer = (caller: string, callee: string, method: string, path: string) => ExplainResult | undefined;

export function traceHops(records: readonly TapRecord[], explain?: Explainer, lineAt?: (p: ProvenanceJson) => string | undefined): TraceHop[] {
  return orderHops(records).map((r) => {
    const words = flagWords(r);
    const caller = serviceOfSpiffeId(r.caller);
    const callee = serviceOfSpiffeId(r.callee);
    const ex = explain && caller && callee ? explain(caller, callee, r.method || 'GET', r.path || '/') : undefined;
    const found = ex ? policyBehind(r, ex) : undefined;
    if (!found) return { record: r, words };
    const at = found.from.file ? `${found.from.file}:${found.from.line}:${found.from.col}` : 'built-in default';
    const text = lineAt?.(found.from);
    return { record: r, words, policy: { at, what: found.what, ...(text ? { text } : {}) } };
  });
}

function policyBehind(r: TapRecord, ex: ExplainResult): { from: ProvenanceJson; what: string } | undefined {
  const route = ex.route;
  if (r.flags.includes('UT')) return route?.timeout ? { from: route.timeout.from, what: `request timeout ${route.timeout.value}` } : undefined;
  if (r.status === 403 && r.details.startsWith('rbac_access_denied')) return ex.access.rule ? { from: ex.access.rule, what: `access: ${ex.access.decision}` } : { from: { kind: 'builtin' }, what: 'access: default deny' };
  if (r.status === 429 || r.flags.includes('RL')) {
    const rl = ex.rateLimit;
    return rl ? { from: rl.tokensPerFill.from, what: `rate limit ${rl.tokensPerFill.value} per ${rl.fillInterval.value}` } : undefined;
  }
  if (r.flags.includes('UH') || r.flags.includes('UO')) {
    const cb = route?.clusters.map((c) => c.circuitBreaker).find((c) => c?.openAfterFailedCalls);
    return cb?.openAfterFailedCalls ? { from: cb.openAfterFailedCalls.from, what: `circuit breaker: open after ${cb.openAfterFailedCalls.value} failed calls` } : undefined;
  }
  if (route?.split) return { from: route.split, what: `split (${route.clusters.map((c) => `${c.version ?? c.name} ${c.percent}%`).join(', ')})` };
  if (r.direction === 'inbound' && ex.access.rule) return { from: ex.access.rule, what: `access: ${ex.access.decision}` };
  return ex.declaredCall ? { from: ex.declaredCall, what: 'declared call' } : undefined;
}

const iso = (ms: number): string => (ms > 0 ? new Date(ms).toISOString() : '-');

export function formatTrace(traceId: string, hops: readonly TraceHop[]): string {
  if (hops.length === 0) return `trace ${traceId}: no records (the store keeps recent ones only)\n`;
  const lines = [`trace ${traceId}: ${hops.length} hop(s)`];
  hops.forEach((h, i) => {
    const r = h.record;
    lines.push(`${i + 1}. ${iso(r.startMs)}  ${r.node} ${r.direction}  ${r.caller || '?'} -> ${r.callee || '?'}`);
    lines.push(`   ${r.method} ${r.authority}${r.path}  status ${r.status || '-'}  ${r.durationMs} ms  upstream ${r.upstreamHost || '-'}${h.words.length ? `  (${h.words.join(', ')})` : ''}`);
    if (h.policy) lines.push(`   policy: ${h.policy.at}: ${h.policy.what}${h.policy.text ? `  | ${h.policy.text}` : ''}`);
  });
  // What a node reported reaches the terminal without a control character (a line per entry, whatever the record holds).
  return lines.map((l) => escapeControls(l)).join('\n') + '\n';
}

/** One line per record for `mesh logs`. */
export function formatLogLine(r: TapRecord): string {
  const words = flagWords(r);
  return `${iso(r.startMs)} ${r.node} ${r.direction} ${serviceOfSpiffeId(r.caller) || '?'} -> ${serviceOfSpiffeId(r.callee) || '?'} ${r.method} ${r.path} ${r.status || '-'} ${r.durationMs}ms trace=${r.traceId || '-'}${words.length ? ` [${words.join(', ')}]` : ''}`;
}
