import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Diagnostic } from '../../src/diag/diagnostic';
import { PACKAGE_ROOT } from '../../src/paths';
import { type EnvoyDocument, type JsonObject, validateNodeDocuments } from '../../src/validate';

/** Fixtures live in the source tree (tsc does not copy JSON/YAML to dist/). */
export const FIXTURES = path.join(PACKAGE_ROOT, 'test', 'validate', 'fixtures');
export const NODE_DIR = path.join(FIXTURES, 'node-web');

export const NODE_FILES = ['listeners', 'routes', 'clusters', 'endpoints', 'secrets'] as const;
export type NodeFile = (typeof NODE_FILES)[number];

/** The valid node's resource files, parsed fresh each call so tests can mutate them freely. */
export function loadNode(): Record<NodeFile, JsonObject & { resources: JsonObject[] }> {
  const out = {} as Record<NodeFile, JsonObject & { resources: JsonObject[] }>;
  for (const f of NODE_FILES) out[f] = JSON.parse(fs.readFileSync(path.join(NODE_DIR, `${f}.json`), 'utf8'));
  return out;
}

/** Validates the (possibly mutated) node files together, as `mesh validate out/<node>/` does. */
export function validateNode(node: ReturnType<typeof loadNode>): Diagnostic[] {
  const docs: EnvoyDocument[] = NODE_FILES.map((f) => ({ file: `${f}.json`, value: node[f], kindHint: f }));
  return validateNodeDocuments(docs);
}

/** `CODE file path` per diagnostic, sorted (in-memory documents have no line numbers to sort by). */
export function summarize(diags: readonly Diagnostic[]): string[] {
  return diags.map((d) => `${d.code} ${d.file} ${d.path ?? ''}`).sort();
}

/** The HCM of the inbound listener: listener 0, chain 0, filter 0. */
export function inboundHcm(node: ReturnType<typeof loadNode>): JsonObject {
  return dig(node.listeners.resources[0], ['filter_chains', 0, 'filters', 0, 'typed_config']);
}

export function dig(value: unknown, path: readonly (string | number)[]): JsonObject {
  let cur: unknown = value;
  for (const seg of path) cur = (cur as Record<string | number, unknown>)[seg];
  return cur as JsonObject;
}
