/**
 * The control plane's state machine: applied sources -> lint + compile +
 * validate -> snapshots (with registry endpoints and PKI secrets) -> cache.
 * An apply that fails any step changes nothing. Recording accepted applies
 * is the store's job (src/store: a folder, or PostgreSQL shared by replicas,
 * driven by src/store/replica.ts); a restart, or another replica, serves the
 * very same versions (they are hashes of deterministic bytes) and
 * reconnecting nodes receive nothing new.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { UserError } from '../diag/errors';
import { readRegularFile } from '../config/source-file';
import { lintMeshSteps } from '../lint';
import { RESOURCE_KINDS } from '../envoy/resources';
import { diagAt, hasErrors, type Diagnostic } from '../diag/diagnostic';
import { compileMesh, nodeCompiler, type CompileResult, type NodeOutput } from '../envoy/compile';
import type { MeshModel } from '../model/types';
import { validateNodeOutput } from '../output/validate-output';
import { runSliced, runSync, type Steps } from '../util/sliced';
import { SnapshotCache } from './cache';
import type { Logger } from './log';
import { buildSnapshots, callersIndex, callersIndexSteps, refreshLiveState, snapshotOfNode, updatedCallersIndex, type SecretSource } from './mesh-state';
import { mergeCompiled, type InstalledCompile } from './incremental';
import { buildDependencyIndex, nodesToRecompute, type DependencyIndex } from '../model/dependencies';
import { Metrics } from './metrics';
import { contentKey, CurrentEncodings, ResourceEncoder, type PreparedResource } from './prepared';
import { ValidationCache } from '../validate/validate';
import { SourceCache } from '../config/source-cache';
import { GapCache } from '../lint/gap-cache';
import { CheckCache } from '../model/check-cache';
import { STRICT_POLICY, type RegistrationPolicy } from '../registry/registration';
import { Registry, type Instance, type RegistrationRequest } from './registry';
import { checkSnapshot, type NodeSnapshot } from './snapshot';
import { StatusBoard } from './status';

/** Mesh sources as sent by `mesh apply`: relative path -> text. */
export type MeshSources = Readonly<Record<string, string>>;

export interface ApplyResult {
  readonly ok: boolean;
  readonly diagnostics: readonly Diagnostic[];
  readonly revision?: string;
  /** The store's sequence number of this revision (the global order of applies across replicas). */
  readonly seq?: number;
  /** Set when a later revision (this seq) was already served: this one was recorded but superseded. */
  readonly supersededBy?: number;
  readonly changedNodes?: readonly string[];
  /** How many nodes this apply compiled and encoded (the others' inputs were unchanged: src/model/dependencies.ts). */
  readonly recomputedNodes?: number;
  /** The snapshot versions every changed node must ACK: node -> kind -> version. */
  readonly expected?: Record<string, Record<string, string>>;
  /** Wall time of each stage of the apply (lint, index, compile, validate, snapshots, install), ms. */
  readonly stagesMs?: Readonly<Record<string, number>>;
}

/** How many (type, version) pairs served by earlier revisions a replica remembers (see knowsVersion). */
const KNOWN_VERSIONS_MAX = 200_000;
/** The resource types registered instances feed (EDS, and proxyless server listeners, A36). */
const LIVE_KINDS = ['endpoints', 'listeners'] as const;
/** Snapshots per step when a sliced apply refreshes the kept nodes' known versions. */
const AFTER_INSTALL_BATCH = 200;
/**
 * An incremental apply leaves the encodings of replaced resources in the encoder until this many
 * were made since its generation was last ended over every served snapshot (or half the nodes,
 * if more): ending it walks every served resource, so it is done once per that many encodings,
 * not once per apply (issue 20 item 1: an install proportional to the changed nodes).
 */
const RETAIN_SLACK_MIN = 1000;
/** How long applyAsync works before giving the event loop back (the target is a worst delay under 50 ms). */
const APPLY_SLICE_MS = 10;
const SOURCE_PATTERN = /^(mesh\.ya?ml|mesh_policies\.ya?ml|services\/[A-Za-z0-9._-]+\.ya?ml)$/;

