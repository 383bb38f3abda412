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
import * as grpc from '@grpc/grpc-js';
import type * as protobuf from 'protobufjs';
import { envoyRoot } from '../validate/proto-registry';
import { ALS_LOG_NAME } from '../envoy/access-log';
import type { Direction } from './record';
import { serveAuthenticatedStream, type StreamAuthOptions } from './stream-auth';
import type { Tap } from './tap';

const SERVICE = '/envoy.service.accesslog.v3.AccessLogService';
const DIRECTION_OF_LOG = new Map<string, Direction>(Object.entries(ALS_LOG_NAME).map(([d, n]) => [n, d as Direction]));

export interface GrpcServiceBinding {
  readonly definition: grpc.ServiceDefinition;
  readonly implementation: grpc.UntypedServiceImplementation;
}

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
  const definition = {
    StreamAccessLogs: {
      path: `${SERVICE}/StreamAccessLogs`,
      requestStream: true,
      responseStream: false,
      requestSerialize: (b: Buffer) => b,
      requestDeserialize: decoder(),
      // StreamAccessLogsResponse is empty: zero bytes on the wire.
      responseSerialize: () => Buffer.alloc(0),
      responseDeserialize: (b: Buffer) => b,
    },
  } as unknown as grpc.ServiceDefinition;
  const implementation = { StreamAccessLogs: (call: grpc.ServerReadableStream<Msg, unknown>, cb: grpc.sendUnaryData<unknown>) => serveStream(tap, opts, call, cb) };
  return { definition, implementation };
}

function serveStream(tap: Tap, opts: AlsOptions, call: grpc.ServerReadableStream<Msg, unknown>, cb: grpc.sendUnaryData<unknown>): void {
  let direction: Direction | undefined;
  serveAuthenticatedStream(tap, opts, call, cb, {
    what: 'access logs',
    claimed: (m) => (m.identifier ? (((m.identifier as Msg).node as Msg | undefined)?.id as string | undefined) ?? '' : undefined),
    onMessage: (sender, m) => {
      direction ??= DIRECTION_OF_LOG.get(String((m.identifier as Msg | undefined)?.log_name)) ?? 'outbound';
      const http = m.http_logs as Msg | undefined;
      tap.ingestEnvoy(sender, direction, (http?.log_entry as unknown[] | undefined) ?? []);
    },
  });
}
