/**
 * `mesh explain` output. Text: one value per line with the provenance behind
 * it (and the source line's text when the file is at hand); json: the
 * ExplainResult as is.
 */
import type { SourceLines } from '../source-lines';
import { formatProvenance, type ProvenanceJson } from '../provenance';
import type { CircuitBreakerAnswer, ClusterAnswer, ExplainResult, ExternalExplainResult, GuardrailAnswer, RouteAnswer, Sourced } from './types';

export type ExplainFormat = 'text' | 'json';
export const EXPLAIN_FORMATS: readonly ExplainFormat[] = ['text', 'json'];

type From = (p: ProvenanceJson) => string;

export function isExternal(r: ExplainResult | ExternalExplainResult): r is ExternalExplainResult {
  return 'kind' in r && r.kind === 'external';
}

function fromWith(lines: SourceLines | undefined): From {
  return (p) => {
    const text = p.file && p.line ? lines?.line({ file: p.file, line: p.line, col: p.col ?? 1 }) : undefined;
    return `<- ${formatProvenance(p)}${text ? `  ${text}` : ''}`;
  };
}

export function formatExplain(r: ExplainResult | ExternalExplainResult, format: ExplainFormat, lines?: SourceLines): string {
  if (format === 'json') return JSON.stringify(r, null, 2) + '\n';
  const from = fromWith(lines);
  if (isExternal(r)) return formatExternal(r, from);
  const val = <T>(label: string, s: Sourced<T>, unit = ''): string => `${label} ${String(s.value)}${unit}  ${from(s.from)}`;
  const out = [
    `${r.caller} -> ${r.callee}: ${r.verdict.toUpperCase()}`,
    `  request   ${r.request.method} ${r.request.path} (authority ${r.request.authority})${headerList(r)}`,
    `  why       ${r.reason}`,
    '',
    ...accessLines(r, from),
    r.callerIsGateway
      ? `  call      ${r.declaredCall ? `gateway route to ${r.callee} ${from(r.declaredCall)}` : `no route of gateway ${r.caller} goes to ${r.callee}`}`
      : `  call      ${r.declaredCall ? `declared ${from(r.declaredCall)}` : `${r.caller} does not declare ${r.callee} under calls:`}`,
    `  clusters  ${r.callerClusters.length ? `${r.caller}'s proxy has ${r.callerClusters.join(', ')}` : `${r.caller}'s proxy has no cluster for ${r.callee}`}`,
    ...(r.route ? routeLines(r.route, val, from) : [`  route     none`]),
    ...(r.rateLimit
      ? sourcedRows('  limit', [[`${r.callee} ${r.rateLimit.listener} rps`, r.rateLimit.tokensPerFill], ['burst', r.rateLimit.maxTokens], ['refill every', r.rateLimit.fillInterval]], val)
      : [`  limit     no rate limit on ${r.callee}`]),
    ...(r.inboundTimeout ? [`  inbound   ${val('timeout', r.inboundTimeout)}`] : []),
    ...guardrailLines(r.guardrails ?? [], from),
    ...r.notes.map((n) => `  note      ${n}`),
  ];
  return out.join('\n') + '\n';
}

function guardrailLines(rules: readonly GuardrailAnswer[], from: From): string[] {
  return rules.map((g) => `  GUARDRAIL ${g.rule}: ${g.detect.join(', ')} in ${g.inspect.join(' and ')}, window ${g.maxBodyBytes} bytes, fail ${g.fail}${g.enforced ? '' : ' (NOT in the compiled virtual host)'}${g.refusesHeader ? `; REFUSES header ${g.refusesHeader}` : ''}  ${from(g.from)}`);
}