export class ControlPlane {
  readonly cache = new SnapshotCache();
  readonly status = new StatusBoard();
  readonly metrics = new Metrics();
  readonly registry: Registry;
  private readonly encoder = new ResourceEncoder();
  /** What registry changes encode between applies: the current encoding per resource only. */
  private readonly current = new CurrentEncodings(this.encoder);
  private readonly validation = new ValidationCache();
  /** Per-file lint results of the last apply: an unchanged file is not parsed or modelled again. */
  private readonly sourceCache = new SourceCache();
  private readonly gapCache = new GapCache();
  /** The cross-service checks' per-service results of the last applies (src/model/check-cache.ts). */
  private readonly checkCache = new CheckCache();
  private compiled?: CompileResult;
  /** The installed apply's dependency index and compiled nodes: what the next apply is incremental against. */
  private installed?: InstalledCompile;
  private model?: MeshModel;
  private declared = new Map<string, readonly string[]>();
  private nodesById = new Map<string, CompileResult['nodes'][number]>();
  private callers = new Map<string, Set<string>>();
  /** The installed compile `callers` was built from (an incremental apply updates it from there). */
  private callersFor?: InstalledCompile;
  revision?: string;
  sources?: MeshSources;
  /** The store's sequence number of the installed revision (0: none, or applied without a store). */
  seq = 0;
  /** Every type version this process has built, newest last: a node presenting one we never built may be ahead of us. */
  private readonly knownVersions = new Set<string>();
  /** Set when the store could not be read at start (MESH113; serve prints it). */
  storeProblem?: string;

  constructor(
    private readonly opts: {
      readonly secrets?: SecretSource;
      readonly log: Logger;
      /**
       * The trust domain of the PKI this server runs with (its own certificate's).
       * Callers are authorized against it, never against what an apply says: an
       * apply cannot change whose certificates are accepted, and one that names
       * another trust domain is refused (MESH112).
       */
      readonly trustDomain?: string;
      /** Absolute paths of this machine, and the names errors sent to clients use for them. */
      readonly pathNames?: ReadonlyArray<readonly [string, string]>;
      /** Encodings beyond the served ones an incremental apply leaves in the encoder (tests; default: housekeepingDue's). */
      readonly retainSlack?: number;
      /** How many (type, version) pairs the known versions hold (tests; default KNOWN_VERSIONS_MAX). */
      readonly knownVersionsMax?: number;
    },
  ) {
    this.registry = new Registry((services) => this.onRegistryChange(services), () => 'no mesh applied yet');
    this.metrics.gauges = () => ({ streamsByType: {}, streams: 0, registry: this.registry.size, nodes: this.cache.nodes().length });
  }

  /** Called after every successful apply (and restore), with the applied model: the event sinks follow mesh.yml. */
  private readonly installListeners = new Set<(model: MeshModel) => void>();

  onInstall(listener: (model: MeshModel) => void): () => void {
    this.installListeners.add(listener);
    return () => this.installListeners.delete(listener);
  }

  /** Called after every installed apply with what it compiled (the snapshot file persists it, src/store/snapshot-file.ts). */
  private readonly preparedListeners = new Set<(p: Prepared, sources: MeshSources, revision: string) => void>();

  onPrepared(listener: (p: Prepared, sources: MeshSources, revision: string) => void): () => void {
    this.preparedListeners.add(listener);
    return () => this.preparedListeners.delete(listener);
  }

  /** The housekeeping over every served snapshot a sliced apply does after its install (afterInstallSteps), when due. */
  private afterInstall: Housekeeping | undefined;
  /** Versions remembered since every served one was last refreshed (see housekeepingDue). */
  private versionsSinceRefresh = 0;
  /** encoder.encodings when its generation was last ended over every served snapshot. */
  private encodingsAtRetain = 0;
  /** Set while applyAsync prepares: what changed meanwhile (registry services, PKI store). */
  private inFlight?: { services: Set<string>; secrets: boolean };

  /** Set by installRestored: the compiled mesh is made on first need (a registry change, a certificate refresh). */
  private compileLater = false;

  /**
   * Serves snapshots restored from a persisted file of this very revision
   * (src/store/snapshot-file.ts), without lint, compile, validate or encode.
   * What registry changes and certificate refreshes rebuild from is compiled
   * from the restored model when first needed, not at start.
   */
  installRestored(r: { readonly model: MeshModel; readonly snaps: Map<string, NodeSnapshot> }, sources: MeshSources, seq?: number): ApplyResult {
    this.encoder.retain();
    this.encodingsAtRetain = this.encoder.encodings;
    this.current.clear();
    this.compiled = undefined;
    this.compileLater = true;
    this.model = r.model;
    this.declared = declaredVersions(r.model);
    this.nodesById = new Map();
    this.callers = new Map();
    this.callersFor = undefined;
    this.sources = sources;
    this.revision = revisionOf(sources);
    this.seq = seq ?? this.seq;
    this.remember(r.snaps.values());
    this.versionsSinceRefresh = 0;
    this.registry.setGovernance((i) => this.governance(i));
    const changed = this.cache.replaceAll(r.snaps);
    this.registry.prune((i) => this.governance(i) === undefined);
    this.opts.log.log('info', 'restored the persisted snapshot', { revision: this.revision, seq: this.seq, nodes: r.snaps.size });
    for (const l of this.installListeners) l(r.model);
    return { ok: true, diagnostics: [], revision: this.revision, ...(this.seq > 0 ? { seq: this.seq } : {}), changedNodes: changed, expected: {} };
  }

