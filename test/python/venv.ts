/** The project virtualenv (scripts/setup-test-env.js) the Python tests run in. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runCommand } from '../../src/compose/runtime';
import { PACKAGE_ROOT } from '../../src/paths';

export const PYTHON = path.join(PACKAGE_ROOT, '.venv', 'bin', 'python');
const CI = process.env.CI === 'true';

/** Why there is no usable venv, or undefined. */
export function venvMissing(): string | undefined {
  if (!fs.existsSync(PYTHON)) return `no ${path.relative(PACKAGE_ROOT, PYTHON)} (run \`node scripts/setup-test-env.js\`)`;
  const why = path.join(PACKAGE_ROOT, '.venv', 'UNAVAILABLE');
  return fs.existsSync(why) ? fs.readFileSync(why, 'utf8').trim() : undefined;
}

/** The skip option of a Python test: the reason outside CI; under CI=true no skip (the test fails with `assertVenv`). */
export function venvSkip(): string | false {
  const missing = venvMissing();
  return !CI && missing ? missing : false;
}

export function assertVenv(): void {
  const missing = venvMissing();
  if (missing) throw new Error(`the Python tests need the project virtualenv under CI=true: ${missing}`);
}

/**
 * Runs `script` with the project virtualenv's Python and this checkout's
 * svcmesh (sdk/python first on PYTHONPATH, whatever copy the venv holds) and
 * parses the last line of its stdout as JSON.
 */
export async function pythonJson<T>(script: readonly string[], timeoutMs = 60_000): Promise<T> {
  const missing = venvMissing();
  if (missing) throw new Error(`the Python SDK needs the project virtualenv: ${missing}`);
  const r = await runCommand([PYTHON, '-c', script.join('\n')], { cwd: PACKAGE_ROOT, env: { ...process.env, PYTHONPATH: path.join(PACKAGE_ROOT, 'sdk', 'python') }, timeoutMs });
  if (r.code !== 0) throw new Error(`python exited ${r.code}:\n${r.stdout}${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as T;
}
