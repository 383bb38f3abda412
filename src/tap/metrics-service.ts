/**
 * envoy.service.metrics.v3.MetricsService/StreamMetrics on the xDS server's
 * port: every sidecar's stats sink (envoy.stat_sinks.metrics_service in its
 * bootstrap, templates/envoy-bootstrap.yaml.hbs) streams its stats here over
 * the mTLS xDS cluster, so that what Envoy itself lost reaches the control
 * plane's /metrics (docs/tap.md, "Buffers and losses").
 *
 * Who sends is decided as for the access logs (stream-auth.ts): the stream's
 * client certificate names the node, the identifier's node id must be that
 * node, otherwise PERMISSION_DENIED and hms_tap_refused_total. Of what Envoy
 * sends (every stat it has used) only KEPT_COUNTERS are kept, per node.
 *
 * The messages are decoded with a small schema of our own: the Prometheus
 * MetricFamily that StreamMetricsMessage carries (io/prometheus/client/
 * metrics.proto) is not among the protos @grpc/grpc-js-xds ships, and only
 * name and counter value are read (protobufjs skips the other fields).
 */
import * as protobuf from 'protobufjs';
import { authenticatedStreamService, type GrpcServiceBinding, type StreamAuthOptions } from './stream-auth';
import type { Tap } from './tap';

const SERVICE = '/envoy.service.metrics.v3.MetricsService';

/** Envoy's counters of its gRPC access log (one set per Envoy: all its gRPC access loggers add to them). */
export const KEPT_COUNTERS = {
  'access_logs.grpc_access_log.logs_dropped': 'logsDropped',
  'access_logs.grpc_access_log.logs_written': 'logsWritten',
} as const;
export type EnvoyCounter = (typeof KEPT_COUNTERS)[keyof typeof KEPT_COUNTERS];

/** Field numbers as in envoy/service/metrics/v3/metrics_service.proto and Prometheus' metrics.proto. */
const SCHEMA = {
  nested: {
    StreamMetricsMessage: { fields: { identifier: { type: 'Identifier', id: 1 }, envoy_metrics: { rule: 'repeated', type: 'MetricFamily', id: 2 } } },
    Identifier: { fields: { node: { type: 'Node', id: 1 } } },
    Node: { fields: { id: { type: 'string', id: 1 } } },
    MetricFamily: { fields: { name: { type: 'string', id: 1 }, metric: { rule: 'repeated', type: 'Metric', id: 4 } } },
    Metric: { fields: { counter: { type: 'Counter', id: 3 } } },
    Counter: { fields: { value: { type: 'double', id: 1 } } },
  },
};

interface Family { name: string; metric?: Array<{ counter?: { value?: number } }> }
interface StreamMetricsMessage { identifier?: { node?: { id?: string } }; envoy_metrics?: Family[]; /** Its size on the wire (set here, not decoded). */ bytes?: number }

let messageType: protobuf.Type | undefined;
/** The message type of that schema (tests encode with it). */
export function streamMetricsType(): protobuf.Type {
  messageType ??= protobuf.Root.fromJSON(SCHEMA).lookupType('StreamMetricsMessage');
  return messageType;
}

export function decodeStreamMetrics(buf: Buffer): StreamMetricsMessage {
  messageType ??= streamMetricsType();
  const m = messageType.decode(buf) as unknown as StreamMetricsMessage;
  m.bytes = buf.length;
  return m;
}

/** The kept counters of one message (cumulative values: the sink reports totals, not deltas). */
export function keptCounters(m: StreamMetricsMessage): Partial<Record<EnvoyCounter, number>> {
  const out: Partial<Record<EnvoyCounter, number>> = {};
  for (const f of m.envoy_metrics ?? []) {
    const key = KEPT_COUNTERS[f.name as keyof typeof KEPT_COUNTERS];
    const v = key ? f.metric?.[0]?.counter?.value : undefined;
    if (key && typeof v === 'number' && Number.isFinite(v) && v >= 0) out[key] = v;
  }
  return out;
}

export function metricsService(tap: Tap, opts: StreamAuthOptions): GrpcServiceBinding {
  const method = { name: 'StreamMetrics', path: `${SERVICE}/StreamMetrics`, decode: decodeStreamMetrics };
  return authenticatedStreamService<StreamMetricsMessage>(tap, opts, method, () => ({
    what: 'stats',
    claimed: (m) => (m.identifier ? m.identifier.node?.id ?? '' : undefined),
    onMessage: (sender, m) => tap.envoyCounters(sender.node, keptCounters(m), m.bytes ?? 0),
  }));
}