  /** The compiled mesh, made now if a restored start deferred it; false before any apply. */
  private ensureCompiled(): boolean {
    if (!this.compiled && this.compileLater && this.model) {
      this.compileLater = false;
      const compiled = compileMesh(this.model, { bootstraps: false });
      this.compiled = compiled;
      this.nodesById = new Map(compiled.nodes.map((n) => [n.id, n]));
      this.callers = callersIndex(compiled);
      this.opts.log.log('info', 'compiled the restored mesh (first registry change or certificate refresh since start)', { revision: this.revision, nodes: compiled.nodes.length });
    }
    return this.compiled !== undefined;
  }

  /** The applied model, or undefined before an apply. */
  get appliedModel(): MeshModel | undefined {
    return this.model;
  }

  /** The applied mesh's name (mesh.yml `name`), or undefined before an apply. */
  get meshName(): string | undefined {
    return this.model?.settings.name;
  }

  get trustDomain(): string | undefined {
    return this.opts.trustDomain ?? this.model?.settings.trustDomain;
  }

  /** lint + compile + validate + snapshot; all or nothing. `seq`: the store's number for this revision. */
  apply(sources: MeshSources, displayDir = 'mesh', seq?: number): ApplyResult {
    if (this.inFlight) return applyInProgress(displayDir);
    const prepared = this.prepareApply(sources, displayDir);
    if (!prepared.ok) return prepared;
    return this.installPrepared(prepared, sources, seq);
  }

  /**
   * apply(), with the event loop given back every APPLY_SLICE_MS while it
   * lints, compiles, validates and encodes (issue 20 item 2): streams keep
   * being served the installed revision, registrations keep being taken.
   * One apply at a time: another one while this runs is refused (MESH240),
   * and a queue of waiting applies is never held. What changed in the
   * registry or the PKI store meanwhile is brought into the new snapshots
   * before they are installed.
   */
  async applyAsync(sources: MeshSources, displayDir = 'mesh', seq?: number): Promise<ApplyResult> {
    if (this.inFlight) return applyInProgress(displayDir);
    const during = { services: new Set<string>(), secrets: false };
    this.inFlight = during;
    try {
      const prepared = await runSliced(this.prepareSteps(sources, displayDir), APPLY_SLICE_MS);
      if (!prepared.ok) return { ok: false, diagnostics: this.scrub(prepared.diagnostics) };
      const installed = this.installPrepared(prepared, sources, seq);
      const due = this.afterInstall;
      this.afterInstall = undefined;
      // Still in flight: the next apply's encodings must not land in the generation being ended.
      if (due) await runSliced(this.afterInstallSteps(due), APPLY_SLICE_MS);
      return installed;
    } finally {
      this.inFlight = undefined;
    }
  }

  /**
   * What installPrepared leaves to a sliced apply when due (housekeepingDue): the kept nodes'
   * versions refreshed, the encoder's generation ended over every served snapshot.
   */
  private *afterInstallSteps(h: Housekeeping): Steps<void> {
    if (h.versions) {
      for (let i = 0; i < h.kept.length; i += AFTER_INSTALL_BATCH) {
        this.remember(h.kept.slice(i, i + AFTER_INSTALL_BATCH));
        yield;
      }
      this.versionsSinceRefresh = 0;
    }
    if (!h.encodings) return;
    const keep = new Set<PreparedResource>();
    for (const s of h.served) {
      for (const t of Object.values(s.types)) for (const r of t.resources.values()) keep.add(r);
      yield;
    }
    this.retainServed(keep);
  }

  /**
   * Ends the encoder's generation keeping exactly `served`: the first retain keeps this
   * generation's encodings and the served ones of the last, the second drops what of this
   * generation's no snapshot serves (the encodings of resources the applies since the last
   * full retain replaced).
   */
  private retainServed(served: ReadonlySet<PreparedResource>): void {
    this.encoder.retain(served);
    this.encoder.retain(served);
    this.encodingsAtRetain = this.encoder.encodings;
  }

  /**
   * Which walks over every served snapshot an incremental install must do now. Both are
   * bookkeeping no stream reads, and each was a block proportional to the whole mesh (0.4 s
   * and 0.16 s at 10,000 services): they are done when due rather than at every apply.
   * - versions: a version still served must never be forgotten by the bounded set of known
   *   versions. One is forgotten only after KNOWN_VERSIONS_MAX others were remembered since it
   *   was last refreshed; refreshing every served version whenever the versions remembered since
   *   the last such refresh, plus the served ones, reach half that keeps every one well inside.
   * - encodings: the encoder holds at most RETAIN_SLACK_MIN (or half the nodes') encodings
   *   beyond what is served.
   */
  private housekeepingDue(p: Prepared): { versions: boolean; encodings: boolean } {
    if (p.kept.length === 0) return { versions: false, encodings: false };
    return {
      versions: this.versionsSinceRefresh + p.snaps.size * RESOURCE_KINDS.length >= this.knownVersionsMax / 2,
      encodings: this.encoder.encodings - this.encodingsAtRetain >= (this.opts.retainSlack ?? Math.max(RETAIN_SLACK_MIN, Math.ceil(p.snaps.size / 2))),
    };
  }

