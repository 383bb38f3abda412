import { type Diagnostic, diagAt, sortDiagnostics } from '../diag/diagnostic';
import { ENVOY_CODES as C, type Finding, error } from './codes';
import { type CheckOptions, type SubMessageCheck, type SubMessageMemo, checkMessage } from './check-message';
import { isExpectedForGrpc, isGrpcBootstrap } from './compiler-files';
import { NodeCollector } from './cross-ref';
import { walkDocument } from './documents';
import { type JsonObject, type JsonPath, formatPath, isObject } from './json-path';
import { ANY } from './proto3-json';
import { lookupMessageType, messageType, typeNameOfUrl } from './proto-registry';
import { type ResourceKind, RESOURCE_KINDS, RESOURCE_TYPES } from './resource-types';
import type { Locator } from './source';

/**
 * The public entry points. Everything returns diagnostics (sorted by file,
 * line, column); nothing throws for bad config.
 */

/** Where findings go: the file name printed, and how to turn a JSON path into a line:col. */
export interface ValidateContext {
  /** Printed file name; defaults to `<input>`. */
  readonly file?: string;
  /** Line/column lookup for paths of this value (see parseSource); 1:1 without it. */
  readonly locate?: Locator;
  /** Prefix of every reported path, e.g. `['resources', 3]` when the value sits inside a larger document. */
  readonly basePath?: JsonPath;
}

/** One parsed file of a node, for validateNodeDocuments. */
export interface EnvoyDocument {
  readonly file: string;
  readonly value: unknown;
  readonly locate?: Locator;
  /** The kind an (empty) resources file holds, e.g. from its name `clusters.json`. */
  readonly kindHint?: ResourceKind;
  /** Found while scanning a directory: an unrecognized document is only a warning. */
  readonly unknownIsWarning?: boolean;
}

/** One node's resources as the compiler holds them (each resource with or without "@type"). */
export interface NodeConfig {
  readonly listeners?: readonly unknown[];
  readonly routes?: readonly unknown[];
  readonly clusters?: readonly unknown[];
  readonly endpoints?: readonly unknown[];
  readonly secrets?: readonly unknown[];
  readonly bootstrap?: unknown;
}

/**
 * Structural + PGV results per resource content, reused across nodes and
 * applies: a resource that did not change is not walked again. Keyed by a
 * content key the caller computes (the same key its encoder uses). The
 * messages of the walk the cross-reference checks read are kept too
 * (NodeCollector.reads), so every node that holds the resource still has its
 * references checked.
 */
export class ValidationCache {
  /** Whole resources (CachedCheck, keyed by kind) and memoized sub-messages (SubMessageCheck, keyed by type name). */
  private current = new Map<string, object>();
  private previous = new Map<string, object>();
  hits = 0;
  misses = 0;

  lookup<T extends CachedCheck | SubMessageCheck>(key: string, compute: () => T): T {
    let entry = this.current.get(key) as T | undefined;
    if (!entry) {
      entry = this.previous.get(key) as T | undefined;
      if (entry) this.hits++;
      else {
        entry = compute();
        this.misses++;
      }
      this.current.set(key, entry);
    } else this.hits++;
    return entry;
  }

  /** Ends a generation: entries not used since the last call are dropped. */
  retain(): void {
    this.previous = this.current;
    this.current = new Map();
  }
}

export interface CachedCheck {
  readonly findings: readonly Finding[];
  readonly visits: ReadonlyArray<readonly [string, JsonObject, JsonPath]>;
}

export interface NodeValidateOptions extends ValidateContext {
  /** Reuse structural results for resources already seen (with `keyOf`). */
  readonly cache?: ValidationCache;
  /** Content key of a resource object, for `cache`. */
  readonly keyOf?: (resource: unknown) => string;
  /**
   * The node's snapshot is complete (default): a reference to a kind with no
   * resources at all is an error. With false, only kinds given are checked.
   */
  readonly complete?: boolean;
}

interface DocRef {
  readonly file: string;
  readonly locate?: Locator;
  readonly prefix: JsonPath;
}

/** Structural + PGV checks of one resource of a known type (no cross-references). */
export function validateResource(typeUrl: string, value: unknown, ctx: ValidateContext = {}): Diagnostic[] {
  const doc = docOf(ctx);
  const type = lookupMessageType(typeUrl);
  if (type === undefined) return toDiagnostics([error(C.UNRESOLVED_ANY, [], `unknown resource type ${JSON.stringify(typeUrl)}`)], doc);
  return toDiagnostics(checkTyped(typeUrl, value), doc);
}

/** Any one Envoy config document (bootstrap, resource, or {resources: [...]}), cross-referenced within itself. */
export function validateEnvoyConfig(value: unknown, ctx: ValidateContext = {}): Diagnostic[] {
  return validateNodeDocuments([{ file: ctx.file ?? '<input>', value, ...(ctx.locate ? { locate: ctx.locate } : {}) }], ctx.basePath);
}

