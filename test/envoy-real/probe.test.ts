/**
 * The probes the real-Envoy suite looks through (src/compose/probe.ts),
 * against small local servers: what a sidecar's outbound listener, an mTLS
 * inbound listener and an admin interface would be. Runs everywhere.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type * as tls from 'node:tls';
import { test } from 'node:test';
import { adminGet, probe, probeMany } from '../../src/compose/probe';
import { initCa, issueIdentities, service } from '../../src/pki';
import { PACKAGE_ROOT } from '../../src/paths';

const PROBE_JS = path.join(PACKAGE_ROOT, 'dist', 'src', 'compose', 'probe.js');

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)));
}

function echoServer(): http.Server {
  return http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => res.writeHead(req.url === '/payout' ? 202 : 404, { 'x-trace': 'abc123', 'content-type': 'application/json' }).end(JSON.stringify({ host: req.headers.host, method: req.method, body })));
  });
}

test('probe: a request through an "outbound listener" names the callee in Host, sends JSON, returns status, headers and body', async (t) => {
  const server = echoServer();
  const port = await listen(server);
  t.after(() => server.close());
  const r = await probe({ host: '127.0.0.1', port, method: 'POST', path: '/payout', authority: 'grant-pay', json: { project: 'HWY-94', usd: 200000 } });
  assert.equal(r.status, 202);
  assert.equal(r.headers?.['x-trace'], 'abc123');
  assert.deepEqual(JSON.parse(r.body!), { host: 'grant-pay', method: 'POST', body: '{"project":"HWY-94","usd":200000}' });
  const many = await probeMany({ host: '127.0.0.1', port, path: '/payout', method: 'POST' }, 7, 3);
  assert.equal(many.length, 7);
  assert.ok(many.every((x) => x.status === 202));
  assert.equal((await adminGet(port, '/payout').catch((e: Error) => e.message)).includes('HTTP 202'), true, 'adminGet wants a 200');
});

test('probe: no HTTP answer is an error, never a status (refused port, TLS listener spoken to in plaintext)', async (t) => {
  const closed = net.createServer();
  const port = await listen(closed);
  await new Promise<void>((r) => closed.close(() => r()));
  const refused = await probe({ host: '127.0.0.1', port, timeoutMs: 2000 });
  assert.equal(refused.status, undefined);
  assert.match(refused.error!, /ECONNREFUSED/);

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hms-probe-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const td = 'probe.test';
  await initCa(dir, { trustDomain: td });
  await issueIdentities(dir, [service('callee'), service('friend'), service('stranger')], { trustDomain: td });
  const file = (...p: string[]): Buffer => fs.readFileSync(path.join(dir, ...p));
  // An "inbound listener": mTLS required, then an access rule on the caller's SPIFFE ID.
  const tlsServer = https.createServer({ cert: file('svc', 'callee', 'chain.pem'), key: file('svc', 'callee', 'key.pem'), ca: file('trust-bundle.pem'), requestCert: true, rejectUnauthorized: true }, (req, res) => {
    const san = (req.socket as tls.TLSSocket).getPeerCertificate().subjectaltname ?? '';
    res.writeHead(san.includes(`URI:spiffe://${td}/svc/friend`) ? 202 : 403).end(san);
  });
  const tlsPort = await listen(tlsServer);
  t.after(() => tlsServer.close());
  const as = (who: string) => ({ ca: path.join(dir, 'trust-bundle.pem'), cert: path.join(dir, 'svc', who, 'chain.pem'), key: path.join(dir, 'svc', who, 'key.pem'), servername: 'callee' });
  assert.equal((await probe({ host: '127.0.0.1', port: tlsPort, tls: as('friend') })).status, 202);
  assert.equal((await probe({ host: '127.0.0.1', port: tlsPort, tls: as('stranger') })).status, 403);
  const plain = await probe({ host: '127.0.0.1', port: tlsPort, method: 'POST', path: '/payout', json: {}, timeoutMs: 3000 });
  assert.equal(plain.status, undefined, JSON.stringify(plain));
  assert.ok(plain.error);
  const noCert = await probe({ host: '127.0.0.1', port: tlsPort, tls: { ca: path.join(dir, 'trust-bundle.pem'), servername: 'callee' }, timeoutMs: 3000 });
  assert.equal(noCert.status, undefined, 'a client without a certificate fails the handshake');
});

test('probe CLI (what one-off containers run): one JSON line on stdout; usage errors exit non-zero', async (t) => {
  const server = echoServer();
  const port = await listen(server);
  t.after(() => server.close());
  const run = (...args: string[]) => new Promise<{ status: number | null; stdout: string }>((resolve) => {
    // Async: the server above answers on this process's event loop.
    const child = spawn(process.execPath, [PROBE_JS, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.once('close', (status) => resolve({ status, stdout }));
  });
  const r = await run('http', '--host', '127.0.0.1', '--port', String(port), '--method', 'POST', '--path', '/payout', '--authority', 'grant-pay', '--json', '{"usd":1}', '--count', '3', '--concurrency', '2');
  assert.equal(r.status, 0);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 1);
  const out = JSON.parse(lines[0]!) as { results: Array<{ status: number; headers: Record<string, string> }> };
  assert.deepEqual(out.results.map((x) => x.status), [202, 202, 202]);
  assert.equal(out.results[0]!.headers['x-trace'], 'abc123');
  const bad = await run('http', '--port');
  assert.notEqual(bad.status, 0);
  assert.match(JSON.parse(bad.stdout.trim()).error, /bad argument/);
  assert.equal(spawnSync(process.execPath, [PROBE_JS, 'help'], { encoding: 'utf8' }).status, 0);
});
