import * as fs from 'node:fs';
import * as path from 'node:path';
import * as protobuf from 'protobufjs';
import { XDS_DEPS_DIR } from '../paths';
import { readDescriptor, writeDescriptor } from './proto-descriptor';

/**
 * Loads the Envoy v3 API (data-plane-api as shipped under deps/ of
 * @grpc/grpc-js-xds, plus cncf/xds, googleapis and protoc-gen-validate) into
 * one protobufjs Root, once, lazily. Loading parses ~380 files (~0.4 s, ~15 MB
 * heap), so it must not happen at import time: `mesh lint` never pays for it.
 */

/** What loading cost, for `mesh validate --stats`, the bench and the docs. */
export interface ProtoLoadStats {
  readonly files: number;
  /** Files left out because they import protos that are not shipped (opencensus, opentelemetry, prometheus). */
  readonly skippedFiles: readonly string[];
  readonly messageTypes: number;
  readonly loadMs: number;
  readonly heapBytes: number;
}

export interface EnvoyProtos {
  readonly root: protobuf.Root;
  readonly stats: ProtoLoadStats;
}

const INCLUDE_DIRS = ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) => path.join(XDS_DEPS_DIR, d));
/** descriptor.proto (needed to resolve custom options such as `(validate.rules)`) ships with protobufjs. */
const PROTOBUFJS_DIR = path.dirname(require.resolve('protobufjs/package.json'));
/** google/protobuf well-known types are built into protobufjs (`protobuf.common`); no file needed. */
const BUILT_IN = /^google\/protobuf\/(any|duration|empty|field_mask|struct|timestamp|wrappers)\.proto$/;

let cached: EnvoyProtos | undefined;
let descriptorDir: string | undefined;

/**
 * Keep the loaded API as a protobufjs JSON descriptor in `dir` (the build
 * cache folder) and load it from there next time (src/validate/proto-descriptor.ts):
 * parsing ~380 .proto files was 0.85 s of a `mesh build --check` that validates
 * a handful of nodes. Before the first load; undefined turns it off.
 */
export function useProtoDescriptorDir(dir: string | undefined): void {
  descriptorDir = dir;
}

export function envoyProtos(): EnvoyProtos {
  cached ??= loadEnvoyProtos();
  return cached;
}

export function envoyRoot(): protobuf.Root {
  return envoyProtos().root;
}

let discovery: protobuf.Root | undefined;

/**
 * The xDS discovery protos alone (DiscoveryRequest, DeltaDiscoveryRequest and
 * what they import), for decoding requests: the ADS server needs nothing else,
 * and loading the whole API on a restored start's first request made the first
 * stream wait ~0.7 s (issue 20). The whole API's Root when it is already loaded.
 */
export function discoveryRoot(): protobuf.Root {
  if (cached) return cached.root;
  if (!discovery) {
    const usable = new UsabilityCache();
    const root = new protobuf.Root();
    root.resolvePath = (_origin, target) => (BUILT_IN.test(target) ? target : usable.locate(target) ?? null);
    root.loadSync(['google/protobuf/any.proto', 'envoy/service/discovery/v3/discovery.proto'], { keepCase: true });
    root.resolveAll();
    discovery = root;
  }
  return discovery;
}

function loadEnvoyProtos(): EnvoyProtos {
  const heapBefore = process.memoryUsage().heapUsed;
  const start = process.hrtime.bigint();
  const kept = descriptorDir !== undefined ? readDescriptor(descriptorDir) : undefined;
  if (kept) {
    const loadMs = Math.round(Number(process.hrtime.bigint() - start) / 1e6);
    return { root: kept.root, stats: { ...kept.stats, loadMs, heapBytes: Math.max(0, process.memoryUsage().heapUsed - heapBefore) } };
  }
  const loaded = loadProtoFiles();
  if (descriptorDir !== undefined) writeDescriptor(descriptorDir, loaded.root, { files: loaded.files, skippedFiles: loaded.skippedFiles, messageTypes: loaded.messageTypes });
  const loadMs = Number(process.hrtime.bigint() - start) / 1e6;
  return { root: loaded.root, stats: { files: loaded.files, skippedFiles: loaded.skippedFiles, messageTypes: loaded.messageTypes, loadMs: Math.round(loadMs), heapBytes: Math.max(0, process.memoryUsage().heapUsed - heapBefore) } };
}

/** The API parsed from its .proto files. */
export function loadProtoFiles(): { root: protobuf.Root; files: number; skippedFiles: string[]; messageTypes: number } {
  const usable = new UsabilityCache();
  const candidates = listApiFiles();
  const files = candidates.filter((f) => usable.isUsable(f));
  const root = new protobuf.Root();
  // Returning null for a missing file makes protobufjs skip it instead of throwing.
  root.resolvePath = (_origin, target) => (BUILT_IN.test(target) ? target : usable.locate(target) ?? null);
  // All well-known types, so any of them can be named in an Any even if no Envoy file imports it.
  const wellKnown = ['any', 'duration', 'empty', 'field_mask', 'struct', 'timestamp', 'wrappers'].map((n) => `google/protobuf/${n}.proto`);
  root.loadSync([...wellKnown, ...files], { keepCase: true });
  root.resolveAll();
  return { root, files: files.length, skippedFiles: candidates.filter((f) => !usable.isUsable(f)), messageTypes: countTypes(root) };
}