  /** The recomputed nodes' live state as it is now: registrations and certificates that changed while the apply was prepared. */
  private catchUp(p: Prepared, during: { services: Set<string>; secrets: boolean }): void {
    const kept = new Set(p.kept);
    const recomputed = p.compiled.nodes.filter((n) => !kept.has(n.id));
    const declared = declaredVersions(p.model);
    const live = (s: string, v?: string): Instance[] => this.registry.of(s, v).filter((i) => governanceOf(declared, i) === undefined);
    if (during.secrets) {
      for (const node of recomputed) p.snaps.set(node.id, snapshotOfNode(node, live, this.opts.secrets, this.encoder));
    } else if (during.services.size > 0) {
      // An encoding of this apply's own: the slots of the installed revision are keyed by its compiled resources.
      const fresh = new CurrentEncodings(this.encoder);
      for (const node of recomputed) p.snaps.set(node.id, refreshLiveState(p.snaps.get(node.id)!, node, during.services, live, fresh));
    }
  }

  /** The checks of an apply, changing nothing: a replica records the revision in its store between this and installPrepared. */
  prepareApply(sources: MeshSources, displayDir = 'mesh'): Prepared | { ok: false; diagnostics: Diagnostic[] } {
    const prepared = this.prepare(sources, displayDir);
    return prepared.ok ? prepared : { ok: false, diagnostics: this.scrub(prepared.diagnostics) };
  }

  private get knownVersionsMax(): number {
    return this.opts.knownVersionsMax ?? KNOWN_VERSIONS_MAX;
  }

  /** Whether this process ever built `version` of `kind` (bounded memory: the oldest are forgotten first). */
  knowsVersion(kind: string, version: string): boolean {
    return this.knownVersions.has(`${kind}\0${version}`);
  }

  private remember(snaps: Iterable<NodeSnapshot>): void {
    for (const s of snaps) {
      for (const [k, t] of Object.entries(s.types)) {
        const key = `${k}\0${t.version}`;
        this.versionsSinceRefresh++;
        // Re-inserted at the end: a version still served is the last to be forgotten.
        this.knownVersions.delete(key);
        this.knownVersions.add(key);
      }
    }
    for (const key of this.knownVersions) {
      if (this.knownVersions.size <= this.knownVersionsMax) break;
      this.knownVersions.delete(key);
    }
  }

  /** What an apply would change, per node and type, without changing anything (`mesh apply --dry-run`). */
  plan(sources: MeshSources, displayDir = 'mesh'): PlanResult {
    const prepared = this.prepare(sources, displayDir);
    if (!prepared.ok) return { ok: false, diagnostics: this.scrub(prepared.diagnostics), nodes: {} };
    const nodes: PlanResult['nodes'] = {};
    const ids = new Set([...this.cache.nodes(), ...prepared.snaps.keys()]);
    for (const id of [...ids].sort()) {
      const before = this.cache.get(id);
      const after = prepared.snaps.get(id);
      const perKind: Record<string, { added: string[]; changed: string[]; removed: string[] }> = {};
      for (const k of RESOURCE_KINDS) {
        const a = before?.types[k].resources ?? new Map();
        const b = after?.types[k].resources ?? new Map();
        const added = [...b.keys()].filter((n) => !a.has(n)).sort();
        const removed = [...a.keys()].filter((n) => !b.has(n)).sort();
        const changed = [...b.keys()].filter((n) => a.has(n) && a.get(n)!.version !== b.get(n)!.version).sort();
        if (added.length + removed.length + changed.length > 0) perKind[k] = { added, changed, removed };
      }
      nodes[id] = perKind;
    }
    return { ok: true, diagnostics: prepared.diagnostics, nodes };
  }

  private prepare(sources: MeshSources, displayDir: string): Prepared | { ok: false; diagnostics: Diagnostic[] } {
    return runSync(this.prepareSteps(sources, displayDir));
  }

