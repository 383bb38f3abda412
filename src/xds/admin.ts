/**
 * The admin API: apply, status, registry, metrics, health. HTTPS with client
 * certificates required (mTLS, the mesh CA); who may do what is decided by the
 * caller's SPIFFE ID:
 *   spiffe://<td>/admin/<name>   apply, rollback, history, status, registry listing
 *   spiffe://<td>/svc/<name>     register, heartbeat, deregister its own instances
 *   any mesh identity            /healthz, /metrics
 * With --insecure it is plain HTTP on loopback and every caller is admin.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type * as tls from 'node:tls';
import type { ControlPlane, MeshSources } from './control-plane';
import type { Logger } from './log';
import { checkInstanceRef, checkRegistration, type Checked } from '../registry/registration';
import { RegistryError, type RegistrationRequest } from './registry';
import type { SharedRegistry } from '../store/shared-registry';
import { spiffeIdOfSan, type TlsMaterial } from './server';
import type { Tap } from '../tap/tap';
import type { EventBus } from '../events/bus';
import { tapRoute } from '../tap/admin-routes';
import type { Replica } from '../store/replica';

/** `mesh history` lists at most this many revisions per call. */
export const MAX_HISTORY = 1000;

export const MAX_BODY_BYTES = 16 * 1024 * 1024;
/** Registry calls carry one instance: a few hundred bytes. */
export const MAX_REGISTRY_BODY_BYTES = 64 * 1024;
/**
 * Requests handled at once. Beyond it a request is answered 503 at once,
 * unread: with at most this many bodies buffered (16 MiB only for admins'
 * applies), the server's memory stays bounded whatever arrives.
 */
export const MAX_CONCURRENT_REQUESTS = 32;

export type Role = { kind: 'admin'; name: string; spiffeId?: string } | { kind: 'svc'; name: string; spiffeId?: string } | { kind: 'none' };

/** Who applied, as the history records it: the admin certificate's SPIFFE ID ("insecure" without mTLS). */
function appliedBy(role: Role): string {
  return role.kind === 'none' ? 'unknown' : (role.spiffeId ?? role.name);
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** A stable MESH code for refusals a client may act on (src/diag/codes.ts). */
    readonly code?: string,
  ) {
    super(message);
  }
}

export interface AdminOptions {
  readonly host: string;
  readonly port: number;
  readonly tls?: TlsMaterial;
  readonly insecure?: boolean;
}

export class AdminServer {
  private server?: http.Server | https.Server;
  port?: number;
  private inFlight = 0;

  constructor(
    private readonly cp: ControlPlane,
    private readonly log: Logger,
    /** The access-log tap and the event bus (their endpoints: src/tap/admin-routes.ts). */
    private readonly tap?: { readonly tap: Tap; readonly events?: EventBus },
    /** Records applies in the store (absent: applies are only held in memory). */
    private readonly replica?: Replica,
  ) {}

