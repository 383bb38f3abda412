/**
 * `npm start -- --grpc` in CI (the proxyless flavour; test/envoy-real/lab.test.ts
 * runs the Envoy one): the lab runs to the end, exits 0, prints what the
 * chapter shows, and leaves no process behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const LAB = path.join(__dirname, '..', '..', 'src', 'lab', 'main.js');

/** Running, and not a zombie waiting for a parent that will never reap it. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

test('lab: the chapter\'s story runs end to end and cleans up after itself', { timeout: 150_000 }, async () => {
  const child = spawn(process.execPath, [LAB, '--grpc'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  assert.equal(code, 0, out);

  // The payout, its trace id, and grant-pay's side of it with the same id and the caller's identity.
  const payout = /impact-calc \| Status: OK Trace: ([0-9a-f]{32}) \(grant-pay (v1|v2), \d+ ms\)/.exec(out);
  assert.ok(payout, out);
  assert.match(out, new RegExp(`\\[ACH\\] paying \\$200000 for HWY-94 \\(caller spiffe://ceq\\.gov/svc/impact-calc, trace ${payout[1]}\\)`));
  // The hung instance: timeouts, then the circuit opens and calls fail fast.
  assert.match(out, /Status: DEADLINE_EXCEEDED/);
  assert.match(out, /circuit open: after \d+ failed calls \(at least max_failures 3/);
  // Live policy changes, ACKed, nothing restarted.
  assert.equal(out.match(/all \d+ connected node\(s\) ACKed revision/g)?.length, 2, out);
  assert.match(out, /impact-calc \| Status: OK Trace: [0-9a-f]{32} \(grant-pay v2/);
  assert.match(out, /with impact-calc's own certificate: PERMISSION_DENIED/);
  assert.doesNotMatch(out, /\(exited!\)/);

  const pids = [...out.matchAll(/\(pid (\d+)\)/g)].map((m) => Number(m[1]));
  assert.equal(pids.length, 4, 'control plane, grant-pay v1 and v2, impact-calc');
  assert.deepEqual(pids.filter(alive), [], 'every process the lab started is gone');
  const work = /in (\/\S+hms-lab-\w+), on free ports/.exec(out)?.[1];
  assert.ok(work && !fs.existsSync(work), 'the work folder is removed');
});
