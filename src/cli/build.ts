import * as path from 'node:path';
import { Command } from 'commander';
import { lintMesh } from '../lint';
import { hasErrors, type Diagnostic } from '../diag/diagnostic';
import { formatDiagnostics } from '../diag/format';
import { buildOutputTree, compileMesh } from '../envoy';
import { validateCompiled } from '../output/validate-output';
import { meshProtection, staleReport, writeTreeAtomically, type FileTree } from '../output/write-tree';
import { emitTree } from '../envoy/emit';
import { assertReplaceable, overlaps } from '../output/out-dir';
import { withExplainFiles } from '../review/explain/build-explain';
import { runComposeBuild } from '../compose/build-target';
import { buildCacheDir, cacheProtection, closeBuildCache, openBuildCache, openLintCache, closeLintCache } from '../cache/build-cache';
import { diffWithIndex, hashTree, readCheckIndex, writeCheckIndex, type BuiltNode, type CheckIndex } from '../cache/check-index';
import type { SetExit } from './main';

interface BuildOptions {
  readonly out: string;
  readonly check: boolean;
  readonly templates?: string;
  readonly explain?: boolean;
  readonly target?: string;
  readonly subnet?: string;
  readonly force: boolean;
  /** false with --no-cache. */
  readonly cache?: boolean;
}

export function registerBuild(program: Command, setExit: SetExit): void {
  program
    .command('build')
    .description('compile a mesh directory to Envoy xDS resources and bootstraps under --out (atomically)')
    .argument('[dir]', 'mesh directory', '.')
    .option('--out <dir>', 'output folder', 'out')
    .option('--force', 'also build into an empty folder that no mesh build wrote (a folder with files in it is never replaced unless a build wrote it)', false)
    .option('--check', 'write nothing to --out (the build cache may gain entries); exit 1 and list the files if --out differs from what the sources produce', false)
    .option('--templates <dir>', 'folder with your own copies of the bootstrap templates')
    .option('--explain', 'also write <node>/explain.json: every policy value with the file:line (or default) it came from; --check then compares it too', false)
    .option('--target <target>', 'envoy: the out/ tree; compose: a Docker Compose setup with real Envoy sidecars (docs/envoy.md)', 'envoy')
    .option('--no-cache', 'render every node, neither reading nor writing the build cache (<dir>/.mesh-cache/, or MESH_CACHE_DIR; safe to delete)')
    .option('--subnet <cidr>', 'with --target compose: the network of the sidecars (default 10.213.71.0/24)')
    .action((dir: string, opts: BuildOptions) => setExit(runBuild(dir, opts)));
}

