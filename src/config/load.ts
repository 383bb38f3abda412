/**
 * load -> check -> model: read a mesh directory, validate every file against
 * its schema, build the typed model and run the semantic checks. Returns the
 * model only when there are no errors, plus every diagnostic found.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { diagAt, hasErrors, sortDiagnostics, type Diagnostic } from '../diag/diagnostic';
import { checkMeshSteps, type PolicyKeys } from '../model/checks';
import type { CheckCache } from '../model/check-cache';
import { runSync, type Steps } from '../util/sliced';
import type { MeshModel, ServiceManifest, ServicePolicies } from '../model/types';
import { assembleModel, buildPolicies, buildPoliciesFor, buildService, buildSettings } from './build-model';
import { buildExternals } from './build-externals';
import { buildGateways } from './build-gateways';
import { buildGuardrails } from './build-guardrails';
import { keyPos } from './positions';
import { checkSchema } from './schema-check';
import { parseAll, parseJob, type ParseJob, type ParseOptions } from './parse-pool';
import type { SourceFile } from './source-file';
import { readRegularFile } from './source-file';
import { lintKey, SourceCache, settingsKey, type CachedSource, type LintEntry, type PersistedLintCache, type PolicyDerived } from './source-cache';

export interface LoadResult {
  readonly model?: MeshModel;
  readonly diagnostics: readonly Diagnostic[];
  /**
   * The model of schema-valid files whose semantic checks found errors (a
   * denied or unknown call, a bad split...). Only for review tools that show
   * what is wrong (`mesh graph` draws denied calls); never compile it to serve.
   */
  readonly uncheckedModel?: MeshModel;
}

export const POLICY_FILE = 'mesh_policies.yml';
export const SETTINGS_FILE = 'mesh.yml';
export const SERVICES_DIR = 'services';

const POLICY_SECTIONS = ['circuit_breakers', 'rate_limits', 'retries', 'timeouts', 'access', 'traffic', 'routes'] as const;

export interface LoadOptions {
  /**
   * How the directory is named in diagnostics (default: `dir` as given). The
   * control plane loads applied sources from a temp folder but reports
   * positions under the name the user's `mesh apply` used.
   */
  readonly displayDir?: string;
  /**
   * The mesh's files in memory (relative path -> text) instead of on disk:
   * the control plane applies what `mesh apply` sent without writing it out.
   */
  readonly files?: Readonly<Record<string, string>>;
  /**
   * Read files whose real path leaves the mesh directory (symlinks). Off by
   * default (MESH007); MESH_FOLLOW_EXTERNAL_LINKS=1 turns it on.
   */
  readonly followExternalLinks?: boolean;
  /** Parse threads (src/config/parse-pool.ts); the default suits the machine. */
  readonly parse?: ParseOptions;
  /**
   * Per-file results kept across loads of in-memory files (the control plane's
   * applies): a file whose text is unchanged is not parsed, schema-checked or
   * modelled again (src/config/source-cache.ts).
   */
  readonly sourceCache?: SourceCache;
  /**
   * Per-file results kept on disk across processes (`mesh build`, with the
   * build cache): a file on disk whose bytes are unchanged is read and
   * hashed, not parsed, schema-checked or modelled (src/cache/lint-cache.ts).
   */
  readonly lintCache?: PersistedLintCache;
  /**
   * The cross-service checks' per-service results kept across loads (the
   * control plane's applies): reused while what each read is unchanged
   * (src/model/check-cache.ts).
   */
  readonly checkCache?: CheckCache;
}

/** Where source files come from: a folder, or a map of what `mesh apply` sent. */
interface MeshFiles {
  readonly isDir: boolean;
  exists(rel: string): boolean;
  /** File names (not paths) of manifests under services/, sorted. */
  manifests(): string[];
  job(rel: string, display: string): ParseJob;
}

function diskFiles(abs: string, followExternalLinks: boolean): MeshFiles {
  let root: string | undefined;
  try {
    root = fs.realpathSync(abs);
  } catch {
    // Not a directory: loadMeshSync reports MESH001 before any file is read.
  }
  const rules = { ...(root !== undefined ? { root, realDirs: new Map<string, string>() } : {}), followExternalLinks };
  return {
    isDir: isDirectory(abs),
    exists: (rel) => fs.existsSync(path.join(abs, rel)),
    manifests: () => listManifests(abs),
    job: (rel, display) => ({ display, abs: path.join(abs, rel), rules }),
  };
}

