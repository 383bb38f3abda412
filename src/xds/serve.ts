/**
 * Starting and stopping a whole control plane in one process: state
 * (ControlPlane), the ADS server and the admin API. Used by `mesh serve`, the
 * tests and the lab, so all three run the same code.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../diag/errors';
import { controlPlane as controlPlaneIdentity, loadCredentials, loadServiceCredentials, loadTrustBundle } from '../pki';
import { AdminServer } from './admin';
import { ControlPlane, readMeshSources, type ApplyResult } from './control-plane';
import type { Logger } from './log';
import type { MeshModel } from '../model/types';
import type { SecretSource } from './mesh-state';
import { DEFAULT_PKI_POLL_MS, watchPki } from './pki-watch';
import { spiffeIdOfSan, XdsServer, type TlsMaterial } from './server';
import { Tap } from '../tap/tap';
import { accessLogService } from '../tap/als-service';
import { metricsService } from '../tap/metrics-service';
import { DEFAULT_STORE_LIMITS, type StoreLimits } from '../tap/store';
import { EventBus, setEventBus } from '../events/bus';
import { RecordEvents } from '../events/derive';
import { wireEvents } from '../events/wire';
import { openStore } from '../store/open';
import { Replica } from '../store/replica';
import { FolderStore } from '../store/folder-store';
import { persistSnapshots, SNAPSHOT_FILE } from '../store/snapshot-file';

export interface ServeOptions {
  /** Mesh sources applied at start when the store holds no applied snapshot. */
  readonly meshDir?: string;
  /** Where the last applied sources are persisted (restart serves the same versions): a folder. */
  readonly storeDir?: string;
  /** A store given as `mesh serve --store` takes it: a folder, or postgres://... shared by replicas (wins over storeDir). */
  readonly store?: string;
  /** PKI store: the control plane's own certificate and the nodes' SDS secrets. */
  readonly pkiDir?: string;
  readonly host: string;
  readonly xdsPort: number;
  readonly adminPort: number;
  /**
   * Plaintext xDS on 127.0.0.1 for proxyless gRPC clients (no secrets served there); a function decides
   * from the mesh served at start (`mesh serve` opens it only when that mesh has proxyless members).
   */
  readonly proxylessPort?: number | ((served: MeshModel | undefined) => number | undefined);
  readonly insecure?: boolean;
  readonly log: Logger;
  /** ControlPlane.identifier in responses. */
  readonly identifier?: string;
  /** How often a postgres store is probed for the database's health and missed applies (default 500 ms). */
  readonly storeProbeMs?: number;
  /** How often the PKI store is checked for rotated certificates (default 2 s; 0 turns it off). */
  readonly pkiPollMs?: number;
  /** Caps of the access-log tap's store (default DEFAULT_STORE_LIMITS). */
  readonly tapLimits?: StoreLimits;
}

export interface RunningControlPlane {
  readonly cp: ControlPlane;
  readonly xds: XdsServer;
  readonly admin: AdminServer;
  readonly tap: Tap;
  readonly events: EventBus;
  readonly ports: { readonly xds: number; readonly admin: number; readonly proxyless?: number };
  readonly startup?: ApplyResult;
  /** Records applies in the store and installs other replicas' (absent without a store). */
  readonly replica?: Replica;
  stop(): Promise<void>;
}

/** SDS secrets from the PKI store; credentials are read per build so rotation is picked up on the next push. */
export function pkiSecretSource(pkiDir: string): SecretSource {
  return (kind, subject) => {
    if (kind === 'trust-bundle') return loadTrustBundle(pkiDir).pem;
    const creds = loadServiceCredentials(pkiDir, subject);
    return kind === 'cert-chain' ? creds.chainPem : creds.keyPem;
  };
}

/** spiffe://<td>/control-plane in the server's own certificate. */
function trustDomainOfCert(chainPem: string): string | undefined {
  const id = spiffeIdOfSan(new crypto.X509Certificate(chainPem).subjectAltName);
  return id ? /^spiffe:\/\/([^/]+)\//.exec(id)?.[1] : undefined;
}

function controlPlaneTls(pkiDir: string): TlsMaterial {
  const creds = loadCredentials(pkiDir, controlPlaneIdentity);
  return { caPem: creds.trustBundlePem, certPem: creds.chainPem, keyPem: creds.keyPem };
}

/** A store that cannot be opened at start is a user error with a code, not a stack trace. */
function storeStartError(err: unknown, location: string | undefined): Error {
  if (err instanceof UserError) return err;
  const e = err as { code?: string; message?: string };
  if (e?.code === 'MESH202') return new UserError('MESH202', e.message ?? String(err));
  return new UserError('MESH201', `the store at ${location ?? '?'} cannot be opened: ${e?.message || e?.code || String(err)}`);
}

