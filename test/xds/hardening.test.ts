/**
 * The control plane under a careless operator and a hostile local process:
 * no apply locks the admin out, a bad store does not stop `mesh serve`, the
 * admin API authorizes before it reads and stays bounded, malformed bodies
 * get 400, and errors sent to clients name no path of the server's machine.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as path from 'node:path';
import { adminRequest } from '../../src/xds/admin-client';
import { readMeshSources, type ApplyResult } from '../../src/xds/control-plane';
import type { RunningControlPlane } from '../../src/xds/serve';
import { copyExample } from '../helpers/mesh-dir';
import { identityTls, makePki, startTestPlane, tmp } from '../helpers/control-plane';

let mesh: { dir: string; cleanup: () => void };
let pki: string;
let store: string;
let plane: RunningControlPlane;

before(async () => {
  mesh = copyExample();
  pki = await makePki(tmp('hms-pki-'), 'ceq.gov', ['impact-calc', 'grant-pay', 'public-docs', 'citizen-gw']);
  store = tmp('hms-store-');
  plane = await startTestPlane({ meshDir: mesh.dir, pkiDir: pki, storeDir: store });
});

after(async () => {
  await plane.stop();
  mesh.cleanup();
  for (const d of [pki, store]) fs.rmSync(d, { recursive: true, force: true });
});

const tlsOf = (folder: string): ReturnType<typeof identityTls> => identityTls(pki, folder);

const server = (): string => `https://127.0.0.1:${plane.ports.admin}`;
const asAdmin = () => ({ server: server(), tls: tlsOf('admin/ops') });

/** A raw request: any body, any declared length, streamed from one shared chunk (the client holds no big buffer). */
function raw(folder: string, method: string, urlPath: string, body: { text?: string; streamBytes?: number; declared?: number }): Promise<{ status: number; body: string; sentBeforeAnswer: number; reset?: boolean }> {
  const t = tlsOf(folder);
  return new Promise((resolve, reject) => {
    let sent = 0;
    let answered = false;
    const length = body.declared ?? (body.text !== undefined ? Buffer.byteLength(body.text) : body.streamBytes ?? 0);
    const req = https.request({ host: '127.0.0.1', port: plane.ports.admin, method, path: urlPath, ca: t.caPem, cert: t.certPem, key: t.keyPem, servername: 'localhost', checkServerIdentity: () => undefined, headers: { 'content-type': 'application/json', 'content-length': length } }, (res) => {
      answered = true;
      const at = sent;
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, sentBeforeAnswer: at }));
    });
    // The server closes a refused request's connection without reading its body; the
    // client may see that reset before it reads the answer (status 0, reset).
    req.on('error', (err) => {
      if (answered) return;
      answered = true;
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ECONNRESET' || code === 'EPIPE') resolve({ status: 0, body: '', sentBeforeAnswer: sent, reset: true });
      else reject(err);
    });
    if (body.text !== undefined) {
      req.end(body.text);
      return;
    }
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    const total = body.streamBytes ?? 0;
    const pump = (): void => {
      while (!answered && sent < total) {
        const n = Math.min(chunk.length, total - sent);
        sent += n;
        if (!req.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
          req.once('drain', pump);
          return;
        }
      }
      if (total > 0 && sent >= total) req.end();
      else if (total === 0) req.flushHeaders();
    };
    pump();
  });
}

test('malformed apply bodies get 400 with a message, never 500', async () => {
  for (const text of ['null', '[]', '"x"', '42', 'not json', '{"sources": null}', '{"sources": []}', '{"sources": {"mesh.yml": 1}}', '{"sources": {}, "displayDir": 7}']) {
    const r = await raw('admin/ops', 'POST', '/v1/apply', { text });
    assert.equal(r.status, 400, `${text}: ${r.status} ${r.body}`);
    assert.match((JSON.parse(r.body) as { error: string }).error, /body|JSON|displayDir/, text);
  }
  const reg = await raw('svc/grant-pay', 'POST', '/v1/registry/register', { text: 'null' });
  assert.equal(reg.status, 400, reg.body);
});

