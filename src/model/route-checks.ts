/**
 * Semantic rules of `routes:` (MESH170-MESH173, and the split and timeout
 * rules the callee-level policies already have, MESH050/051/061, at the
 * route's own lines). Registered in checks.ts's rule list.
 */
import { diagAt, type Diagnostic } from '../diag/diagnostic';
import { didYouMean } from '../util/suggest';
import { re2Error } from './re2';
import { orderRoutes, shadowedRoutes } from './route-order';
import type { RoutePolicy, ServiceManifest, ServicePolicies } from './types';

/** Envoy route names the compiler gives the callee's own routes (src/envoy/route.ts). */
export const RESERVED_ROUTE_NAMES: ReadonlySet<string> = new Set(['default', 'idempotent']);

export function routeRules(policies: readonly ServicePolicies[], serviceOf: ReadonlyMap<string, ServiceManifest>): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const p of policies) {
    if (!p.routes) continue;
    out.push(...names(p), ...regexes(p), ...shadows(p), ...faults(p));
    for (const r of p.routes) out.push(...routeSplit(p.service, r, serviceOf.get(p.service)), ...routeTiming(p.service, r));
  }
  return out;
}

function names(p: ServicePolicies): Diagnostic[] {
  const seen = new Map<string, RoutePolicy>();
  const out: Diagnostic[] = [];
  for (const r of p.routes ?? []) {
    if (RESERVED_ROUTE_NAMES.has(r.name)) {
      out.push(diagAt(r.namePos, 'error', 'MESH172', `routes.${p.service}: route name "${r.name}" is reserved for the callee's own route`, { hint: 'pick another name' }));
      continue;
    }
    const prev = seen.get(r.name);
    if (prev) out.push(diagAt(r.namePos, 'error', 'MESH172', `routes.${p.service}: route name "${r.name}" is already used at line ${prev.namePos.line}`, { hint: 'route names are unique per callee' }));
    else seen.set(r.name, r);
  }
  return out;
}

function regexes(p: ServicePolicies): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const r of p.routes ?? []) {
    const found = [
      ...(r.match.path?.kind === 'regex' ? [{ what: 'path regex', value: r.match.path.value, pos: r.match.path.pos }] : []),
      ...r.match.headers.filter((h) => h.kind === 'regex').map((h) => ({ what: `header ${h.name} regex`, value: h.value!, pos: h.pos })),
    ];
    for (const f of found) {
      const why = re2Error(f.value);
      if (why) {
        out.push(diagAt(f.pos, 'error', 'MESH170', `routes.${p.service}.${r.name}: ${f.what} is not valid RE2: ${why}`, {
          hint: 'Envoy and gRPC use RE2: no lookahead/lookbehind, no backreferences, repetition counts up to 1000 (https://github.com/google/re2/wiki/Syntax)',
        }));
      }
    }
  }
  return out;
}

function shadows(p: ServicePolicies): Diagnostic[] {
  return shadowedRoutes(orderRoutes(p.routes ?? [])).map(({ route, by }) =>
    diagAt(route.namePos, 'warning', 'MESH171', `routes.${p.service}: route "${route.name}" can never match: route "${by.name}" (line ${by.namePos.line}) is tried first and matches every request it does`, {
      hint: 'routes are tried most specific first (docs/policy-language.md, "Routes"); narrow this route or remove it',
    }),
  );
}

function faults(p: ServicePolicies): Diagnostic[] {
  return (p.routes ?? []).flatMap((r) => {
    const f = r.fault;
    if (!f) return [];
    const what = [
      ...(f.delay ? [`delays ${f.delay.percent.value}% of requests by ${f.delay.fixedMs.value}ms`] : []),
      ...(f.abort ? [`aborts ${f.abort.percent.value}% of requests with ${f.abort.status.value}`] : []),
    ].join(' and ');
    return [diagAt(f.pos, 'warning', 'MESH173', `FAULT INJECTION: routes.${p.service}.${r.name} ${what} (chaos testing; never leave it on in production)`, {
      hint: 'remove the fault: block when the experiment is over',
    })];
  });
}

function routeSplit(service: string, r: RoutePolicy, svc: ServiceManifest | undefined): Diagnostic[] {
  const s = r.split;
  // An inherited split is the callee's own, checked at its own line.
  if (!s || !r.own.split) return [];
  const out: Diagnostic[] = [];
  const total = s.weights.reduce((n, w) => n + w.weight, 0);
  if (total !== 100) out.push(diagAt(s.pos, 'error', 'MESH050', `routes.${service}.${r.name}.split weights sum to ${total}, not 100`));
  for (const w of s.weights) {
    if (svc && !svc.versions.includes(w.version)) {
      out.push(diagAt(w.pos, 'error', 'MESH051', `routes.${service}.${r.name}.split names version "${w.version}", which no manifest of "${service}" declares${didYouMean(w.version, svc.versions)}`, { hint: `declared versions: ${svc.versions.join(', ')} (add it to versions: in ${svc.file})` }));
    }
  }
  return out;
}

function routeTiming(service: string, r: RoutePolicy): Diagnostic[] {
  const perTry = r.retries.perTryTimeoutMs;
  const request = r.timeouts.requestMs.value;
  // Both values the callee's own: reported at the callee's policy (MESH061 there).
  if (!r.own.timeout && !r.own.retries) return [];
  if (!perTry || r.retries.attempts.value < 1 || request <= 0 || perTry.value < request) return [];
  const pos = perTry.from.kind === 'file' && r.own.retries ? perTry.from.pos : r.pos;
  return [diagAt(pos, 'warning', 'MESH061', `routes.${service}.${r.name}: per_try_timeout (${perTry.value}ms) is not shorter than the route's request timeout (${request}ms): retries can never happen`)];
}
