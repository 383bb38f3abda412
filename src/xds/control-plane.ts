/**
 * The control plane's state machine: applied sources -> lint + compile +
 * validate -> snapshots (with registry endpoints and PKI secrets) -> cache.
 * An apply that fails any step changes nothing. The last good sources are
 * persisted atomically in the store folder, so a restart serves the very same
 * versions (they are hashes of deterministic bytes) and reconnecting nodes
 * receive nothing new.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadMeshSync } from '../config/load';
import { diagAt, hasErrors, type Diagnostic } from '../diag/diagnostic';
import { compileMesh, type CompileResult } from '../envoy/compile';
import type { MeshModel } from '../model/types';
import { validateCompiled } from '../output/validate-output';
import { SnapshotCache } from './cache';
import type { Logger } from './log';
import { buildSnapshots, callersIndex, type SecretSource } from './mesh-state';
import { Metrics } from './metrics';
import { ResourceEncoder } from './prepared';
import { Registry, type Instance, type RegistrationRequest } from './registry';
import { checkSnapshot } from './snapshot';
import { StatusBoard } from './status';

/** Mesh sources as sent by `mesh apply`: relative path -> text. */
export type MeshSources = Readonly<Record<string, string>>;

export interface ApplyResult {
  readonly ok: boolean;
  readonly diagnostics: readonly Diagnostic[];
  readonly revision?: string;
  readonly changedNodes?: readonly string[];
  /** The snapshot versions every changed node must ACK: node -> kind -> version. */
  readonly expected?: Record<string, Record<string, string>>;
}

const STATE_FILE = 'applied.json';
const SOURCE_PATTERN = /^(mesh\.ya?ml|mesh_policies\.ya?ml|services\/[A-Za-z0-9._-]+\.ya?ml)$/;

export class ControlPlane {
  readonly cache = new SnapshotCache();
  readonly status = new StatusBoard();
  readonly metrics = new Metrics();
  readonly registry: Registry;
  private readonly encoder = new ResourceEncoder();
  private compiled?: CompileResult;
  private model?: MeshModel;
  private callers = new Map<string, Set<string>>();
  revision?: string;
  sources?: MeshSources;

  constructor(
    private readonly opts: { readonly storeDir?: string; readonly secrets?: SecretSource; readonly log: Logger },
  ) {
    this.registry = new Registry((services) => this.onRegistryChange(services), () => 'no mesh applied yet');
    this.metrics.gauges = () => ({ streamsByType: {}, streams: 0, registry: this.registry.size, nodes: this.cache.nodes().length });
  }

  get trustDomain(): string | undefined {
    return this.model?.settings.trustDomain;
  }

