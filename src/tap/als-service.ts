/**
 * envoy.service.accesslog.v3.AccessLogService/StreamAccessLogs on the xDS
 * server's port (the sidecars reach it over their mTLS xDS cluster).
 *
 * Who sends is decided by the stream's client certificate: its SPIFFE id must
 * be spiffe://<trust domain>/svc/<name>, and the identifier's node id (first
 * message) must be that <name>; otherwise the stream is refused with
 * PERMISSION_DENIED and counted (hms_tap_refused_total). Records carry the
 * certificate's node, never the message's. Unauthenticated streams (the
 * plaintext proxyless port) are refused unless the whole server is --insecure.
 */
import * as grpc from '@grpc/grpc-js';
import type * as protobuf from 'protobufjs';
import { envoyRoot } from '../validate/proto-registry';
import { spiffeIdOfSan } from '../xds/server';
import { ALS_LOG_NAME } from '../envoy/access-log';
import type { Sender } from './envoy-entry';
import type { Direction } from './record';
import type { Tap } from './tap';

const SERVICE = '/envoy.service.accesslog.v3.AccessLogService';
const DIRECTION_OF_LOG = new Map<string, Direction>(Object.entries(ALS_LOG_NAME).map(([d, n]) => [n, d as Direction]));

export interface GrpcServiceBinding {
  readonly definition: grpc.ServiceDefinition;
  readonly implementation: grpc.UntypedServiceImplementation;
}

export interface AlsOptions {
  /** The trust domain of the running PKI (undefined: --insecure, nodes are not authenticated). */
  readonly trustDomain: () => string | undefined;
  readonly insecure: boolean;
}

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

/** The certificate's node name, or why the stream has none. */
function certNode(call: grpc.ServerReadableStream<Msg, unknown>, opts: AlsOptions): { node?: string; spiffeId?: string; refusal?: string } {
  const auth = call.getAuthContext();
  const cert = auth?.sslPeerCertificate;
  const authenticated = auth?.transportSecurityType === 'ssl' && cert !== undefined && Object.keys(cert).length > 0;
  if (!authenticated) return opts.insecure ? {} : { refusal: 'no client certificate: access logs are accepted only over mTLS' };
  const id = spiffeIdOfSan(cert!.subjectaltname);
  const td = opts.trustDomain();
  const m = id && td ? new RegExp(`^spiffe://${td.replace(/\./g, '\\.')}/svc/([a-z0-9-]+)$`).exec(id) : null;
  if (!m) return { refusal: `the certificate's identity ${id ?? '(none)'} is not a mesh service of ${td ?? '?'}` };
  return { node: m[1]!, spiffeId: id! };
}

function serveStream(tap: Tap, opts: AlsOptions, call: grpc.ServerReadableStream<Msg, unknown>, cb: grpc.sendUnaryData<unknown>): void {
  const who = certNode(call, opts);
  let sender: Sender | undefined;
  let direction: Direction | undefined;
  let done = false;
  const refuse = (message: string, node?: string): void => {
    if (done) return;
    done = true;
    tap.refuse(node, message, { peer: call.getPeer() });
    cb({ code: grpc.status.PERMISSION_DENIED, details: message });
    call.destroy();
  };
  if (who.refusal) {
    refuse(who.refusal);
    return;
  }
  call.on('data', (m: Msg) => {
    if (done) return;
    const ident = m.identifier as Msg | undefined;
    if (!sender) {
      const claimed = ((ident?.node as Msg | undefined)?.id as string | undefined) ?? '';
      if (!ident) return refuse('the first message of an access-log stream must carry its identifier', who.node);
      if (who.node !== undefined && claimed !== who.node) return refuse(`node "${claimed}" cannot report access logs over a stream whose certificate is ${who.spiffeId}`, who.node);
      const node = who.node ?? claimed;
      const td = opts.trustDomain() ?? 'insecure';
      sender = { node, spiffeId: who.spiffeId ?? `spiffe://${td}/svc/${node}`, trustDomain: td };
      direction = DIRECTION_OF_LOG.get(String(ident.log_name)) ?? 'outbound';
    }
    const http = m.http_logs as Msg | undefined;
    const entries = (http?.log_entry as unknown[] | undefined) ?? [];
    tap.ingestEnvoy(sender, direction!, entries);
  });
  const finish = (): void => {
    if (done) return;
    done = true;
    cb(null, {});
  };
  call.on('end', finish);
  call.on('error', () => (done = true));
  call.on('cancelled', () => (done = true));
}