test('the admin API decides on the certificate before reading a body: 120 concurrent 15 MB bodies from a service certificate are refused unread, memory stays bounded', async (t) => {
  const rssBefore = process.memoryUsage().rss;
  const results = await Promise.all(Array.from({ length: 120 }, () => raw('svc/impact-calc', 'POST', '/v1/apply', { streamBytes: 15 * 1024 * 1024 })));
  const statuses = new Set(results.map((r) => r.status));
  assert.ok([...statuses].every((s) => s === 403 || s === 503 || s === 0), [...statuses].join(','));
  assert.ok(results.filter((r) => r.status === 403).length >= 10, `refused with 403: ${results.filter((r) => r.status === 403).length}, reset: ${results.filter((r) => r.reset).length}`);
  const sentMax = Math.max(...results.map((r) => r.sentBeforeAnswer));
  // The answer came long before the body was through: the server never waited for it.
  assert.ok(sentMax < 15 * 1024 * 1024, `a client sent ${sentMax} bytes before its answer`);
  const grownMb = (process.memoryUsage().rss - rssBefore) / 1024 / 1024;
  t.diagnostic(`120 x 15 MB offered: ${results.filter((r) => r.status === 403).length} answered 403, ${results.filter((r) => r.status === 503).length} 503, ${results.filter((r) => r.reset).length} reset; most sent before the answer ${(sentMax / 1024 / 1024).toFixed(1)} MB; RSS +${grownMb.toFixed(0)} MB`);
  assert.ok(grownMb < 400, `RSS grew ${grownMb.toFixed(0)} MB (1.8 GB of bodies were offered)`);
  // A body declared over the route's limit is refused unread, even for an admin.
  // (The client sends headers only, then waits: the answer comes without a body byte.)
  const big = await raw('admin/ops', 'POST', '/v1/apply', { declared: 100 * 1024 * 1024, streamBytes: 0 });
  assert.equal(big.status, 413, big.body);
  const reg = await raw('svc/grant-pay', 'POST', '/v1/registry/register', { declared: 1024 * 1024, streamBytes: 0 });
  assert.equal(reg.status, 413, reg.body);
  // And the server still answers.
  assert.equal((await adminRequest(asAdmin(), 'GET', '/v1/status')).status, 200);
});

test('an apply naming another trust domain is refused (MESH112) with its position; nothing is stored and the admin can still apply', async () => {
  const stored = fs.readFileSync(path.join(store, 'applied.json'), 'utf8');
  const revision = plane.cp.revision;
  const sources = { ...readMeshSources(mesh.dir) };
  sources['mesh.yml'] = sources['mesh.yml']!.replace('trust_domain: ceq.gov', 'trust_domain: evil.example');
  const r = await adminRequest<ApplyResult>(asAdmin(), 'POST', '/v1/apply', { sources, displayDir: 'm' });
  assert.equal(r.status, 200);
  assert.equal(r.body.ok, false);
  const d = r.body.diagnostics.find((x) => x.code === 'MESH112');
  assert.ok(d, JSON.stringify(r.body.diagnostics));
  const line = sources['mesh.yml']!.split('\n').findIndex((l) => l.startsWith('trust_domain:')) + 1;
  assert.deepEqual([d.file, d.line, d.col], ['m/mesh.yml', line, 15]);
  assert.match(d.message, /trust_domain evil\.example is not the trust domain of the running PKI \(ceq\.gov\)/);
  assert.equal(plane.cp.revision, revision);
  assert.equal(fs.readFileSync(path.join(store, 'applied.json'), 'utf8'), stored, 'nothing persisted');
  assert.equal(plane.cp.trustDomain, 'ceq.gov');
  const again = await adminRequest<ApplyResult>(asAdmin(), 'POST', '/v1/apply', { sources: readMeshSources(mesh.dir) });
  assert.equal(again.body.ok, true, JSON.stringify(again.body.diagnostics));
});

test('an apply that fails for a missing certificate names the PKI store as pki/, not by its absolute path', async () => {
  const dir = tmp('hms-nocert-');
  const partial = await makePki(dir, 'ceq.gov', ['impact-calc', 'grant-pay']);
  const p = await startTestPlane({ meshDir: mesh.dir, pkiDir: pki });
  try {
    // Swap the store's public-docs folder away after start: the next apply cannot build its secrets.
    const svc = path.join(pki, 'svc', 'public-docs');
    const aside = `${svc}.away`;
    fs.renameSync(svc, aside);
    try {
      const r = await adminRequest<ApplyResult>({ server: `https://127.0.0.1:${p.ports.admin}`, tls: tlsOf('admin/ops') }, 'POST', '/v1/apply', { sources: readMeshSources(mesh.dir) });
      assert.equal(r.body.ok, false);
      const text = JSON.stringify(r.body);
      assert.match(text, /MESH094/);
      assert.ok(!text.includes(pki), `the absolute PKI path leaked: ${text}`);
      assert.match(text, /pki\/svc\/public-docs/);
    } finally {
      fs.renameSync(aside, svc);
    }
  } finally {
    await p.stop();
    fs.rmSync(partial, { recursive: true, force: true });
  }
});

test('a corrupt or empty store does not stop mesh serve: it says so (MESH113), keeps the file aside and serves the mesh directory', async () => {
  for (const content of ['', '{"sources": ', 'null', '{"sources": {"mesh.yml": 3}}']) {
    const dir = tmp('hms-badstore-');
    try {
      fs.writeFileSync(path.join(dir, 'applied.json'), content);
      const p = await startTestPlane({ meshDir: mesh.dir, pkiDir: pki, storeDir: dir });
      try {
        assert.match(p.cp.storeProblem ?? '', /^MESH113: .*applied\.json is unreadable: .*; kept as .*applied\.json\.unreadable-/, content);
        assert.ok(p.cp.revision, 'the mesh directory is served');
        const kept = fs.readdirSync(dir).filter((n) => n.startsWith('applied.json.unreadable-'));
        assert.equal(kept.length, 1);
        assert.equal(fs.readFileSync(path.join(dir, kept[0]!), 'utf8'), content, 'the bad file is kept as it was');
        assert.ok(fs.existsSync(path.join(dir, 'applied.json')), 'the mesh served is persisted again');
      } finally {
        await p.stop();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
});
