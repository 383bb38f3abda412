/**
 * Is there a real Envoy to test against? Checked honestly, once, before any
 * test is declared, so every test that cannot run is reported as skipped
 * with the reason, never as a pass:
 *
 *   Docker:    `docker info` succeeds (an engine, not just the client), `docker compose version`
 *              works, and the pinned images are present (`docker image inspect`) or, when
 *              pulling is allowed, `docker pull` fetches them within a time limit.
 *   local:     ENVOY_BIN when set (it must name a file whose `--version` runs), else the
 *              project's own pinned Envoy in .venv/bin/envoy, which `npm test` installs
 *              (scripts/setup-test-env.js); its reason for failing is in .venv/UNAVAILABLE.
 *
 * HMS_ENVOY_BACKEND=docker|local picks one when both are there (default: local, which needs
 * no image pulls and runs inside `npm test`).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PACKAGE_ROOT } from '../paths';
import { ENVOY_IMAGE, ENVOY_RELEASE, NODE_IMAGE } from './images';

/** The project's own Envoy, installed by scripts/setup-test-env.js from requirements/envoy.txt. */
export const PROJECT_ENVOY = path.join(PACKAGE_ROOT, '.venv', 'bin', 'envoy');
const PROJECT_ENVOY_UNAVAILABLE = path.join(PACKAGE_ROOT, '.venv', 'UNAVAILABLE');

export interface Availability {
  /** What the suite runs on, when something is available. */
  readonly backend?: 'docker' | 'local';
  readonly envoyBin?: string;
  /** Docker with Compose and the pinned images is usable. */
  readonly dockerReady?: boolean;
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

export interface EnvoyBinResult {
  readonly ok: boolean;
  readonly why: string;
  readonly bin?: string;
}

/** `envoy --version` prints `.../1.40.0/Clean/RELEASE/BoringSSL`: the release, or undefined. */
export function envoyRelease(versionLine: string): string | undefined {
  return /\/(\d+\.\d+\.\d+)(?:-[\w.]+)?\//.exec(versionLine)?.[1];
}

function tryBin(bin: string, label: string, wantRelease?: string): EnvoyBinResult {
  if (!fs.existsSync(bin) || !fs.statSync(bin).isFile()) return { ok: false, why: `${label} is not a file` };
  const v = run(bin, ['--version'], 20_000);
  if (!v.ok) return { ok: false, why: `\`${bin} --version\` failed (${v.out})` };
  const line = v.out.split('\n').pop()!.trim();
  const release = envoyRelease(line);
  if (wantRelease && release !== wantRelease) return { ok: false, why: `${label} is Envoy ${release ?? '(unknown release)'}, not the pinned ${wantRelease}: run \`node scripts/setup-test-env.js\`` };
  return { ok: true, why: `${label} (${line})`, bin };
}

/**
 * ENVOY_BIN when set (the user's own binary: any release, said in `why`); else the
 * project's pinned Envoy. A set but broken ENVOY_BIN is reported, never silently replaced.
 */
export function detectEnvoyBin(env: NodeJS.ProcessEnv = process.env, projectEnvoy = PROJECT_ENVOY): EnvoyBinResult {
  const bin = env.ENVOY_BIN;
  if (bin) return tryBin(bin, `ENVOY_BIN=${bin}`);
  if (fs.existsSync(projectEnvoy)) return tryBin(projectEnvoy, path.relative(PACKAGE_ROOT, projectEnvoy) || projectEnvoy, ENVOY_RELEASE);
  const recorded = projectEnvoy === PROJECT_ENVOY && fs.existsSync(PROJECT_ENVOY_UNAVAILABLE) ? fs.readFileSync(PROJECT_ENVOY_UNAVAILABLE, 'utf8').trim() : undefined;
  return { ok: false, why: `ENVOY_BIN is not set and the project's Envoy is not installed (${recorded ?? 'no .venv/bin/envoy: `npm test` installs it with `node scripts/setup-test-env.js`'})` };
}

export function detectRealEnvoy(opts: DetectOptions): Availability {
  const env = opts.env ?? process.env;
  const want = env.HMS_ENVOY_BACKEND;
  const docker = want === 'local' ? { ok: false, why: 'not tried (HMS_ENVOY_BACKEND=local)' } : detectDocker(opts);
  const local = want === 'docker' ? { ok: false, why: 'not tried (HMS_ENVOY_BACKEND=docker)' } : detectEnvoyBin(env);
  const backend = want === 'docker' ? (docker.ok ? 'docker' : undefined) : local.ok ? 'local' : docker.ok ? 'docker' : undefined;
  return { ...(backend ? { backend } : {}), ...(docker.ok ? { dockerReady: true } : {}), ...('bin' in local && local.bin ? { envoyBin: local.bin } : {}), docker: docker.why, local: local.why };
}

/** The sentence a skipped test carries when nothing is available. */
export function unavailableReason(a: Availability): string {
  return `no real Envoy here: Docker: ${a.docker}; local: ${a.local} (docs/envoy.md)`;
}
