/**
 * The running compiler's fingerprint: a hash of every file of this build
 * (dist/src), the schemas and the package manifest. The persisted snapshot
 * (src/store/snapshot-file.ts) and the build cache (src/cache/node-keys.ts)
 * key on it, so that any code change makes what they hold a miss.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PACKAGE_ROOT, SCHEMAS_DIR } from '../paths';

let fingerprint: string | undefined;

/**
 * A hash of the running compiler: every file of this build (dist/src) and the
 * schemas. Any code change, even one that changes no version number, makes
 * every persisted snapshot a mismatch (recompiled), which is the safe side.
 */
export function compilerFingerprint(): string {
  if (fingerprint !== undefined) return fingerprint;
  const h = createHash('sha256');
  const walk = (dir: string, rel: string): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    // Sorted: the digest must not depend on the order the file system lists entries in.
    for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p, `${rel}${e.name}/`);
      else if (/\.(js|json)$/.test(e.name)) h.update(`${rel}${e.name}\0`).update(fs.readFileSync(p)).update('\0');
    }
  };
  walk(path.resolve(__dirname, '..'), 'src/');
  walk(SCHEMAS_DIR, 'schemas/');
  h.update(fs.readFileSync(path.join(PACKAGE_ROOT, 'package.json')));
  return (fingerprint = h.digest('hex'));
}
