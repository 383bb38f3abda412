/**
 * `envoy -c out/<node>/bootstrap.yaml` as a user runs it: the bootstrap names
 * its certificate files relative to the mesh directory (pki_dir), because that
 * is the only place that does not depend on where out/ is committed. Envoy
 * resolves relative file names against its working directory, so docs/envoy.md
 * says to start it from the mesh directory. This shows both halves with the
 * real binary: from the mesh directory it loads; from the repository root it
 * does not, and says which file it could not find.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { runCommand } from '../../src/compose/runtime';
import { availability, EXAMPLE, mesh, suiteSkip } from './harness';

const SKIP = suiteSkip('local');

test('envoy -c out/<node>/bootstrap.yaml loads from the mesh directory, as docs/envoy.md says (and names the missing file from elsewhere)', { skip: SKIP, timeout: 120_000 }, async (t) => {
  if (!availability.envoyBin) throw new Error(`real Envoy is required under CI=true: ${availability.local}`);
  const repo = fs.mkdtempSync(path.join(os.tmpdir(), 'hms-bootstrap-cwd-'));
  t.after(() => fs.rmSync(repo, { recursive: true, force: true }));
  const meshDir = path.join(repo, 'examples', 'ceq');
  fs.cpSync(EXAMPLE, meshDir, { recursive: true });
  for (const args of [['certs', 'init', '--mesh', meshDir], ['certs', 'issue', '--mesh', meshDir], ['build', meshDir, '--out', path.join(repo, 'out')]]) {
    const r = await mesh(args);
    assert.equal(r.code, 0, `mesh ${args.join(' ')}: ${r.stdout}${r.stderr}`);
  }
  for (const node of ['grant-pay', 'impact-calc', 'public-docs']) {
    const ok = await runCommand([availability.envoyBin, '--mode', 'validate', '-c', `../../out/${node}/bootstrap.yaml`], { cwd: meshDir, timeoutMs: 60_000 });
    assert.equal(ok.code, 0, `${node} from the mesh directory:\n${ok.stdout}${ok.stderr}`);
  }
  const fromRoot = await runCommand([availability.envoyBin, '--mode', 'validate', '-c', 'out/grant-pay/bootstrap.yaml'], { cwd: repo, timeoutMs: 60_000 });
  assert.notEqual(fromRoot.code, 0);
  assert.match(fromRoot.stdout + fromRoot.stderr, /Invalid path: pki\//);
});
