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

/** Sorted by id (address and port): stable EDS output. */
const byId = (a: Instance, b: Instance): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** The sorted views of one service's instances, built on first use after a change. */
interface ServiceView {
  all?: readonly Instance[];
  readonly byVersion: Map<string, readonly Instance[]>;
}

export class Registry {
  private readonly instances = new Map<string, Instance>();
  /**
   * The same instances per service. A change touches one service, so reading
   * its instances must not scan (or sort) everyone else's: with 100,000
   * instances that scan made registration quadratic.
   */
  private readonly byService = new Map<string, Map<string, Instance>>();
  private readonly views = new Map<string, ServiceView>();
  private timer?: NodeJS.Timeout;
  /** Expiry is decided elsewhere (the shared store's clock, src/store/shared-registry.ts): no local timer. */
  private expiresExternally = false;

  constructor(
    private readonly onChange: (services: ReadonlySet<string>) => void,
    /** Returns a refusal reason, or undefined to admit. */
    private governance: Governance,
    private readonly now: () => number = Date.now,
  ) {}

  setGovernance(g: Governance): void {
    this.governance = g;
  }

  /**
   * Replicas on a shared store: instances are mirrored from the database and
   * expire there (by the database's clock, whichever replica took the
   * heartbeats), never by this process's timer.
   */
  expireExternally(): void {
    this.expiresExternally = true;
    this.close();
  }

  /**
   * One service's instances, as the shared store has them now: replaces what
   * this process holds for it, and notifies only if the endpoints changed.
   */
  replaceService(service: string, next: readonly Instance[]): void {
    const own = this.byService.get(service) ?? new Map<string, Instance>();
    const same = own.size === next.length && next.every((i) => {
      const o = own.get(i.id);
      return o !== undefined && o.version === i.version && o.address === i.address && o.port === i.port;
    });
    for (const inst of own.values()) if (!same) this.remove(inst);
    for (const inst of next) {
      const o = own.get(inst.id);
      if (same && o) o.expiresAt = inst.expiresAt;
      else this.put(inst);
    }
    if (same) return;
    this.views.delete(service);
    this.onChange(new Set([service]));
  }

  /** The services that have instances here. */
  services(): string[] {
    return [...this.byService.keys()].sort();
  }

  register(req: RegistrationRequest): Instance {
    const reason = this.governance(req);
    if (reason) throw new RegistryError(403, reason);
    const ttlMs = Math.min(MAX_TTL_MS, Math.max(MIN_TTL_MS, req.ttlMs ?? DEFAULT_TTL_MS));
    const id = `${req.service}@${req.address}:${req.port}`;
    const prev = this.instances.get(id);
    const inst: Instance = { id, service: req.service, version: req.version, address: req.address, port: req.port, registeredAt: prev?.registeredAt ?? this.now(), expiresAt: this.now() + ttlMs, ttlMs };
    this.put(inst);
    if (!prev || prev.version !== inst.version) {
      this.views.delete(inst.service);
      this.onChange(new Set([inst.service]));
    }
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
    this.remove(inst);
    this.onChange(new Set([service]));
    return true;
  }

  /** Drops instances whose heartbeats stopped; called by a timer and by tests. */
  expire(): void {
    const now = this.now();
    this.removeWhere((i) => i.expiresAt <= now);
  }

  /**
   * Instances of one service (of one version, if given), sorted by id. The
   * array is shared and stays the same object until the service changes, so
   * callers may memoize on its identity (mesh-state.ts does).
   */
  of(service: string, version?: string): readonly Instance[] {
    let view = this.views.get(service);
    if (!view) this.views.set(service, (view = { byVersion: new Map() }));
    if (!view.all) view.all = [...(this.byService.get(service)?.values() ?? [])].sort(byId);
    if (version === undefined) return view.all;
    let v = view.byVersion.get(version);
    if (!v) view.byVersion.set(version, (v = view.all.filter((i) => i.version === version)));
    return v;
  }

  all(): Instance[] {
    return [...this.instances.values()].sort(byId);
  }

  get size(): number {
    return this.instances.size;
  }

  /** Removes instances of services the new mesh no longer declares, or of versions it no longer declares. */
  prune(stillValid: (i: Instance) => boolean): void {
    this.removeWhere((i) => !stillValid(i));
  }

  private removeWhere(gone: (i: Instance) => boolean): void {
    const services = new Set<string>();
    for (const inst of this.instances.values()) {
      if (!gone(inst)) continue;
      this.remove(inst);
      services.add(inst.service);
    }
    if (services.size > 0) this.onChange(services);
  }

  private put(inst: Instance): void {
    this.instances.set(inst.id, inst);
    let own = this.byService.get(inst.service);
    if (!own) this.byService.set(inst.service, (own = new Map()));
    own.set(inst.id, inst);
  }

  private remove(inst: Instance): void {
    this.instances.delete(inst.id);
    const own = this.byService.get(inst.service);
    own?.delete(inst.id);
    if (own?.size === 0) this.byService.delete(inst.service);
    this.views.delete(inst.service);
  }

  private schedule(): void {
    if (this.timer || this.expiresExternally) return;
    this.timer = setInterval(() => this.expire(), 100);
    this.timer.unref();
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
