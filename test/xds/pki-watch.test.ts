import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { pkiFingerprint, watchPki } from '../../src/xds/pki-watch';

function store(t: { after(fn: () => void): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hms-pki-watch-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.mkdirSync(path.join(dir, 'svc', 'a'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'trust-bundle.pem'), 'bundle');
  fs.writeFileSync(path.join(dir, 'svc', 'a', 'chain.pem'), 'chain-1');
  fs.writeFileSync(path.join(dir, 'svc', 'a', 'key.pem'), 'key-1');
  return dir;
}

test('pki fingerprint: changes with a re-issued chain or key, a new identity, the bundle; not otherwise', (t) => {
  const dir = store(t);
  const first = pkiFingerprint(dir);
  assert.equal(pkiFingerprint(dir), first);
  fs.writeFileSync(path.join(dir, 'svc', 'a', 'chain.pem'), 'chain-2-longer');
  const second = pkiFingerprint(dir);
  assert.notEqual(second, first);
  fs.mkdirSync(path.join(dir, 'svc', 'b'));
  fs.writeFileSync(path.join(dir, 'svc', 'b', 'chain.pem'), 'x');
  assert.notEqual(pkiFingerprint(dir), second);
  fs.writeFileSync(path.join(dir, 'svc', 'a', 'notes.txt'), 'unrelated');
  const third = pkiFingerprint(dir);
  fs.writeFileSync(path.join(dir, 'svc', 'a', 'notes.txt'), 'still unrelated, longer');
  assert.equal(pkiFingerprint(dir), third, 'only certificates, keys and the bundle count');
});

test('watchPki: one call per settled change, none while nothing changes', async (t) => {
  const dir = store(t);
  let calls = 0;
  const w = watchPki(dir, () => calls++, 20);
  t.after(() => w.stop());
  await new Promise((r) => setTimeout(r, 120));
  assert.equal(calls, 0);
  fs.writeFileSync(path.join(dir, 'svc', 'a', 'chain.pem'), 'rotated chain');
  fs.writeFileSync(path.join(dir, 'svc', 'a', 'key.pem'), 'rotated key');
  for (let i = 0; i < 100 && calls === 0; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(calls, 1);
  await new Promise((r) => setTimeout(r, 120));
  assert.equal(calls, 1, 'not called again for the same state');
});
