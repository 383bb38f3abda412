/**
 * JSON access logs to stdout, one line per request, on both listeners of a
 * sidecar. The trace id is the request id (x-request-id), which the outbound
 * HCM generates and the inbound HCM preserves, so one id follows a call across
 * hops and comes back to the app as `x-trace`.
 *
 * The values are Envoy format commands, resolved per request; nothing here is
 * a time or a random value, so the config stays deterministic.
 */
import { TYPE, duration, type JsonObject } from './proto-json';

export type Direction = 'inbound' | 'outbound';

export function accessLogFields(direction: Direction, node: string): Record<string, string> {
  return {
    authority: '%REQ(:AUTHORITY)%',
    bytes_received: '%BYTES_RECEIVED%',
    bytes_sent: '%BYTES_SENT%',
    direction,
    duration_ms: '%DURATION%',
    method: '%REQ(:METHOD)%',
    node,
    path: '%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%',
    // Who called: the URI SAN of the client certificate (inbound only; outbound callers are the local app).
    ...(direction === 'inbound' ? { peer: '%DOWNSTREAM_PEER_URI_SAN%' } : {}),
    response_flags: '%RESPONSE_FLAGS%',
    start_time: '%START_TIME%',
    status: '%RESPONSE_CODE%',
    trace_id: '%REQ(X-REQUEST-ID)%',
    upstream_cluster: '%UPSTREAM_CLUSTER%',
    upstream_host: '%UPSTREAM_HOST%',
  };
}

/**
 * Envoy's stdout logger writes to its own standard output. The file logger on
 * `/dev/stdout` would reopen that path, which fails with ENXIO when stdout is a
 * socket (as under Node's child_process, systemd or some supervisors) and needs
 * root when it is another user's pipe (containers): the listener is then NACKed.
 */
export function stdoutAccessLog(direction: Direction, node: string, extra: Readonly<Record<string, string>> = {}): JsonObject {
  return {
    name: 'envoy.access_loggers.stdout',
    typed_config: {
      '@type': TYPE.stdoutAccessLog,
      log_format: { json_format: { ...accessLogFields(direction, node), ...extra } },
    },
  };
}

/**
 * The gRPC access log name, one per direction: it is the `log_name` of the
 * stream's identifier, which tells the control plane's AccessLogService which
 * listener a record came from (an HTTPAccessLogEntry does not say).
 */
export const ALS_LOG_NAME: Readonly<Record<Direction, string>> = { inbound: 'hms-inbound', outbound: 'hms-outbound' };

/**
 * Envoy's buffers for the gRPC access log, set explicitly rather than left to
 * defaults (docs/tap.md, "Buffers and losses"):
 * - flush every 200 ms (Envoy's default is 1 s): the end of a request reaches
 *   the event sinks within a fifth of a second plus the send;
 * - flush early at 16 KiB of pending entries (Envoy's default, ~40 records):
 *   one message per batch keeps the per-request cost low under load;
 * - three retries to open the stream when the control plane is away. What
 *   Envoy cannot send (stream down, or its HTTP/2 write buffer over the high
 *   watermark) it drops and counts in access_logs.grpc_access_log.logs_dropped,
 *   on each sidecar's (loopback) admin /stats; the control plane counts per
 *   node what it received and what it refused (hms_tap_records_total,
 *   hms_tap_refused_total) on /metrics.
 */
export const ALS_BUFFER = { flushIntervalMs: 200, bufferSizeBytes: 16384, streamRetries: 3 } as const;

/**
 * Every HTTP request, streamed to the control plane's AccessLogService over
 * the same mTLS cluster as xDS (the server knows the sender from its
 * certificate, never from the record). The stdout JSON log stays beside it.
 */
export function grpcAccessLog(direction: Direction, xdsCluster: string): JsonObject {
  return {
    name: 'envoy.access_loggers.http_grpc',
    typed_config: {
      '@type': TYPE.httpGrpcAccessLog,
      common_config: {
        log_name: ALS_LOG_NAME[direction],
        grpc_service: { envoy_grpc: { cluster_name: xdsCluster } },
        transport_api_version: 'V3',
        buffer_flush_interval: duration(ALS_BUFFER.flushIntervalMs),
        buffer_size_bytes: ALS_BUFFER.bufferSizeBytes,
        grpc_stream_retry_policy: { num_retries: ALS_BUFFER.streamRetries },
      },
    },
  };
}