function memoryFiles(files: Readonly<Record<string, string>>): MeshFiles {
  return {
    isDir: true,
    exists: (rel) => Object.prototype.hasOwnProperty.call(files, rel),
    manifests: () =>
      Object.keys(files)
        .filter((f) => f.startsWith(`${SERVICES_DIR}/`) && /\.ya?ml$/.test(f) && !f.slice(SERVICES_DIR.length + 1).includes('/'))
        .map((f) => f.slice(SERVICES_DIR.length + 1))
        .sort(),
    job: (rel, display) => ({ display, text: files[rel]! }),
  };
}

export async function loadMesh(dir: string, opts: LoadOptions = {}): Promise<LoadResult> {
  return loadMeshSync(dir, opts);
}

export function loadMeshSync(realDir: string, opts: LoadOptions = {}): LoadResult {
  return runSync(loadMeshSteps(realDir, opts));
}

/**
 * loadMeshSync as steps (src/util/sliced.ts), yielding between files and
 * between the cross-service rules: the control plane's sliced apply runs it
 * in event-loop slices (issue 20 item 2). A file that misses the source cache
 * is parsed in one piece.
 */
export function* loadMeshSteps(realDir: string, opts: LoadOptions = {}): Steps<LoadResult> {
  const abs = path.resolve(realDir);
  const dir = opts.displayDir ?? realDir;
  const files = opts.files ? memoryFiles(opts.files) : diskFiles(abs, opts.followExternalLinks ?? process.env.MESH_FOLLOW_EXTERNAL_LINKS === '1');
  if (!files.isDir) {
    const d = diagAt({ file: dir, line: 1, col: 1 }, 'error', 'MESH001', `mesh directory "${dir}" does not exist or is not a directory`, { hint: 'pass the folder holding mesh_policies.yml and services/' });
    return { diagnostics: [d] };
  }
  const diags: Diagnostic[] = [];
  const schemaOk = (src: SourceFile, schema: 'mesh' | 'mesh_policies' | 'service'): boolean => {
    diags.push(...src.diagnostics);
    if (src.diagnostics.length > 0 || src.value === undefined) return false;
    const found = checkSchema(src, schema);
    diags.push(...found);
    return found.length === 0;
  };
  // mesh.yml first, alone (it is tiny): every manifest's defaults come from it.
  const settingsRel = firstExisting(files, [SETTINGS_FILE, 'mesh.yaml'])[0];
  // From disk with the persisted cache: each file read and hashed here, and parsed only on a miss (from those very bytes).
  const lint = opts.files ? undefined : opts.lintCache;
  const settingsJob = settingsRel !== undefined ? files.job(settingsRel, path.join(dir, settingsRel)) : undefined;
  let settingsSrc: SourceFile | undefined;
  let ok = true;
  const settingsBytes = lint && settingsJob ? readRegularFile(settingsJob.abs!, settingsJob.display, settingsJob.rules) : undefined;
  if (settingsJob && Buffer.isBuffer(settingsBytes)) {
    // Parsed (it is tiny and the settings are built from it), but its schema check is cached.
    const key = lintKey('mesh', settingsJob.display, settingsBytes);
    settingsSrc = parseJob({ display: settingsJob.display, bytes: settingsBytes });
    const hit = lint!.get(key);
    const before = diags.length;
    ok = hit ? (diags.push(...hit.diagnostics), hit.valid) : schemaOk(settingsSrc, 'mesh');
    if (!hit) lint!.set(key, { diagnostics: diags.slice(before), valid: ok });
  } else if (settingsJob) {
    settingsSrc = parseJob(settingsJob);
    ok = schemaOk(settingsSrc, 'mesh');
  }
  const settings = buildSettings(ok ? settingsSrc : undefined, dir);

  const policyRel = firstExisting(files, [POLICY_FILE, 'mesh_policies.yaml'])[0];
  const serviceFiles = files.manifests();
  if (serviceFiles.length === 0) {
    diags.push(diagAt({ file: path.join(dir, SERVICES_DIR), line: 1, col: 1 }, 'error', 'MESH002', `no service manifests found in ${path.join(dir, SERVICES_DIR)}/`, { hint: 'add one services/<name>.yml per service' }));
  }
  // The policy file first: it is the largest, and the first jobs start before any worker is up.
  const rels = [...(policyRel !== undefined ? [policyRel] : []), ...serviceFiles.map((f) => path.join(SERVICES_DIR, f))];
  const first = policyRel !== undefined ? 1 : 0;
  let policySrc: SourceFile | undefined;
  let policyEntry: CachedSource | undefined;
  /** The policy file's document (parsed on first use after a persisted hit). */
  let policyDoc = (): SourceFile | undefined => policySrc;
  /** With the persisted cache: each service's policies built from the policy file, cached or now. */
  let policyBuilt: Map<string, ServicePolicies> | undefined;
  const services: ServiceManifest[] = new Array(serviceFiles.length);
  const jobs = rels.map((rel) => files.job(rel, path.join(dir, rel)));
  const cache = opts.files ? opts.sourceCache : undefined;
  cache?.nextGeneration();
  const setKey = cache || lint ? settingsKey(settings) : '';
  const schemaOf = (j: number): 'mesh_policies' | 'service' => (j < first ? 'mesh_policies' : 'service');
  const keys = cache ? jobs.map((job, j) => SourceCache.key(job.display, schemaOf(j), job.text!)) : [];
  /** One parsed file checked and modelled; whether it is schema-valid. */
  const take = (j: number, src: SourceFile, cached?: CachedSource): boolean => {
    const before = diags.length;
    const valid = cached ? (diags.push(...cached.diagnostics), cached.diagnostics.length === 0 && src.value !== undefined) : schemaOk(src, schemaOf(j));
    const entry: CachedSource | undefined = cache ? (cached ?? { src, diagnostics: diags.slice(before) }) : undefined;
    if (entry && !cached) cache!.set(keys[j]!, entry);
    if (j < first) {
      policySrc = src;
      policyEntry = entry;
      ok = valid && ok;
      return valid;
    }
    if (!valid) {
      ok = false;
      return valid;
    }
    if (entry?.service?.settingsKey === setKey) {
      services[j - first] = entry.service.manifest;
      return valid;
    }
    const manifest = buildService(src, path.join(dir, rels[j]!), settings);
    services[j - first] = manifest;
    if (entry) entry.service = { settingsKey: setKey, manifest };
    return valid;
  };
  const missed: number[] = [];
  const lintKeys: (string | undefined)[] = [];
  let policyHit: LintEntry | undefined;
  /** One file through the persisted cache: its result when the cache has it, else it joins the parse (the policy file's hit is returned). */
  const takePersisted = (j: number): LintEntry | undefined => {
    const job = jobs[j]!;
    const bytes = readRegularFile(job.abs!, job.display, job.rules);
    if (!Buffer.isBuffer(bytes)) {
      missed.push(j); // read again by the parse, which reports why it cannot be
      return undefined;
    }
    const key = (lintKeys[j] = lintKey(schemaOf(j), job.display, bytes, setKey));
    const hit = lint!.get(key);
    if (!hit || (j >= first && hit.valid && hit.manifest === undefined)) {
      // Copied: the read's buffer may sit in a much larger allocation, and workers get a copy of all of it.
      jobs[j] = { display: job.display, bytes: new Uint8Array(bytes) };
      missed.push(j);
      return undefined;
    }
    diags.push(...hit.diagnostics);
    if (!hit.valid) ok = false;
    if (j >= first) {
      if (hit.valid) services[j - first] = hit.manifest!;
      return undefined;
    }
    // Parsed only if a later stage needs the document: what the model takes from it is cached too (`derived`).
    policyDoc = () => (policySrc ??= parseJob({ display: job.display, bytes }));
    policyBuilt = new Map(hit.policies ?? []);
    return hit;
  };
  for (let j = 0; j < jobs.length; j++) {
    if (lint) policyHit = takePersisted(j) ?? policyHit;
    else {
      const hit = cache?.get(keys[j]!);
      if (hit) take(j, hit.src, hit);
      else missed.push(j);
    }
    yield;
  }
  // Each file is checked and modelled as soon as it is parsed, while other files are still being parsed.
  parseAll(missed.map((j) => jobs[j]!), opts.parse, (m, src) => {
    const j = missed[m]!;
    const before = diags.length;
    const valid = take(j, src);
    const key = lintKeys[j];
    if (!lint || key === undefined) return;
    const found = diags.slice(before);
    if (j < first) {
      policyBuilt = new Map();
      policyHit = { diagnostics: found, valid };
      lint.set(key, policyHit);
    } else lint.set(key, valid ? { diagnostics: found, valid, manifest: services[j - first]! } : { diagnostics: found, valid });
  });
  yield;
  // Semantic rules need well-typed input; with schema errors they would only add noise.
  if (!ok || hasErrors(diags)) return { diagnostics: sortDiagnostics(diags) };

  const policyCount = policyBuilt?.size ?? 0;
  const policies = yield* policiesOf(policyDoc, policyBuilt ?? policyEntry?.policies, services, policyEntry);
  // An unchanged policy file's derived parts come from its entry: the persisted cache's, or the in-memory one's.
  const derived = policyHit?.derived ?? (policyEntry?.derived?.settingsKey === setKey ? policyEntry.derived.value : undefined) ?? policyDerived(policyDoc(), settings);
  if (policyEntry && policyEntry.derived?.value !== derived) policyEntry.derived = { settingsKey: setKey, value: derived };
  // What it had not built before (all of it on a miss) is saved with the policy file's entry.
  if (lint && policyHit && (policyBuilt!.size > policyCount || !policyHit.derived)) lint.set(lintKeys[0]!, { ...policyHit, policies: policyBuilt!, derived });
  yield;
  const model = assembleModel(abs, dir, settings, services, policies, [...derived.externals], [...derived.guardrails], [...derived.gateways]);
  yield;
  const checkCache = opts.files ? opts.checkCache : undefined;
  diags.push(...(yield* checkMeshSteps({ model, policyKeys: derived.policyKeys, ...(checkCache ? { cache: checkCache } : {}) })));
  const sorted = sortDiagnostics(diags);
  // The parsed documents are not kept: the model holds every position it needs, and
  // retaining 10,000 YAML trees slowed every later stage of a large build (GC).
  return hasErrors(sorted) ? { diagnostics: sorted, uncheckedModel: model } : { model, diagnostics: sorted };
}

