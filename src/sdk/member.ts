/**
 * One running instance of a mesh service: who it is (from the mesh's files),
 * its registration, its clients, and an orderly exit (deregister first, so
 * callers stop choosing it, then close servers and channels).
 */
import * as path from 'node:path';
import type * as grpcTypes from '@grpc/grpc-js';
import { identityFiles, manifestOf, readMeshFiles, type ManifestInfo, type MeshFiles, type Protocol } from './config';
import { MeshSdkError } from './errors';
import { bindXdsServer, grpcJs, grpcServiceClient, grpcXds, prepareBootstrap, type GrpcServiceClient, type StubConstructor } from './grpc';
import { HttpServiceClient } from './http';
import { Registration } from './registration';

export interface InitOptions {
  /** This service's name, as in its manifest (`services/<name>.yml`). */
  readonly service: string;
  /** The version this instance runs; must be one of the manifest's `versions`. */
  readonly version: string;
  /** The mesh folder (mesh.yml, services/, the PKI store). Default: $HMS_MESH_DIR, else the working directory. */
  readonly meshDir?: string;
  /** `mesh build` output holding `<service>/bootstrap.json` (gRPC members). Default: $HMS_MESH_OUT, else `<meshDir>/out`. */
  readonly outDir?: string;
  /**
   * gRPC members: the port this instance's XdsServer binds (0.0.0.0:<port>).
   * Default: $PORT, else the manifest's `port`. HTTP members register their
   * sidecar's `mesh_port` and listen on the manifest's `port`.
   */
  readonly port?: number;
  /** Where other members reach this instance. Default: $HMS_ADVERTISE_ADDRESS, else 127.0.0.1. */
  readonly address?: string;
  /** Registry TTL: without a heartbeat for this long the instance leaves discovery. Default: $HMS_TTL_MS, else 15 s. */
  readonly ttlMs?: number;
  /** The control plane's admin API. Default: $HMS_ADMIN_URL, else https://<control_plane.address>:<admin_port> of mesh.yml. */
  readonly adminUrl?: string;
  /** On SIGINT/SIGTERM: deregister, close, then exit by the same signal. Default: true. */
  readonly handleSignals?: boolean;
  /** One `[TRACE ...]` line on stderr per outgoing call. Default: $HMS_TRACE_LOG is "1". */
  readonly traceLog?: boolean;
  /** How long init waits for the control plane to accept the registration. Default: 10 s. */
  readonly registerTimeoutMs?: number;
}

/** A client of one mesh service: HTTP through the sidecar, or gRPC. */
export type ServiceClient = HttpServiceClient | GrpcServiceClient;

export class MeshMember {
  readonly service: string;
  readonly version: string;
  readonly protocol: Protocol;
  /** gRPC: where the XdsServer binds. HTTP: the app's own port behind its sidecar. */
  readonly port: number;
  /** spiffe://<trust domain>/svc/<service> */
  readonly identity: string;
  private readonly files: MeshFiles;
  private readonly manifest: ManifestInfo;
  private readonly traceLog: boolean;
  private registration?: Registration;
  private readonly closers: Array<() => Promise<void> | void> = [];
  private readonly grpcClients = new Map<string, Map<unknown, GrpcServiceClient<grpcTypes.Client>>>();
  private closing?: Promise<void>;

  constructor(private readonly opts: InitOptions) {
    const meshDir = path.resolve(opts.meshDir ?? process.env.HMS_MESH_DIR ?? process.cwd());
    this.files = readMeshFiles(meshDir);
    this.manifest = manifestOf(this.files, opts.service);
    if (!this.manifest.versions.includes(opts.version)) {
      throw new MeshSdkError(`version "${opts.version}" of ${opts.service} is not declared in its manifest (versions: ${this.manifest.versions.join(', ')})`);
    }
    this.service = opts.service;
    this.version = opts.version;
    this.protocol = this.manifest.protocol;
    this.identity = `spiffe://${this.files.trustDomain}/svc/${opts.service}`;
    this.traceLog = opts.traceLog ?? process.env.HMS_TRACE_LOG === '1';
    const envPort = process.env.PORT !== undefined && process.env.PORT !== '' ? Number(process.env.PORT) : undefined;
    this.port = this.protocol === 'grpc' ? (opts.port ?? envPort ?? this.manifest.port) : this.manifest.port;
    if (!Number.isInteger(this.port) || this.port < 1 || this.port > 65535) {
      throw new MeshSdkError(`port ${opts.port ?? process.env.PORT} for ${opts.service} is not a port number (1-65535)`);
    }
    if (this.protocol === 'grpc') {
      // Loads grpc-js-xds now: it registers the xds: resolver and the HTTP filters (router, RBAC)
      // that servers and channels need, and checks the RBAC switch was read as on.
      grpcXds();
      prepareBootstrap(opts.service, meshDir, path.resolve(opts.outDir ?? process.env.HMS_MESH_OUT ?? path.join(meshDir, 'out')));
    }
  }

