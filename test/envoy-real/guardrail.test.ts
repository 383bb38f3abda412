/**
 * The compliance guardrail against real Envoy: grant-pay calls two external
 * systems (one local TLS server stands in for both) under two rules.
 * no-pii-export (to clearinghouse: headers and body, SSN and Luhn-valid card
 * numbers, 4 KiB window, fail closed) refuses with 403 before anything reaches
 * the server, and the outbound access log names the rule (the
 * mesh.guardrail_blocked contract), never the value; registry-ssn (body only,
 * 1 KiB window, fail open) lets bodies over its window through uninspected.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { before, describe, test } from 'node:test';
import { eventually, runningSkip } from './harness';
import { outboundPost, standInSuite, type Answer, type Seen } from './stand-in';

const MESH = path.join(__dirname, '..', '..', '..', 'test', 'envoy-real', 'fixtures', 'guardrail');
const SSN = '078-05-1120';
const CARD = '4111 1111 1111 1111';

describe('real Envoy (local): compliance guardrail', { concurrency: 1, skip: runningSkip('local') }, () => {
  const seen: Seen[] = [];
  const setup = standInSuite(MESH, ['clearinghouse', 'registry'], seen);
  before(async () => {
    await eventually('grant-pay -> clearinghouse answers 200', 30_000, async () => ((await post('clearinghouse', '{}')).status === 200 ? true : undefined));
  }, { timeout: 60_000 });

  const port = (): number => setup().runtime.nodes.find((n) => n.node === 'grant-pay')!.outboundPort;
  const post = (host: string, body: string, opts: { headers?: Record<string, string>; chunked?: boolean } = {}): Promise<Answer> => outboundPost(port(), host, body, opts);
  /** Sends, expects a refusal by `rule`, and checks nothing reached the server. */
  async function refused(host: string, body: string, rule: string, opts: { headers?: Record<string, string>; chunked?: boolean } = {}): Promise<Answer> {
    const before = seen.length;
    const r = await post(host, body, opts);
    assert.equal(r.status, 403, JSON.stringify(r));
    assert.equal(r.meshError, 'guardrail');
    assert.equal(r.guardrail, rule);
    assert.equal(seen.length, before, 'nothing reached the external system');
    return r;
  }

  test('a body carrying an SSN is refused with 403 before the callee; the access log names rule, caller and callee, never the value', { timeout: 60_000 }, async () => {
    const r = await refused('clearinghouse', JSON.stringify({ name: 'A. Citizen', ssn: SSN }), 'no-pii-export');
    assert.match(r.body, /refused by guardrail no-pii-export \(body\)/);
    assert.doesNotMatch(r.body, new RegExp(SSN));
    const entry = await eventually('the access log line of the refusal', 15_000, async () => {
      const lines = (await setup().runtime.sidecarLog('grant-pay')).split('\n').filter((l) => l.includes('"guardrail_blocked":"no-pii-export"'));
      return lines.length ? (JSON.parse(lines.at(-1)!) as Record<string, unknown>) : undefined;
    });
    assert.equal(entry['node'], 'grant-pay');
    assert.equal(entry['authority'], 'clearinghouse');
    assert.equal(entry['status'], 403);
    assert.equal(entry['guardrail_reason'], 'body');
    assert.doesNotMatch(await setup().runtime.sidecarLog('grant-pay'), new RegExp(SSN), 'the value is never logged');
  });

  test('a clean body passes; a card number passing Luhn is refused, one failing it passes, a request id (UUID) is no card; an SSN in a header is refused', { timeout: 60_000 }, async () => {
    const before = seen.length;
    assert.equal((await post('clearinghouse', '{"usd": 12, "ref": "123-456-789"}')).status, 200);
    assert.equal((await post('clearinghouse', `{"card": "4111 1111 1111 1112"}`)).status, 200, 'Luhn fails: not a card number');
    // A request id is a UUID: its digit groups would otherwise read as the (Luhn-valid) 4111 1111 1111 1111.
    assert.equal((await post('clearinghouse', '{}', { headers: { 'x-request-id': '41111111-1111-1111-a111-111111111111' } })).status, 200);
    assert.equal(seen.length, before + 3);
    await refused('clearinghouse', '{}', 'no-pii-export', { headers: { 'x-note': '41111111-1111-1111-a111' } });
    await refused('clearinghouse', `{"card": "${CARD}"}`, 'no-pii-export');
    await refused('clearinghouse', `{"card": "${CARD.replace(/ /g, '-')}"}`, 'no-pii-export');
    await refused('clearinghouse', '{}', 'no-pii-export', { headers: { 'x-customer': `ssn ${SSN}` } });
  });

  test('fail closed: a clean body over the window is refused, chunked ones are inspected, past Envoy\'s buffer too (never a 413); fail open lets it through uninspected', { timeout: 60_000 }, async () => {
    const big = JSON.stringify({ pad: 'x'.repeat(5000) });
    const over = await refused('clearinghouse', big, 'no-pii-export');
    assert.match(over.body, /over-window/);
    // Chunked (no Content-Length): buffered for the fail-closed rule, then inspected and held to its window.
    const before0 = seen.length;
    assert.equal((await post('clearinghouse', '{"usd": 1}', { chunked: true })).status, 200);
    assert.equal(seen.length, before0 + 1);
    assert.match((await refused('clearinghouse', JSON.stringify({ ssn: SSN }), 'no-pii-export', { chunked: true })).body, /\(body\)/);
    assert.match((await refused('clearinghouse', big, 'no-pii-export', { chunked: true })).body, /over-window/);
    // Past Envoy's 1 MiB buffer: its 413 is the rule's 403.
    const huge = await refused('clearinghouse', 'x'.repeat(1_200_000), 'no-pii-export', { chunked: true });
    assert.notEqual(huge.status, 413);
    const before = seen.length;
    const openOver = await post('registry', JSON.stringify({ ssn: SSN, pad: 'x'.repeat(2000) }));
    assert.equal(openOver.status, 200, `fail open, over registry-ssn's 1 KiB window: ${JSON.stringify(openOver)}`);
    assert.equal(seen.at(-1)?.bytes, Buffer.byteLength(JSON.stringify({ ssn: SSN, pad: 'x'.repeat(2000) })));
    assert.equal((await post('registry', '{}', { headers: { 'x-customer': SSN } })).status, 200, 'registry-ssn inspects the body only');
    assert.equal(seen.length, before + 2);
    await refused('registry', JSON.stringify({ ssn: SSN }), 'registry-ssn');
  });
});
