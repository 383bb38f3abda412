/**
 * The order of a callee's routes, and which of them can never match. Envoy
 * (and gRPC, A28) take the first route whose match holds, so the order is the
 * meaning. The language orders routes most specific first, so that writing a
 * narrow route below a broad one still works:
 *
 *   1. path kind: exact, then regex, then prefix (no path condition is
 *      prefix `/`);
 *   2. a longer path string first (a longer prefix is narrower);
 *   3. more header conditions first;
 *   4. a method condition first, fewer methods first;
 *   5. file order among routes equal on all of the above.
 *
 * A route is unreachable when an earlier route matches every request it
 * matches (`covers`); that is decided conservatively (regexes cover only an
 * identical regex), so a warning is never wrong, though some overlaps of
 * regexes go unreported.
 */
import type { RouteMatch, RoutePolicy } from './types';

const PATH_RANK = { exact: 0, regex: 1, prefix: 2 } as const;
const ANY_PATH = { kind: 'prefix', value: '/' } as const;

function compareSpecificity(a: RoutePolicy, b: RoutePolicy): number {
  const pa = a.match.path ?? ANY_PATH;
  const pb = b.match.path ?? ANY_PATH;
  return (
    PATH_RANK[pa.kind] - PATH_RANK[pb.kind] ||
    pb.value.length - pa.value.length ||
    b.match.headers.length - a.match.headers.length ||
    (a.match.methods?.values.length ?? 100) - (b.match.methods?.values.length ?? 100) ||
    a.index - b.index
  );
}

/** The routes in the order the proxies try them. */
export function orderRoutes(routes: readonly RoutePolicy[]): RoutePolicy[] {
  return [...routes].sort(compareSpecificity);
}

/** Every request `b` matches, `a` matches too. */
export function covers(a: RouteMatch, b: RouteMatch): boolean {
  return pathCovers(a.path, b.path) && methodsCover(a.methods, b.methods) && a.headers.every((h) => b.headers.some((g) => headerCovers(h, g)));
}

function pathCovers(a: RouteMatch['path'], b: RouteMatch['path']): boolean {
  if (!a) return true;
  if (!b) return a.kind === 'prefix' && a.value === '/';
  if (a.kind === 'prefix') return (b.kind === 'prefix' || b.kind === 'exact') && b.value.startsWith(a.value);
  return a.kind === b.kind && a.value === b.value;
}

function methodsCover(a: RouteMatch['methods'], b: RouteMatch['methods']): boolean {
  if (!a) return true;
  return b !== undefined && b.values.every((m) => a.values.includes(m));
}

type Header = RouteMatch['headers'][number];

function headerCovers(a: Header, b: Header): boolean {
  if (a.name !== b.name) return false;
  if (a.kind === 'present') return true;
  if (a.kind === 'prefix') return (b.kind === 'prefix' || b.kind === 'exact') && b.value!.startsWith(a.value!);
  return a.kind === b.kind && a.value === b.value;
}

/** For each route after the first, the earliest earlier route that covers it (then it never matches). */
export function shadowedRoutes(ordered: readonly RoutePolicy[]): { route: RoutePolicy; by: RoutePolicy }[] {
  const out: { route: RoutePolicy; by: RoutePolicy }[] = [];
  ordered.forEach((r, i) => {
    const by = ordered.slice(0, i).find((a) => covers(a.match, r.match));
    if (by) out.push({ route: r, by });
  });
  return out;
}
