/**
 * Evaluates an RBAC filter config (envoy.extensions.filters.http.rbac.v3.RBAC)
 * against one request the way Envoy's RBAC engine (and gRPC's, A41) does:
 *
 * - no `rules`: the filter does nothing (allow);
 * - action ALLOW: allowed iff some policy matches (an empty map denies all);
 *   DENY: denied iff some policy matches; LOG: always allowed;
 * - a policy matches iff any of its permissions and any of its principals match.
 *
 * Policies are checked in name order so the reported match is stable (Envoy's
 * map has no order; any match decides the same way).
 */
import { headerMatches, list, obj, stringMatches, type Headers } from './match';
import type { JsonObject } from '../../envoy/proto-json';

export interface RbacContext {
  /** The peer's URI SAN as authenticated by mTLS (undefined: plaintext). */
  readonly principal?: string;
  readonly headers: Headers;
  readonly destinationPort?: number;
}

export interface RbacDecision {
  readonly allowed: boolean;
  readonly action: 'ALLOW' | 'DENY' | 'LOG' | 'none';
  /** Names of the policies that matched. */
  readonly matched: readonly string[];
  /** Matcher kinds this evaluator does not know; they count as "no match", and the answer says so. */
  readonly unsupported: readonly string[];
}

export function evaluateRbac(filterConfig: JsonObject | undefined, ctx: RbacContext): RbacDecision {
  const rules = obj(filterConfig?.['rules']);
  if (!rules) return { allowed: true, action: 'none', matched: [], unsupported: [] };
  const action = (rules['action'] as RbacDecision['action'] | undefined) ?? 'ALLOW';
  const policies = obj(rules['policies']) ?? {};
  const unsupported = new Set<string>();
  const matched = Object.keys(policies)
    .sort()
    .filter((name) => policyMatches(obj(policies[name]) ?? {}, ctx, unsupported));
  const hit = matched.length > 0;
  const allowed = action === 'ALLOW' ? hit : action === 'DENY' ? !hit : true;
  return { allowed, action, matched, unsupported: [...unsupported].sort() };
}

function policyMatches(policy: JsonObject, ctx: RbacContext, unsupported: Set<string>): boolean {
  const perms = list(policy['permissions']);
  const ids = list(policy['principals']);
  return perms.some((p) => permissionMatches(p, ctx, unsupported)) && ids.some((p) => principalMatches(p, ctx, unsupported));
}

function permissionMatches(p: JsonObject, ctx: RbacContext, unsupported: Set<string>): boolean {
  if (p['any'] === true) return true;
  if (obj(p['and_rules'])) return list(obj(p['and_rules'])!['rules']).every((r) => permissionMatches(r, ctx, unsupported));
  if (obj(p['or_rules'])) return list(obj(p['or_rules'])!['rules']).some((r) => permissionMatches(r, ctx, unsupported));
  if (obj(p['not_rule'])) return !permissionMatches(obj(p['not_rule'])!, ctx, unsupported);
  if (obj(p['header'])) return headerMatches(obj(p['header'])!, ctx.headers);
  if (obj(p['url_path'])) return pathMatches(obj(p['url_path'])!, ctx);
  if (p['destination_port'] !== undefined) return p['destination_port'] === ctx.destinationPort;
  unsupported.add(`permission ${Object.keys(p).join(',')}`);
  return false;
}

function principalMatches(p: JsonObject, ctx: RbacContext, unsupported: Set<string>): boolean {
  if (p['any'] === true) return true;
  if (obj(p['and_ids'])) return list(obj(p['and_ids'])!['ids']).every((r) => principalMatches(r, ctx, unsupported));
  if (obj(p['or_ids'])) return list(obj(p['or_ids'])!['ids']).some((r) => principalMatches(r, ctx, unsupported));
  if (obj(p['not_id'])) return !principalMatches(obj(p['not_id'])!, ctx, unsupported);
  if (obj(p['authenticated'])) {
    if (ctx.principal === undefined) return false;
    const name = obj(obj(p['authenticated'])!['principal_name']);
    // No principal_name: any authenticated peer (rbac.proto, Principal.Authenticated).
    return name ? stringMatches(name, ctx.principal) : true;
  }
  if (obj(p['header'])) return headerMatches(obj(p['header'])!, ctx.headers);
  if (obj(p['url_path'])) return pathMatches(obj(p['url_path'])!, ctx);
  unsupported.add(`principal ${Object.keys(p).join(',')}`);
  return false;
}

/** PathMatcher: the path without the query string. */
function pathMatches(m: JsonObject, ctx: RbacContext): boolean {
  const path = (ctx.headers.get(':path') ?? '/').split('?')[0];
  const sm = obj(m['path']);
  return sm ? stringMatches(sm, path) : false;
}