  /** lint + compile + validate + snapshot; all or nothing. */
  apply(sources: MeshSources, displayDir = 'mesh'): ApplyResult {
    const bad = Object.keys(sources).filter((p) => !SOURCE_PATTERN.test(p));
    if (bad.length > 0) {
      return { ok: false, diagnostics: bad.map((p) => diagAt({ file: p, line: 1, col: 1 }, 'error', 'MESH093', `not a mesh source file: ${p}`)) };
    }
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hms-apply-'));
    try {
      fs.mkdirSync(path.join(tmp, 'services'));
      for (const [rel, text] of Object.entries(sources)) fs.writeFileSync(path.join(tmp, rel), text);
      const loaded = loadMeshSync(tmp, { displayDir });
      if (!loaded.model) return { ok: false, diagnostics: loaded.diagnostics };
      const compiled = compileMesh(loaded.model);
      const diags = [...loaded.diagnostics, ...compiled.diagnostics];
      if (hasErrors(diags)) return { ok: false, diagnostics: diags };
      diags.push(...validateCompiled(compiled));
      if (hasErrors(diags)) return { ok: false, diagnostics: diags };
      return this.install(loaded.model, compiled, sources, diags);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }

  private install(model: MeshModel, compiled: CompileResult, sources: MeshSources, diags: Diagnostic[]): ApplyResult {
    const all = compiled.nodes.map((n) => n.id);
    let snaps;
    try {
      snaps = buildSnapshots(compiled, all, (s) => this.registry.of(s), this.opts.secrets, this.encoder);
    } catch (err) {
      // The PKI store lacks a node's credentials, or similar: refuse the apply, keep serving the old snapshot.
      return { ok: false, diagnostics: [...diags, diagAt({ file: 'pki', line: 1, col: 1 }, 'error', 'MESH094', `cannot build snapshots: ${(err as Error).message}`)] };
    }
    const problems = [...snaps.values()].flatMap(checkSnapshot);
    if (problems.length > 0) {
      return { ok: false, diagnostics: [...diags, ...problems.map((p) => diagAt({ file: p.node, line: 1, col: 1 }, 'error', 'MESH095', p.message))] };
    }
    this.encoder.retain();
    this.compiled = compiled;
    this.model = model;
    this.callers = callersIndex(compiled);
    this.sources = sources;
    this.revision = revisionOf(sources);
    this.registry.setGovernance((r) => this.governance(r));
    this.registry.prune((i) => this.governance(i) === undefined);
    const changed = this.cache.replaceAll(snaps);
    this.persist();
    const expected: Record<string, Record<string, string>> = {};
    for (const id of changed) {
      const s = snaps.get(id);
      if (s) expected[id] = Object.fromEntries(Object.entries(s.types).map(([k, t]) => [k, t.version]));
    }
    this.opts.log.log('info', 'applied', { revision: this.revision, nodes: all.length, changed });
    return { ok: true, diagnostics: diags, revision: this.revision, changedNodes: changed, expected };
  }

  /** Why a registration is refused, or undefined to admit it. */
  governance(r: RegistrationRequest | Instance): string | undefined {
    const svc = this.model?.services.find((s) => s.name === r.service);
    if (!svc) return `service "${r.service}" is not declared in the mesh (no services/${r.service}.yml was applied)`;
    if (!svc.versions.includes(r.version)) return `version "${r.version}" of "${r.service}" is not declared (declared: ${svc.versions.join(', ')})`;
    return undefined;
  }

  private onRegistryChange(services: ReadonlySet<string>): void {
    if (!this.compiled) return;
    const affected = new Set<string>();
    for (const s of services) for (const n of this.callers.get(s) ?? []) affected.add(n);
    if (affected.size === 0) return;
    const snaps = buildSnapshots(this.compiled, affected, (s) => this.registry.of(s), this.opts.secrets, this.encoder);
    const changed = this.cache.update(snaps);
    this.opts.log.log('info', 'endpoints changed', { services: [...services].sort(), nodes: changed });
  }

  /** Per node and type: the versions a node should have now (for dry runs and --wait). */
  versions(): Record<string, Record<string, { version: string; resources: Record<string, string> }>> {
    const out: Record<string, Record<string, { version: string; resources: Record<string, string> }>> = {};
    for (const id of this.cache.nodes()) {
      const s = this.cache.get(id)!;
      out[id] = Object.fromEntries(
        Object.entries(s.types).map(([k, t]) => [k, { version: t.version, resources: Object.fromEntries([...t.resources.values()].map((r) => [r.name, r.version])) }]),
      );
    }
    return out;
  }

  private persist(): void {
    if (!this.opts.storeDir || !this.sources) return;
    fs.mkdirSync(this.opts.storeDir, { recursive: true, mode: 0o700 });
    const file = path.join(this.opts.storeDir, STATE_FILE);
    const tmp = `${file}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, JSON.stringify({ revision: this.revision, sources: sortKeys(this.sources) }, null, 2) + '\n', { mode: 0o600 });
    fs.renameSync(tmp, file);
  }

  /** Loads the last applied sources from the store, if any. */
  restore(): ApplyResult | undefined {
    if (!this.opts.storeDir) return undefined;
    const file = path.join(this.opts.storeDir, STATE_FILE);
    if (!fs.existsSync(file)) return undefined;
    const state = JSON.parse(fs.readFileSync(file, 'utf8')) as { sources: MeshSources };
    return this.apply(state.sources, 'store');
  }

  close(): void {
    this.registry.close();
  }
}

export function revisionOf(sources: MeshSources): string {
  const h = createHash('sha256');
  for (const k of Object.keys(sources).sort()) h.update(k).update('\0').update(sources[k]!).update('\0');
  return h.digest('hex').slice(0, 12);
}

function sortKeys(o: MeshSources): MeshSources {
  return Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k]!]));
}

/** Reads the source files of a mesh directory, as `mesh apply` sends them. */
export function readMeshSources(dir: string): MeshSources {
  const out: Record<string, string> = {};
  for (const f of ['mesh.yml', 'mesh.yaml', 'mesh_policies.yml', 'mesh_policies.yaml']) {
    if (fs.existsSync(path.join(dir, f))) out[f] = fs.readFileSync(path.join(dir, f), 'utf8');
  }
  const svc = path.join(dir, 'services');
  if (fs.existsSync(svc)) {
    for (const f of fs.readdirSync(svc).sort()) if (/\.ya?ml$/.test(f)) out[`services/${f}`] = fs.readFileSync(path.join(svc, f), 'utf8');
  }
  return out;
}