function formatExternal(r: ExternalExplainResult, from: From): string {
  const e = r.external;
  const rt = r.route;
  const out = [
    `${r.caller} -> ${r.callee}: ${r.verdict.toUpperCase()}${r.refusal ? ` (${r.refusal.status}, x-mesh-error: ${r.refusal.meshError})` : ''}`,
    `  request   ${r.request.method} ${r.request.path} (authority ${r.request.authority})${headerList(r)}`,
    `  why       ${r.reason}`,
    '',
    `  external  ${e ? `${e.name}: ${e.host}:${e.port}${e.address ? ` at ${e.address}` : ''}  ${from(e.from)}` : `none declared for "${r.request.authority}"`}`,
    ...(e ? [`  call      ${r.declaredCall ? `declared ${from(r.declaredCall)}` : `${r.caller} does not declare ${e.name} under calls:`}`] : []),
    ...(r.access ? [`  access    ${r.access.allowed ? `allows ${r.caller} ${from(r.access.rule!)}` : `does not allow ${r.caller}; access policy ${r.access.accessPolicy.kind === 'builtin' ? '<- builtin default (deny everyone)' : from(r.access.accessPolicy)}`}`] : []),
    ...(rt
      ? [
        `  route     listener ${rt.listener} -> route config ${rt.routeConfig} -> virtual host ${rt.virtualHost} (domain ${rt.matchedDomain}) -> route ${rt.route} -> cluster ${rt.cluster}${rt.present ? '' : ' (MISSING)'}`,
        `  upstream  ${rt.upstream ?? '?'}${rt.hostRewrite ? `, Host rewritten to ${rt.hostRewrite}` : ''}`,
        rt.tls ? `  tls       originated: SNI ${rt.tls.sni}, CA ${rt.tls.caFile}, names ${rt.tls.subjectAltNames.join(', ')}  ${from(rt.tls.from)}` : '  tls       NONE',
        ...(rt.timeout ? [`  timeout   request ${rt.timeout.value}  ${from(rt.timeout.from)}`] : []),
        rt.retry ? `  retries   ${rt.retry.numRetries.value} on ${rt.retry.retryOn.value}  ${from(rt.retry.numRetries.from)}` : '  retries   none',
      ]
      : ['  route     none']),
    ...guardrailLines(r.guardrails, from),
    ...r.notes.map((n) => `  note      ${n}`),
  ];
  return out.join('\n') + '\n';
}

function headerList(r: Pick<ExplainResult, 'request'>): string {
  const h = Object.entries(r.request.headers).map(([k, v]) => `${k}: ${v}`);
  return h.length ? `, headers ${h.join('; ')}` : '';
}

function accessLines(r: ExplainResult, from: (p: ProvenanceJson) => string): string[] {
  const a = r.access;
  const head = `  access    ${r.callee} ${a.listener} RBAC ${a.action}: ${a.decision === 'allow' ? 'allows' : 'denies'} ${a.principal}${a.policy ? ` (policy ${a.policy})` : ''}`;
  return [
    head,
    ...(a.rule ? [`            rule ${from(a.rule)}`] : []),
    `            access policy ${a.accessPolicy.kind === 'builtin' ? '<- builtin default (deny everyone)' : from(a.accessPolicy)}`,
    ...(a.unsupported.length ? [`            not evaluated (treated as no match): ${a.unsupported.join('; ')}`] : []),
    `  mtls      ${r.callee} ${r.mtls.calleeAcceptsCaller ? 'accepts' : 'REJECTS'} ${r.caller}'s certificate` +
      (r.mtls.callerAcceptsCallee === undefined ? '' : `; ${r.caller} ${r.mtls.callerAcceptsCallee ? 'accepts' : 'REJECTS'} ${r.callee}'s`),
  ];
}

type Val = <T>(label: string, s: Sourced<T>, unit?: string) => string;
type Row = readonly [label: string, value: Sourced<number | string> | undefined];

/**
 * One line per value written in a file; values that are builtin defaults go
 * on one shared line, so what someone wrote stands out from what nobody did.
 */
