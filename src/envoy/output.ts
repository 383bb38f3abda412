/**
 * The `out/` tree as data: relative path -> file text. Writing it (atomically)
 * and `--check` belong to the CLI; this only decides the bytes.
 *
 *   manifest.json                 content hash per node, file and resource
 *   <node>/bootstrap.yaml|json    rendered bootstrap
 *   <node>/<kind>.json            {"//": marker, "version_info": hash, "resources": [...]}
 */
import { contentHash, textHash } from './hash';
import { generatedMarker, type CompileResult } from './compile';
import { RESOURCE_KINDS, resourceName } from './resources';
import { stableStringify } from './stable-json';
import { compareStrings } from '../ir/sort';

export const MANIFEST_FILE = 'manifest.json';

export function buildOutputTree(result: CompileResult): Map<string, string> {
  const marker = generatedMarker(result.ir.sources);
  const files = new Map<string, string>();
  const manifestNodes: Record<string, unknown> = {};
  for (const node of result.nodes) {
    const versions: Record<string, string> = {};
    const perResource: Record<string, Record<string, string>> = {};
    for (const kind of RESOURCE_KINDS) {
      const resources = node.resources[kind];
      // The xDS version_info of this type for this node: changes iff a resource of the type changes.
      const version = contentHash(resources);
      versions[`${kind}.json`] = version;
      perResource[kind] = Object.fromEntries(resources.map((r) => [resourceName(r), contentHash(r)]));
      files.set(`${node.id}/${kind}.json`, stableStringify({ '//': marker, version_info: version, resources }));
    }
    const bootstrap = node.bootstrap ? { file: node.bootstrap.fileName, hash: textHash(node.bootstrap.text) } : undefined;
    if (node.bootstrap) files.set(`${node.id}/${node.bootstrap.fileName}`, node.bootstrap.text);
    manifestNodes[node.id] = { kind: node.kind, ...(bootstrap ? { bootstrap } : {}), files: versions, resources: perResource };
  }
  files.set(MANIFEST_FILE, stableStringify({ '//': marker, mesh: result.ir.meshName, sources: result.ir.sources, nodes: manifestNodes }));
  // Map iteration follows insertion: rebuild in path order so every consumer sees the same sequence.
  return new Map([...files.entries()].sort(([a], [b]) => compareStrings(a, b)));
}