  async start(opts: AdminOptions): Promise<number> {
    const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => void this.handle(req, res, !!opts.insecure);
    this.server = opts.insecure
      ? http.createServer(handler)
      : https.createServer({ key: opts.tls!.keyPem, cert: opts.tls!.certPem, ca: opts.tls!.caPem, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' }, handler);
    // Slow clients may not hold a request slot for ever.
    this.server.headersTimeout = 10_000;
    this.server.requestTimeout = 60_000;
    this.server.maxConnections = 4 * MAX_CONCURRENT_REQUESTS;
    // Without --insecure the port speaks mTLS; with it, only loopback may reach it.
    const host = opts.insecure ? '127.0.0.1' : opts.host;
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(opts.port, host, () => resolve());
    });
    this.port = (this.server.address() as { port: number }).port;
    return this.port;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.closeAllConnections?.();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  private role(req: http.IncomingMessage, insecure: boolean): Role {
    if (insecure) return { kind: 'admin', name: 'insecure' };
    const cert = (req.socket as tls.TLSSocket).getPeerCertificate?.();
    const id = spiffeIdOfSan(cert?.subjectaltname);
    const td = this.cp.trustDomain;
    if (!id || !td) return { kind: 'none' };
    const m = new RegExp(`^spiffe://${td.replace(/\./g, '\\.')}/(admin|svc)/([a-z0-9-]+)$`).exec(id);
    return m ? { kind: m[1] as 'admin' | 'svc', name: m[2]!, spiffeId: id } : { kind: 'none' };
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse, insecure: boolean): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://admin');
    if (this.inFlight >= MAX_CONCURRENT_REQUESTS) {
      refuse(req, res, 503, `too many admin requests in flight (${MAX_CONCURRENT_REQUESTS}); retry`);
      return;
    }
    this.inFlight++;
    try {
      const role = this.role(req, insecure);
      const out = await this.route(req.method ?? 'GET', url, role, req);
      if (typeof out === 'string') send(res, 200, out, 'text/plain; version=0.0.4');
      else send(res, 200, JSON.stringify(out, null, 2) + '\n', 'application/json');
    } catch (err) {
      if (err instanceof HttpError || err instanceof RegistryError) {
        // A refusal may come before the body was read: answer, and close rather than read it.
        refuse(req, res, err.status, err.message, err instanceof HttpError ? err.code : undefined);
      } else {
        this.log.log('error', 'admin handler bug', { error: (err as Error).stack ?? String(err) });
        refuse(req, res, 500, 'internal error');
      }
    } finally {
      this.inFlight--;
    }
  }

  /**
   * Every check that needs only the connection and the headers (who calls,
   * which endpoint, how large a body) comes before a byte of the body is read.
   */
  private async route(method: string, url: URL, role: Role, req: http.IncomingMessage): Promise<unknown> {
    const key = `${method} ${url.pathname}`;
    const requireAdmin = (): void => {
      if (role.kind !== 'admin') throw new HttpError(403, `${key} requires an admin identity (spiffe://<trust-domain>/admin/<name>)`);
    };
    switch (key) {
      case 'GET /healthz': {
        // Degraded, not down: the last good snapshot is still served, so a
        // liveness probe must not restart the replica for the database's sake.
        const h = this.replica?.store.health();
        if (h && !h.ok) return `degraded: store unavailable since ${new Date(h.since ?? Date.now()).toISOString()} (${h.problem}); serving revision ${this.cp.revision ?? 'none'}, refusing applies and registrations\n`;
        return this.cp.revision ? 'ok\n' : 'no mesh applied\n';
      }
      case 'GET /metrics':
        return this.cp.metrics.render() + (this.tap ? this.tap.tap.renderMetrics() : '');
      case 'POST /v1/apply': {
        requireAdmin();
        const body = await readJsonObject(req, MAX_BODY_BYTES);
        const sources = body.sources;
        if (!sources || typeof sources !== 'object' || Array.isArray(sources) || !Object.values(sources).every((t) => typeof t === 'string')) {
          throw new HttpError(400, 'body must be {"sources": {"<path>": "<text>"}, "displayDir"?: string, "dryRun"?: boolean}');
        }
        if (body.displayDir !== undefined && typeof body.displayDir !== 'string') throw new HttpError(400, 'displayDir must be a string');
        const display = typeof body.displayDir === 'string' ? body.displayDir.slice(0, 256) : 'mesh';
        if (body.dryRun === true) return this.cp.plan(sources as MeshSources, display);
        return this.replica ? this.replica.apply(sources as MeshSources, display, appliedBy(role)) : this.cp.applyAsync(sources as MeshSources, display);
      }
      case 'GET /v1/history': {
        requireAdmin();
        const replica = this.needStore(key);
        const limit = Math.min(MAX_HISTORY, Math.max(1, Number(url.searchParams.get('limit') ?? 50) || 50));
        return { revisions: await this.storeCall(() => replica.history(limit)), served: { revision: this.cp.revision ?? null, seq: this.cp.seq } };
      }
      case 'POST /v1/rollback': {
        requireAdmin();
        const replica = this.needStore(key);
        const body = await readJsonObject(req, MAX_REGISTRY_BODY_BYTES);
        if (typeof body.revision !== 'string' || !/^[0-9a-f]{1,64}$|^\d+$/.test(body.revision)) throw new HttpError(400, 'body must be {"revision": "<seq or revision hash>"}', 'MESH203');
        const r = await replica.rollback(body.revision, appliedBy(role));
        if (r.notFound) throw new HttpError(404, r.diagnostics[0]!.message, 'MESH203');
        return r;
      }
      case 'GET /v1/status':
        requireAdmin();
        return this.cp.statusReport();
      case 'GET /v1/registry':
        requireAdmin();
        return { instances: this.cp.registry.all() };
      case 'POST /v1/registry/register':
      case 'POST /v1/registry/heartbeat':
      case 'POST /v1/registry/deregister':
        // Only admins and services speak to the registry; which service, the body says.
        if (role.kind === 'none') throw new HttpError(403, `${key} requires a service or admin identity`);
        return this.registry(url.pathname.split('/').pop()!, role, await readJsonObject(req, MAX_REGISTRY_BODY_BYTES));
      default: {
        const out = this.tap
          ? await tapRoute(this.tap.tap, this.tap.events, key, url, role, {
              fail: (status, message, code) => {
                throw new HttpError(status, message, code);
              },
              readBody: (limit) => readJsonObject(req, limit),
              trustDomain: this.cp.trustDomain ?? 'insecure',
            })
          : undefined;
        if (out === undefined) throw new HttpError(404, `no such endpoint: ${key}`);
        return out;
      }
    }
  }