/**
 * The v3 API only: the v2 protos in the tree import envoy/api/v2 files that
 * grpc-js-xds does not ship. Plus the annotation and TypedStruct files of
 * cncf/xds, so `xds.*` / `udpa.*` type URLs resolve.
 */
function listApiFiles(): string[] {
  const envoyApi = path.join(XDS_DEPS_DIR, 'envoy-api');
  const xds = path.join(XDS_DEPS_DIR, 'xds');
  const isV3 = (f: string): boolean => f.split('/').some((s) => /^v3/.test(s));
  const envoy = walkProtos(path.join(envoyApi, 'envoy')).map((f) => rel(envoyApi, f));
  const cncf = [...walkProtos(path.join(xds, 'xds')), ...walkProtos(path.join(xds, 'udpa'))].map((f) => rel(xds, f));
  return [
    ...envoy.filter((f) => isV3(f) || f.startsWith('envoy/annotations/')),
    ...cncf.filter((f) => isV3(f) || f.startsWith('udpa/')),
  ].sort();
}

function rel(base: string, file: string): string {
  return path.relative(base, file).split(path.sep).join('/');
}

function walkProtos(dir: string): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...walkProtos(p));
    else if (entry.name.endsWith('.proto')) out.push(p);
  }
  return out;
}

/** A file is usable when it and everything it imports (transitively) exists on the include path. */
class UsabilityCache {
  private readonly memo = new Map<string, boolean>();

  locate(target: string): string | undefined {
    if (target === 'google/protobuf/descriptor.proto') return path.join(PROTOBUFJS_DIR, target);
    for (const dir of INCLUDE_DIRS) {
      const p = path.join(dir, target);
      if (fs.existsSync(p)) return p;
    }
    return undefined;
  }

  isUsable(file: string): boolean {
    const known = this.memo.get(file);
    if (known !== undefined) return known;
    this.memo.set(file, true); // breaks import cycles; corrected below
    const ok = this.importsResolve(file);
    this.memo.set(file, ok);
    return ok;
  }

  private importsResolve(file: string): boolean {
    if (BUILT_IN.test(file)) return true;
    const located = this.locate(file);
    if (located === undefined) return false;
    const text = fs.readFileSync(located, 'utf8');
    for (const m of text.matchAll(/^import\s+(?:public\s+|weak\s+)?"([^"]+)"\s*;/gm)) {
      if (!this.isUsable(m[1] as string)) return false;
    }
    return true;
  }
}

function countTypes(ns: protobuf.NamespaceBase): number {
  let n = 0;
  for (const child of ns.nestedArray) {
    if (child instanceof protobuf.Type) n++;
    if (child instanceof protobuf.Namespace || child instanceof protobuf.Type) n += countTypes(child);
  }
  return n;
}

/** `type.googleapis.com/envoy.config.cluster.v3.Cluster` -> `envoy.config.cluster.v3.Cluster`. */
export function typeNameOfUrl(typeUrl: string): string {
  return typeUrl.slice(typeUrl.lastIndexOf('/') + 1);
}

export function typeUrlOf(typeName: string): string {
  return `type.googleapis.com/${typeName.replace(/^\./, '')}`;
}

const lookupCache = new Map<string, protobuf.Type | null>();

/** The message type for a name or type URL, or undefined (never throws). Memoized: the codec asks once per Any. */
export function lookupMessageType(nameOrUrl: string): protobuf.Type | undefined {
  const name = typeNameOfUrl(nameOrUrl);
  let found = lookupCache.get(name);
  if (found === undefined) {
    found = lookupUncached(name);
    if (lookupCache.size < 10_000) lookupCache.set(name, found); // bounded: names come from user input
  }
  return found ?? undefined;
}

function lookupUncached(name: string): protobuf.Type | null {
  if (name === '' || !/^[A-Za-z_][\w.]*$/.test(name)) return null;
  try {
    const found = envoyRoot().lookup(`.${name}`);
    return found instanceof protobuf.Type ? found : null;
  } catch {
    return null;
  }
}

/** Like lookupMessageType, for callers that know the type exists (a bug otherwise). */
export function messageType(name: string): protobuf.Type {
  const t = lookupMessageType(name);
  if (t === undefined) throw new Error(`envoy protos: no message type ${name}`);
  return t;
}

const fullNames = new WeakMap<protobuf.ReflectionObject, string>();

/**
 * Full name without the leading dot, as used in type URLs. Cached: protobufjs
 * recomputes `fullName` by walking the parents on every access, and the
 * checker and codec ask for it on every value (it was the top of the profile).
 */
export function fullNameOf(t: protobuf.ReflectionObject): string {
  let name = fullNames.get(t);
  if (name === undefined) {
    name = t.fullName.replace(/^\./, '');
    fullNames.set(t, name);
  }
  return name;
}
