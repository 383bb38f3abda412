/**
 * model -> the out/ tree, node by node, on every core: what `mesh build`
 * runs. Each node goes translate -> bootstrap -> resources -> (validate) ->
 * files, and is dropped once its files are written: a 10,000-service build
 * holding every node's resources at once spent more time in GC than in work.
 *
 * Nodes are independent, so worker threads (src/util/sync-pool.ts) take
 * chunks of them. Each worker gets the model as JSON text (one string copies
 * fast; a structured clone of 300,000 position objects took over a second)
 * and sends back file texts. The bytes do not depend on which thread made
 * them: compileMesh + buildOutputTree make the same tree (a test compares).
 */
import * as path from 'node:path';
import type { Diagnostic } from '../diag/diagnostic';
import type { MeshModel, ServiceManifest } from '../model/types';
import { validateNodeOutput } from '../output/validate-output';
import { useProtoDescriptorDir } from '../validate/proto-registry';
import { buildContext, nodeManifests, sourcesOf, translateNode, type TranslateContext } from '../translate';
import { sortedBy } from '../ir/sort';
import { defaultWorkers, runPool } from '../util/sync-pool';
import { renderBootstrap } from './bootstrap';
import { generatedMarker, type CompileOptions } from './compile';
import { MANIFEST_FILE, manifestText, nodeFiles, sortedByPath, type NodeFiles } from './output';
import { buildNodeResources } from './resources';

export interface EmitOptions extends CompileOptions {
  /** Check every node against the Envoy API protos as it is made (what `mesh build` does). */
  readonly validate?: boolean;
  /** Worker threads besides the calling one. Default: one per spare core (MESH_THREADS overrides). */
  readonly workers?: number;
  /** The worker script (tests point it elsewhere to check the fallback). */
  readonly workerFile?: string;
  /** false: workers make every node (tests of the worker path). */
  readonly callerTakesJobs?: boolean;
  /**
   * Nodes made by an earlier build, by key (src/cache): a node whose key has
   * an entry is taken from it, the others are made and stored. Stays on the
   * calling thread (workers get the options without it).
   */
  readonly cache?: EmitCache;
  /**
   * `--check` with the check index (src/cache/check-index.ts): nodes whose key
   * is here are neither read nor made; their files are left out of the tree
   * and listed in `skipped` (their manifest entry comes from here).
   */
  readonly skip?: ReadonlyMap<string, { readonly entryText: string; readonly paths: readonly string[] }>;
  /** With `validate`: the folder the Envoy API is kept in as a JSON descriptor (src/validate/proto-descriptor.ts). */
  readonly protoDescriptorDir?: string;
}

export interface EmitCache {
  /** Node id -> key; nodes without one are always made. */
  readonly keys: ReadonlyMap<string, string>;
  readonly store: {
    get(key: string): Omit<NodeJobResult, 'diagnostics'> | undefined;
    put(key: string, node: Omit<NodeJobResult, 'diagnostics'>): void;
  };
}

export interface EmitResult {
  /**
   * Path -> UTF-8 bytes. Bytes, not strings: 360 MB of strings built up on
   * the calling thread were copied by every scavenge and made GC the largest
   * cost of a 10,000-service build; buffers live outside the JS heap.
   */
  readonly tree: Map<string, Uint8Array>;
  /** Template and validation findings, in node order. */
  readonly diagnostics: Diagnostic[];
  readonly nodes: number;
  /** Nodes made by worker threads (the rest by the calling thread or taken from the cache). */
  readonly byWorkers: number;
  /** Nodes taken from the cache. */
  readonly fromCache: number;
  /** With `skip`: the paths of the skipped nodes' files (not in `tree`). */
  readonly skipped: string[];
  /** Each made or cached node's manifest entry and file paths, in node order (the check index records them). */
  readonly built: Array<{ readonly id: string; readonly entryText: string; readonly paths: readonly string[] }>;
}

/** Below this many nodes a worker's start-up and the model's copy cost more than they save. */
export const MIN_NODES_FOR_WORKERS = 200;

/** One node's files packed into one buffer (transferred whole from a worker). */
interface NodeJobResult {
  readonly id: string;
  readonly entryText: string;
  readonly paths: string[];
  /** Byte offset of each file in `bytes`, plus the end. */
  readonly offsets: number[];
  readonly bytes: Uint8Array;
  readonly diagnostics: Diagnostic[];
}

/** What a worker needs to make any node: the model as JSON, and the options. */
interface EmitInit {
  readonly model: string;
  readonly opts: EmitOptions;
  /** Job j makes node todo[j] (the nodes the cache did not have). */
  readonly todo: readonly number[];
}

