/** Port ranges for local sidecars stay out of the kernel's ephemeral range, where any client socket could take them. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canBind, ephemeralStart, freeRange } from '../../src/compose/free-ports';

test('freeRange picks free ports below the ephemeral range', async () => {
  const start = ephemeralStart();
  for (let i = 0; i < 20; i++) {
    const base = await freeRange(60);
    assert.ok(base >= 20000 && base % 128 === 0 && base + 60 <= start, `${base}..${base + 60} is below ${start}`);
  }
  const base = await freeRange(5);
  for (let p = base; p < base + 5; p++) assert.equal(await canBind(p), true);
});

test('a block another live process holds is never handed out', async () => {
  const { spawn } = await import('node:child_process');
  const fs = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  const mod = require.resolve('../../src/compose/free-ports');
  const child = spawn(process.execPath, ['-e', `require(${JSON.stringify(mod)}).freeRange(60).then((b) => { process.stdout.write(String(b)); setTimeout(() => {}, 60000); })`], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const held = await new Promise<number>((resolve) => child.stdout.once('data', (c: Buffer) => resolve(Number(c.toString()))));
    for (let i = 0; i < 30; i++) assert.notEqual(await freeRange(60), held);
    const file = path.join(os.tmpdir(), 'hms-port-blocks', String(held / 128));
    assert.equal(fs.readFileSync(file, 'utf8'), String(child.pid), 'the child holds its block');
  } finally {
    child.kill('SIGKILL');
  }
});
