/**
 * The proxyless side: @grpc/grpc-js-xds loaded the way the mesh needs it,
 * the process's xDS bootstrap, channels to `xds:///<service>`, the xDS server
 * binding, and the unary handler wrapper that carries trace ids.
 *
 * Loaded lazily: grpc-js-xds takes about two seconds to load its protos, and
 * an HTTP member never needs it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as grpcTypes from '@grpc/grpc-js';
import { GRPC_REQUIRED_ENV } from '../translate/grpc-gaps';
import { MeshCallError, MeshSdkError } from './errors';
import { newTraceId, runWithTrace, sanitizeTrace, TRACE_HEADER, traceForOutgoingCall, traceLine } from './trace';

type GrpcJs = typeof import('@grpc/grpc-js');
type GrpcXds = typeof import('@grpc/grpc-js-xds');

/** grpc-js-xds reads its feature switches once, when it is loaded (A41: RBAC is behind one). */
export function applyRequiredEnv(): void {
  for (const [k, v] of Object.entries(GRPC_REQUIRED_ENV)) process.env[k] = v;
}

export function grpcJs(): GrpcJs {
  return require('@grpc/grpc-js') as GrpcJs;
}

let xdsLoaded: GrpcXds | undefined;
/**
 * grpc-js-xds with the xds: resolver registered. Fails loudly when it was
 * loaded before GRPC_XDS_EXPERIMENTAL_RBAC was set: its servers would NACK
 * every listener carrying RBAC and never serve.
 */
export function grpcXds(): GrpcXds {
  if (xdsLoaded) return xdsLoaded;
  applyRequiredEnv();
  const xds = require('@grpc/grpc-js-xds') as GrpcXds;
  // Internal module of the pinned grpc-js-xds (1.14.1): the switch as it was read at load time.
  const env = require('@grpc/grpc-js-xds/build/src/environment') as { EXPERIMENTAL_RBAC?: boolean };
  if (env.EXPERIMENTAL_RBAC !== true) {
    throw new MeshSdkError(
      '@grpc/grpc-js-xds was loaded before GRPC_XDS_EXPERIMENTAL_RBAC=true was set, so its servers reject the mesh\'s access rules (RBAC): ' +
        'import the SDK before @grpc/grpc-js-xds, or set GRPC_XDS_EXPERIMENTAL_RBAC=true in the environment',
    );
  }
  xds.register();
  xdsLoaded = xds;
  return xds;
}

/**
 * Gives this process its xDS bootstrap, once. An operator's GRPC_XDS_BOOTSTRAP
 * or GRPC_XDS_BOOTSTRAP_CONFIG wins; otherwise the one `mesh build` wrote for
 * the service, with the PKI file paths made absolute (a relative pki_dir is
 * relative to the mesh folder, not to wherever the app was started).
 * grpc-js-xds reads it when the first xDS channel or server is created and
 * shares one ADS stream per process, so a process is one mesh member.
 */
export function prepareBootstrap(service: string, meshDir: string, outDir: string): string {
  const given = process.env.GRPC_XDS_BOOTSTRAP ?? process.env.GRPC_XDS_BOOTSTRAP_CONFIG;
  if (given !== undefined) {
    const text = process.env.GRPC_XDS_BOOTSTRAP ? fs.readFileSync(process.env.GRPC_XDS_BOOTSTRAP, 'utf8') : given;
    const id = (JSON.parse(text) as { node?: { id?: string } }).node?.id;
    if (id !== service) throw new MeshSdkError(`the xDS bootstrap in the environment is for node "${id}", not "${service}"`);
    return text;
  }
  const file = path.join(outDir, service, 'bootstrap.json');
  let boot: { certificate_providers?: Record<string, { config?: Record<string, unknown> }> };
  try {
    boot = JSON.parse(fs.readFileSync(file, 'utf8')) as typeof boot;
  } catch (err) {
    throw new MeshSdkError(`no gRPC bootstrap for "${service}" at ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): run \`mesh build ${meshDir}\``);
  }
  for (const provider of Object.values(boot.certificate_providers ?? {})) {
    const cfg = provider.config ?? {};
    for (const key of ['certificate_file', 'private_key_file', 'ca_certificate_file']) {
      if (typeof cfg[key] === 'string') cfg[key] = path.resolve(meshDir, cfg[key] as string);
    }
  }
  const text = JSON.stringify(boot);
  process.env.GRPC_XDS_BOOTSTRAP_CONFIG = text;
  return text;
}

