/**
 * `mesh build`'s use of the node cache: where it lives, the keys of this
 * build, and what the build says about it afterwards.
 *
 * The folder is `<mesh dir>/.mesh-cache/` unless MESH_CACHE_DIR names
 * another; `mesh build --no-cache` neither reads nor writes it. It never sits
 * in or around --out (refused, MESH253): a build replaces its whole output
 * folder, and the cache must outlive that.
 */
import * as path from 'node:path';
import { diagAt, type Diagnostic } from '../diag/diagnostic';
import type { MeshModel } from '../model/types';
import type { Protected } from '../output/out-dir';
import type { EmitCache } from '../envoy/emit';
import { generatedMarker } from '../envoy/compile';
import { sourcesOf } from '../translate';
import { LintCache } from './lint-cache';
import { NodeCache, prepareCacheDir } from './node-cache';
import { nodeKeys, type KeyOptions } from './node-keys';

export const CACHE_DIR_NAME = '.mesh-cache';

export function buildCacheDir(model: Pick<MeshModel, 'dir'>): string {
  const env = process.env.MESH_CACHE_DIR;
  return env !== undefined && env !== '' ? path.resolve(env) : path.join(model.dir, CACHE_DIR_NAME);
}

/** What --out may not overlap: the cache folder. */
export function cacheProtection(dir: string): Protected {
  return { path: dir, what: 'the build cache', code: 'MESH253' };
}

export interface BuildCache {
  readonly store: NodeCache;
  readonly emit: EmitCache;
}

export function openBuildCache(model: MeshModel, dir: string, opts: KeyOptions): BuildCache {
  const store = new NodeCache(dir);
  const keys = nodeKeys(model, generatedMarker(sourcesOf(model)), opts);
  return { store, emit: { keys, store } };
}

/** After the build: prune, then the warnings the build prints (an unusable folder, entries that failed their check). */
export function closeBuildCache(cache: BuildCache): Diagnostic[] {
  const { store } = cache;
  store.prune();
  const at = { file: store.dir, line: 1, col: 1 };
  const out: Diagnostic[] = [];
  if (store.disabled !== undefined) {
    out.push(diagAt(at, 'warning', 'MESH254', `build cache not used for the rest of this build: ${store.disabled}`, { hint: 'the build is complete without it; fix the folder, point MESH_CACHE_DIR elsewhere, or pass --no-cache' }));
  }
  if (store.stats.corrupt > 0) {
    out.push(diagAt(at, 'warning', 'MESH255', `${store.stats.corrupt} build cache entr${store.stats.corrupt === 1 ? 'y' : 'ies'} failed the integrity check (torn or edited): removed, and the node${store.stats.corrupt === 1 ? '' : 's'} built again`));
  }
  return out;
}

/** The persisted lint cache of the folder (src/cache/lint-cache.ts). */
export function openLintCache(dir: string): LintCache {
  return LintCache.open(dir);
}

/**
 * After the lint: saves what it computed (the folder gets its marker files
 * first, as for node entries), then the warnings it deserves: a damaged file
 * (MESH256), a folder it cannot write (MESH254).
 */
export function closeLintCache(cache: LintCache, dir: string): Diagnostic[] {
  try {
    // Not even the folder when there is nothing to save (a mesh folder that does not exist is not created).
    if (cache.hasWork()) {
      prepareCacheDir(dir);
      cache.save();
    }
  } catch (err) {
    cache.unwritable = `cannot write ${dir}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`;
  }
  const out = cache.warnings();
  if (cache.unwritable !== undefined) {
    out.push(diagAt({ file: dir, line: 1, col: 1 }, 'warning', 'MESH254', `lint cache not saved: ${cache.unwritable}`, { hint: 'the build is complete without it; fix the folder, point MESH_CACHE_DIR elsewhere, or pass --no-cache' }));
  }
  return out;
}
