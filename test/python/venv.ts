/** The project virtualenv (scripts/setup-test-env.js) the Python tests run in. */
import * as fs from 'node:fs';
import * as path from 'node:path';
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