  /** Registers this instance (gRPC: its server port; HTTP: its sidecar's mesh port) and starts heartbeats. */
  async start(): Promise<this> {
    const cp = this.files.controlPlane;
    this.registration = new Registration({
      adminUrl: this.opts.adminUrl ?? process.env.HMS_ADMIN_URL ?? `https://${cp.address}:${cp.adminPort}`,
      trustDomain: this.files.trustDomain,
      files: identityFiles(this.files, this.service),
      instance: {
        service: this.service,
        version: this.version,
        address: this.opts.address ?? process.env.HMS_ADVERTISE_ADDRESS ?? '127.0.0.1',
        port: this.protocol === 'grpc' ? this.port : this.manifest.meshPort,
      },
      ttlMs: this.opts.ttlMs ?? (process.env.HMS_TTL_MS ? Number(process.env.HMS_TTL_MS) : 15_000),
    });
    await this.registration.start(this.opts.registerTimeoutMs);
    if (this.opts.handleSignals !== false) this.handleSignals();
    return this;
  }

  /** The registry id of this instance (`<service>@<address>:<port>`). */
  get instanceId(): string | undefined {
    return this.registration?.instanceId;
  }

  /** The address an XdsServer must bind: A36 matches the Listener by this exact string. */
  get listenAddress(): string {
    return `0.0.0.0:${this.port}`;
  }

  client(name: string): ServiceClient;
  client(name: string, protocol: 'http'): HttpServiceClient;
  client<S extends grpcTypes.Client>(name: string, Stub: StubConstructor<S>): GrpcServiceClient<S>;
  client<S extends grpcTypes.Client>(name: string, kind?: StubConstructor<S> | 'http'): ServiceClient | GrpcServiceClient<S> {
    const callee = manifestOf(this.files, name);
    if (!this.manifest.calls.includes(name)) {
      throw new MeshSdkError(`${this.service} does not call ${name}: add it to \`calls:\` in its manifest (the mesh configures only declared calls)`);
    }
    if (kind === 'http' && callee.protocol !== 'http') throw new MeshSdkError(`${name} is a ${callee.protocol} service: pass its generated client class instead of "http"`);
    const Stub = kind === 'http' ? undefined : kind;
    if (callee.protocol === 'http') {
      if (Stub) throw new MeshSdkError(`${name} is an HTTP service: use mesh.client("${name}", "http")`);
      if (this.protocol === 'grpc') throw new MeshSdkError(`${name} speaks HTTP behind a sidecar; a proxyless gRPC member can only call gRPC services`);
      return new HttpServiceClient(name, this.manifest.outboundPort, this.traceLog);
    }
    // One channel per callee and stub class: its load balancing state (outlier
    // ejections, connections) must outlive a call, as a sidecar's would.
    const known = this.grpcClients.get(name)?.get(Stub ?? 'generic');
    if (known) return known as GrpcServiceClient<S>;
    const viaSidecar = this.protocol === 'http';
    const client = grpcServiceClient<S>(
      { service: name, target: viaSidecar ? `127.0.0.1:${this.manifest.outboundPort}` : `xds:///${name}`, viaSidecar, traceLog: this.traceLog },
      Stub,
    );
    if (!this.grpcClients.has(name)) this.grpcClients.set(name, new Map());
    this.grpcClients.get(name)!.set(Stub ?? 'generic', client);
    this.closers.push(() => client.close());
    return client;
  }

  /**
   * Binds `server` (an XdsServer) on 0.0.0.0:<port> with xDS credentials
   * (mTLS and access rules from the mesh) and resolves once it serves.
   */
  async serve(server: grpcTypes.Server, credentials?: grpcTypes.ServerCredentials, timeoutMs = 15_000): Promise<number> {
    if (this.protocol !== 'grpc') throw new MeshSdkError(`${this.service} is an HTTP member: its sidecar serves it; listen on 127.0.0.1:${this.port}`);
    const creds = credentials ?? new (grpcXds().XdsServerCredentials)(grpcJs().ServerCredentials.createInsecure());
    this.closers.push(
      () =>
        new Promise<void>((resolve) => {
          const force = setTimeout(() => {
            server.forceShutdown();
            resolve();
          }, 2000);
          server.tryShutdown(() => {
            clearTimeout(force);
            resolve();
          });
        }),
    );
    return bindXdsServer(server, this.listenAddress, creds, timeoutMs);
  }

  /** Runs `fn` on close, after deregistration (e.g. close a database). */
  onClose(fn: () => Promise<void> | void): void {
    this.closers.push(fn);
  }

  /** Deregisters, then closes servers and clients. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.registration?.stop(true);
      for (const fn of this.closers.reverse()) {
        try {
          await fn();
        } catch {
          /* closing anyway */
        }
      }
    })();
    return this.closing;
  }

  private handleSignals(): void {
    const onSignal = (signal: NodeJS.Signals): void => {
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
      void this.close().finally(() => process.kill(process.pid, signal));
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  }
}
