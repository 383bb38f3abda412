import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EXAMPLES_DIR } from '../../src/paths';

/** A throwaway copy of an example mesh, removed by the returned cleanup. */
export function copyExample(name = 'ceq'): { dir: string; cleanup: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `hms-${name}-`));
  // Not the build cache a test's `mesh build examples/...` left in the example (src/cache): each copy starts cold.
  fs.cpSync(path.join(EXAMPLES_DIR, name), dir, { recursive: true, filter: (src) => path.basename(src) !== '.mesh-cache' });
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

export function tempDir(prefix = 'hms-'): { dir: string; cleanup: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}
