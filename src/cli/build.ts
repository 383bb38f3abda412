import * as path from 'node:path';
import { Command } from 'commander';
import { lintMesh } from '../lint';
import { hasErrors, type Diagnostic } from '../diag/diagnostic';
import { formatDiagnostics } from '../diag/format';
import { buildOutputTree, compileMesh } from '../envoy';
import { validateCompiled } from '../output/validate-output';
import { assertOutsideOutput, diffTree, writeTreeAtomically } from '../output/write-tree';
import { withExplainFiles } from '../review/explain/build-explain';
import { runComposeBuild } from '../compose/build-target';
import type { SetExit } from './main';

interface BuildOptions {
  readonly out: string;
  readonly check: boolean;
  readonly templates?: string;
  readonly explain?: boolean;
  readonly target?: string;
  readonly subnet?: string;
}

export function registerBuild(program: Command, setExit: SetExit): void {
  program
    .command('build')
    .description('compile a mesh directory to Envoy xDS resources and bootstraps under --out (atomically)')
    .argument('[dir]', 'mesh directory', '.')
    .option('--out <dir>', 'output folder', 'out')
    .option('--check', 'write nothing; exit 1 and list the files if --out differs from what the sources produce', false)
    .option('--templates <dir>', 'folder with your own copies of the bootstrap templates')
    .option('--explain', 'also write <node>/explain.json: every policy value with the file:line (or default) it came from; --check then compares it too', false)
    .option('--target <target>', 'envoy: the out/ tree; compose: a Docker Compose setup with real Envoy sidecars (docs/envoy.md)', 'envoy')
    .option('--subnet <cidr>', 'with --target compose: the network of the sidecars (default 10.213.71.0/24)')
    .action((dir: string, opts: BuildOptions) => setExit(runBuild(dir, opts)));
}

export function runBuild(dir: string, opts: BuildOptions): number {
  if (opts.target === 'compose' && !opts.explain) return runComposeBuild(dir, opts);
  if (opts.target !== undefined && opts.target !== 'envoy') return usage(`--target ${opts.target}${opts.explain ? ' with --explain' : ''}: expected envoy, or compose (without --explain)`);
  const loaded = lintMesh(dir);
  const diags: Diagnostic[] = [...loaded.diagnostics];
  if (!loaded.model) return finish(diags, 1);
  const compiled = compileMesh(loaded.model, opts.templates ? { templatesDir: opts.templates } : {});
  diags.push(...compiled.diagnostics);
  if (hasErrors(diags)) return finish(diags, 1);
  diags.push(...validateCompiled(compiled));
  if (hasErrors(diags)) return finish(diags, 1);
  assertOutsideOutput(opts.out, path.resolve(loaded.model.dir, loaded.model.settings.pkiDir));
  // Only with --explain: without it the tree (and --check) stays exactly the committed out/.
  const tree = opts.explain ? withExplainFiles(buildOutputTree(compiled), compiled, loaded.model.displayDir) : buildOutputTree(compiled);
  if (opts.check) {
    const d = diffTree(tree, opts.out);
    const lines = [...d.added.map((f) => `missing: ${f}`), ...d.removed.map((f) => `stale:   ${f}`), ...d.changed.map((f) => `changed: ${f}`)];
    process.stdout.write(formatDiagnostics(diags, 'text'));
    if (lines.length > 0) {
      process.stdout.write(`${opts.out} is out of date with ${dir} (run: mesh build ${dir} --out ${opts.out}):\n${lines.map((l) => `  ${l}\n`).join('')}`);
      return 1;
    }
    process.stderr.write(`${opts.out} is up to date (${tree.size} files, ${compiled.nodes.length} nodes)\n`);
    return 0;
  }
  writeTreeAtomically(opts.out, tree);
  process.stdout.write(formatDiagnostics(diags, 'text'));
  process.stderr.write(`wrote ${tree.size} files for ${compiled.nodes.length} nodes to ${opts.out}\n`);
  return 0;
}

function usage(message: string): number {
  process.stderr.write(`mesh build: ${message}\n`);
  return 2;
}

function finish(diags: readonly Diagnostic[], code: number): number {
  process.stdout.write(formatDiagnostics(diags, 'text'));
  return code;
}
