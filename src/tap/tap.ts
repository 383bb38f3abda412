/**
 * The observability tap: the store of recent records, what was lost and
 * refused per node, and the listeners (stats, events) records feed. The
 * AccessLogService (als-service.ts) and the SDK's POST (admin API) feed it.
 */
import type { Logger } from '../xds/log';
import { recordOfEntry, type Sender } from './envoy-entry';
import type { Direction, TapRecord } from './record';
import { PairStats } from './pair-stats';
import { DEFAULT_STORE_LIMITS, TapStore, type StoreLimits } from './store';
import type { EnvoyCounter } from './metrics-service';

/** Per-node counters are kept for at most this many nodes (bounded /metrics labels); the rest are summed under "other". */
export const MAX_NODE_LABELS = 1000;

export interface NodeCounters {
  records: number;
  /** Streams or posts refused because the message named another node than the certificate. */
  refused: number;
  /**
   * Envoy's own access-log counters as its stats sink reports them (metrics-service.ts):
   * totals here, monotonic across the sidecar's restarts; `last` is its latest report.
   */
  envoy?: { total: Record<EnvoyCounter, number>; last: Record<EnvoyCounter, number>; reports: number; bytes: number };
}

export class Tap {
  readonly store: TapStore;
  readonly stats = new PairStats();
  readonly nodes = new Map<string, NodeCounters>();
  /** Streams refused before any node was known (no certificate, not a mesh identity). */
  refusedAnonymous = 0;

  constructor(
    private readonly log: Logger,
    limits: StoreLimits = DEFAULT_STORE_LIMITS,
  ) {
    this.store = new TapStore(limits);
    this.store.onRecord((r) => this.stats.observe(r));
  }

  counters(node: string): NodeCounters {
    let c = this.nodes.get(node);
    if (!c) {
      const key = this.nodes.size >= MAX_NODE_LABELS ? 'other' : node;
      c = this.nodes.get(key) ?? { records: 0, refused: 0 };
      this.nodes.set(key, c);
    }
    return c;
  }

  /** Envoy entries of one message from an authenticated sender. */
  ingestEnvoy(sender: Sender, direction: Direction, entries: readonly unknown[]): void {
    const c = this.counters(sender.node);
    for (const e of entries) {
      this.store.add(recordOfEntry(e as Record<string, unknown>, direction, sender));
      c.records++;
    }
  }

  /** A record built elsewhere (the SDK's POST), already checked and stamped with its sender. */
  ingest(r: Omit<TapRecord, 'seq'>): TapRecord {
    this.counters(r.node).records++;
    return this.store.add(r);
  }

  /**
   * A sidecar's cumulative counters: what grew since its last report is added;
   * a value below the last one is a restarted Envoy counting from zero again.
   */
  envoyCounters(node: string, values: Partial<Record<EnvoyCounter, number>>, bytes = 0): void {
    const c = this.counters(node);
    c.envoy ??= { total: { logsDropped: 0, logsWritten: 0 }, last: { logsDropped: 0, logsWritten: 0 }, reports: 0, bytes: 0 };
    c.envoy.reports++;
    c.envoy.bytes += bytes;
    for (const [k, v] of Object.entries(values) as Array<[EnvoyCounter, number]>) {
      c.envoy.total[k] += v >= c.envoy.last[k] ? v - c.envoy.last[k] : v;
      c.envoy.last[k] = v;
    }
  }

  refuse(certNode: string | undefined, reason: string, fields: Record<string, unknown> = {}): void {
    if (certNode) this.counters(certNode).refused++;
    else this.refusedAnonymous++;
    this.log.log('warn', 'access log refused', { reason, identity: certNode ?? null, ...fields });
  }

  renderMetrics(): string {
    const lines: string[] = [];
    const metric = (name: string, type: string, help: string, samples: Array<[string, number]>): void => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const [labels, v] of samples) lines.push(`${name}${labels} ${v}`);
    };
    const nodes = [...this.nodes.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const per = (f: (c: NodeCounters) => number): Array<[string, number]> => nodes.map(([n, c]) => [`{node="${n}"}`, f(c)]);
    metric('hms_tap_records_total', 'counter', 'Access-log records received, per reporting node.', per((c) => c.records));
    metric('hms_tap_refused_total', 'counter', 'Access-log streams or posts refused per node (a node id other than the certificate\'s); node="" for no mesh identity.', [...per((c) => c.refused), ['{node=""}', this.refusedAnonymous]]);
    const reporting = nodes.filter(([, c]) => c.envoy);
    metric('hms_tap_envoy_logs_dropped_total', 'counter', 'Access-log entries a sidecar\'s Envoy dropped (access_logs.grpc_access_log.logs_dropped, from its stats sink), per node.', reporting.map(([n, c]) => [`{node="${n}"}`, c.envoy!.total.logsDropped]));
    metric('hms_tap_envoy_logs_written_total', 'counter', 'Access-log entries a sidecar\'s Envoy handed to its gRPC stream (access_logs.grpc_access_log.logs_written), per node.', reporting.map(([n, c]) => [`{node="${n}"}`, c.envoy!.total.logsWritten]));
    metric('hms_tap_envoy_stats_reports_total', 'counter', 'Stats reports (flushes of the metrics service sink) received, per node.', reporting.map(([n, c]) => [`{node="${n}"}`, c.envoy!.reports]));
    metric('hms_tap_envoy_stats_bytes_total', 'counter', 'Bytes of those reports on the wire, per node: what the stats sink costs.', reporting.map(([n, c]) => [`{node="${n}"}`, c.envoy!.bytes]));
    metric('hms_tap_store_records', 'gauge', 'Records in the tap store.', [['', this.store.size]]);
    metric('hms_tap_store_bytes', 'gauge', 'Bytes of records in the tap store.', [['', this.store.bytes]]);
    metric('hms_tap_store_dropped_total', 'counter', 'Records dropped from the tap store at its caps (oldest first).', [['', this.store.dropped]]);
    lines.push(...this.stats.renderMetrics());
    return lines.join('\n') + '\n';
  }
}
