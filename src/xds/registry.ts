/**
 * The live registry: running instances register (service, version, address,
 * port) with a TTL and keep themselves alive with heartbeats. Only services
 * declared in the mesh may register, and only with a certificate of their own
 * identity (checked by the admin API before calling here); an instance of an
 * undeclared version is refused too. Every change names the service whose
 * endpoints changed, so only the nodes calling it are re-pushed.
 */
export interface Instance {
  readonly id: string;
  readonly service: string;
  readonly version: string;
  readonly address: string;
  readonly port: number;
  readonly registeredAt: number;
  expiresAt: number;
  readonly ttlMs: number;
}

export interface RegistrationRequest {
  readonly service: string;
  readonly version: string;
  readonly address: string;
  readonly port: number;
  readonly ttlMs?: number;
}

export type Governance = (req: RegistrationRequest) => string | undefined;

export const DEFAULT_TTL_MS = 15_000;
export const MAX_TTL_MS = 300_000;
export const MIN_TTL_MS = 200;

export class RegistryError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export class Registry {
  private readonly instances = new Map<string, Instance>();
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly onChange: (services: ReadonlySet<string>) => void,
    /** Returns a refusal reason, or undefined to admit. */
    private governance: Governance,
    private readonly now: () => number = Date.now,
  ) {}

  setGovernance(g: Governance): void {
    this.governance = g;
  }

  register(req: RegistrationRequest): Instance {
    const reason = this.governance(req);
    if (reason) throw new RegistryError(403, reason);
    const ttlMs = Math.min(MAX_TTL_MS, Math.max(MIN_TTL_MS, req.ttlMs ?? DEFAULT_TTL_MS));
    const id = `${req.service}@${req.address}:${req.port}`;
    const prev = this.instances.get(id);
    const inst: Instance = { id, service: req.service, version: req.version, address: req.address, port: req.port, registeredAt: prev?.registeredAt ?? this.now(), expiresAt: this.now() + ttlMs, ttlMs };
    this.instances.set(id, inst);
    if (!prev || prev.version !== inst.version) this.onChange(new Set([inst.service]));
    this.schedule();
    return inst;
  }

  heartbeat(id: string, service: string): Instance {
    const inst = this.instances.get(id);
    if (!inst || inst.service !== service) throw new RegistryError(404, `no instance ${id} registered for ${service} (expired? register again)`);
    inst.expiresAt = this.now() + inst.ttlMs;
    return inst;
  }

  deregister(id: string, service: string): boolean {
    const inst = this.instances.get(id);
    if (!inst || inst.service !== service) return false;
    this.instances.delete(id);
    this.onChange(new Set([service]));
    return true;
  }

  /** Drops instances whose heartbeats stopped; called by a timer and by tests. */
  expire(): void {
    const gone = new Set<string>();
    for (const [id, inst] of this.instances) {
      if (inst.expiresAt <= this.now()) {
        this.instances.delete(id);
        gone.add(inst.service);
      }
    }
    if (gone.size > 0) this.onChange(gone);
  }

  /** Instances of one service, sorted by address and port (stable EDS output). */
  of(service: string): Instance[] {
    return [...this.instances.values()].filter((i) => i.service === service).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  all(): Instance[] {
    return [...this.instances.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  get size(): number {
    return this.instances.size;
  }

  /** Removes instances of services the new mesh no longer declares, or of versions it no longer declares. */
  prune(stillValid: (i: Instance) => boolean): void {
    const gone = new Set<string>();
    for (const [id, inst] of this.instances) {
      if (!stillValid(inst)) {
        this.instances.delete(id);
        gone.add(inst.service);
      }
    }
    if (gone.size > 0) this.onChange(gone);
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.expire(), 100);
    this.timer.unref();
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
