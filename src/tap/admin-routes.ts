/**
 * The tap's admin API endpoints (mounted by src/xds/admin.ts after its own):
 *   GET  /v1/tap/records?trace=&service=&since=&until=&after=&limit=   admin
 *   GET  /v1/tap/stat?window=<seconds>                                 admin
 *   POST /v1/tap/records   {"records": [...]}   a service, as itself  (proxyless members, src/sdk/tap.ts)
 *   GET  /v1/events?after=&limit=                                      admin
 * Who calls is checked before a body is read.
 */
import { recordSize, type Direction, type TapRecord } from './record';
import type { Tap } from './tap';
import type { EventBus } from '../events/bus';

export type TapRole = { kind: 'admin'; name: string } | { kind: 'svc'; name: string } | { kind: 'none' };

export interface RouteHelpers {
  fail(status: number, message: string, code?: string): never;
  readBody(limit: number): Promise<Record<string, unknown>>;
  /** The trust domain of the running PKI ('insecure' without one). */
  readonly trustDomain: string;
}

/** One post carries at most this many records (and the body at most MAX_POST_BYTES). */
export const MAX_POSTED_RECORDS = 500;
export const MAX_POST_BYTES = 512 * 1024;

export async function tapRoute(tap: Tap, events: EventBus | undefined, key: string, url: URL, role: TapRole, h: RouteHelpers): Promise<unknown> {
  const requireAdmin = (): void => {
    if (role.kind !== 'admin') h.fail(403, `${key} requires an admin identity (spiffe://<trust-domain>/admin/<name>)`);
  };
  const q = url.searchParams;
  switch (key) {
    case 'GET /v1/tap/records':
      requireAdmin();
      return {
        last_seq: tap.store.lastSeq,
        records: tap.store.query({
          ...(q.has('trace') ? { traceId: q.get('trace')! } : {}),
          ...(q.has('service') ? { service: q.get('service')! } : {}),
          ...(q.has('since') ? { sinceMs: intParam(q, 'since', h) } : {}),
          ...(q.has('until') ? { untilMs: intParam(q, 'until', h) } : {}),
          ...(q.has('after') ? { after: intParam(q, 'after', h) } : {}),
          ...(q.has('limit') ? { limit: intParam(q, 'limit', h) } : {}),
        }),
      };
    case 'GET /v1/tap/stat':
      requireAdmin();
      return { window_s: q.has('window') ? intParam(q, 'window', h) : 10, pairs: tap.stats.window(q.has('window') ? intParam(q, 'window', h) : 10) };
    case 'POST /v1/tap/records': {
      if (role.kind !== 'svc') h.fail(403, 'POST /v1/tap/records requires a service identity (spiffe://<trust-domain>/svc/<name>): a member reports its own calls');
      const body = await h.readBody(MAX_POST_BYTES);
      const list = body.records;
      if (!Array.isArray(list) || list.length > MAX_POSTED_RECORDS) h.fail(400, `body must be {"records": [...]} with at most ${MAX_POSTED_RECORDS} records`, 'MESH152');
      const records = list.map((r, i) => postedRecord(r, i, role.name, h));
      for (const r of records) tap.ingest(r);
      return { accepted: records.length };
    }
    case 'GET /v1/events':
      requireAdmin();
      return { last_seq: events?.lastSeq ?? 0, events: events?.recent(q.has('after') ? intParam(q, 'after', h) : 0, q.has('limit') ? intParam(q, 'limit', h) : 1000) ?? [] };
    default:
      return undefined;
  }
}

function intParam(q: URLSearchParams, name: string, h: RouteHelpers): number {
  const v = Number(q.get(name));
  if (!Number.isSafeInteger(v) || v < 0) h.fail(400, `query parameter ${name} must be a non-negative integer, not ${JSON.stringify(q.get(name))}`, 'MESH151');
  return v;
}

/**
 * A record posted by a proxyless member: its node is the caller's certificate.
 * Outbound: the member called `callee`; inbound: `caller` called it (as the
 * member's own TLS stack saw it: the control plane cannot check that one).
 */
function postedRecord(raw: unknown, i: number, node: string, h: RouteHelpers): Omit<TapRecord, 'seq'> {
  const r = (raw && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
  const bad = (field: string): never => h.fail(400, `records[${i}].${field} is missing or of the wrong type`, 'MESH152');
  const s = (f: string, max = 2048): string => (r[f] === undefined ? '' : typeof r[f] === 'string' ? (r[f] as string).slice(0, max) : bad(f));
  const n = (f: string): number => (r[f] === undefined ? 0 : typeof r[f] === 'number' && Number.isFinite(r[f]) && (r[f] as number) >= 0 ? (r[f] as number) : bad(f));
  const direction = r.direction === 'inbound' || r.direction === 'outbound' ? (r.direction as Direction) : bad('direction');
  const self = `spiffe://${h.trustDomain}/svc/${node}`;
  const other = s('peer', 128);
  if (!/^[a-z0-9-]*$/.test(other)) bad('peer');
  const peerId = other ? `spiffe://${h.trustDomain}/svc/${other}` : '';
  const flags = Array.isArray(r.flags) && r.flags.every((f) => typeof f === 'string' && /^[A-Z]{1,6}$/.test(f)) ? (r.flags as string[]).slice(0, 8).sort() : r.flags === undefined ? [] : bad('flags');
  const rec = {
    node,
    direction,
    traceId: s('trace_id', 128),
    startMs: n('start_ms'),
    durationMs: n('duration_ms'),
    method: s('method', 16),
    authority: s('authority', 256),
    path: s('path'),
    status: n('status'),
    flags,
    upstreamCluster: direction === 'outbound' && other ? `outbound|${other}` : '',
    upstreamHost: s('upstream_host', 256),
    caller: direction === 'outbound' ? self : peerId,
    callee: direction === 'outbound' ? peerId : self,
    details: s('details', 256),
  };
  return { ...rec, size: recordSize(rec) };
}