  /**
   * lint, compile, validate and snapshot, yielding between nodes: run at once by
   * prepare(), in event-loop slices by applyAsync(). Changes nothing.
   */
  private *prepareSteps(sources: MeshSources, displayDir: string): Steps<Prepared | { ok: false; diagnostics: Diagnostic[] }> {
    const bad = Object.keys(sources).filter((p) => !SOURCE_PATTERN.test(p) || typeof sources[p] !== 'string');
    if (bad.length > 0) {
      return { ok: false, diagnostics: bad.map((p) => diagAt({ file: p, line: 1, col: 1 }, 'error', 'MESH093', `not a mesh source file: ${p}`)) };
    }
    const tm = stageTimer();
    // Linted from memory: `mesh apply` sent the files, and writing thousands of them to a
    // temp folder only to read them back was a fifth of a large apply. Files unchanged since
    // the last apply are not parsed or modelled again (the source cache).
    const loaded = yield* lintMeshSteps(path.join(os.tmpdir(), 'hms-applied-mesh'), { displayDir, files: sources, sourceCache: this.sourceCache, gapCache: this.gapCache, checkCache: this.checkCache });
    const diags: Diagnostic[] = [...loaded.diagnostics];
    if (!loaded.model) return { ok: false, diagnostics: diags };
    const model: MeshModel = loaded.model;
    tm('lint');
    yield;
    const pinned = this.opts.trustDomain;
    if (pinned !== undefined && model.settings.trustDomain !== pinned) {
      const d = diagAt(model.settings.trustDomainPos, 'error', 'MESH112', `trust_domain ${model.settings.trustDomain} is not the trust domain of the running PKI (${pinned}): every sidecar's and every admin's certificate would be refused, this apply's included; nothing was applied`, {
        hint: `keep trust_domain: ${pinned}, or move the mesh to a new CA for ${model.settings.trustDomain} (mesh certs init, mesh certs issue) and restart mesh serve with it`,
      });
      return { ok: false, diagnostics: [...diags, d] };
    }
    // Only the nodes whose inputs changed since the installed apply (src/model/dependencies.ts);
    // the others keep their compiled output, snapshot and versions, and get no push.
    const index = buildDependencyIndex(model);
    const base = this.installed;
    const recompute = nodesToRecompute(base?.index, index);
    // A node new to this apply has nothing to keep (its own hash is new, so it is in already; belt and braces).
    for (const id of index.reads.keys()) if (!base?.nodes.has(id)) recompute.add(id);
    const kept = [...index.reads.keys()].filter((id) => !recompute.has(id));
    const partial = kept.length > 0 ? (s: { name: string }): boolean => recompute.has(s.name) : undefined;
    tm('index');
    yield;
    // compileMesh(model, { bootstraps: false }, partial), a node at a time.
    const compiler = nodeCompiler(model, {}, partial);
    const outputs: NodeOutput[] = [];
    for (const svc of compiler.services) {
      outputs.push(compiler.node(svc));
      yield;
    }
    const fresh: CompileResult = compiler.result(outputs);
    tm('compile');
    // validateCompiled, a node at a time; unchanged resources hit the validation cache.
    const check = { cache: this.validation, keyOf: (r: unknown) => contentKey(r as object) };
    for (const node of fresh.nodes) {
      diags.push(...validateNodeOutput(node, check));
      yield;
    }
    tm('validate');
    if (hasErrors(diags)) return { ok: false, diagnostics: diags };
    const snaps = new Map<string, NodeSnapshot>();
    const declared = declaredVersions(model);
    const instancesOf = (s: string, v?: string): Instance[] => this.registry.of(s, v).filter((i) => governanceOf(declared, i) === undefined);
    for (const node of fresh.nodes) {
      try {
        snaps.set(node.id, snapshotOfNode(node, instancesOf, this.opts.secrets, this.encoder));
      } catch (err) {
        // The PKI store lacks a node's credentials, or similar: refuse, keep serving the old snapshot.
        return { ok: false, diagnostics: [...diags, diagAt({ file: 'pki', line: 1, col: 1 }, 'error', 'MESH094', `cannot build snapshots: ${(err as Error).message}`)] };
      }
      yield;
    }
    const problems = [...snaps.values()].flatMap((s) => checkSnapshot(s));
    if (problems.length > 0) {
      return { ok: false, diagnostics: [...diags, ...problems.map((p) => diagAt({ file: p.node, line: 1, col: 1 }, 'error', 'MESH095', p.message))] };
    }
    const compiled = kept.length > 0 ? mergeCompiled(fresh, kept.map((id) => base!.nodes.get(id)!)) : fresh;
    for (const id of kept) snaps.set(id, this.cache.get(id)!);
    yield;
    // From the installed index when it is the base's: proportional to the recomputed nodes.
    const callers =
      base && kept.length > 0 && this.callersFor === base
        ? updatedCallersIndex(this.callers, [...base.nodes.values()].filter((n) => recompute.has(n.id) || !index.reads.has(n.id)), fresh.nodes)
        : yield* callersIndexSteps(compiled);
    tm('snapshots');
    return { ok: true, model, compiled, snaps, diagnostics: diags, index, base, kept, stagesMs: tm.stages, callers };
  }

