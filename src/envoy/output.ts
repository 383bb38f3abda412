/**
 * The `out/` tree as data: relative path -> file text. Writing it (atomically)
 * and `--check` belong to the CLI; this only decides the bytes.
 *
 *   manifest.json                 content hash per node, file and resource
 *   <node>/bootstrap.yaml|json    rendered bootstrap
 *   <node>/<kind>.json            {"//": marker, "version_info": hash, "resources": [...]}
 */
import { textHash } from './hash';
import { generatedMarker, type CompileResult } from './compile';
import { RESOURCE_KINDS, resourceName } from './resources';
import { stableStringify, stableText } from './stable-json';
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
      // Serialize and hash each resource once, in place in its file (4 spaces: inside "resources"):
      // this runs for every resource of every node and dominated large builds when done per use.
      const resources = node.resources[kind].map((r) => {
        const text = stableText(r, '    ');
        return { name: resourceName(r), text, hash: textHash(text) };
      });
      // The xDS version_info of this type for this node: changes iff a resource of the type changes.
      const version = textHash(resources.map((r) => `${r.name}\0${r.hash}\n`).join(''));
      versions[`${kind}.json`] = version;
      perResource[kind] = Object.fromEntries(resources.map((r) => [r.name, r.hash]));
      // Keys in sorted order: "//" < "resources" < "version_info".
      const list = resources.length === 0 ? '[]' : `[\n${resources.map((r) => `    ${r.text}`).join(',\n')}\n  ]`;
      files.set(`${node.id}/${kind}.json`, `{\n  "//": ${JSON.stringify(marker)},\n  "resources": ${list},\n  "version_info": ${JSON.stringify(version)}\n}\n`);
    }
    const bootstrap = node.bootstrap ? { file: node.bootstrap.fileName, hash: textHash(node.bootstrap.text) } : undefined;
    if (node.bootstrap) files.set(`${node.id}/${node.bootstrap.fileName}`, node.bootstrap.text);
    manifestNodes[node.id] = { kind: node.kind, ...(bootstrap ? { bootstrap } : {}), files: versions, resources: perResource };
  }
  files.set(MANIFEST_FILE, stableStringify({ '//': marker, mesh: result.ir.meshName, sources: result.ir.sources, nodes: manifestNodes }));
  // Map iteration follows insertion: rebuild in path order so every consumer sees the same sequence.
  return new Map([...files.entries()].sort(([a], [b]) => compareStrings(a, b)));
}
