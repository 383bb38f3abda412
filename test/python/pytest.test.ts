/**
 * The Python SDK's own tests (sdk/python/tests, pytest) as part of `npm test`,
 * in the project virtualenv scripts/setup-test-env.js makes. Without it the
 * test is skipped with the reason; under CI=true that is a failure.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { runCommand } from '../../src/compose/runtime';
import { PACKAGE_ROOT } from '../../src/paths';

const PYTHON = path.join(PACKAGE_ROOT, '.venv', 'bin', 'python');
const CI = process.env.CI === 'true';

function venvMissing(): string | undefined {
  if (!fs.existsSync(PYTHON)) return `no ${path.relative(PACKAGE_ROOT, PYTHON)} (run \`node scripts/setup-test-env.js\`)`;
  const why = path.join(PACKAGE_ROOT, '.venv', 'UNAVAILABLE');
  return fs.existsSync(why) ? fs.readFileSync(why, 'utf8').trim() : undefined;
}

const missing = venvMissing();

test('pytest sdk/python/tests passes', { skip: !CI && missing ? missing : false, timeout: 180_000 }, async (t) => {
  if (missing) throw new Error(`the Python SDK's tests need the project virtualenv under CI=true: ${missing}`);
  const r = await runCommand([PYTHON, '-m', 'pytest', '-q', '-p', 'no:cacheprovider', path.join('sdk', 'python', 'tests')], { cwd: PACKAGE_ROOT, timeoutMs: 170_000 });
  const summary = r.stdout.trim().split('\n').pop() ?? '';
  t.diagnostic(summary);
  assert.equal(r.code, 0, `pytest failed:\n${r.stdout.slice(-4000)}${r.stderr.slice(-2000)}`);
  assert.match(summary, /\d+ passed/);
});
