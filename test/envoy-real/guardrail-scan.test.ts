/**
 * The guardrail's body scan in real Envoy against the detectors as
 * docs/policy-language.md defines them (a TypeScript reference): the Lua
 * script does not hand a body to its patterns whole, it probes one byte in
 * every 11 and scans only runs of [0-9 -] around the probes that hit
 * (src/envoy/filters/guardrail.ts). The reference is the detectors as
 * `mesh explain` evaluates headers (src/review/explain/guardrail.ts), so
 * this also shows explain and Envoy agree on them. A generated corpus puts SSNs and card
 * numbers, valid and not, at every offset from a probe, at the start and end
 * of the body, inside longer digit runs and next to separators; Envoy must
 * refuse exactly the bodies the reference finds something in. One Envoy
 * (bench/guardrail.ts's bootstrap: the compiler's filter and script for one
 * rule with both detectors) and a local upstream.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { bootstrap } from '../../bench/guardrail';
import { freeRange } from '../../src/compose/free-ports';
import { hasCardNumber as refCard, hasUsSsn as refSsn } from '../../src/review/explain';
import { availability, eventually, suiteSkip } from './harness';

/** A deterministic generator (mulberry32), so a failure names a body that can be sent again. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TOKENS = [
  '078-05-1120', '219-09-9999', '000-12-3456', '666-12-3456', '912-34-5678', '123-00-4567', '123-45-0000', '1078-05-1120', '078-05-11201', '078-05-1120-', '-078-05-1120',
  '4111 1111 1111 1111', '4111-1111-1111-1111', '4111111111111111', '4111 1111 1111 1112', '4222222222222', '42222222222221', '5555 5555 5555 4444 1', '4111 1111 1111 1111 0000',
  '12-34', '2026-12-07', '555-123-4567', ' - ', '0', '  ', '-', '9',
];
const FILLER = ['{"ref":"INV-', '","usd":', ',"memo":"a b c"}', 'x', 'quarterly grant ', '"', ',', 'ab'];

function corpus(): string[] {
  const rnd = prng(18);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const out: string[] = [];
  // Each token at every offset 0..23 from the body's start (the probes fall on bytes 11, 22, ...), alone and padded after.
  for (const token of TOKENS) for (let pad = 0; pad < 24; pad += 1 + Math.floor(rnd() * 3)) out.push('a'.repeat(pad) + token, 'b'.repeat(pad) + token + pick(FILLER));
  for (let i = 0; i < 300; i++) {
    const parts: string[] = [];
    for (let k = 1 + Math.floor(rnd() * 8); k > 0; k--) parts.push(rnd() < 0.4 ? pick(TOKENS) : pick(FILLER));
    out.push(parts.join(''));
  }
  return out.filter((b) => b.length > 0);
}

const SKIP = suiteSkip('local');

describe('real Envoy: the guardrail\'s skipping body scan refuses exactly what the documented detectors find', { skip: SKIP, concurrency: 1 }, () => {
  let envoy: ChildProcess | undefined;
  let upstream: http.Server | undefined;
  let dir = '';
  let port = 0;
  let reached = 0;

  function post(body: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, path: '/pay', method: 'POST', agent: false, headers: { host: 'bench-callee', 'content-length': Buffer.byteLength(body) } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.setTimeout(30_000, () => req.destroy(new Error('no answer within 30 s')));
      req.on('error', reject);
      req.end(body);
    });
  }

  before(async () => {
    if (!availability.envoyBin) throw new Error(`real Envoy is required under CI=true: ${availability.local}`);
    upstream = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        reached++;
        res.end('ok');
      });
    });
    await new Promise<void>((r) => upstream!.listen(0, '127.0.0.1', () => r()));
    const base = await freeRange(2);
    port = base + 1;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hms-guardrail-scan-'));
    fs.writeFileSync(path.join(dir, 'envoy.json'), JSON.stringify(bootstrap(base, port, (upstream.address() as { port: number }).port)));
    envoy = spawn(availability.envoyBin, ['-c', path.join(dir, 'envoy.json'), '--concurrency', '1', '--use-dynamic-base-id', '-l', 'error'], { stdio: ['ignore', 'ignore', 'inherit'] });
    await eventually('Envoy answers on the guarded listener', 60_000, async () => ((await post('{}').catch(() => 0)) === 200 ? true : undefined));
  }, { timeout: 120_000 });

  after(() => {
    envoy?.kill('SIGTERM');
    upstream?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('a generated corpus of small bodies: 403 exactly where the reference finds an SSN or a Luhn-valid card number, and the callee sees only the others', { timeout: 300_000 }, async () => {
    const bodies = corpus();
    let refusals = 0;
    const wrong: string[] = [];
    const before = reached;
    for (const body of bodies) {
      const expected = refSsn(body) || refCard(body) ? 403 : 200;
      const status = await post(body);
      if (expected === 403) refusals++;
      if (status !== expected) wrong.push(`${JSON.stringify(body)}: ${status}, expected ${expected}`);
    }
    assert.deepEqual(wrong.slice(0, 10), [], `${wrong.length} of ${bodies.length} bodies answered otherwise`);
    assert.ok(refusals > bodies.length / 10 && refusals < bodies.length - bodies.length / 10, `the corpus has both kinds: ${refusals} of ${bodies.length} refused`);
    assert.equal(reached - before, bodies.length - refusals);
  });

  test('a 1 MB clean body passes; the same with an SSN or a card number at its start, middle or end is refused', { timeout: 120_000 }, async () => {
    const unit = '{"payee":"County Water Board","ref":"INV-2026-0042","usd":1234.56,"memo":"quarterly grant"},';
    const clean = unit.repeat(Math.floor(1_000_000 / unit.length));
    assert.equal(await post(clean), 200);
    for (const token of ['078-05-1120', '4111-1111-1111-1111']) {
      for (const at of [0, Math.floor(clean.length / 2) + 3, clean.length]) {
        // Quoted: a space next to a digit of the unit would join the card's run into one too long to be a card.
        const body = `${clean.slice(0, at)}"${token}"${clean.slice(at)}`;
        assert.ok(refSsn(body) || refCard(body));
        assert.equal(await post(body), 403, `${token} at byte ${at}`);
      }
    }
  });
});
