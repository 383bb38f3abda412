/** Port ranges for local sidecars stay out of the kernel's ephemeral range, where any client socket could take them. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canBind, ephemeralStart, freeRange } from '../../src/compose/free-ports';

test('freeRange picks free ports below the ephemeral range', async () => {
  const start = ephemeralStart();
  for (let i = 0; i < 20; i++) {
    const base = await freeRange(60);
    assert.ok(base >= 10000 && base + 60 <= start, `${base}..${base + 60} is below ${start}`);
  }
  const base = await freeRange(5);
  for (let p = base; p < base + 5; p++) assert.equal(await canBind(p), true);
});
