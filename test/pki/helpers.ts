/**
 * Shared fixtures for the PKI tests: temp folders that clean up after
 * themselves, a tiny mesh on disk, OpenSSL as an independent verifier, and
 * the certs commands run in-process through commander.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Command, CommanderError } from 'commander';
import { registerCerts } from '../../src/cli/certs';
import { UserError } from '../../src/diag/errors';

export const OPENSSL = '/usr/bin/openssl';
export const TD = 'test.mesh';
export const HOUR = 3_600_000;

/** A fresh temp folder; `t.after` removes it. */
export function tempDir(t: { after: (fn: () => void) => void }, prefix = 'hms-pki-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** mesh.yml with a trust domain (null: no mesh.yml) and one services/<name>.yml per name. */
export function writeMesh(dir: string, services: readonly string[], trustDomain: string | null = TD): string {
  fs.mkdirSync(path.join(dir, 'services'), { recursive: true });
  if (trustDomain !== null) fs.writeFileSync(path.join(dir, 'mesh.yml'), `name: test\ntrust_domain: ${trustDomain}\n`);
  for (const name of services) {
    fs.writeFileSync(path.join(dir, 'services', `${name}.yml`), `name: ${name}\nversion: v1\nprotocol: http\nport: 8080\n`);
  }
  return dir;
}

export interface OpensslResult {
  readonly ok: boolean;
  readonly output: string;
}

/** `openssl verify` as an independent check of what node-forge produced. */
export function opensslVerify(args: readonly string[]): OpensslResult {
  try {
    const output = execFileSync(OPENSSL, ['verify', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return { ok: true, output };
  } catch (err) {
    const e = err as { code?: string; stdout?: string; stderr?: string };
    // A missing binary is no verdict: the "rejects" tests must not pass on it.
    if (e.code === 'ENOENT') throw new Error(`${OPENSSL} not found: apt-get install openssl (scripts/setup-test-env.js does under CI=true)`);
    return { ok: false, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

export function opensslText(certFile: string): string {
  return execFileSync(OPENSSL, ['x509', '-in', certFile, '-noout', '-text'], { encoding: 'utf8' });
}

export interface CliResult {
  readonly exitCode: number;
  readonly out: string;
  readonly errorCode?: string;
  readonly errorMessage?: string;
}

/** Runs `mesh certs ...` in-process with the same error mapping as src/cli/main.ts. */
export async function runCerts(args: readonly string[]): Promise<CliResult> {
  let out = '';
  let exitCode = 0;
  const program = new Command().name('mesh').exitOverride().configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
  registerCerts(program, (c) => (exitCode = c), { out: (s) => (out += s) });
  try {
    await program.parseAsync(['node', 'mesh', 'certs', ...args]);
    return { exitCode, out };
  } catch (err) {
    if (err instanceof UserError) return { exitCode: err.exitCode, out, errorCode: err.code, errorMessage: err.message };
    if (err instanceof CommanderError) return { exitCode: 2, out, errorCode: err.code, errorMessage: err.message };
    throw err;
  }
}

export function modeOf(file: string): number {
  return fs.statSync(file).mode & 0o777;
}

/** Every path below `dir` (relative), for "nothing half-written" comparisons. */
export function listTree(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return (fs.readdirSync(dir, { recursive: true }) as string[]).map(String).sort();
}

/** Snapshot of every file's bytes below `dir`. */
export function snapshot(dir: string): Record<string, string> {
  const snap: Record<string, string> = {};
  for (const rel of listTree(dir)) {
    const full = path.join(dir, rel);
    if (fs.statSync(full).isFile()) snap[rel] = fs.readFileSync(full, 'utf8');
  }
  return snap;
}
