/**
 * svcmesh: the SDK applications use (docs/sdk.md).
 *
 *   const me = await mesh.init({ service: 'impact-calc', version: 'v1' });
 *   const grantPay = mesh.client('grant-pay', GrantPay);
 *   const res = await grantPay.call('Payout', { project: 'HWY-94', usd: 200_000 }, { timeoutMs: 2000 });
 *
 * No addresses, ports or secrets in the app: who it is and where the control
 * plane is come from the mesh's files; discovery, mTLS, retries, timeouts and
 * circuit breaking come from the mesh (proxyless gRPC members through xDS,
 * HTTP members through their Envoy sidecar).
 *
 * One member per process: a process's gRPC xDS client has one node identity.
 */
import { applyRequiredEnv, unaryHandler } from './grpc';
import { httpHandler, type HttpServiceClient } from './http';
import { MeshMember, type InitOptions, type ServiceClient } from './member';
import { MeshSdkError } from './errors';
import { currentContext, currentTrace } from './trace';
import type { GrpcServiceClient, StubConstructor } from './grpc';
import type * as grpcTypes from '@grpc/grpc-js';

// Before anything can load @grpc/grpc-js-xds: it reads its feature switches at load time.
applyRequiredEnv();

let current: MeshMember | undefined;
let starting: Promise<MeshMember> | undefined;

/**
 * Joins the mesh: reads the member's identity and settings from the mesh's
 * files, registers the instance with the control plane (heartbeats keep it
 * registered; it is deregistered on close and on SIGINT/SIGTERM), and prepares
 * the gRPC xDS bootstrap. Calling it again for the same service returns the
 * same member.
 */
function init(opts: InitOptions): Promise<MeshMember> {
  if (starting) {
    return starting.then((m) => {
      if (m.service !== opts.service || m.version !== opts.version) {
        throw new MeshSdkError(`this process already joined the mesh as ${m.service} ${m.version}; one member per process`);
      }
      return m;
    });
  }
  starting = new MeshMember(opts).start().then((m) => (current = m));
  starting.catch(() => (starting = undefined));
  return starting;
}

function member(): MeshMember {
  if (!current) throw new MeshSdkError('call `await mesh.init({ service, version })` first');
  return current;
}

function client(name: string): ServiceClient;
function client(name: string, protocol: 'http'): HttpServiceClient;
function client<S extends grpcTypes.Client>(name: string, Stub: StubConstructor<S>): GrpcServiceClient<S>;
function client<S extends grpcTypes.Client>(name: string, kind?: StubConstructor<S> | 'http'): ServiceClient | GrpcServiceClient<S> {
  if (kind === 'http') return member().client(name, kind);
  return kind ? member().client(name, kind) : member().client(name);
}

/** Deregisters and closes what the member opened (servers, channels). */
async function close(): Promise<void> {
  const m = current;
  current = undefined;
  starting = undefined;
  await m?.close();
}

export const mesh = {
  init,
  /**
   * A client of a mesh service by name. HTTP services: `post`/`get` through
   * the local sidecar. gRPC services: a channel to `xds:///<name>` with the
   * mesh's mTLS (pass the generated client class to get typed stubs and `call`).
   */
  client,
  /** Wraps a gRPC unary handler: trace context for onward calls, `x-trace` echoed, caller identity. */
  unary: unaryHandler,
  /** Wraps an HTTP handler behind a sidecar the same way. */
  http: httpHandler,
  /** The trace id of the request being handled, if any. */
  trace: currentTrace,
  /** Trace id and caller identity of the request being handled, if any. */
  context: currentContext,
  /** The member `init` created. */
  member,
  close,
} as const;

export { MeshMember, MeshSdkError };
export { MeshCallError } from './errors';
export { HttpServiceClient, type HttpResult, type HttpRequestOptions } from './http';
export type { InitOptions, ServiceClient } from './member';
export type { CallOptions, CallResult, GrpcServiceClient, HandlerContext, StubConstructor } from './grpc';
export type { TraceContext } from './trace';
/** Proxyless members report their calls to the control plane's tap (docs/tap.md). */
export { TapReporter, type CallRecord, type TapReporterOptions } from './tap';
