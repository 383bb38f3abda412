/**
 * JSON access logs to stdout, one line per request, on both listeners of a
 * sidecar. The trace id is the request id (x-request-id), which the outbound
 * HCM generates and the inbound HCM preserves, so one id follows a call across
 * hops and comes back to the app as `x-trace`.
 *
 * The values are Envoy format commands, resolved per request; nothing here is
 * a time or a random value, so the config stays deterministic.
 */
import { TYPE, type JsonObject } from './proto-json';

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
