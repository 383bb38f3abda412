/**
 * The admin API: apply, status, registry, metrics, health. HTTPS with client
 * certificates required (mTLS, the mesh CA); who may do what is decided by the
 * caller's SPIFFE ID:
 *   spiffe://<td>/admin/<name>   apply, status, registry listing
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
import { RegistryError } from './registry';
import { spiffeIdOfSan, type TlsMaterial } from './server';

export const MAX_BODY_BYTES = 16 * 1024 * 1024;

export type Role = { kind: 'admin'; name: string } | { kind: 'svc'; name: string } | { kind: 'none' };

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

  constructor(
    private readonly cp: ControlPlane,
    private readonly log: Logger,
  ) {}

  async start(opts: AdminOptions): Promise<number> {
    const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => void this.handle(req, res, !!opts.insecure);
    this.server = opts.insecure
      ? http.createServer(handler)
      : https.createServer({ key: opts.tls!.keyPem, cert: opts.tls!.certPem, ca: opts.tls!.caPem, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' }, handler);
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
    return m ? { kind: m[1] as 'admin' | 'svc', name: m[2]! } : { kind: 'none' };
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse, insecure: boolean): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://admin');
    try {
      const role = this.role(req, insecure);
      const out = await this.route(req.method ?? 'GET', url, role, req);
      if (typeof out === 'string') send(res, 200, out, 'text/plain; version=0.0.4');
      else send(res, 200, JSON.stringify(out, null, 2) + '\n', 'application/json');
    } catch (err) {
      if (err instanceof HttpError || err instanceof RegistryError) {
        const code = err instanceof HttpError ? err.code : undefined;
        send(res, err.status, JSON.stringify({ error: err.message, ...(code ? { code } : {}) }) + '\n', 'application/json');
      } else {
        this.log.log('error', 'admin handler bug', { error: (err as Error).stack ?? String(err) });
        send(res, 500, JSON.stringify({ error: 'internal error' }) + '\n', 'application/json');
      }
    }
  }

  private async route(method: string, url: URL, role: Role, req: http.IncomingMessage): Promise<unknown> {
    const key = `${method} ${url.pathname}`;
    const requireAdmin = (): void => {
      if (role.kind !== 'admin') throw new HttpError(403, `${key} requires an admin identity (spiffe://<trust-domain>/admin/<name>)`);
    };
    switch (key) {
      case 'GET /healthz':
        return this.cp.revision ? 'ok\n' : 'no mesh applied\n';
      case 'GET /metrics':
        return this.cp.metrics.render();
      case 'POST /v1/apply': {
        requireAdmin();
        const body = (await readJson(req)) as { sources?: MeshSources; displayDir?: string; dryRun?: boolean };
        if (!body.sources || typeof body.sources !== 'object') throw new HttpError(400, 'body must be {"sources": {"<path>": "<text>"}}');
        if (body.dryRun) return this.cp.plan(body.sources, body.displayDir ?? 'mesh');
        return this.cp.apply(body.sources, body.displayDir ?? 'mesh');
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
        return this.registry(url.pathname.split('/').pop()!, role, await readJson(req));
      default:
        throw new HttpError(404, `no such endpoint: ${key}`);
    }
  }

  private registry(action: string, role: Role, body: unknown): unknown {
    return registryAction(this.cp, role, action, body, this.log);
  }
}

/**
 * register, heartbeat, deregister: what POST /v1/registry/<action> does once the
 * caller's role is known. Exported so `npm run bench -- registry` drives the very
 * same path without HTTP in the way. Nothing is stored unless every check passes.
 */
export function registryAction(cp: ControlPlane, role: Role, action: string, body: unknown, log: Logger): unknown {
  // Refused before the body is read: a caller without a mesh identity learns nothing.
  if (role.kind === 'none') throw new HttpError(403, 'refused: the registry needs a mesh identity (spiffe://<trust-domain>/svc/<name>)');
  const b = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
  if (action === 'register') {
    const req = accepted(checkRegistration(b, cp.registrationPolicy()), role);
    const inst = cp.registry.register(req);
    log.log('info', 'registered', { id: inst.id, version: inst.version, ttl_ms: inst.ttlMs });
    return { id: inst.id, ttl_ms: inst.ttlMs };
  }
  const { service, id } = accepted(checkInstanceRef(b), role);
  if (action === 'heartbeat') return { id: cp.registry.heartbeat(id, service).id };
  return { deregistered: cp.registry.deregister(id, service) };
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

async function readJson(req: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `request body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(c as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
  } catch {
    throw new HttpError(400, 'request body is not JSON');
  }
}