function sourcedRows(head: string, rows: readonly Row[], val: Val): string[] {
  const present = rows.filter((r): r is readonly [string, Sourced<number | string>] => r[1] !== undefined);
  const written = present.filter(([, v]) => v.from.kind !== 'builtin').map(([label, v]) => val(label, v));
  const builtin = present.filter(([, v]) => v.from.kind === 'builtin').map(([label, v]) => `${label} ${String(v.value)}`);
  const lines = [...written, ...(builtin.length ? [`${builtin.join(', ')}  <- builtin defaults`] : [])];
  return lines.map((l, i) => `${i === 0 ? head.padEnd(12) : ' '.repeat(12)}${l}`);
}

function routeLines(route: RouteAnswer, val: Val, from: (p: ProvenanceJson) => string): string[] {
  const r = route.retry;
  return [
    `  route     ${route.proxy === 'grpc' ? 'gRPC API listener' : 'listener'} ${route.listener} -> route config ${route.routeConfig} -> virtual host ${route.virtualHost} (domain ${route.matchedDomain}) -> route ${route.route}`,
    ...(route.rule ? [`  matched   routes: entry ${route.route.split('|')[0]} ${from(route.rule)}`] : []),
    ...faultLines(route, from),
    ...(route.split ? [`  split     ${from(route.split)}`] : []),
    ...route.clusters.flatMap((c) => clusterLines(c, val)),
    ...breakerLines(route.clusters, val),
    ...(r ? sourcedRows('  retries', [['retries', r.numRetries], ['on', r.retryOn], ['per try', r.perTryTimeout]], val) : ['  retries   none']),
    ...(route.timeout ? sourcedRows('  timeout', [['request', route.timeout]], val) : []),
  ];
}

function clusterLines(c: ClusterAnswer, val: Val): string[] {
  const state = `${c.present ? '' : ', MISSING from the caller'}, ${c.staticEndpoints} static endpoint(s)`;
  return [`  cluster   ${c.name}${c.version ? ` (${c.version})` : ''} ${c.percent}%${state}: ${val('weight', c.weight)}`];
}

/** Circuit breakers are per callee: printed once when every cluster has the same, else per cluster. */
function breakerLines(clusters: readonly ClusterAnswer[], val: Val): string[] {
  const key = (c: ClusterAnswer): string => JSON.stringify([c.circuitBreaker, c.connectTimeout]);
  const same = clusters.every((c) => key(c) === key(clusters[0]));
  const groups = same ? clusters.slice(0, 1) : clusters;
  return groups.flatMap((c) => {
    const head = same ? '  breaker' : `  breaker   ${c.name}:`;
    const cb: CircuitBreakerAnswer = c.circuitBreaker ?? {};
    const rows: Row[] = [
      ['connect timeout', c.connectTimeout],
      ['open after failed calls', cb.openAfterFailedCalls],
      ['eject after failures', cb.ejectAfterFailures],
      ['base ejection time', cb.baseEjectionTime],
      ['interval', cb.interval],
      ['max ejection %', cb.maxEjectionPercent],
      ['max connections', cb.maxConnections],
      ['max pending', cb.maxPendingRequests],
      ['max requests', cb.maxRequests],
      ['max retries', cb.maxRetries],
    ];
    const lines = sourcedRows(same ? head : '', rows, val);
    const none = c.circuitBreaker ? [] : [`${' '.repeat(12)}no outlier detection or limits (no circuit_breakers policy)`];
    return same ? [...lines, ...none] : [head, ...lines, ...none];
  });
}

/** Loud on purpose: a fault on the matched route means real requests fail or stall. */
function faultLines(route: RouteAnswer, from: (p: ProvenanceJson) => string): string[] {
  const f = route.fault;
  if (!f) return [];
  return [
    ...(f.abort ? [`  FAULT     ABORT ${f.abort.percent.value}% of requests with ${f.abort.status.value}  ${from(f.abort.percent.from)}`] : []),
    ...(f.delay ? [`  FAULT     DELAY ${f.delay.percent.value}% of requests by ${f.delay.fixed.value}  ${from(f.delay.percent.from)}`] : []),
  ];
}
