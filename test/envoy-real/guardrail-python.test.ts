/**
 * The mesh's edge refusals as the Python SDK sees them, against real Envoy
 * (the guardrail fixture of guardrail.test.ts; a local TLS server stands in
 * for the external systems): grant-pay's svcmesh client posting an SSN to the
 * clearinghouse gets the sidecar's guardrail refusal as `GuardrailBlocked`
 * (a `Denied`, naming the rule, never the value) and nothing reaches the
 * server; a clean body passes; a host the mesh does not declare is `NoRoute`
 * (a `Denied` too: egress refused).
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { before, describe, test } from 'node:test';
import { pythonJson } from '../python/venv';
import { eventually, runningSkip } from './harness';
import { outboundPost, standInSuite, type Seen } from './stand-in';

const MESH = path.join(__dirname, '..', '..', '..', 'test', 'envoy-real', 'fixtures', 'guardrail');

interface Outcome { status: number; kind: string; denied: boolean; rule: string | null; message: string }

describe('real Envoy (local): the Python SDK types the guardrail refusal and an undeclared host', { concurrency: 1, skip: runningSkip('local') }, () => {
  const seen: Seen[] = [];
  const setup = standInSuite(MESH, ['clearinghouse', 'registry'], seen);
  const port = (): number => setup().runtime.nodes.find((n) => n.node === 'grant-pay')!.outboundPort;
  before(async () => {
    await eventually('grant-pay -> clearinghouse answers 200', 30_000, async () => ((await outboundPost(port(), 'clearinghouse', '{}')).status === 200 ? true : undefined));
  }, { timeout: 60_000 });

  /** One POST with svcmesh's client (the worktree's package), and what it made of the answer. */
  async function pyPost(host: string, body: Record<string, unknown>): Promise<Outcome> {
    return pythonJson<Outcome>([
      'import json, svcmesh',
      'from svcmesh._http import ServiceClient',
      `r = ServiceClient(${JSON.stringify(host)}, ${port()}).post("/clear", json=json.loads(${JSON.stringify(JSON.stringify(body))}), timeout=10)`,
      'e = r.mesh_error',
      'print(json.dumps({"status": r.status_code, "kind": type(e).__name__, "denied": isinstance(e, svcmesh.Denied), "rule": getattr(e, "rule", None), "message": str(e)}))',
    ]);
  }

  test('an SSN in the body is GuardrailBlocked (a Denied) naming no-pii-export, never the value; nothing reached the server; a clean body passes', { timeout: 60_000 }, async () => {
    const before = seen.length;
    const ssn = '078-05-1120';
    const blocked = await pyPost('clearinghouse', { name: 'A. Citizen', ssn });
    assert.deepEqual([blocked.status, blocked.kind, blocked.denied, blocked.rule], [403, 'GuardrailBlocked', true, 'no-pii-export'], JSON.stringify(blocked));
    assert.doesNotMatch(blocked.message, new RegExp(ssn));
    assert.equal(seen.length, before, 'nothing reached the external system');
    const clean = await pyPost('clearinghouse', { usd: 12 });
    assert.deepEqual([clean.status, clean.kind], [200, 'NoneType'], JSON.stringify(clean));
    assert.equal(seen.length, before + 1);
  });

  test('a host the mesh does not declare is NoRoute, a Denied: the sidecar refused it (404), nothing reached the server', { timeout: 60_000 }, async () => {
    const before = seen.length;
    const r = await pyPost('evil.example.com', { usd: 1 });
    assert.deepEqual([r.status, r.kind, r.denied], [404, 'NoRoute', true], JSON.stringify(r));
    assert.equal(seen.length, before);
  });
});