  installPrepared(p: Prepared, sources: MeshSources, seq?: number): ApplyResult {
    const installStart = performance.now();
    // Prepared in slices (applyAsync): registrations and certificates may have changed meanwhile.
    if (this.inFlight) this.catchUp(p, this.inFlight);
    if (p.kept.length > 0) {
      if (this.installed === p.base) {
        // The kept nodes' snapshots as served now: registry changes since prepare() updated them.
        for (const id of p.kept) p.snaps.set(id, this.cache.get(id)!);
      } else {
        // Another revision was installed since prepare() (a replica records between the two): the
        // kept compiled output is still right for this model, its live state is rebuilt now.
        const live = (s: string, v?: string): Instance[] => this.registry.of(s, v).filter((i) => governanceOf(declaredVersions(p.model), i) === undefined);
        for (const [id, snap] of buildSnapshots(p.compiled, p.kept, live, this.opts.secrets, this.encoder)) p.snaps.set(id, snap);
      }
    }
    // Encodings the kept snapshots hold stay shareable by the next apply's new nodes. An apply
    // that recomputed every node ends the encoder's generation here (what it prepared is what is
    // served); an incremental one only when due (housekeepingDue), and a sliced apply then does
    // it after the install, in slices (afterInstall): it is a cache's housekeeping, no stream
    // reads it, and the walk over every kept resource was the largest block of an incremental
    // install (0.4 s at 10,000 services).
    const later = this.inFlight !== undefined;
    const due = this.housekeepingDue(p);
    if (p.kept.length === 0) {
      this.encoder.retain();
      this.encodingsAtRetain = this.encoder.encodings;
    }
    this.current.clear();
    this.validation.retain();
    this.compiled = p.compiled;
    // One map for both: neither is changed after it is made.
    const nodesById = new Map(p.compiled.nodes.map((n) => [n.id, n]));
    this.installed = { index: p.index, nodes: nodesById };
    this.compileLater = false;
    this.model = p.model;
    this.declared = declaredVersions(p.model);
    this.nodesById = nodesById;
    this.callers = p.callers ?? callersIndex(p.compiled);
    this.callersFor = this.installed;
    this.sources = sources;
    this.revision = revisionOf(sources);
    this.seq = seq ?? this.seq;
    // The kept nodes' versions are known already (remembered when they were built); their place
    // in the bounded set is refreshed when due (housekeepingDue), by a sliced apply after the
    // install, in slices.
    const keptIds = new Set(p.kept);
    const recomputed: NodeSnapshot[] = [];
    for (const [id, snap] of p.snaps) if (!keptIds.has(id)) recomputed.push(snap);
    this.remember(recomputed);
    if (p.kept.length === 0) this.versionsSinceRefresh = 0;
    if (due.versions || due.encodings) {
      const h: Housekeeping = { ...due, kept: p.kept.map((id) => p.snaps.get(id)!), served: [...p.snaps.values()] };
      if (later) this.afterInstall = h;
      else runSync(this.afterInstallSteps(h));
    }
    this.registry.setGovernance((r) => this.governance(r));
    const changed = this.cache.replaceAll(p.snaps);
    // After the new snapshots are in: pruning notifies onRegistryChange, which refreshes the cached
    // snapshots, and must not refresh the old mesh's. p.snaps already left the pruned instances out.
    this.registry.prune((i) => this.governance(i) === undefined);
    const expected: Record<string, Record<string, string>> = {};
    for (const id of changed) {
      const s = p.snaps.get(id);
      if (s) expected[id] = Object.fromEntries(Object.entries(s.types).map(([k, t]) => [k, t.version]));
    }
    const recomputedNodes = p.snaps.size - p.kept.length;
    this.opts.log.log('info', 'applied', { revision: this.revision, seq: this.seq, nodes: p.snaps.size, recomputed: recomputedNodes, changed });
    for (const l of this.installListeners) l(p.model);
    for (const l of this.preparedListeners) l(p, sources, this.revision);
    const stagesMs = { ...p.stagesMs, install: Math.round(performance.now() - installStart) };
    return { ok: true, diagnostics: p.diagnostics, revision: this.revision, ...(this.seq > 0 ? { seq: this.seq } : {}), changedNodes: changed, recomputedNodes, expected, stagesMs };
  }

  /** Per node and type: current, ACKed and pending versions, last NACK (`mesh status`, `apply --wait`). */
  statusReport(): StatusReport {
    const nodes = this.cache.nodes().map((id) => {
      const snap = this.cache.get(id)!;
      const st = this.status.get(id);
      const types: StatusReport['nodes'][number]['types'] = {};
      let inSync = true;
      let nacked = false;
      for (const k of RESOURCE_KINDS) {
        const t = st?.types[k];
        if (!t) continue; // never subscribed: nothing to wait for
        const current = snap.types[k].version;
        const nack = t.lastNack && t.lastNack.version === current ? t.lastNack : undefined;
        if (t.ackedVersion !== current) inSync = false;
        if (nack) nacked = true;
        types[k] = {
          current,
          ...(t.ackedVersion !== undefined ? { acked: t.ackedVersion } : {}),
          ...(t.sentVersion !== undefined && t.sentVersion !== t.ackedVersion ? { pending: t.sentVersion } : {}),
          ...(t.lastNack ? { lastNack: { version: t.lastNack.version, message: t.lastNack.message, at: new Date(t.lastNack.at).toISOString() } } : {}),
        };
      }
      const connected = (st?.streams ?? 0) > 0;
      return {
        node: id,
        connected,
        ...(st?.connectedSince !== undefined ? { connectedSince: new Date(st.connectedSince).toISOString() } : {}),
        inSync: connected && inSync && Object.keys(types).length > 0,
        nacked,
        types,
      };
    });
    return { revision: this.revision ?? null, ...(this.seq > 0 ? { seq: this.seq } : {}), generation: this.cache.generation, nodes };
  }

