/** Running the real `mesh` CLI (bin/mesh.js) as the lab's operator would, and showing what it printed. */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { PACKAGE_ROOT } from '../paths';

export const MESH_BIN = path.join(PACKAGE_ROOT, 'bin', 'mesh.js');

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export function runMesh(args: readonly string[], cwd: string, timeoutMs = 60_000): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MESH_BIN, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, stdout, stderr });
    });
  });
}

/** `mesh lint` output condensed: warnings counted by code (the full text is one command away). */
export function summarizeLint(run: CliRun): string {
  const codes = new Map<string, number>();
  for (const m of run.stdout.matchAll(/ (warning|error) (MESH\d+):/g)) codes.set(`${m[1]} ${m[2]}`, (codes.get(`${m[1]} ${m[2]}`) ?? 0) + 1);
  if (codes.size === 0) return 'clean';
  return [...codes].map(([k, n]) => `${n} ${k}`).join(', ');
}