/**
 * buildPolicies, reusing what an unchanged policy file built for each service
 * (`built`: the in-memory entry's or the persisted cache's, src/config/source-cache.ts).
 */
function* policiesOf(doc: () => SourceFile | undefined, built: Map<string, ServicePolicies> | undefined, services: readonly ServiceManifest[], entry: CachedSource | undefined): Steps<ServicePolicies[]> {
  if (!built && entry) built = entry.policies ??= new Map();
  if (!built) return buildPolicies(doc(), services);
  const names = [...new Set(services.map((s) => s.name))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const out: ServicePolicies[] = [];
  // A service at a time: a `defaults:` change builds every service's policies anew.
  for (const name of names) {
    let p = built.get(name);
    if (!p) built.set(name, (p = buildPoliciesFor(doc(), [name])[0]!));
    out.push(p);
    yield;
  }
  return out;
}

/** What the model takes from the policy file besides policies (all of it depends on the file's text and the settings only). */
function policyDerived(src: SourceFile | undefined, settings: MeshModel['settings']): PolicyDerived {
  return { policyKeys: policyKeysOf(src), externals: buildExternals(src), guardrails: buildGuardrails(src), gateways: buildGateways(src, settings) };
}

function isDirectory(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function firstExisting(files: MeshFiles, names: string[]): string[] {
  const found = names.filter((n) => files.exists(n));
  return found.slice(0, 1);
}

function listManifests(abs: string): string[] {
  const dir = path.join(abs, SERVICES_DIR);
  if (!isDirectory(dir)) return [];
  return fs
    .readdirSync(dir, { withFileTypes: true })
    // Every entry named like a manifest, folders and FIFOs too: the reader says what is wrong
    // with each (a folder named x.yml was silently skipped before).
    .filter((e) => /\.ya?ml$/.test(e.name))
    .map((e) => e.name)
    .sort();
}

function policyKeysOf(src: SourceFile | undefined): PolicyKeys[] {
  if (!src) return [];
  const v = src.value as Record<string, Record<string, unknown> | undefined>;
  const out: PolicyKeys[] = [];
  for (const section of POLICY_SECTIONS) {
    for (const service of Object.keys(v[section] ?? {})) out.push({ section, service, pos: keyPos(src, [section, service]) });
  }
  return out;
}

/**
 * mesh.yml alone, as loadMeshSync reads it first: the settings, or undefined
 * when the file is not schema-valid (the caller then lints the whole mesh,
 * which reports why). `mesh serve` needs only these at start: linting 2,000
 * manifests to read the ports took over a second of a start that otherwise
 * serves a persisted snapshot (issue 20).
 */
export function loadSettingsSync(realDir: string): MeshModel['settings'] | undefined {
  const abs = path.resolve(realDir);
  const files = diskFiles(abs, process.env.MESH_FOLLOW_EXTERNAL_LINKS === '1');
  if (!files.isDir) return undefined;
  const rel = firstExisting(files, [SETTINGS_FILE, 'mesh.yaml'])[0];
  const src = rel !== undefined ? parseJob(files.job(rel, path.join(realDir, rel))) : undefined;
  if (src && (src.diagnostics.length > 0 || src.value === undefined || checkSchema(src, 'mesh').length > 0)) return undefined;
  return buildSettings(src, realDir);
}