  /** Encodings the control plane holds: bounded by the resources it serves, whatever the registry churn. */
  encoderSize(): number {
    return this.encoder.size + this.current.size;
  }

  /** How many nodes are rebuilt when a service's instances change. */
  callersOf(service: string): number {
    this.ensureCompiled();
    return this.callers.get(service)?.size ?? 0;
  }

  /** Which addresses registrations may use: the mesh.yml opt-ins, strict without a mesh. */
  registrationPolicy(): RegistrationPolicy {
    return this.model?.settings.registry ?? STRICT_POLICY;
  }

  /** Why a registration is refused, or undefined to admit it. */
  governance(r: RegistrationRequest | Instance): string | undefined {
    return this.model ? governanceOf(this.declared, r) : 'no mesh applied yet';
  }

  private onRegistryChange(services: ReadonlySet<string>): void {
    if (this.inFlight) for (const s of services) this.inFlight.services.add(s);
    if (!this.ensureCompiled() || !this.compiled) return;
    const affected = new Set<string>();
    for (const s of services) for (const n of this.callers.get(s) ?? []) affected.add(n);
    if (affected.size === 0) return;
    const snaps = new Map<string, NodeSnapshot>();
    const live = (s: string, v?: string): readonly Instance[] => this.registry.of(s, v);
    for (const id of affected) {
      const node = this.nodesById.get(id);
      const prev = this.cache.get(id);
      if (!node) continue;
      // No snapshot yet (cannot happen after an apply, which snapshots every node): build it whole.
      const snap = prev ? refreshLiveState(prev, node, services, live, this.current) : buildSnapshots(this.compiled, [id], live, this.opts.secrets, this.encoder).get(id);
      if (snap) snaps.set(id, snap);
    }
    for (const [id, snap] of snaps) {
      // Only what a registry change rebuilds; the rest was checked when it was built.
      const problems = checkSnapshot(snap, LIVE_KINDS);
      if (problems.length === 0) continue;
      // Too many instances for one response: keep serving the last good snapshot and say why, loudly.
      snaps.delete(id);
      for (const p of problems) this.opts.log.log('error', 'snapshot not served', { node: p.node, type: p.kind, message: p.message });
    }
    const changed = this.cache.update(snaps);
    this.remember(snaps.values());
    this.opts.log.log('info', 'endpoints changed', { services: [...services].sort(), nodes: changed });
  }

