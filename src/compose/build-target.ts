/**
 * `mesh build --target compose` at the command edge: render, then write the
 * tree atomically or compare it with disk (`--check`), exactly as `mesh build`
 * does for out/.
 */
import * as path from 'node:path';
import { hasErrors } from '../diag/diagnostic';
import { formatDiagnostics } from '../diag/format';
import { meshProtection, staleReport, writeTreeAtomically } from '../output/write-tree';
import { renderComposition, type Composition } from './compose';
import { SubnetError } from './network';

export interface ComposeBuildFlags {
  readonly out: string;
  readonly check: boolean;
  readonly templates?: string;
  readonly subnet?: string;
  readonly force?: boolean;
}

/** The same flags that shaped the composition, so running it fixes what --check found. */
function rebuildCommand(dir: string, flags: ComposeBuildFlags): string {
  const extra = [...(flags.templates ? [`--templates ${flags.templates}`] : []), ...(flags.subnet ? [`--subnet ${flags.subnet}`] : [])];
  return ['mesh build', dir, '--target compose', `--out ${flags.out}`, ...extra].join(' ');
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
  const leftOut = r.plan.leftOut.length > 0 ? `; left out: ${r.plan.leftOut.join(', ')} (proxyless gRPC, see the notes above)` : '';
  const gateways = r.plan.gateways.length ? `, ${r.plan.gateways.length} gateway${r.plan.gateways.length > 1 ? 's' : ''}` : '';
  const summary = `${r.plan.nodes.length} sidecars, ${r.plan.nodes.filter((n) => n.app).length} apps${gateways}${leftOut}`;
  if (flags.check) {
    const stale = staleReport(r.tree, flags.out, dir, rebuildCommand(dir, flags));
    if (stale !== undefined) {
      process.stdout.write(stale);
      return 1;
    }
    process.stderr.write(`${flags.out} is up to date (${r.tree.size} files, ${summary})\n`);
    return 0;
  }
  // The store holds private keys: the composition mounts it, it never lives inside it.
  writeTreeAtomically(flags.out, r.tree, { force: flags.force === true, protect: meshProtection(dir, r.hostPkiDir!), onRecover: (n) => process.stderr.write(`mesh build: ${n}\n`) });
  process.stderr.write(`wrote ${r.tree.size} files to ${flags.out} (${summary}); run: docker compose -f ${path.join(flags.out, 'docker-compose.yml')} up -d (docs/envoy.md)\n`);
  return 0;
}
