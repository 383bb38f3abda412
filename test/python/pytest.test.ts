/**
 * The Python SDK's own tests (sdk/python/tests, pytest) as part of `npm test`,
 * in the project virtualenv scripts/setup-test-env.js makes. Without it the
 * test is skipped with the reason; under CI=true that is a failure.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import { runCommand } from '../../src/compose/runtime';
import { PACKAGE_ROOT } from '../../src/paths';
import { assertVenv, PYTHON, venvSkip } from './venv';

test('pytest sdk/python/tests passes', { skip: venvSkip(), timeout: 180_000 }, async (t) => {
  assertVenv();
  const r = await runCommand([PYTHON, '-m', 'pytest', '-q', '-p', 'no:cacheprovider', path.join('sdk', 'python', 'tests')], { cwd: PACKAGE_ROOT, timeoutMs: 170_000 });
  const summary = r.stdout.trim().split('\n').pop() ?? '';
  t.diagnostic(summary);
  assert.equal(r.code, 0, `pytest failed:\n${r.stdout.slice(-4000)}${r.stderr.slice(-2000)}`);
  assert.match(summary, /\d+ passed/);
});
