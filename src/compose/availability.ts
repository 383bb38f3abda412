/**
 * Is there a real Envoy to test against? Checked honestly, once, before any
 * test is declared, so every test that cannot run is reported as skipped
 * with the reason, never as a pass:
 *
 *   Docker:    `docker info` succeeds (an engine, not just the client), `docker compose version`
 *              works, and the pinned images are present (`docker image inspect`) or, when
 *              pulling is allowed, `docker pull` fetches them within a time limit.
 *   ENVOY_BIN: the variable names an existing file and `$ENVOY_BIN --version` runs.
 *
 * HMS_ENVOY_BACKEND=docker|local picks one when both are there (default: Docker).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { ENVOY_IMAGE, NODE_IMAGE } from './images';

export interface Availability {
  /** What the suite runs on, when something is available. */
  readonly backend?: 'docker' | 'local';
  readonly envoyBin?: string;
  /** One line per backend: why it is or is not usable. */
  readonly docker: string;
  readonly local: string;
}

export interface DetectOptions {
  /** Pull missing images (with `pullTimeoutMs` each). `npm test` never pulls. */
  readonly pull: boolean;
  readonly pullTimeoutMs?: number;
  readonly env?: NodeJS.ProcessEnv;
}

function run(cmd: string, args: readonly string[], timeoutMs: number): { ok: boolean; out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.error) return { ok: false, out: (r.error as NodeJS.ErrnoException).code === 'ETIMEDOUT' ? `timed out after ${timeoutMs} ms` : r.error.message };
  const text = `${r.stderr ?? ''}\n${r.stdout ?? ''}`.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  return { ok: r.status === 0, out: r.status === 0 ? (r.stdout ?? '').trim() : (text.find((l) => /error|cannot|denied|not found|unable/i.test(l)) ?? text[0] ?? `exit ${r.status}`) };
}

export function detectDocker(opts: DetectOptions): { ok: boolean; why: string } {
  const info = run('docker', ['info', '--format', '{{.ServerVersion}}'], 20_000);
  if (!info.ok) return { ok: false, why: `\`docker info\` failed (${info.out})` };
  const compose = run('docker', ['compose', 'version', '--short'], 20_000);
  if (!compose.ok) return { ok: false, why: `Docker ${info.out} has no \`docker compose\` (${compose.out})` };
  for (const image of [ENVOY_IMAGE, NODE_IMAGE]) {
    if (run('docker', ['image', 'inspect', image], 20_000).ok) continue;
    if (!opts.pull) return { ok: false, why: `image ${image} is not present (\`npm run test:envoy\` pulls it)` };
    const pulled = run('docker', ['pull', image], opts.pullTimeoutMs ?? 180_000);
    if (!pulled.ok) return { ok: false, why: `\`docker pull ${image}\` failed (${pulled.out})` };
  }
  return { ok: true, why: `Docker ${info.out}, compose ${compose.out}, ${ENVOY_IMAGE} and ${NODE_IMAGE} present` };
}

export function detectEnvoyBin(env: NodeJS.ProcessEnv = process.env): { ok: boolean; why: string; bin?: string } {
  const bin = env.ENVOY_BIN;
  if (!bin) return { ok: false, why: 'ENVOY_BIN is not set' };
  if (!fs.existsSync(bin) || !fs.statSync(bin).isFile()) return { ok: false, why: `ENVOY_BIN=${bin} is not a file` };
  const v = run(bin, ['--version'], 20_000);
  if (!v.ok) return { ok: false, why: `\`${bin} --version\` failed (${v.out})` };
  return { ok: true, why: `ENVOY_BIN=${bin} (${v.out.split('\n').pop()!.trim()})`, bin };
}

export function detectRealEnvoy(opts: DetectOptions): Availability {
  const env = opts.env ?? process.env;
  const want = env.HMS_ENVOY_BACKEND;
  const docker = want === 'local' ? { ok: false, why: 'not tried (HMS_ENVOY_BACKEND=local)' } : detectDocker(opts);
  const local = want === 'docker' ? { ok: false, why: 'not tried (HMS_ENVOY_BACKEND=docker)' } : detectEnvoyBin(env);
  const backend = docker.ok ? 'docker' : local.ok ? 'local' : undefined;
  return { ...(backend ? { backend } : {}), ...('bin' in local && local.bin ? { envoyBin: local.bin } : {}), docker: docker.why, local: local.why };
}

/** The sentence a skipped test carries when nothing is available. */
export function unavailableReason(a: Availability): string {
  return `no real Envoy here: Docker: ${a.docker}; local: ${a.local} (docs/envoy.md)`;
}
