/**
 * Keeping one instance in the control plane's registry: register, heartbeat
 * every third of the TTL (so two lost heartbeats are survivable), register
 * again when the registry forgot us (it answers 404 after a TTL expired, e.g.
 * the process was stopped for a while), deregister on close.
 *
 * Talks to the admin API (src/xds/admin.ts) over mTLS with the member's own
 * certificate: the control plane accepts registrations only for the identity
 * the certificate names, and we accept only a server presenting the
 * control-plane identity. Kept free of src/xds imports so the SDK stays light.
 */
import * as fs from 'node:fs';
import { MeshSdkError } from './errors';
import { postToAdmin, type AdminReply } from './admin-post';

export interface InstanceInfo {
  readonly service: string;
  readonly version: string;
  readonly address: string;
  readonly port: number;
}

export interface RegistrationOptions {
  /** e.g. https://127.0.0.1:18001 (http:// only against `mesh serve --insecure`). */
  readonly adminUrl: string;
  readonly trustDomain: string;
  readonly files: { readonly chain: string; readonly key: string; readonly trustBundle: string };
  readonly instance: InstanceInfo;
  /** Registry TTL; the registry clamps it to [200 ms, 5 min]. */
  readonly ttlMs: number;
  /** Where problems are reported (default: stderr). */
  readonly warn?: (message: string) => void;
}

type Reply = AdminReply;

export class Registration {
  private id?: string;
  private timer?: NodeJS.Timeout;
  private closed = false;
  private failing = false;
  private readonly tls?: { ca: Buffer; cert: Buffer; key: Buffer };

  constructor(private readonly opts: RegistrationOptions) {
    if (opts.adminUrl.startsWith('https:')) {
      try {
        this.tls = { ca: fs.readFileSync(opts.files.trustBundle), cert: fs.readFileSync(opts.files.chain), key: fs.readFileSync(opts.files.key) };
      } catch (err) {
        throw new MeshSdkError(`no certificate for "${opts.instance.service}" in the PKI store (${(err as Error).message}); run \`mesh certs issue ${opts.instance.service}\``);
      }
    }
  }

  get instanceId(): string | undefined {
    return this.id;
  }

  /** Registers, retrying until `timeoutMs`; then heartbeats in the background. */
  async start(timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (let delay = 100; ; delay = Math.min(delay * 2, 1000)) {
      try {
        const id = await this.register();
        this.schedule();
        return id;
      } catch (err) {
        if (err instanceof MeshSdkError || Date.now() + delay > deadline) throw err instanceof MeshSdkError ? err : new MeshSdkError(`cannot register with the control plane at ${this.opts.adminUrl}: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  /** Stops heartbeats and, unless `deregister` is false, removes the instance from the registry. */
  async stop(deregister = true): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (!deregister || this.id === undefined) return;
    try {
      await this.post('deregister', { service: this.opts.instance.service, id: this.id });
    } catch (err) {
      // The TTL removes it anyway.
      this.warn(`could not deregister ${this.id}: ${(err as Error).message}`);
    }
  }

  private async register(): Promise<string> {
    const i = this.opts.instance;
    const r = await this.post('register', { service: i.service, version: i.version, address: i.address, port: i.port, ttl_ms: this.opts.ttlMs });
    if (r.status !== 200) {
      // 403/400 will not get better by retrying: the mesh or the certificate is wrong.
      throw new MeshSdkError(`the control plane refused to register ${i.service} ${i.version} at ${i.address}:${i.port} (${r.status}): ${String(r.body.error ?? '')}`);
    }
    this.id = String(r.body.id);
    return this.id;
  }

  private schedule(): void {
    if (this.closed) return;
    this.timer = setTimeout(() => void this.beat(), Math.max(50, Math.floor(this.opts.ttlMs / 3)));
    // Heartbeats must not keep a process alive that has nothing else to do.
    this.timer.unref();
  }

  private async beat(): Promise<void> {
    try {
      const r = await this.post('heartbeat', { service: this.opts.instance.service, id: this.id });
      if (r.status === 404 && !this.closed) await this.register();
      else if (r.status !== 200) throw new Error(`heartbeat refused (${r.status}): ${String(r.body.error ?? '')}`);
      if (this.failing) this.warn(`registration of ${this.id} restored`);
      this.failing = false;
    } catch (err) {
      // Report once per outage, keep trying: the control plane may be restarting.
      if (!this.failing) this.warn(`heartbeat to ${this.opts.adminUrl} failed: ${(err as Error).message}`);
      this.failing = true;
    }
    this.schedule();
  }

  private warn(message: string): void {
    (this.opts.warn ?? ((m: string) => process.stderr.write(`svcmesh: ${m}\n`)))(message);
  }

  private post(action: string, body: unknown): Promise<Reply> {
    return postToAdmin(this.opts.adminUrl, this.opts.trustDomain, this.tls, `/v1/registry/${action}`, body);
  }
}