/** What `new Stub(address, credentials, options)` builds: a generated (proto-loader) client class. */
export type StubConstructor<S extends grpcTypes.Client> = new (address: string, credentials: grpcTypes.ChannelCredentials, options?: grpcTypes.ClientOptions) => S;

export interface CallOptions {
  /** Deadline for this call, in milliseconds. The mesh's route timeout still applies (the shorter wins). */
  readonly timeoutMs?: number;
}

export interface CallResult<T> {
  readonly response: T;
  /** The trace id of the call, as the callee echoed it. */
  readonly trace: string;
  readonly elapsedMs: number;
}

/** A client of one gRPC service of the mesh. */
export interface GrpcServiceClient<S extends grpcTypes.Client = grpcTypes.Client> {
  readonly protocol: 'grpc';
  readonly service: string;
  /** `xds:///<service>` for proxyless members; the sidecar's outbound listener for Envoy members. */
  readonly target: string;
  /** The generated client on that target, with the mesh's credentials; calls made on it get an `x-trace` too. */
  readonly stub: S;
  /** One unary call by method name (`Payout` or `payout`), resolved with the response and its trace id. */
  call<Res = unknown>(method: string, request: unknown, opts?: CallOptions): Promise<CallResult<Res>>;
  close(): void;
}

export interface ChannelPlan {
  readonly service: string;
  readonly target: string;
  /** xDS credentials (proxyless) or plaintext to the local sidecar. */
  readonly viaSidecar: boolean;
  readonly traceLog: boolean;
}

/** Adds `x-trace` to calls made on the raw stub without one. */
function traceInterceptor(grpc: GrpcJs): grpcTypes.Interceptor {
  return (options, nextCall) =>
    new grpc.InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        if (metadata.get(TRACE_HEADER).length === 0) metadata.set(TRACE_HEADER, traceForOutgoingCall());
        next(metadata, listener);
      },
    });
}

export function grpcServiceClient<S extends grpcTypes.Client>(plan: ChannelPlan, Stub: StubConstructor<S> | undefined): GrpcServiceClient<S> {
  const grpc = grpcJs();
  const options: grpcTypes.ClientOptions = { interceptors: [traceInterceptor(grpc)] };
  let creds: grpcTypes.ChannelCredentials;
  if (plan.viaSidecar) {
    // The sidecar does mTLS; it routes by authority, which must be the service name.
    creds = grpc.credentials.createInsecure();
    options['grpc.default_authority'] = plan.service;
  } else {
    // mTLS from the mesh (cluster TLS, A29). The fallback applies only to a cluster without TLS, which the mesh never sends.
    creds = new (grpcXds().XdsChannelCredentials)(grpc.credentials.createInsecure());
  }
  const stub = (Stub ? new Stub(plan.target, creds, options) : new grpc.Client(plan.target, creds, options)) as S;
  return {
    protocol: 'grpc',
    service: plan.service,
    target: plan.target,
    stub,
    call: (method, request, opts) => unaryCall(grpc, plan, stub, method, request, opts ?? {}),
    close: () => stub.close(),
  };
}

type UnaryMethod = (request: unknown, metadata: grpcTypes.Metadata, options: grpcTypes.CallOptions, cb: (err: grpcTypes.ServiceError | null, res: unknown) => void) => grpcTypes.ClientUnaryCall;

function unaryCall<Res>(grpc: GrpcJs, plan: ChannelPlan, stub: grpcTypes.Client, method: string, request: unknown, opts: CallOptions): Promise<CallResult<Res>> {
  const fn = (stub as unknown as Record<string, unknown>)[method];
  if (typeof fn !== 'function') {
    return Promise.reject(new MeshSdkError(`"${method}" is not a method of the ${plan.service} client: pass the generated client class to mesh.client("${plan.service}", Stub)`));
  }
  const trace = traceForOutgoingCall();
  const metadata = new grpc.Metadata();
  metadata.set(TRACE_HEADER, trace);
  const started = performance.now();
  const callOptions: grpcTypes.CallOptions = opts.timeoutMs !== undefined ? { deadline: Date.now() + opts.timeoutMs } : {};
  return new Promise((resolve, reject) => {
    let echoed: string | undefined;
    const done = (outcome: string): number => {
      const elapsedMs = performance.now() - started;
      if (plan.traceLog) process.stderr.write(traceLine(echoed ?? trace, plan.target, method, outcome, elapsedMs));
      return elapsedMs;
    };
    const call = (fn as UnaryMethod).call(stub, request, metadata, callOptions, (err, response) => {
      if (err) {
        const name = grpc.status[err.code] ?? String(err.code);
        echoed = (err.metadata ? sanitizeTrace(err.metadata.get(TRACE_HEADER)) : undefined) ?? echoed;
        reject(new MeshCallError(err.code, name, err.details, echoed ?? trace, done(name)));
      } else {
        resolve({ response: response as Res, trace: echoed ?? trace, elapsedMs: done('OK') });
      }
    });
    call.on('metadata', (m: grpcTypes.Metadata) => {
      echoed = sanitizeTrace(m.get(TRACE_HEADER)) ?? echoed;
    });
  });
}

