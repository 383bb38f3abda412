/**
 * The persisted snapshot (src/store/snapshot-file.ts): a second start of the
 * same applied revision serves byte-identical resources without compiling
 * (the control plane's log says which it did); a corrupt file, or one made
 * for other sources, is not served: a coded warning, a compile, and a fresh
 * file. Secrets are never in it.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { containsKeyMaterial } from '../../src/pki/fs-secure';
import { SNAPSHOT_FILE } from '../../src/store/snapshot-file';
import type { Logger } from '../../src/xds/log';
import { startControlPlane, type RunningControlPlane } from '../../src/xds/serve';
import { copyExample } from '../helpers/mesh-dir';
import { makePki, tmp } from '../helpers/control-plane';

interface Logged {
  readonly level: string;
  readonly msg: string;
}

async function start(meshDir: string, pkiDir: string, storeDir: string): Promise<{ p: RunningControlPlane; logs: Logged[] }> {
  const logs: Logged[] = [];
  const log: Logger = { log: (level, msg) => void logs.push({ level, msg }) };
  const p = await startControlPlane({ meshDir, pkiDir, storeDir, host: '127.0.0.1', xdsPort: 0, adminPort: 0, log, pkiPollMs: 0 });
  return { p, logs };
}

/** Every served resource's SotW frame, by node, type and name: what a node receives, byte for byte. */
function served(p: RunningControlPlane): Map<string, string> {
  const out = new Map<string, string>();
  for (const id of p.cp.cache.nodes()) {
    const snap = p.cp.cache.get(id)!;
    for (const [kind, t] of Object.entries(snap.types)) {
      out.set(`${id} ${kind}`, t.version);
      for (const [name, r] of t.resources) out.set(`${id} ${kind} ${name}`, r.sotwFrame.toString('base64'));
    }
  }
  return out;
}

const compiled = (logs: readonly Logged[]): boolean => logs.some((l) => l.msg === 'applied');
const restored = (logs: readonly Logged[]): boolean => logs.some((l) => l.msg === 'restored the persisted snapshot');

test('a restart of the same revision serves the persisted snapshot byte for byte, without compiling; a corrupt or stale one is recompiled with a warning', async () => {
  const mesh = copyExample('ceq');
  const pki = await makePki(tmp('hms-snap-pki-'), 'ceq.gov', ['impact-calc', 'grant-pay', 'public-docs', 'citizen-gw']);
  const store = tmp('hms-snap-store-');
  const file = path.join(store, SNAPSHOT_FILE);
  try {
    const first = await start(mesh.dir, pki, store);
    const want = served(first.p);
    const callers = first.p.cp.callersOf('grant-pay');
    await first.p.stop();
    assert.ok(compiled(first.logs) && !restored(first.logs), 'the first start compiles');
    assert.ok(fs.existsSync(file), 'the applied revision was persisted');
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    const bytes = fs.readFileSync(file);
    assert.equal(containsKeyMaterial(bytes), false, 'no private key in the snapshot file');
    const key = fs.readFileSync(path.join(pki, 'svc', 'grant-pay', 'key.pem'), 'utf8').split('\n')[1]!;
    assert.equal(bytes.includes(key), false, 'not even one line of a private key');
    assert.ok(want.size > 20 && [...want.keys()].some((k) => k.includes(' secrets spiffe://')), 'secrets are served (filled at start)');

    const second = await start(mesh.dir, pki, store);
    try {
      assert.ok(restored(second.logs) && !compiled(second.logs), `the second start does not compile: ${JSON.stringify(second.logs)}`);
      assert.deepEqual(served(second.p), want, 'byte-identical resources and versions');
      // What registry changes rebuild from is compiled on first need, and gives what a compiled start gives.
      assert.equal(second.p.cp.callersOf('grant-pay'), callers);
      assert.ok(second.logs.some((l) => l.msg.startsWith('compiled the restored mesh')));
      second.p.cp.registry.register({ service: 'grant-pay', version: 'v1', address: '10.1.0.7', port: 15090, ttlMs: 60_000 });
      const eds = [...second.p.cp.cache.get('impact-calc')!.types.endpoints.resources.values()].map((r) => r.sotwFrame.toString('latin1')).join();
      assert.ok(eds.includes('10.1.0.7'), 'a registered instance reaches its callers after a restored start');
    } finally {
      await second.p.stop();
    }

    // Corrupt: one byte flipped in the middle. Not served; compiled; the file is written again.
    const bad = fs.readFileSync(file);
    bad[Math.floor(bad.length / 2)]! ^= 0xff;
    fs.writeFileSync(file, bad);
    const third = await start(mesh.dir, pki, store);
    await third.p.stop();
    assert.ok(third.logs.some((l) => l.level === 'warn' && l.msg.startsWith('MESH250:')), JSON.stringify(third.logs));
    assert.ok(compiled(third.logs) && !restored(third.logs));
    assert.deepEqual(served(third.p), want);
    assert.notDeepEqual(fs.readFileSync(file), bad, 'a sound snapshot replaced the corrupt one');

    // Truncated, and not a snapshot at all.
    for (const junk of [fs.readFileSync(file).subarray(0, 100), Buffer.from('{"not": "a snapshot"}')]) {
      fs.writeFileSync(file, junk);
      const r = await start(mesh.dir, pki, store);
      await r.p.stop();
      assert.ok(r.logs.some((l) => l.msg.startsWith('MESH250:')) && compiled(r.logs) && !restored(r.logs));
    }

    // A changed source (the store's applied revision edited): the key differs, recompiled, never the old bytes.
    const appliedFile = path.join(store, 'applied.json');
    const applied = JSON.parse(fs.readFileSync(appliedFile, 'utf8')) as { sources: Record<string, string> };
    const svc = Object.keys(applied.sources).find((k) => k.startsWith('services/'))!;
    applied.sources[svc] = applied.sources[svc]!.replace(/^port: \d+$/m, 'port: 9099');
    assert.ok(applied.sources[svc]!.includes('port: 9099'), 'the edit applies');
    fs.writeFileSync(appliedFile, JSON.stringify(applied));
    const fourth = await start(mesh.dir, pki, store);
    try {
      assert.ok(fourth.logs.some((l) => l.level === 'warn' && l.msg.startsWith('MESH251:')), JSON.stringify(fourth.logs));
      assert.ok(compiled(fourth.logs) && !restored(fourth.logs));
      assert.notDeepEqual(served(fourth.p), want, 'the changed mesh is served');
    } finally {
      await fourth.p.stop();
    }
    const fifth = await start(mesh.dir, pki, store);
    await fifth.p.stop();
    assert.ok(restored(fifth.logs) && !compiled(fifth.logs), 'and its snapshot is the one persisted now');
  } finally {
    mesh.cleanup();
    fs.rmSync(pki, { recursive: true, force: true });
    fs.rmSync(store, { recursive: true, force: true });
  }
});