  private registry(action: string, role: Role, body: unknown): unknown {
    const h = this.replica?.store.health();
    if (h && !h.ok) throw new HttpError(503, `refused: the store is unavailable (${h.problem}); registrations are refused until it is back, the last good endpoints are still served`, 'MESH200');
    const shared = this.replica?.registry;
    return shared ? this.storeCall(() => sharedRegistryAction(this.cp, shared, role, action, body, this.log)) : registryAction(this.cp, role, action, body, this.log);
  }

  private needStore(key: string): Replica {
    if (!this.replica) throw new HttpError(404, `${key}: this control plane runs without a store (mesh serve --store <dir or postgres://...>)`, 'MESH204');
    return this.replica;
  }

  private async storeCall<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if ((err as { code?: string }).code === 'MESH200') throw new HttpError(503, (err as Error).message, 'MESH200');
      throw err;
    }
  }
}

/**
 * register, heartbeat, deregister: what POST /v1/registry/<action> does once the
 * caller's role is known. Exported so `npm run bench -- registry` drives the very
 * same path without HTTP in the way. Nothing is stored unless every check passes.
 */
export function registryAction(cp: ControlPlane, role: Role, action: string, body: unknown, log: Logger): unknown {
  const call = checkedRegistryCall(cp, role, action, body);
  if (call.action === 'register') {
    const inst = cp.registry.register(call.req);
    log.log('info', 'registered', { id: inst.id, version: inst.version, ttl_ms: inst.ttlMs });
    return { id: inst.id, ttl_ms: inst.ttlMs };
  }
  if (call.action === 'heartbeat') return { id: cp.registry.heartbeat(call.id, call.service).id };
  return { deregistered: cp.registry.deregister(call.id, call.service) };
}