export function runBuild(dir: string, opts: BuildOptions): number {
  if (opts.target === 'compose' && !opts.explain) return runComposeBuild(dir, opts);
  if (opts.target !== undefined && opts.target !== 'envoy') return usage(`--target ${opts.target}${opts.explain ? ' with --explain' : ''}: expected envoy, or compose (without --explain)`);
  const useCache = opts.cache !== false && !opts.explain;
  const cacheDir = buildCacheDir({ dir: path.resolve(dir) });
  // Files unchanged since an earlier build are not parsed, schema-checked or modelled again (src/cache/lint-cache.ts).
  const lintCache = useCache ? openLintCache(cacheDir) : undefined;
  const loaded = lintMesh(dir, lintCache ? { lintCache } : {});
  const diags: Diagnostic[] = [...loaded.diagnostics];
  // Saved once the build is known to go on (a refused --out leaves everything as it was), and after
  // a lint with errors too (the next build re-lints only what changed); never into --out (MESH253).
  const saveLint = (): void => {
    if (lintCache && !overlaps(opts.out, cacheDir)) diags.push(...closeLintCache(lintCache, cacheDir));
  };
  if (!loaded.model) {
    saveLint();
    return finish(diags, 1);
  }
  const protect = [...meshProtection(loaded.model.dir, path.resolve(loaded.model.dir, loaded.model.settings.pkiDir)), ...(useCache ? [cacheProtection(cacheDir)] : [])];
  // Before compiling: a path the build may not replace is refused at once.
  if (!opts.check) assertReplaceable(opts.out, { force: opts.force, protect });
  saveLint();
  const compileOpts = opts.templates ? { templatesDir: opts.templates } : {};
  let tree: FileTree;
  let nodes: number;
  let fromCache = 0;
  let index: CheckIndex | undefined;
  let skipped: string[] = [];
  let built: BuiltNode[] = [];
  let keyedMade = 0;
  if (opts.explain) {
    // --explain needs every node's IR at once; without it the tree (and --check) stays exactly the committed out/.
    const compiled = compileMesh(loaded.model, compileOpts);
    diags.push(...compiled.diagnostics);
    if (hasErrors(diags)) return finish(diags, 1);
    diags.push(...validateCompiled(compiled));
    tree = withExplainFiles(buildOutputTree(compiled), compiled, loaded.model.displayDir);
    nodes = compiled.nodes.length;
  } else {
    // Node by node on every core, each node validated as it is made (src/envoy/emit.ts); nodes
    // whose inputs are unchanged since an earlier build come from the build cache (src/cache).
    const cache = useCache ? openBuildCache(loaded.model, cacheDir, { ...compileOpts, validate: true }) : undefined;
    // --check: nodes whose key the check index of --out records are compared by stat (src/cache/check-index.ts).
    index = cache && opts.check ? readCheckIndex(cacheDir, opts.out) : undefined;
    const emitted = emitTree(loaded.model, { ...compileOpts, validate: true, ...(cache ? { cache: cache.emit, protoDescriptorDir: cacheDir } : {}), ...(index ? { skip: index.nodes } : {}) });
    diags.push(...emitted.diagnostics);
    if (cache) diags.push(...closeBuildCache(cache));
    tree = emitted.tree;
    nodes = emitted.nodes;
    fromCache = emitted.fromCache;
    skipped = emitted.skipped;
    if (cache) built = indexedNodes(emitted.built, cache.emit.keys, index);
    keyedMade = cache ? emitted.built.filter((n) => cache.emit.keys.has(n.id)).length : 0;
  }
  if (hasErrors(diags)) return finish(diags, 1);
  if (opts.check) {
    const fast = index ? diffWithIndex(tree, skipped, index, opts.out) : undefined;
    const stale = staleReport(tree, opts.out, dir, rebuildCommand(dir, opts), fast);
    process.stdout.write(formatDiagnostics(diags, 'text'));
    if (stale !== undefined) {
      process.stdout.write(stale);
      return 1;
    }
    // Up to date: the index records it as found, so that the next --check stats instead of reading.
    if (useCache && (fast === undefined || fast.rehashed > 0 || fast.relisted > 0 || keyedMade > 0)) writeCheckIndex(cacheDir, opts.out, withIndexed(hashTree(tree), skipped, index), built);
    process.stderr.write(`${opts.out} is up to date (${tree.size + skipped.length} files, ${nodes} nodes${cachedNote(fromCache)}${skipped.length > 0 ? `; ${skipped.length} files compared by the check index` : ''})\n`);
    return 0;
  }
  writeTreeAtomically(opts.out, tree, { force: opts.force, protect, onRecover: (n) => process.stderr.write(`mesh build: ${n}\n`) });
  if (useCache) writeCheckIndex(cacheDir, opts.out, hashTree(tree), built);
  process.stdout.write(formatDiagnostics(diags, 'text'));
  process.stderr.write(`wrote ${tree.size} files for ${nodes} nodes to ${opts.out}${cachedNote(fromCache)}\n`);
  return 0;
}

/** The nodes the check index records: each keyed node made or cached now, and each the index let --check skip. */
function indexedNodes(made: ReadonlyArray<{ id: string; entryText: string; paths: readonly string[] }>, keys: ReadonlyMap<string, string>, index: CheckIndex | undefined): BuiltNode[] {
  const out: BuiltNode[] = made.flatMap((n) => (keys.has(n.id) ? [{ key: keys.get(n.id)!, entryText: n.entryText, paths: n.paths }] : []));
  if (index) for (const key of keys.values()) if (index.nodes.has(key)) out.push({ key, ...index.nodes.get(key)! });
  return out;
}

/** The rendered files' hashes plus the recorded hashes of the skipped files (--check found them all as recorded). */
function withIndexed(hashes: Map<string, string>, skipped: readonly string[], index: CheckIndex | undefined): Map<string, string> {
  if (index) for (const rel of skipped) hashes.set(rel, index.files.get(rel)![0]);
  return hashes;
}

/** The build that rewrites `--out` as --check compared it: the same flags that shape the tree, or it would not fix it. */
function rebuildCommand(dir: string, opts: BuildOptions): string {
  const flags = [`--out ${opts.out}`, ...(opts.templates ? [`--templates ${opts.templates}`] : []), ...(opts.explain ? ['--explain'] : [])];
  return `mesh build ${dir} ${flags.join(' ')}`;
}

function cachedNote(fromCache: number): string {
  return fromCache > 0 ? `; ${fromCache} from the build cache` : '';
}

function usage(message: string): number {
  process.stderr.write(`mesh build: ${message}\n`);
  return 2;
}

function finish(diags: readonly Diagnostic[], code: number): number {
  process.stdout.write(formatDiagnostics(diags, 'text'));
  return code;
}
