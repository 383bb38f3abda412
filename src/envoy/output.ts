/**
 * The `out/` tree as data: relative path -> file text. Writing it (atomically)
 * and `--check` belong to the CLI; this only decides the bytes.
 *
 *   manifest.json                 content hash per node, file and resource
 *   <node>/bootstrap.yaml|json    rendered bootstrap
 *   <node>/<kind>.json            {"//": marker, "version_info": hash, "resources": [...]}
 *
 * A node's files depend on that node alone (and the marker), so they can be
 * produced node by node, on any thread (src/envoy/emit.ts), and assembled here.
 */
import { textHash } from './hash';
import { generatedMarker, type CompileResult, type NodeOutput } from './compile';
import { RESOURCE_KINDS, resourceName } from './resources';
import { indentedJson, stableText } from './stable-json';
import { compareStrings } from '../ir/sort';

export const MANIFEST_FILE = 'manifest.json';

/** What manifest.json says of one node. */
export interface ManifestEntry {
  readonly kind: string;
  readonly bootstrap?: { readonly file: string; readonly hash: string };
  readonly files: Record<string, string>;
  readonly resources: Record<string, Record<string, string>>;
}

export interface NodeFiles {
  readonly id: string;
  /** Paths relative to out/, with their text. */
  readonly files: Array<readonly [string, string]>;
  readonly entry: ManifestEntry;
  /** `entry` as it stands in manifest.json (made with the node, on the node's thread). */
  readonly entryText: string;
}

export function nodeFiles(node: Pick<NodeOutput, 'id' | 'kind' | 'resources' | 'bootstrap'>, marker: string): NodeFiles {
  const files: Array<readonly [string, string]> = [];
  const versions: Record<string, string> = {};
  const perResource: Record<string, Record<string, string>> = {};
  const markerJson = JSON.stringify(marker);
  for (const kind of RESOURCE_KINDS) {
    // Serialize and hash each resource once, in place in its file (4 spaces: inside "resources"):
    // this runs for every resource of every node and dominated large builds when done per use.
    const resources = node.resources[kind].map((r) => {
      const text = indentedJson(r, '    ');
      return { name: resourceName(r), text, hash: textHash(text) };
    });
    // The xDS version_info of this type for this node: changes iff a resource of the type changes.
    const version = textHash(resources.map((r) => `${r.name}\0${r.hash}\n`).join(''));
    versions[`${kind}.json`] = version;
    perResource[kind] = Object.fromEntries(resources.map((r) => [r.name, r.hash]));
    // Keys in sorted order: "//" < "resources" < "version_info".
    const list = resources.length === 0 ? '[]' : `[\n${resources.map((r) => `    ${r.text}`).join(',\n')}\n  ]`;
    files.push([`${node.id}/${kind}.json`, `{\n  "//": ${markerJson},\n  "resources": ${list},\n  "version_info": ${JSON.stringify(version)}\n}\n`]);
  }
  const bootstrap = node.bootstrap ? { file: node.bootstrap.fileName, hash: textHash(node.bootstrap.text) } : undefined;
  if (node.bootstrap) files.push([`${node.id}/${node.bootstrap.fileName}`, node.bootstrap.text]);
  const entry: ManifestEntry = { kind: node.kind, ...(bootstrap ? { bootstrap } : {}), files: versions, resources: perResource };
  return { id: node.id, files, entry, entryText: indentedJson(entry, '    ') };
}

/**
 * manifest.json: every node's entry. The same text as `manifestObject`
 * through stableStringify (a test compares), put together from the entries'
 * own texts: serializing 10,000 entries here, on one thread, after every
 * node was made took 0.7 s.
 */
export function manifestText(nodes: ReadonlyArray<Pick<NodeFiles, 'id' | 'entryText'>>, marker: string, meshName: string, sources: readonly string[]): string {
  // Keys in sorted order: "//" < "mesh" < "nodes" < "sources"; nodes by id.
  const sorted = [...nodes].sort((a, b) => compareStrings(a.id, b.id));
  const entries = sorted.length === 0 ? '{}' : `{\n${sorted.map((n) => `    ${JSON.stringify(n.id)}: ${n.entryText}`).join(',\n')}\n  }`;
  return `{\n  "//": ${JSON.stringify(marker)},\n  "mesh": ${JSON.stringify(meshName)},\n  "nodes": ${entries},\n  "sources": ${stableText(sources, '  ')}\n}\n`;
}

/** manifest.json as an object (what manifestText writes). */
export function manifestObject(nodes: ReadonlyArray<Pick<NodeFiles, 'id' | 'entry'>>, marker: string, meshName: string, sources: readonly string[]): unknown {
  const manifestNodes: Record<string, ManifestEntry> = {};
  for (const n of nodes) manifestNodes[n.id] = n.entry;
  return { '//': marker, mesh: meshName, sources, nodes: manifestNodes };
}

/** Every node's files plus manifest.json, in path order. */
export function assembleTree(nodes: readonly NodeFiles[], marker: string, meshName: string, sources: readonly string[]): Map<string, string> {
  const files: Array<readonly [string, string]> = nodes.flatMap((n) => n.files);
  files.push([MANIFEST_FILE, manifestText(nodes, marker, meshName, sources)]);
  return new Map(sortedByPath(files));
}

/** Map iteration follows insertion: trees are built in path order so every consumer sees the same sequence. */
export function sortedByPath<T>(files: Array<readonly [string, T]>): Array<readonly [string, T]> {
  return files.sort(([a], [b]) => compareStrings(a, b));
}

export function buildOutputTree(result: CompileResult): Map<string, string> {
  const marker = generatedMarker(result.ir.sources);
  return assembleTree(result.nodes.map((n) => nodeFiles(n, marker)), marker, result.ir.meshName, result.ir.sources);
}