/** The same, for replicas on PostgreSQL: written to the shared registry (src/store/shared-registry.ts) first. */
export async function sharedRegistryAction(cp: ControlPlane, shared: SharedRegistry, role: Role, action: string, body: unknown, log: Logger): Promise<unknown> {
  const call = checkedRegistryCall(cp, role, action, body);
  if (call.action === 'register') {
    const reason = cp.governance(call.req);
    if (reason) throw new RegistryError(403, reason);
    const inst = await shared.register(call.req);
    log.log('info', 'registered', { id: inst.id, version: inst.version, ttl_ms: inst.ttlMs, shared: true });
    return { id: inst.id, ttl_ms: inst.ttlMs };
  }
  if (call.action === 'heartbeat') return { id: (await shared.heartbeat(call.id, call.service)).id };
  return { deregistered: await shared.deregister(call.id, call.service) };
}

type RegistryCall = { action: 'register'; req: RegistrationRequest } | { action: 'heartbeat' | 'deregister'; service: string; id: string };

/** Every check of a registry call that needs no state: role, body fields, the caller's own identity. */
function checkedRegistryCall(cp: ControlPlane, role: Role, action: string, body: unknown): RegistryCall {
  // Refused before the body is read: a caller without a mesh identity learns nothing.
  if (role.kind === 'none') throw new HttpError(403, 'refused: the registry needs a mesh identity (spiffe://<trust-domain>/svc/<name>)');
  const b = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
  if (action === 'register') return { action, req: accepted(checkRegistration(b, cp.registrationPolicy()), role) };
  const { service, id } = accepted(checkInstanceRef(b), role);
  return { action: action === 'heartbeat' ? 'heartbeat' : 'deregister', service, id };
}

/** A checked body, or the HTTP error for it: 400 with its code, or 403 for another service's identity. */
function accepted<T extends { readonly service: string }>(checked: Checked<T>, role: Role): T {
  if (!checked.ok) throw new HttpError(400, checked.refusal.message, checked.refusal.code);
  // The governance check starts here: an instance may only speak for the identity it holds.
  if (role.kind === 'svc' && role.name !== checked.value.service) throw new HttpError(403, `refused: this certificate is not the identity of "${checked.value.service}"`);
  return checked.value;
}

function send(res: http.ServerResponse, status: number, body: string, type: string): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** After a refusal, how much of an unread body is discarded (not kept) so that the client reads the answer. */
const DISCARD_BYTES = 1024 * 1024;
const DISCARD_MS = 2000;

/**
 * Answers and closes the connection: the request's body (if any) is never
 * buffered, and a keep-alive client cannot queue another request behind it.
 * Up to DISCARD_BYTES of a body still arriving are read and dropped, so that
 * the close does not reset the connection before the client has the answer;
 * then the connection goes.
 */
function refuse(req: http.IncomingMessage, res: http.ServerResponse, status: number, message: string, code?: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({ error: message, ...(code ? { code } : {}) }) + '\n';
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), connection: 'close', ...(status === 503 ? { 'retry-after': '1' } : {}) });
  res.end(body);
  if (req.complete) return;
  let dropped = 0;
  const timer = setTimeout(() => req.destroy(), DISCARD_MS);
  timer.unref();
  req.on('data', (c: Buffer) => {
    dropped += c.length;
    if (dropped > DISCARD_BYTES) req.destroy();
  });
  req.on('close', () => clearTimeout(timer));
  req.resume();
}

/** The body as a JSON object, read only up to `limit` bytes (a declared larger length is refused unread). */
async function readJsonObject(req: http.IncomingMessage, limit: number): Promise<Record<string, unknown>> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw new HttpError(413, `request body of ${declared} bytes is over the ${limit}-byte limit of ${req.method} ${req.url}`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > limit) throw new HttpError(413, `request body over the ${limit}-byte limit of ${req.method} ${req.url}`);
    chunks.push(c as Buffer);
  }
  let value: unknown;
  try {
    value = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
  } catch {
    throw new HttpError(400, 'request body is not JSON');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new HttpError(400, `request body must be a JSON object, not ${value === null ? 'null' : Array.isArray(value) ? 'a list' : typeof value}`);
  return value as Record<string, unknown>;
}