export async function startControlPlane(opts: ServeOptions): Promise<RunningControlPlane> {
  const havePki = opts.pkiDir !== undefined && fs.existsSync(path.join(opts.pkiDir, 'trust-bundle.pem'));
  if (!opts.insecure && !havePki) {
    throw new UserError('MESH098', `no PKI store at ${opts.pkiDir ?? '(none given)'}: run \`mesh certs init\` and \`mesh certs issue --control-plane\`, or pass --insecure for local development`);
  }
  const tls = opts.insecure ? undefined : controlPlaneTls(opts.pkiDir!);
  // Who may call is decided by the PKI this server runs with, not by whatever is applied.
  const trustDomain = tls ? trustDomainOfCert(tls.certPem) : undefined;
  const pathNames: [string, string][] = [];
  if (opts.pkiDir) pathNames.push([path.resolve(opts.pkiDir), 'pki']);
  const store = openStore(opts.store ?? opts.storeDir, opts.log, opts.storeProbeMs);
  if (store?.kind === 'folder') pathNames.push([path.resolve(store.location), 'store']);
  const cp = new ControlPlane({
    ...(havePki ? { secrets: pkiSecretSource(opts.pkiDir!) } : {}),
    ...(trustDomain ? { trustDomain } : {}),
    pathNames,
    log: opts.log,
  });
  const replica = store ? new Replica(cp, store, opts.log) : undefined;
  // Beside a folder store's applied.json: the encoded snapshot of the applied revision, served at the next start
  // without compiling when nothing it depends on changed. A database store has none (see docs/bench.md).
  const snapshots = store?.kind === 'folder'
    ? persistSnapshots(cp, path.join(store.location, SNAPSHOT_FILE), { ...(trustDomain ? { trustDomain } : {}), secrets: havePki }, havePki ? pkiSecretSource(opts.pkiDir!) : undefined, opts.log)
    : undefined;
  let startup: ApplyResult | undefined;
  try {
    startup = replica ? await replica.start(opts.meshDir, snapshots ? (latest) => snapshots.restore(latest) : undefined) : opts.meshDir ? cp.apply(readMeshSources(opts.meshDir), opts.meshDir) : undefined;
  } catch (err) {
    snapshots?.close();
    cp.close();
    await store?.close();
    throw storeStartError(err, store?.location);
  }
  if (store instanceof FolderStore && store.problem) cp.storeProblem = store.problem;
  if (startup && !startup.ok) {
    snapshots?.close();
    cp.close();
    await replica?.close();
    const first = startup.diagnostics.find((d) => d.severity === 'error');
    throw new UserError('MESH099', `the mesh cannot be served: ${first ? `${first.file}:${first.line}:${first.col}: ${first.code}: ${first.message}` : 'unknown error'}`);
  }
  cp.metrics.store = store ? () => ({ kind: store.kind, up: store.health().ok, seq: cp.seq }) : undefined;
  const holdUnknownVersion = replica ? (kind: string, version: string) => replica.holdUnknownVersion(kind, version) : undefined;
  const tap = new Tap(opts.log, opts.tapLimits ?? DEFAULT_STORE_LIMITS);
  const events = new EventBus(`/hms-svc/${cp.meshName ?? 'mesh'}`);
  const derived = new RecordEvents(events);
  tap.store.onRecord((r) => derived.observe(r));
  setEventBus(events);
  // The events' spool and file sinks live in the store folder; a database store has none (spooled under the temp folder).
  const eventsDir = store?.kind === 'folder' ? store.location : opts.storeDir;
  const unwireEvents = wireEvents(cp, events, { ...(eventsDir ? { storeDir: eventsDir } : {}), ...(havePki ? { pkiDir: opts.pkiDir! } : {}), log: opts.log });
  const als = accessLogService(tap, { trustDomain: () => cp.trustDomain, insecure: !!opts.insecure });
  const xds = new XdsServer({ cache: cp.cache, status: cp.status, metrics: cp.metrics, log: opts.log, identifier: opts.identifier ?? 'hms-svc', trustDomain: () => cp.trustDomain, ...(holdUnknownVersion ? { holdUnknownVersion } : {}) });
  const proxylessPort = typeof opts.proxylessPort === 'function' ? opts.proxylessPort(cp.appliedModel) : opts.proxylessPort;
  await xds.start({ host: opts.host, port: opts.xdsPort, ...(tls ? { tls } : {}), insecure: !!opts.insecure, ...(proxylessPort !== undefined ? { plaintextPort: proxylessPort } : {}), services: [als, metricsService(tap, { trustDomain: () => cp.trustDomain, insecure: !!opts.insecure })] });
  const admin = new AdminServer(cp, opts.log, { tap, events }, replica);
  const adminPort = await admin.start({ host: opts.host, port: opts.adminPort, ...(tls ? { tls } : {}), insecure: !!opts.insecure });
  const ports = { xds: xds.boundPorts.main!, admin: adminPort, ...(xds.boundPorts.plaintext !== undefined ? { proxyless: xds.boundPorts.plaintext } : {}) };
  const pollMs = opts.pkiPollMs ?? DEFAULT_PKI_POLL_MS;
  const pkiWatch = havePki && pollMs > 0 ? watchPki(opts.pkiDir!, () => cp.refreshSecrets(), pollMs) : undefined;
  opts.log.log('info', 'control plane listening', { ...ports, host: opts.host, tls: !opts.insecure, revision: cp.revision ?? null });
  return {
    cp,
    xds,
    admin,
    tap,
    events,
    ports,
    ...(startup ? { startup } : {}),
    ...(replica ? { replica } : {}),
    async stop() {
      pkiWatch?.stop();
      await Promise.all([xds.stop(), admin.stop()]);
      await replica?.close();
      snapshots?.close();
      unwireEvents();
      events.close();
      setEventBus(undefined);
      cp.close();
    },
  };
}
