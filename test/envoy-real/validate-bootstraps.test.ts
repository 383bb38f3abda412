/**
 * `envoy --mode validate` accepts every Envoy bootstrap the compiler writes:
 * every node of every example, and of a generated 300-service mesh. Each
 * mesh is built by `mesh build` and validated from the mesh directory, where
 * the bootstraps' certificate paths resolve (docs/envoy.md). Proxyless gRPC
 * nodes are skipped by their kind in manifest.json: their bootstrap.json is a
 * gRPC xDS bootstrap, not an Envoy one. All ~257 Envoy bootstraps of the
 * generated mesh are validated (each ~0.15 s, two at a time).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { generateMesh } from '../../bench/gen-mesh';
import { EXAMPLES_DIR } from '../../src/paths';
import { builtNodes, envoyReason, envoyValidate, inPairs, sharedKeyPki } from './envoy-validate';
import { availability, mesh, suiteSkip } from './harness';

const SKIP = suiteSkip('local');
const GENERATED_SERVICES = 300;

async function meshOk(args: readonly string[]): Promise<void> {
  const r = await mesh(args);
  assert.equal(r.code, 0, `mesh ${args.join(' ')}:\n${r.stdout}${r.stderr}`);
}

/** `mesh build` of `meshDir`: the Envoy nodes (with their bootstrap file) and the proxyless ones, by name. */
async function build(meshDir: string, outDir: string): Promise<{ envoy: Array<[string, string]>; proxyless: string[] }> {
  await meshOk(['build', meshDir, '--out', outDir]);
  const nodes = builtNodes(outDir);
  return {
    envoy: nodes.filter(([, n]) => n.kind === 'envoy' && n.bootstrap).map(([name, n]) => [name, path.join(outDir, name, n.bootstrap!.file)]),
    proxyless: nodes.filter(([, n]) => n.kind !== 'envoy').map(([name]) => name),
  };
}

/** Validates each bootstrap from `meshDir`; the refusals, with Envoy's reason. */
async function refusals(envoyBin: string, meshDir: string, bootstraps: ReadonlyArray<[string, string]>): Promise<string[]> {
  const found = await inPairs(bootstraps, async ([name, file]) => {
    const r = await envoyValidate(envoyBin, file, meshDir);
    return r.code === 0 ? undefined : `${name}: exit ${r.code}: ${envoyReason(r)}`;
  });
  return found.filter((f): f is string => f !== undefined);
}

test('envoy --mode validate accepts every Envoy bootstrap of every example and of a generated 300-service mesh', { skip: SKIP, timeout: 240_000 }, async (t) => {
  const envoyBin = availability.envoyBin;
  if (!envoyBin) throw new Error(`real Envoy is required under CI=true: ${availability.local}`);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'hms-envoy-bootstraps-'));
  t.after(() => fs.rmSync(work, { recursive: true, force: true }));
  const started = Date.now();
  const failures: string[] = [];
  let validated = 0;

  for (const example of fs.readdirSync(EXAMPLES_DIR).sort()) {
    if (!fs.existsSync(path.join(EXAMPLES_DIR, example, 'mesh.yml'))) continue;
    // A copy: the PKI goes to the mesh's own pki_dir, where the bootstraps look for it.
    const meshDir = path.join(work, example);
    fs.cpSync(path.join(EXAMPLES_DIR, example), meshDir, { recursive: true });
    await meshOk(['certs', 'init', '--mesh', meshDir]);
    await meshOk(['certs', 'issue', '--mesh', meshDir]);
    const built = await build(meshDir, path.join(work, `${example}-out`));
    const skipped = built.proxyless.length ? `; ${built.proxyless.length} proxyless gRPC nodes skipped (not Envoy bootstraps): ${built.proxyless.join(', ')}` : '';
    t.diagnostic(`examples/${example}: ${built.envoy.length} Envoy bootstraps${skipped}`);
    failures.push(...(await refusals(envoyBin, meshDir, built.envoy)).map((f) => `examples/${example} ${f}`));
    validated += built.envoy.length;
  }

  // Every Envoy node of the generated mesh is compiled and validated (each validation ~0.15 s, each
  // certificate ~0.08 s on two cores: well within the test's time).
  const examplesMs = Date.now() - started;
  const generated = path.join(work, 'generated');
  generateMesh(generated, GENERATED_SERVICES);
  const built = await build(generated, path.join(work, 'generated-out'));
  const sample = built.envoy;
  await sharedKeyPki(path.join(generated, 'pki'), 'bench.local', sample.map(([name]) => name));
  failures.push(...(await refusals(envoyBin, generated, sample)).map((f) => `generated ${f}`));
  t.diagnostic(`generated ${GENERATED_SERVICES}-service mesh: ${built.envoy.length} Envoy bootstraps, ${sample.length} validated (all); ${built.proxyless.length} proxyless gRPC nodes skipped; ${((Date.now() - started - examplesMs) / 1000).toFixed(1)} s (examples: ${(examplesMs / 1000).toFixed(1)} s)`);
  validated += sample.length;

  t.diagnostic(`${validated} bootstraps, ${failures.length} refused, in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  assert.deepEqual(failures, []);
  assert.ok(built.envoy.length >= GENERATED_SERVICES * 0.8, `only ${built.envoy.length} Envoy nodes in the generated mesh`);
});
