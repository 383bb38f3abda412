/**
 * The live registry of replicas on PostgreSQL: table mesh_instances is the
 * truth, each replica's in-memory Registry a mirror that feeds its snapshots.
 * A registration, heartbeat or deregistration is written to the database
 * first (refused with MESH200 when it is unreachable), then NOTIFY names the
 * service and every replica reloads that service's instances. TTLs run on the
 * database's clock and every replica sweeps expired rows, so an instance
 * registered through a replica that died still expires, and one that keeps
 * sending heartbeats to any replica stays.
 */
import type { Logger } from '../xds/log';
import { RegistryError, type Instance, type Registry, type RegistrationRequest } from '../xds/registry';
import { DEFAULT_TTL_MS, MAX_TTL_MS, MIN_TTL_MS } from '../xds/registry';
import { INSTANCES_CHANNEL, type PostgresStore } from './postgres-store';

/** How often each replica deletes expired rows: bounds how late an instance disappears after its TTL. */
export const SWEEP_MS = 250;

interface InstanceRow {
  id: string;
  service: string;
  version: string;
  address: string;
  port: number;
  ttl_ms: number;
  registered_at: Date;
  expires_at: Date;
}

export class SharedRegistry {
  private timer?: NodeJS.Timeout;
  private sweeping = false;

  constructor(
    private readonly store: PostgresStore,
    private readonly local: Registry,
    /** Why an instance may not be served under the applied mesh (undefined: it may). */
    private readonly governance: (i: Instance) => string | undefined,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    this.local.expireExternally();
    this.store.onInstances((service) => void this.reload(service).catch(() => undefined));
    // Back after a loss: notifications were missed, read everything again.
    this.store.onHealth((h) => {
      if (h.ok) void this.reloadAll().catch(() => undefined);
    });
    await this.reloadAll();
    this.timer = setInterval(() => void this.sweep(), SWEEP_MS);
    this.timer.unref();
  }

  async register(req: RegistrationRequest): Promise<Instance> {
    const ttlMs = Math.min(MAX_TTL_MS, Math.max(MIN_TTL_MS, req.ttlMs ?? DEFAULT_TTL_MS));
    const id = `${req.service}@${req.address}:${req.port}`;
    const rows = await this.store.query<InstanceRow>(
      'register the instance',
      `WITH up AS (
         INSERT INTO mesh_instances (id, service, version, address, port, ttl_ms, expires_at)
         VALUES ($1, $2, $3, $4, $5::integer, $6::integer, now() + $6::integer * interval '1 millisecond')
         ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version, ttl_ms = EXCLUDED.ttl_ms, expires_at = EXCLUDED.expires_at
         RETURNING *)
       SELECT up.*, pg_notify($7::text, up.service) FROM up`,
      [id, req.service, req.version, req.address, req.port, ttlMs, INSTANCES_CHANNEL],
    );
    const inst = toInstance(rows[0]!);
    await this.reload(req.service);
    return inst;
  }

  async heartbeat(id: string, service: string): Promise<Instance> {
    const rows = await this.store.query<InstanceRow>(
      'record the heartbeat',
      "UPDATE mesh_instances SET expires_at = now() + ttl_ms * interval '1 millisecond' WHERE id = $1 AND service = $2 AND expires_at > now() RETURNING *",
      [id, service],
    );
    if (rows.length === 0) throw new RegistryError(404, `no instance ${id} registered for ${service} (expired? register again)`);
    return toInstance(rows[0]!);
  }

  async deregister(id: string, service: string): Promise<boolean> {
    const rows = await this.store.query<{ id: string }>(
      'deregister the instance',
      'WITH gone AS (DELETE FROM mesh_instances WHERE id = $1 AND service = $2 RETURNING service) SELECT pg_notify($3::text, service) FROM gone',
      [id, service, INSTANCES_CHANNEL],
    );
    await this.reload(service);
    return rows.length > 0;
  }

  /** Deletes what expired (any replica may: it is idempotent) and tells every replica which services changed. */
  private async sweep(): Promise<void> {
    if (this.sweeping || !this.store.health().ok) return;
    this.sweeping = true;
    try {
      await this.store.query(
        'expire instances',
        'WITH gone AS (DELETE FROM mesh_instances WHERE expires_at <= now() RETURNING service) SELECT pg_notify($1::text, service) FROM (SELECT DISTINCT service FROM gone) s',
        [INSTANCES_CHANNEL],
      );
    } catch (err) {
      if ((err as { code?: string }).code !== 'MESH200') this.log.log('error', 'expiring registry instances failed', { error: (err as Error).message });
    } finally {
      this.sweeping = false;
    }
  }

  private async reload(service: string): Promise<void> {
    const rows = await this.store.query<InstanceRow>('read instances', 'SELECT * FROM mesh_instances WHERE service = $1 AND expires_at > now() ORDER BY id', [service]);
    this.local.replaceService(service, rows.map(toInstance).filter((i) => this.governance(i) === undefined));
  }

  async reloadAll(): Promise<void> {
    const rows = await this.store.query<{ service: string }>('read instances', 'SELECT DISTINCT service FROM mesh_instances WHERE expires_at > now()');
    const services = new Set([...rows.map((r) => r.service), ...this.local.services()]);
    for (const s of [...services].sort()) await this.reload(s);
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
  }
}

function toInstance(r: InstanceRow): Instance {
  return { id: r.id, service: r.service, version: r.version, address: r.address, port: r.port, ttlMs: r.ttl_ms, registeredAt: r.registered_at.getTime(), expiresAt: r.expires_at.getTime() };
}