/** Several documents (files) that together make one node's config: checked each, then cross-referenced. */
export function validateNodeDocuments(docs: readonly EnvoyDocument[], basePath: JsonPath = []): Diagnostic[] {
  const node = new NodeCollector<DocRef>();
  const out: Diagnostic[] = [];
  for (const d of docs) {
    const ref: DocRef = { file: d.file, prefix: basePath, ...(d.locate ? { locate: d.locate } : {}) };
    const opts = { ...(d.kindHint ? { kindHint: d.kindHint } : {}), ...(d.unknownIsWarning ? { unknownIsWarning: true } : {}) };
    out.push(...toDiagnostics(walkDocument(d.value, ref, node, opts), ref));
  }
  for (const f of node.check()) out.push(...toDiagnostics([f], f.doc));
  // A folder with a gRPC bootstrap is a proxyless node: its resources follow grpc-js-xds's rules.
  const grpc = docs.some((d) => isGrpcBootstrap(d.value));
  return sortDiagnostics(grpc ? out.filter((d) => !isExpectedForGrpc(d)) : out);
}

/**
 * The compiler's entry point: one node's resources by kind. Paths read
 * `clusters[2].transport_socket...` and `bootstrap.static_resources...`.
 */
export function validateNodeConfig(config: NodeConfig, opts: NodeValidateOptions = {}): Diagnostic[] {
  const node = new NodeCollector<DocRef>();
  const file = opts.file ?? '<node>';
  const base = opts.basePath ?? [];
  const out: Diagnostic[] = [];
  for (const kind of RESOURCE_KINDS) {
    const list = config[kind];
    if (list !== undefined || opts.complete !== false) node.provided.add(kind);
    (list ?? []).forEach((value, i) => {
      const ref: DocRef = { file, prefix: [...base, kind, i], ...(opts.locate ? { locate: opts.locate } : {}) };
      const typeName = RESOURCE_TYPES[kind].typeName;
      if (opts.cache && opts.keyOf) {
        const entry = opts.cache.lookup(`${kind}\0${opts.keyOf(value)}`, (): CachedCheck => {
          const visits: Array<readonly [string, JsonObject, JsonPath]> = [];
          return { findings: checkTyped(typeName, value, (t, v, p) => void (NodeCollector.reads(t) && visits.push([t, v, p])), memoOf(opts.cache!, opts.keyOf!)), visits };
        });
        const visit = node.visitor(ref);
        for (const [t, v, p] of entry.visits) visit(t, v, p);
        out.push(...toDiagnostics(entry.findings, ref));
      } else {
        out.push(...toDiagnostics(checkTyped(typeName, value, node.visitor(ref)), ref));
      }
      if (isObject(value)) node.addResource(kind, value, [], ref);
    });
  }
  if (config.bootstrap !== undefined) {
    const ref: DocRef = { file, prefix: [...base, 'bootstrap'], ...(opts.locate ? { locate: opts.locate } : {}) };
    out.push(...toDiagnostics(walkDocument(config.bootstrap, ref, node), ref));
  }
  for (const f of node.check()) out.push(...toDiagnostics([f], f.doc));
  return sortDiagnostics(out);
}

/**
 * Sub-messages a cached check memoizes by content (SubMessageMemo): the
 * virtual host of a service is in the route configuration of every caller,
 * and a change of defaults (a timeout) changes every route configuration, so
 * the resource-level cache misses them all while a third of their virtual hosts are distinct.
 */
const MEMOIZED_MESSAGES: ReadonlySet<string> = new Set(['envoy.config.route.v3.VirtualHost']);

const memos = new WeakMap<ValidationCache, SubMessageMemo>();
function memoOf(cache: ValidationCache, keyOf: (resource: unknown) => string): SubMessageMemo {
  let memo = memos.get(cache);
  if (memo === undefined || memo.keyOf !== keyOf) {
    memo = { types: MEMOIZED_MESSAGES, keyOf, lookup: (key, compute) => cache.lookup(key, compute), keepVisit: NodeCollector.reads };
    memos.set(cache, memo);
  }
  return memo;
}

/** A value of a known type, with or without "@type" (which then must match). */
function checkTyped(typeUrl: string, value: unknown, onMessage?: CheckOptions['onMessage'], memo?: SubMessageMemo): Finding[] {
  const opts: CheckOptions = { ...(onMessage ? { onMessage } : {}), ...(memo ? { memo } : {}) };
  const declared = isObject(value) ? value['@type'] : undefined;
  if (typeof declared !== 'string') return checkMessage(messageType(typeNameOfUrl(typeUrl)), value, [], opts);
  const findings = checkMessage(messageType(ANY), value, [], opts);
  if (typeNameOfUrl(declared) !== typeNameOfUrl(typeUrl)) {
    findings.push(error(C.TYPE_URL_MISMATCH, ['@type'], `expected a ${typeNameOfUrl(typeUrl)}, got "@type" ${declared}`));
  }
  return findings;
}

function docOf(ctx: ValidateContext): DocRef {
  return { file: ctx.file ?? '<input>', prefix: ctx.basePath ?? [], ...(ctx.locate ? { locate: ctx.locate } : {}) };
}

function toDiagnostics(findings: readonly Finding[], doc: DocRef): Diagnostic[] {
  return findings.map((f) => {
    const path = [...doc.prefix, ...f.path];
    const pos = doc.locate?.(path) ?? { line: 1, col: 1 };
    return diagAt({ file: doc.file, ...pos }, f.severity, f.code, f.message, {
      path: formatPath(path),
      ...(f.hint !== undefined ? { hint: f.hint } : {}),
    });
  });
}
