/**
 * `routes.<callee>` -> RoutePolicy[] (src/model/types.ts). Runs on a
 * schema-valid file only. Each route's split, timeout and retries are
 * resolved against the callee's own (already resolved) policies: a key the
 * route writes wins, with the route's line as provenance; any other key keeps
 * the callee's value and provenance, so `mesh explain` shows which is which.
 */
import type { SourcePos } from '../diag/diagnostic';
import type {
  FaultPolicy, HeaderMatchKind, PathMatchKind, RetryPolicy, RouteMatch, RoutePolicy, ServicePolicies, TimeoutPolicy, TrafficSplit, Valued,
} from '../model/types';
import { parseDurationMs } from './duration';
import { keyPos, valuePos, type DocPath } from './positions';
import type { SourceFile } from './source-file';

type Obj = Record<string, unknown>;
type Callee = Omit<ServicePolicies, 'routes'>;

const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export function buildRoutes(src: SourceFile | undefined, svc: string, callee: Callee): RoutePolicy[] | undefined {
  const list = ((src?.value as Obj | undefined)?.routes as Obj | undefined)?.[svc] as Obj[] | undefined;
  if (!src || !list) return undefined;
  return list.map((r, index) => {
    const at: DocPath = ['routes', svc, index];
    const split = routeSplit(src, r, at) ?? callee.split;
    const fault = r.fault ? faultOf(src, r.fault as Obj, [...at, 'fault']) : undefined;
    return {
      name: r.name as string,
      pos: valuePos(src, at),
      namePos: valuePos(src, [...at, 'name']),
      index,
      match: matchOf(src, r.match as Obj, [...at, 'match']),
      ...(split ? { split } : {}),
      retries: routeRetries(src, r.retries as Obj | undefined, [...at, 'retries'], callee.retries),
      timeouts: routeTimeout(src, r.timeout, at, callee.timeouts),
      ...(fault ? { fault } : {}),
      own: { split: r.split !== undefined, timeout: r.timeout !== undefined, retries: r.retries !== undefined },
    };
  });
}

function matchOf(src: SourceFile, m: Obj, at: DocPath): RouteMatch {
  const path = m.path as Obj | undefined;
  const kind = path ? (Object.keys(path)[0] as PathMatchKind) : undefined;
  const methods = m.method as string[] | undefined;
  const headers = Object.entries((m.headers ?? {}) as Obj)
    .map(([name, cond]) => {
      const pos = valuePos(src, [...at, 'headers', name]);
      if (typeof cond === 'string') return { name, kind: 'exact' as HeaderMatchKind, value: cond, pos };
      const [k, v] = Object.entries(cond as Obj)[0]!;
      return k === 'present' ? { name, kind: 'present' as HeaderMatchKind, pos } : { name, kind: k as HeaderMatchKind, value: v as string, pos };
    })
    .sort((a, b) => byString(a.name, b.name));
  return {
    ...(path && kind ? { path: { kind, value: path[kind] as string, pos: valuePos(src, [...at, 'path', kind]) } } : {}),
    ...(methods ? { methods: { values: [...methods].sort(), pos: valuePos(src, [...at, 'method']) } } : {}),
    headers,
    pos: valuePos(src, at),
  };
}

function routeSplit(src: SourceFile, r: Obj, at: DocPath): TrafficSplit | undefined {
  if (!r.split) return undefined;
  const weights = Object.entries(r.split as Record<string, number>)
    .map(([version, weight]) => ({ version, weight, pos: keyPos(src, [...at, 'split', version]) }))
    .sort((a, b) => byString(a.version, b.version));
  return { weights, pos: keyPos(src, [...at, 'split']) };
}

function own<T>(src: SourceFile, block: Obj | undefined, at: DocPath, key: string, inherited: Valued<T>, convert: (raw: unknown) => T = (x) => x as T): Valued<T> {
  if (!block || block[key] === undefined) return inherited;
  return { value: convert(block[key]), from: { kind: 'file', pos: valuePos(src, [...at, key]) } };
}

const durationMs = (raw: unknown): number => parseDurationMs(raw as string)!;

function routeRetries(src: SourceFile, block: Obj | undefined, at: DocPath, callee: RetryPolicy): RetryPolicy {
  if (!block) return callee;
  const perTry = callee.perTryTimeoutMs ?? { value: undefined, from: { kind: 'builtin' as const } };
  const perTryOwn = own<number | undefined>(src, block, at, 'per_try_timeout', perTry, durationMs);
  return {
    attempts: own(src, block, at, 'attempts', callee.attempts),
    ...(perTryOwn.value !== undefined ? { perTryTimeoutMs: perTryOwn as Valued<number> } : {}),
    retryOn: own<readonly string[]>(src, block, at, 'retry_on', callee.retryOn, (x) => [...(x as string[])].sort()),
    retryNonIdempotent: own(src, block, at, 'retry_non_idempotent', callee.retryNonIdempotent),
    pos: keyPos(src, at),
  };
}

function routeTimeout(src: SourceFile, raw: unknown, at: DocPath, callee: TimeoutPolicy): TimeoutPolicy {
  if (raw === undefined) return callee;
  const pos: SourcePos = valuePos(src, [...at, 'timeout']);
  return { requestMs: { value: raw === 'none' ? 0 : durationMs(raw), from: { kind: 'file', pos } }, pos };
}

function faultOf(src: SourceFile, f: Obj, at: DocPath): FaultPolicy {
  const v = <T>(path: DocPath, value: T): Valued<T> => ({ value, from: { kind: 'file', pos: valuePos(src, [...at, ...path]) } });
  const delay = f.delay as Obj | undefined;
  const abort = f.abort as Obj | undefined;
  return {
    ...(delay ? { delay: { fixedMs: v(['delay', 'fixed'], durationMs(delay.fixed)), percent: v(['delay', 'percent'], delay.percent as number) } } : {}),
    ...(abort ? { abort: { status: v(['abort', 'status'], abort.status as number), percent: v(['abort', 'percent'], abort.percent as number) } } : {}),
    pos: keyPos(src, at),
  };
}
