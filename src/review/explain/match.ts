/**
 * Request matching as Envoy and gRPC do it, over proto3-JSON resources:
 * virtual host selection by Host/:authority, route selection, header and
 * string matchers. Only what a config may carry is needed here, but each
 * matcher follows the API docs so that hand-written resources evaluate the
 * same way.
 */
import type { JsonObject } from '../../envoy/proto-json';
import { re2FullMatch } from '../../model/re2';

export type Json = unknown;

/** Request headers, names lowercased, pseudo-headers included (`:method`, `:path`, `:authority`). */
export type Headers = ReadonlyMap<string, string>;

export function obj(v: Json): JsonObject | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as JsonObject) : undefined;
}

export function list(v: Json): JsonObject[] {
  return Array.isArray(v) ? v.flatMap((x) => (obj(x) ? [obj(x)!] : [])) : [];
}

/**
 * Envoy's virtual host search (route_components.proto, VirtualHost.domains):
 * exact names first, then suffix wildcards (`*.foo.com`, longest first),
 * then prefix wildcards (`foo.*`, longest first), then `*`. Hosts compare
 * case-insensitively; the port is part of the host unless the config strips
 * it. gRPC uses the same search on the channel authority (A27, "RDS").
 */
export function findVirtualHost(routeConfig: JsonObject, authority: string): { vh: JsonObject; domain: string } | undefined {
  const host = authority.toLowerCase();
  let best: { vh: JsonObject; domain: string; rank: number; len: number } | undefined;
  for (const vh of list(routeConfig['virtual_hosts'])) {
    for (const d of (vh['domains'] as string[] | undefined) ?? []) {
      const domain = d.toLowerCase();
      const rank = domainRank(domain, host);
      if (rank === undefined) continue;
      if (!best || rank < best.rank || (rank === best.rank && domain.length > best.len)) best = { vh, domain: d, rank, len: domain.length };
    }
  }
  return best && { vh: best.vh, domain: best.domain };
}

/** 0 exact, 1 suffix wildcard, 2 prefix wildcard, 3 `*`; undefined: no match. */
function domainRank(domain: string, host: string): number | undefined {
  if (domain === host) return 0;
  if (domain === '*') return 3;
  if (domain.startsWith('*') && host.endsWith(domain.slice(1)) && host.length > domain.length - 1) return 1;
  if (domain.endsWith('*') && host.startsWith(domain.slice(0, -1)) && host.length > domain.length - 1) return 2;
  return undefined;
}

/** Routes are first-match, in order (never sorted by the compiler for that reason). */
export function findRoute(vh: JsonObject, headers: Headers): JsonObject | undefined {
  return list(vh['routes']).find((r) => routeMatches(obj(r['match']) ?? {}, headers));
}

function routeMatches(m: JsonObject, headers: Headers): boolean {
  const fullPath = headers.get(':path') ?? '/';
  const caseSensitive = m['case_sensitive'] !== false;
  const norm = (s: string): string => (caseSensitive ? s : s.toLowerCase());
  const path = norm(fullPath.split('?')[0]);
  let ok: boolean;
  if (typeof m['prefix'] === 'string') ok = path.startsWith(norm(m['prefix']));
  else if (typeof m['path'] === 'string') ok = path === norm(m['path']);
  else if (obj(m['safe_regex'])) ok = fullRegex(String(obj(m['safe_regex'])!['regex'])).test(path);
  else if (typeof m['path_separated_prefix'] === 'string') {
    const p = norm(m['path_separated_prefix']);
    ok = path === p || path.startsWith(`${p}/`);
  } else ok = false;
  return ok && list(m['headers']).every((h) => headerMatches(h, headers));
}

/** HeaderMatcher (exact_match and friends are deprecated aliases of string_match). */
export function headerMatches(h: JsonObject, headers: Headers): boolean {
  const value = headers.get(String(h['name']).toLowerCase());
  const invert = h['invert_match'] === true;
  let ok: boolean;
  if (h['present_match'] !== undefined) ok = (value !== undefined) === (h['present_match'] === true);
  else if (value === undefined) return h['treat_missing_header_as_empty'] === true ? matchValue(h, '') !== invert : false;
  else ok = matchValue(h, value);
  return ok !== invert;
}

function matchValue(h: JsonObject, value: string): boolean {
  if (obj(h['string_match'])) return stringMatches(obj(h['string_match'])!, value);
  if (typeof h['exact_match'] === 'string') return value === h['exact_match'];
  if (typeof h['prefix_match'] === 'string') return value.startsWith(h['prefix_match']);
  if (typeof h['suffix_match'] === 'string') return value.endsWith(h['suffix_match']);
  if (typeof h['contains_match'] === 'string') return value.includes(h['contains_match']);
  if (obj(h['safe_regex_match'])) return fullRegex(String(obj(h['safe_regex_match'])!['regex'])).test(value);
  // A matcher with no value test matches any present header.
  return true;
}

/** type.matcher.v3.StringMatcher. */
export function stringMatches(m: JsonObject, value: string): boolean {
  const ic = m['ignore_case'] === true;
  const v = ic ? value.toLowerCase() : value;
  const s = (x: unknown): string => (ic ? String(x).toLowerCase() : String(x));
  if (m['exact'] !== undefined) return v === s(m['exact']);
  if (m['prefix'] !== undefined) return v.startsWith(s(m['prefix']));
  if (m['suffix'] !== undefined) return v.endsWith(s(m['suffix']));
  if (m['contains'] !== undefined) return v.includes(s(m['contains']));
  if (obj(m['safe_regex'])) return fullRegex(String(obj(m['safe_regex'])!['regex'])).test(value);
  return false;
}

/** RE2 as Envoy and gRPC use it: the whole value must match (src/model/re2.ts: the same RE2 grpc-js-xds runs). */
function fullRegex(re: string): { test(value: string): boolean } {
  return { test: (value) => re2FullMatch(re, value) };
}

/** The HTTP connection manager of a listener: API listener (gRPC client) or the first filter chain's network filter. */
export function hcmOf(listener: JsonObject): JsonObject | undefined {
  const api = obj(obj(listener['api_listener'])?.['api_listener']);
  if (api) return api;
  // Sidecar listeners built by src/envoy have one filter chain; chain matching would only matter for hand-written ones.
  const chain = list(listener['filter_chains'])[0];
  const hcm = list(chain?.['filters']).find((f) => f['name'] === 'envoy.filters.network.http_connection_manager');
  return obj(hcm?.['typed_config']);
}

export function httpFilter(hcm: JsonObject, name: string): JsonObject | undefined {
  return obj(list(hcm['http_filters']).find((f) => f['name'] === name)?.['typed_config']);
}

export function byName(resources: readonly JsonObject[], name: string): JsonObject | undefined {
  return resources.find((r) => r['name'] === name || r['cluster_name'] === name);
}

/** Every SAN matcher under a TLS context (`match_typed_subject_alt_names` or the older `match_subject_alt_names`). */
export function sanMatchers(tls: Json): JsonObject[] {
  const found: JsonObject[] = [];
  const walk = (v: Json): void => {
    if (Array.isArray(v)) return v.forEach(walk);
    const o = obj(v);
    if (!o) return;
    for (const [key, child] of Object.entries(o)) {
      if (key === 'match_typed_subject_alt_names') found.push(...list(child).flatMap((m) => (obj(m['matcher']) ? [obj(m['matcher'])!] : [])));
      else if (key === 'match_subject_alt_names') found.push(...list(child));
      else walk(child);
    }
  };
  walk(tls);
  return found;
}