  /**
   * Re-reads every node's secrets from the PKI store (after `mesh certs rotate`) and
   * pushes what changed: versions are content hashes, so only the SDS resources of
   * re-issued certificates (and the bundle) go out. Returns the nodes that changed.
   */
  refreshSecrets(): string[] {
    if (this.inFlight) this.inFlight.secrets = true;
    if (!this.ensureCompiled() || !this.compiled || !this.opts.secrets) return [];
    const all = new Set(this.compiled.nodes.map((n) => n.id));
    const rebuilt = buildSnapshots(this.compiled, all, (s, v) => this.registry.of(s, v), this.opts.secrets, this.encoder);
    const changed = this.cache.update(rebuilt);
    this.remember(rebuilt.values());
    this.versionsSinceRefresh = 0;
    // Every node was just prepared: the generation now holds exactly what is served, so
    // encodings of certificates (and endpoint sets) that are gone can go too.
    this.encoder.retain();
    this.encodingsAtRetain = this.encoder.encodings;
    if (changed.length > 0) this.opts.log.log('info', 'certificates changed in the PKI store', { nodes: changed });
    return changed;
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

  /** Diagnostics for a client: absolute paths of this machine become the names the mesh uses for them. */
  private scrub(diags: readonly Diagnostic[]): Diagnostic[] {
    const names = [...(this.opts.pathNames ?? [])].sort((a, b) => b[0].length - a[0].length);
    if (names.length === 0) return [...diags];
    const fix = (t: string): string => names.reduce((acc, [abs, name]) => acc.split(abs).join(name), t);
    return diags.map((d) => ({ ...d, file: fix(d.file), message: fix(d.message), ...(d.hint ? { hint: fix(d.hint) } : {}) }));
  }

  close(): void {
    this.registry.close();
  }
}

function applyInProgress(displayDir: string): ApplyResult {
  return {
    ok: false,
    diagnostics: [diagAt({ file: displayDir, line: 1, col: 1 }, 'error', 'MESH240', 'another apply is being prepared on this control plane; nothing was applied', { hint: 'retry when it has finished (mesh status shows the served revision)' })],
  };
}

/** service -> declared versions: asked on every registration, so a lookup, not a scan of the services. */
function declaredVersions(model: MeshModel): Map<string, readonly string[]> {
  return new Map(model.services.map((s) => [s.name, s.versions]));
}

function governanceOf(declared: ReadonlyMap<string, readonly string[]>, r: RegistrationRequest | Instance): string | undefined {
  const versions = declared.get(r.service);
  if (!versions) return `service "${r.service}" is not declared in the mesh (no services/${r.service}.yml was applied)`;
  if (!versions.includes(r.version)) return `version "${r.version}" of "${r.service}" is not declared (declared: ${versions.join(', ')})`;
  return undefined;
}

export interface Prepared {
  readonly ok: true;
  readonly model: MeshModel;
  readonly compiled: CompileResult;
  readonly snaps: Map<string, NodeSnapshot>;
  readonly diagnostics: Diagnostic[];
  readonly index: DependencyIndex;
  /** What the kept nodes were compiled against (undefined: nothing was installed, every node is new). */
  readonly base: InstalledCompile | undefined;
  /** Nodes whose inputs did not change: compiled output and snapshot taken from `base`. */
  readonly kept: readonly string[];
  /** Wall time of each stage (lint, index, compile, validate, snapshots), ms. */
  readonly stagesMs?: Readonly<Record<string, number>>;
  /** callersIndex(compiled), built in the prepare's slices rather than in the install's block. */
  readonly callers?: Map<string, Set<string>>;
}

/** The walks over every served snapshot an install found due (ControlPlane.housekeepingDue). */
interface Housekeeping {
  readonly versions: boolean;
  readonly encodings: boolean;
  readonly kept: readonly NodeSnapshot[];
  readonly served: readonly NodeSnapshot[];
}

export interface PlanResult {
  readonly ok: boolean;
  readonly diagnostics: readonly Diagnostic[];
  /** node -> kind -> resource names added, changed, removed; a node with {} is unchanged. */
  readonly nodes: Record<string, Record<string, { added: string[]; changed: string[]; removed: string[] }>>;
}

export interface StatusReport {
  readonly revision: string | null;
  /** The store's sequence number of the served revision. */
  readonly seq?: number;
  readonly generation: number;
  readonly nodes: Array<{
    node: string;
    connected: boolean;
    connectedSince?: string;
    /** Connected, subscribed, and every subscribed type ACKed at the current version. */
    inSync: boolean;
    /** The current version of some type was NACKed. */
    nacked: boolean;
    types: Partial<Record<string, { current: string; acked?: string; pending?: string; lastNack?: { version: string; message: string; at: string } }>>;
  }>;
}

export function revisionOf(sources: MeshSources): string {
  const h = createHash('sha256');
  for (const k of Object.keys(sources).sort()) h.update(k).update('\0').update(sources[k]!).update('\0');
  return h.digest('hex').slice(0, 12);
}

/**
 * Reads the source files of a mesh directory, as `mesh apply` sends them:
 * regular files only, each within the size limit, none through a link that
 * leaves the directory (the same rules as `mesh lint`).
 */
export function readMeshSources(dir: string): MeshSources {
  const out: Record<string, string> = {};
  let root: string;
  try {
    root = fs.realpathSync(dir);
  } catch (err) {
    throw new UserError('MESH001', `mesh directory "${dir}" cannot be read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  const rules = { root, followExternalLinks: process.env.MESH_FOLLOW_EXTERNAL_LINKS === '1' };
  const take = (rel: string): void => {
    const read = readRegularFile(path.join(dir, rel), path.join(dir, rel), rules);
    if (!Buffer.isBuffer(read)) throw new UserError(read.code, `${read.file}: ${read.message}`);
    out[rel] = read.toString('utf8');
  };
  for (const f of ['mesh.yml', 'mesh.yaml', 'mesh_policies.yml', 'mesh_policies.yaml']) {
    if (fs.existsSync(path.join(dir, f))) take(f);
  }
  const svc = path.join(dir, 'services');
  if (fs.existsSync(svc)) {
    for (const f of fs.readdirSync(svc).sort()) if (/\.ya?ml$/.test(f)) take(`services/${f}`);
  }
  return out;
}

/** Wall time of each stage of an apply, in ms (bench/apply.ts prints them). */
function stageTimer(): ((stage: string) => void) & { readonly stages: Record<string, number> } {
  let t = performance.now();
  const stages: Record<string, number> = {};
  const mark = (stage: string): void => {
    const now = performance.now();
    stages[stage] = Math.round(now - t);
    t = now;
  };
  return Object.assign(mark, { stages });
}