/** What a handler learns about the call besides the request. */
export interface HandlerContext {
  readonly trace: string;
  /** The caller's SPIFFE ID from its mTLS certificate (the mesh already checked it may call). */
  readonly caller?: string;
  readonly metadata: grpcTypes.Metadata;
}

/**
 * A unary handler that runs inside the call's trace context (onward calls
 * carry the same `x-trace`) and echoes the trace id in the response headers.
 * Throw an object with a gRPC `code` (and `details`) to answer with that
 * status; anything else is INTERNAL.
 */
export function unaryHandler<Req, Res>(fn: (request: Req, ctx: HandlerContext) => Res | Promise<Res>): grpcTypes.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    const grpc = grpcJs();
    const trace = sanitizeTrace(call.metadata.get(TRACE_HEADER)) ?? newTraceId();
    const caller = spiffeIdOf(call.getAuthContext?.()?.sslPeerCertificate?.subjectaltname);
    const echo = (): grpcTypes.Metadata => {
      const m = new grpc.Metadata();
      m.set(TRACE_HEADER, trace);
      return m;
    };
    const ctx: HandlerContext = { trace, ...(caller ? { caller } : {}), metadata: call.metadata };
    runWithTrace({ trace, ...(caller ? { caller } : {}) }, () => Promise.resolve().then(() => fn(call.request, ctx))).then(
      (res) => {
        // Headers go out with the response, never before: once a server has sent
        // headers the client may no longer retry the call (A6), so a failure
        // must stay a trailers-only response, carrying the id in its trailers.
        call.sendMetadata(echo());
        callback(null, res);
      },
      (err: unknown) => callback({ ...toServiceError(grpc, err), metadata: echo() }),
    );
  };
}

function spiffeIdOf(san: string | undefined): string | undefined {
  return /(?:^|,\s*)URI:(spiffe:\/\/[^,\s]+)/.exec(san ?? '')?.[1];
}

function toServiceError(grpc: GrpcJs, err: unknown): Partial<grpcTypes.StatusObject> {
  const e = (err ?? {}) as { code?: unknown; details?: unknown; message?: unknown };
  if (typeof e.code === 'number' && e.code > 0 && e.code <= 16) return { code: e.code, details: String(e.details ?? e.message ?? '') };
  return { code: grpc.status.INTERNAL, details: String(e.message ?? err) };
}

/**
 * Binds an xDS-enabled server where the mesh expects it and resolves once it
 * serves, i.e. once the control plane sent its Listener (A36: the server
 * refuses connections until then). Rejects after `timeoutMs` with the last
 * serving status grpc-js-xds reported.
 */
export function bindXdsServer(server: grpcTypes.Server, address: string, credentials: grpcTypes.ServerCredentials, timeoutMs: number): Promise<number> {
  const xdsServer = server as grpcTypes.Server & { addServingStateListener?: (port: string, l: (s: grpcTypes.StatusObject) => void) => void };
  if (typeof xdsServer.addServingStateListener !== 'function') {
    return Promise.reject(new MeshSdkError('serve() needs an XdsServer from @grpc/grpc-js-xds: a plain grpc.Server would serve without the mesh\'s mTLS and access rules'));
  }
  return new Promise((resolve, reject) => {
    let last = 'no answer from the control plane yet';
    const timer = setTimeout(() => reject(new MeshSdkError(`not serving on ${address} after ${timeoutMs} ms: ${last} (is this instance registered, and its bootstrap for the right control plane?)`)), timeoutMs);
    server.bindAsync(address, credentials, (err, port) => {
      clearTimeout(timer);
      if (err) reject(err);
      else resolve(port);
    });
    xdsServer.addServingStateListener!(address, (s) => {
      if (s.code !== 0) last = s.details;
    });
  });
}
