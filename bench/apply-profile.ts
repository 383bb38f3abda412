/**
 * In-process profile of one-manifest applies (issue 20 item 1): one control
 * plane on a generated mesh (default 10,000 services), applied once in full,
 * then APPLY_PROFILE_ROUNDS applies each changing one manifest's endpoint
 * address, each timed by stage. No streams: what the apply itself costs.
 * Run: `APPLY_PROFILE_OUT=/tmp/rounds.cpuprofile node --expose-gc dist/bench/apply-profile.js [services]`
 * (the CPU profile covers the rounds only; a 10,000-service control plane's
 * first apply takes a minute or more, the rounds after it reuse the process).
 * Not part of `npm run bench`; docs/bench.md (round 5) says what it showed.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Session } from 'node:inspector/promises';
import { generateMesh } from './gen-mesh';
import { ControlPlane, readMeshSources } from '../src/xds/control-plane';

const CHANGED = 'svc-00007';

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 10_000);
  const rounds = Number(process.env.APPLY_PROFILE_ROUNDS ?? 3);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'apply-profile-'));
  generateMesh(dir, n, 5);
  const cp = new ControlPlane({ log: { log: () => undefined } });
  let t = Date.now();
  const first = cp.apply(readMeshSources(dir), dir);
  if (!first.ok) throw new Error(`first apply failed: ${first.diagnostics.find((d) => d.severity === 'error')?.message}`);
  console.log(`full apply of ${n} services: ${Date.now() - t} ms`);
  const file = path.join(dir, 'services', `${CHANGED}.yml`);
  const out = process.env.APPLY_PROFILE_OUT;
  let r = 0;
  // Read before the profile starts: `mesh apply` reads them, not the server.
  const all = Array.from({ length: rounds }, (_, i) => {
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(/address: [0-9.]+/, `address: 10.99.0.${i + 1}`));
    return readMeshSources(dir);
  });
  (globalThis as { gc?: () => void }).gc?.();
  const session = new Session();
  if (out) {
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 200 });
    await session.post('Profiler.start');
  }
  for (const sources of all) {
    r++;
    t = Date.now();
    const res = await cp.applyAsync(sources, dir);
    if (!res.ok) throw new Error(`round ${r} failed: ${res.diagnostics.find((d) => d.severity === 'error')?.message}`);
    console.log(`round ${r}: ${Date.now() - t} ms recomputed=${res.recomputedNodes} changed=${res.changedNodes?.length} stages=${JSON.stringify(res.stagesMs)}`);
  }
  if (out) {
    const { profile } = await session.post('Profiler.stop');
    fs.writeFileSync(out, JSON.stringify(profile));
    session.disconnect();
  }
  cp.close();
  fs.rmSync(dir, { recursive: true, force: true });
}

void main();
