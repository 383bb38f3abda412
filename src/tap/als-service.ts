/**
 * envoy.service.accesslog.v3.AccessLogService/StreamAccessLogs on the xDS
 * server's port (the sidecars reach it over their mTLS xDS cluster).
 *
 * Who sends is decided by the stream's client certificate (stream-auth.ts):
 * its SPIFFE id must be spiffe://<trust domain>/svc/<name>, and the
 * identifier's node id (first message) must be that <name>; otherwise the
 * stream is refused with PERMISSION_DENIED and counted
 * (hms_tap_refused_total). Records carry the certificate's node, never the
 * message's.
 */
import type * as protobuf from 'protobufjs';
import { envoyRoot } from '../validate/proto-registry';
import { ALS_LOG_NAME } from '../envoy/access-log';
import type { Direction } from './record';
import { authenticatedStreamService, type GrpcServiceBinding, type StreamAuthOptions } from './stream-auth';

export type { GrpcServiceBinding } from './stream-auth';
import type { Tap } from './tap';

const SERVICE = '/envoy.service.accesslog.v3.AccessLogService';
const DIRECTION_OF_LOG = new Map<string, Direction>(Object.entries(ALS_LOG_NAME).map(([d, n]) => [n, d as Direction]));

export type AlsOptions = StreamAuthOptions;

type Msg = Record<string, unknown>;

function decoder(): (buf: Buffer) => Msg {
  let type: protobuf.Type | undefined;
  return (buf) => {
    type ??= envoyRoot().lookupType('envoy.service.accesslog.v3.StreamAccessLogsMessage');
    return type.decode(buf) as unknown as Msg;
  };
}

export function accessLogService(tap: Tap, opts: AlsOptions): GrpcServiceBinding {
  const method = { name: 'StreamAccessLogs', path: `${SERVICE}/StreamAccessLogs`, decode: decoder() };
  return authenticatedStreamService<Msg>(tap, opts, method, () => {
    // Per stream: an access log's direction is named once, by its log_name.
    let direction: Direction | undefined;
    return {
      what: 'access logs',
      claimed: (m) => (m.identifier ? (((m.identifier as Msg).node as Msg | undefined)?.id as string | undefined) ?? '' : undefined),
      onMessage: (sender, m) => {
        direction ??= DIRECTION_OF_LOG.get(String((m.identifier as Msg | undefined)?.log_name)) ?? 'outbound';
        const http = m.http_logs as Msg | undefined;
        tap.ingestEnvoy(sender, direction, (http?.log_entry as unknown[] | undefined) ?? []);
      },
    };
  });
}
