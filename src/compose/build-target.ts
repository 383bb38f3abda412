/**
 * `mesh build --target compose` at the command edge: render, then write the
 * tree atomically or compare it with disk (`--check`), exactly as `mesh build`
 * does for out/.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { hasErrors } from '../diag/diagnostic';
import { UserError } from '../diag/errors';
import { formatDiagnostics } from '../diag/format';
import { assertOutsideOutput, diffTree, writeTreeAtomically } from '../output/write-tree';
import { renderComposition, type Composition } from './compose';
import { SubnetError } from './network';

export interface ComposeBuildFlags {
  readonly out: string;
  readonly check: boolean;
  readonly templates?: string;
  readonly subnet?: string;
}

export function runComposeBuild(dir: string, flags: ComposeBuildFlags): number {
  let r: Composition;
  try {
    r = renderComposition(dir, { outDir: flags.out, ...(flags.templates ? { templatesDir: flags.templates } : {}), ...(flags.subnet ? { subnet: flags.subnet } : {}) });
  } catch (err) {
    if (!(err instanceof SubnetError)) throw err;
    process.stderr.write(`mesh build: ${err.message}\n`);
    return 2;
  }
  process.stdout.write(formatDiagnostics(r.diagnostics, 'text'));
  for (const n of r.notes) process.stderr.write(`${n}\n`);
  if (!r.tree || !r.plan || hasErrors(r.diagnostics)) return 1;
  // The store holds private keys: the composition mounts it, it never lives inside it.
  assertOutsideOutput(flags.out, r.hostPkiDir!);
  const summary = `${r.plan.nodes.length} sidecars, ${r.plan.nodes.filter((n) => n.app).length} apps`;
  if (flags.check) {
    const d = diffTree(r.tree, flags.out);
    const lines = [...d.added.map((f) => `missing: ${f}`), ...d.removed.map((f) => `stale:   ${f}`), ...d.changed.map((f) => `changed: ${f}`)];
    if (lines.length > 0) {
      process.stdout.write(`${flags.out} is out of date with ${dir} (run: mesh build ${dir} --target compose --out ${flags.out}):\n${lines.map((l) => `  ${l}\n`).join('')}`);
      return 1;
    }
    process.stderr.write(`${flags.out} is up to date (${r.tree.size} files, ${summary})\n`);
    return 0;
  }
  // The tree replaces the folder: never replace one that is not a composition (e.g. the default out/).
  if (fs.existsSync(flags.out) && fs.readdirSync(flags.out).length > 0 && !fs.existsSync(path.join(flags.out, 'docker-compose.yml'))) {
    throw new UserError('MESH092', `${flags.out} exists and is not a composition (no docker-compose.yml); with --target compose choose another --out, e.g. envoy/${r.plan.meshName}`);
  }
  writeTreeAtomically(flags.out, r.tree);
  process.stderr.write(`wrote ${r.tree.size} files to ${flags.out} (${summary}); run: docker compose -f ${path.join(flags.out, 'docker-compose.yml')} up -d (docs/envoy.md)\n`);
  return 0;
}