export function emitTree(model: MeshModel, opts: EmitOptions = {}): EmitResult {
  const { cache, skip, ...plain } = opts;
  const runner = nodeRunner(model, plain);
  const total = runner.services.length;
  const results: NodeJobResult[] = new Array(total);
  // The cache first: only the nodes it lacks are made, and only they go to the workers.
  const todo: number[] = [];
  const skipped: string[] = [];
  const isSkipped = new Set<number>();
  for (let j = 0; j < total; j++) {
    const key = cache?.keys.get(runner.services[j]!.name);
    const known = key !== undefined ? skip?.get(key) : undefined;
    if (known) {
      results[j] = { id: runner.services[j]!.name, entryText: known.entryText, paths: [], offsets: [0], bytes: new Uint8Array(0), diagnostics: [] };
      skipped.push(...known.paths);
      isSkipped.add(j);
      continue;
    }
    const hit = key !== undefined ? cache!.store.get(key) : undefined;
    if (hit) results[j] = { ...hit, diagnostics: [] };
    else todo.push(j);
  }
  const workers = todo.length >= MIN_NODES_FOR_WORKERS ? (plain.workers ?? defaultWorkers()) : 0;
  const stats = runPool<NodeJobResult>({
    total: todo.length,
    chunk: 8,
    workers,
    script: plain.workerFile ?? path.join(__dirname, 'emit-worker.js'),
    init: workers > 0 ? ({ model: JSON.stringify(model), opts: { ...plain, workers: 0 }, todo } satisfies EmitInit) : undefined,
    local: (i) => runner.run(todo[i]!),
    take: (i, r) => (results[todo[i]!] = r),
    ...(plain.callerTakesJobs === false ? { callerTakesJobs: false } : {}),
  });
  if (cache) {
    for (const j of todo) {
      const key = cache.keys.get(runner.services[j]!.name);
      const { diagnostics, ...files } = results[j]!;
      // A node with a finding is made again next time, so that its finding is reported again.
      if (key !== undefined && diagnostics.length === 0) cache.store.put(key, files);
    }
  }
  const files: Array<readonly [string, Uint8Array]> = [];
  for (const r of results) r.paths.forEach((p, i) => files.push([p, r.bytes.subarray(r.offsets[i], r.offsets[i + 1])]));
  files.push([MANIFEST_FILE, Buffer.from(manifestText(results, runner.marker, model.settings.name, runner.sources), 'utf8')]);
  return { tree: new Map(sortedByPath(files)), diagnostics: results.flatMap((r) => r.diagnostics), nodes: total, byWorkers: stats.byWorkers, fromCache: total - todo.length - isSkipped.size, skipped, built: results.filter((_, j) => !isSkipped.has(j)).map((r) => ({ id: r.id, entryText: r.entryText, paths: r.paths })) };
}

interface NodeRunner {
  /** The services in node order (by name): job j is services[j]. */
  readonly services: readonly ServiceManifest[];
  readonly sources: string[];
  readonly marker: string;
  readonly run: (j: number) => NodeJobResult;
}

/** What a thread needs to make any node of the mesh. */
export function nodeRunner(model: MeshModel, opts: EmitOptions): NodeRunner {
  const ctx: TranslateContext = buildContext(model, opts);
  if (opts.validate && opts.protoDescriptorDir !== undefined) useProtoDescriptorDir(opts.protoDescriptorDir);
  const services = sortedBy(nodeManifests(model), (s) => s.name); // the order translateMesh uses (gateways are nodes too)
  const sources = sourcesOf(model);
  const marker = generatedMarker(sources);
  const run = (j: number): NodeJobResult => {
    const ir = translateNode(ctx, services[j]!);
    const boot = opts.bootstraps === false ? { diagnostics: [] } : renderBootstrap(ir, marker, model.settings.name, opts);
    const node = { id: ir.id, kind: ir.kind, resources: buildNodeResources(ir), ...(boot.bootstrap ? { bootstrap: boot.bootstrap } : {}) };
    const diagnostics = [...boot.diagnostics, ...(opts.validate ? validateNodeOutput(node) : [])];
    return { ...pack(nodeFiles(node, marker)), diagnostics };
  };
  return { services, sources, marker, run };
}

/** The worker side's setup (emit-worker.ts). */
export function workerRunner(init: unknown): (j: number) => NodeJobResult {
  const { model, opts, todo } = init as EmitInit;
  const run = nodeRunner(JSON.parse(model) as MeshModel, opts).run;
  return (j) => run(todo[j]!);
}

const encoder = new TextEncoder();

function pack(n: NodeFiles): Omit<NodeJobResult, 'diagnostics'> {
  const offsets = [0];
  for (const [, text] of n.files) offsets.push(offsets[offsets.length - 1]! + Buffer.byteLength(text, 'utf8'));
  // Its own ArrayBuffer (not Buffer's shared pool), so that it can be transferred.
  const bytes = new Uint8Array(offsets[offsets.length - 1]!);
  n.files.forEach(([, text], i) => encoder.encodeInto(text, bytes.subarray(offsets[i])));
  return { id: n.id, entryText: n.entryText, paths: n.files.map(([p]) => p), offsets, bytes };
}

/** The buffers a result owns (emit-worker.ts transfers them). */
export function resultBuffers(r: NodeJobResult): ArrayBuffer[] {
  return [r.bytes.buffer as ArrayBuffer];
}
