/**
 * The build cache's keys: for each node, a SHA-256 of every input that
 * reaches its out/ files, so that an entry stored under the key can be used in
 * place of rendering the node (src/cache/node-cache.ts).
 *
 * A node's key is made of:
 * - the compiler: every file of the running build (dist/src), the schemas,
 *   the bootstrap templates in use (the built-in ones or --templates), the
 *   package manifest, the versions of the Envoy API protos the validator reads
 *   (@grpc/grpc-js-xds, protobufjs) and of Node;
 * - the build's options that shape files (pki dir, bootstraps, validation);
 * - the "generated from" marker every file carries (it names the sources);
 * - the mesh-wide inputs: mesh.yml settings (defaults are merged into each
 *   service's policies, so they count there), externals, guardrails, gateways
 *   and the mesh directory, as src/model/dependencies.ts hashes them;
 * - the node's own manifest and policies and those of every service it calls
 *   or names as a caller: the dependency index of incremental apply
 *   (src/model/dependencies.ts), whose test checks that recomputing what it
 *   names gives the bytes of a full recompute.
 * PKI inputs reach the files only as paths (pki dir) and the trust domain
 * (settings): no certificate or key is read by the compiler.
 *
 * Gateway nodes get no key (they are always rendered): they read the routes
 * and access of many services, and they are few.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import type { MeshModel } from '../model/types';
import { buildDependencyIndex } from '../model/dependencies';
import { compilerFingerprint } from './compiler-hash';
import { resolveTemplate } from '../envoy/bootstrap';

/** Bump when the entry's meaning changes without any compiler file changing. */
const KEY_FORMAT = 'hms-node-cache-key 1';
const TEMPLATE_FILES = ['envoy-bootstrap.yaml.hbs', 'grpc-bootstrap.json.hbs'];

export interface KeyOptions {
  readonly pkiDir?: string;
  readonly templatesDir?: string;
  readonly bootstraps?: boolean;
  readonly validate?: boolean;
}

let compilerHash: string | undefined;

/** The compiler's fingerprint (its files, schemas, package.json) plus what the validator and runtime bring (memoized). */
export function compilerCodeHash(): string {
  if (compilerHash !== undefined) return compilerHash;
  const h = createHash('sha256').update(`${KEY_FORMAT}\0${compilerFingerprint()}\0node ${process.version}\0`);
  for (const dep of ['@grpc/grpc-js-xds', 'protobufjs']) {
    const version = (JSON.parse(fs.readFileSync(require.resolve(`${dep}/package.json`), 'utf8')) as { version: string }).version;
    h.update(`${dep}@${version}\0`);
  }
  return (compilerHash = h.digest('hex'));
}

/** What every node's key starts from: compiler, templates, options, marker and the mesh-wide inputs. */
function baseKey(model: MeshModel, global: string, marker: string, opts: KeyOptions): string {
  const h = createHash('sha256').update(`${compilerCodeHash()}\0`);
  for (const name of TEMPLATE_FILES) {
    const file = resolveTemplate(name, opts.templatesDir);
    let text: Buffer | string;
    try {
      text = fs.readFileSync(file);
    } catch {
      text = '(unreadable)'; // the render reports it, and a node with a diagnostic is never stored
    }
    h.update(`template ${name}\0`).update(text).update('\0');
  }
  const shaping = { pkiDir: opts.pkiDir ?? null, bootstraps: opts.bootstraps !== false, validate: opts.validate === true };
  h.update(`opts ${JSON.stringify(shaping)}\0marker ${marker}\0global ${global}\0`);
  // Gateways are in no service's hash: a change to any of them renders every node again (rare, and safe).
  h.update(`gateways ${JSON.stringify(model.gateways ?? [], (k, v: unknown) => (k === 'pos' || k.endsWith('Pos') ? undefined : v))}\0`);
  return h.digest('hex');
}

/** Service node -> its key. Nodes not in the map (gateways) are always rendered. */
export function nodeKeys(model: MeshModel, marker: string, opts: KeyOptions): Map<string, string> {
  const index = buildDependencyIndex(model);
  const base = baseKey(model, index.global, marker, opts);
  const keys = new Map<string, string>();
  for (const [node, reads] of index.reads) {
    const h = createHash('sha256').update(`${base}\0node ${node}\0`);
    // An unknown name (lint reported it) reads as absent, and changes the key when it appears.
    for (const name of reads) h.update(`${name}=${index.services.get(name) ?? '-'}\0`);
    keys.set(node, h.digest('hex'));
  }
  return keys;
}
