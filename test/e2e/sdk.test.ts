/**
 * The svcmesh SDK. First the gRPC example apps as real processes (one mesh
 * member each, as the SDK requires) against a control plane on a copy of
 * examples/ceq-grpc: init registers over mTLS, the client finds grant-pay by
 * name, the trace id and the caller's identity reach the handler, and exit
 * deregisters. Then what needs no xDS: trace propagation through handlers,
 * and the HTTP path through a sidecar's outbound listener (a stand-in
 * listener here: there is no Envoy in the test environment).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { parseDocument } from 'yaml';
import { buildOutputTree } from '../../src/envoy/output';
import { compileMesh } from '../../src/envoy/compile';
import { ProcessGroup } from '../../src/lab/processes';
import { lintMesh } from '../../src/lint';
import { MeshCallError, MeshMember, mesh as sdk } from '../../src';
import { grpcServiceClient, unaryHandler } from '../../src/sdk/grpc';
import { TIMEOUT_HEADER } from '../../src/sdk/http';
import { GrantPay, type PayoutReply, type PayoutRequest } from '../../examples/ceq/apps/grpc/api';
import { eventually, freePort, freePorts, sleep, startExampleMesh, startMesh } from './harness';

const APPS = path.join(__dirname, '..', '..', 'examples', 'ceq', 'apps', 'grpc');
const HTTP_APPS = path.join(__dirname, '..', '..', 'examples', 'ceq', 'apps', 'http');

test('sdk: the gRPC example apps join the mesh, pay by name with a trace id, and leave it on exit', { timeout: 90_000 }, async (t) => {
  const mesh = await startExampleMesh('ceq-grpc');
  t.after(() => mesh.stop());
  // `mesh build` output, where the SDK finds each member's bootstrap.
  for (const [rel, text] of buildOutputTree(compileMesh(lintMesh(mesh.dir).model!))) {
    fs.mkdirSync(path.dirname(path.join(mesh.dir, 'out', rel)), { recursive: true });
    fs.writeFileSync(path.join(mesh.dir, 'out', rel), text);
  }
  const procs = new ProcessGroup(mesh.dir);
  mesh.track(() => procs.stopAll());
  const env = { HMS_MESH_DIR: mesh.dir };
  const [p1, p2] = await freePorts(2);
  const v1 = procs.start('grant-pay-v1', [path.join(APPS, 'grant-pay.js')], { ...env, VERSION: 'v1', PORT: String(p1) });
  const v2 = procs.start('grant-pay-v2', [path.join(APPS, 'grant-pay.js')], { ...env, VERSION: 'v2', PORT: String(p2) });
  await v1.waitFor(/^grant-pay v1 serving on 0\.0\.0\.0:/, 30_000, 'serving line');
  await v2.waitFor(/^grant-pay v2 serving on 0\.0\.0\.0:/, 30_000, 'serving line');
  assert.deepEqual(mesh.cp.registry.of('grant-pay').map((i) => `${i.version}@${i.port}`).sort(), [`v1@${p1}`, `v2@${p2}`].sort(), 'each instance registered itself');

  const ic = procs.start('impact-calc', [path.join(APPS, 'impact-calc.js')], { ...env, HMS_TRACE_LOG: '1' });
  const status = await ic.waitFor(/^Status: /, 30_000, 'status line');
  const m = /^Status: OK Trace: ([0-9a-f]{32}) \(grant-pay (v1|v2), \d+ ms\)$/.exec(status.text);
  assert.ok(m, status.text);
  const [, trace, version] = m;
  assert.equal(await Promise.race([ic.exited, sleep(15_000).then(() => 'still running after 15 s')]), 0, 'impact-calc exits by itself after mesh.close()');
  assert.ok(ic.lines.some((l) => l.stream === 'stderr' && l.text.startsWith(`[TRACE ${trace!.slice(0, 6)}] xds:///grant-pay Payout OK`)), 'the trace log line');
  const payer = version === 'v1' ? v1 : v2;
  const ach = await payer.waitFor((l) => l.text.startsWith('[ACH]'), 5000, 'ACH line');
  assert.equal(ach.text, `[ACH] paying $200000 for HWY-94 (caller spiffe://ceq.gov/svc/impact-calc, trace ${trace})`);
  assert.deepEqual(mesh.cp.registry.of('impact-calc'), [], 'impact-calc deregistered when it finished');

  // SIGTERM: grant-pay v1 deregisters before exiting (its TTL is 15 s; this is faster than expiry).
  v1.signal('SIGTERM');
  await v1.exited;
  await eventually(() => mesh.cp.registry.of('grant-pay').every((i) => i.port !== p1), 5000, 'v1 left the registry');
});

test('sdk: the trace id of a handled call goes on onward calls; handlers learn it and the caller', { timeout: 90_000 }, async (t) => {
  // Plain gRPC servers, no mesh: front's handler calls back; both use the SDK's wrappers.
  const seen: { front?: string; back?: string } = {};
  const back = new grpc.Server();
  back.addService(GrantPay.service, {
    Payout: unaryHandler<PayoutRequest, PayoutReply>((_req, ctx) => {
      seen.back = ctx.trace;
      return { ok: true, version: 'back' };
    }),
  });
  const front = new grpc.Server();
  const [frontPort, backPort] = await freePorts(2);
  const toBack = grpcServiceClient({ service: 'back', target: `127.0.0.1:${backPort}`, viaSidecar: true, traceLog: false }, GrantPay);
  front.addService(GrantPay.service, {
    Payout: unaryHandler<PayoutRequest, PayoutReply>(async (req, ctx) => {
      seen.front = ctx.trace;
      await toBack.call('Payout', req); // no trace passed: the SDK takes it from the context
      return { ok: true, version: 'front' };
    }),
  });
  for (const [s, p] of [[back, backPort], [front, frontPort]] as const) {
    await new Promise<void>((resolve, reject) => s.bindAsync(`127.0.0.1:${p}`, grpc.ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())));
  }
  const toFront = grpcServiceClient({ service: 'front', target: `127.0.0.1:${frontPort}`, viaSidecar: true, traceLog: false }, GrantPay);
  t.after(() => {
    toBack.close();
    toFront.close();
    back.forceShutdown();
    front.forceShutdown();
  });
  const res = await toFront.call<PayoutReply>('Payout', { project: 'HWY-94', usd: 1 }, { timeoutMs: 5000 });
  assert.equal(res.response.version, 'front');
  assert.match(res.trace, /^[0-9a-f]{32}$/);
  assert.equal(seen.front, res.trace, 'the callee echoes the id');
  assert.equal(seen.back, res.trace, 'the onward call carried it');

  // A failed call carries it too (in the trailers), and is a MeshCallError.
  const failing = new grpc.Server();
  failing.addService(GrantPay.service, { Payout: unaryHandler(() => Promise.reject({ code: grpc.status.FAILED_PRECONDITION, details: 'no funds' })) });
  const failPort = await freePort();
  await new Promise<void>((resolve, reject) => failing.bindAsync(`127.0.0.1:${failPort}`, grpc.ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())));
  const toFailing = grpcServiceClient({ service: 'failing', target: `127.0.0.1:${failPort}`, viaSidecar: true, traceLog: false }, GrantPay);
  t.after(() => {
    toFailing.close();
    failing.forceShutdown();
  });
  const err = await toFailing.call('Payout', { project: 'x', usd: 1 }).then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof MeshCallError);
  assert.equal(err.codeName, 'FAILED_PRECONDITION');
  assert.equal(err.details, 'no funds');
  assert.match(err.trace, /^[0-9a-f]{32}$/);
});

test('sdk: an HTTP member registers its sidecar and calls by name through the outbound listener', { timeout: 90_000 }, async (t) => {
  const [outbound] = await freePorts(1);
  const mesh = await startMesh({
    services: {
      'hr-portal': 'version: v1\nprotocol: http\nport: 8090\nmesh_port: 15190\ncalls: [hr-api]\n',
      'hr-api': 'version: v1\nprotocol: http\nport: 8091\nmesh_port: 15191\ncalls: []\n',
    },
    policies: 'access:\n  hr-api:\n    allow: [hr-portal]\n',
    meshYml: `ports:\n  outbound: ${outbound}\n`,
  });
  t.after(() => mesh.stop());
  // Stand-in for the sidecar's outbound listener: it records what the app sent and
  // answers as Envoy would (x-trace = the request id it kept).
  const received: http.IncomingHttpHeaders[] = [];
  const sidecar = http.createServer((req, res) => {
    received.push(req.headers);
    const reply = (): void => void res.writeHead(202, { 'content-type': 'application/json', 'x-trace': String(req.headers['x-request-id']) }).end('{"ok":true}');
    // /slow outlasts the SDK's own guard (timeout + DEADLINE_GRACE_MS): this stand-in
    // does not enforce the deadline header as the sidecar would.
    if (req.url === '/slow') setTimeout(reply, 5000).unref();
    else reply();
  });
  await new Promise<void>((resolve) => sidecar.listen(outbound, '127.0.0.1', resolve));
  mesh.track(() => new Promise<void>((resolve) => {
    sidecar.closeAllConnections();
    sidecar.close(() => resolve());
  }));

  const member = await new MeshMember({ service: 'hr-portal', version: 'v1', meshDir: mesh.dir, handleSignals: false }).start();
  mesh.track(() => member.close());
  assert.deepEqual(mesh.cp.registry.of('hr-portal').map((i) => `${i.address}:${i.port}`), ['127.0.0.1:15190'], 'the sidecar\'s mesh_port is registered');

  const api = member.client('hr-api', 'http');
  const res = await api.post<{ ok: boolean }>('/payout', { usd: 1 }, { timeoutMs: 2000 });
  assert.equal(res.status, 202);
  assert.deepEqual(res.body, { ok: true });
  assert.equal(received[0]!.host, 'hr-api', 'the Host header names the callee');
  assert.equal(res.trace, received[0]!['x-request-id'], 'x-trace comes back');

  // Inside a handled request, onward calls carry its id.
  const handled = sdk.http(async (_req, out) => {
    await api.get('/next');
    out.end();
  });
  const app = http.createServer(handled);
  const appPort = await freePort();
  await new Promise<void>((resolve) => app.listen(appPort, '127.0.0.1', resolve));
  mesh.track(() => new Promise<void>((resolve) => app.close(() => resolve())));
  const incoming = await new Promise<http.IncomingMessage>((resolve) =>
    http.get({ host: '127.0.0.1', port: appPort, path: '/', headers: { 'x-request-id': 'trace-from-envoy-1' } }, (r) => r.resume().on('end', () => resolve(r))),
  );
  assert.equal(incoming.headers['x-trace'], 'trace-from-envoy-1');
  assert.equal(received[1]!['x-request-id'], 'trace-from-envoy-1');

  // A per-call timeout: handed to the sidecar as its deadline, and guarded locally
  // should the sidecar not answer either.
  const slow = await api.get('/slow', { timeoutMs: 100 }).then(() => undefined, (e: unknown) => e);
  assert.ok(slow instanceof MeshCallError && slow.codeName === 'DEADLINE_EXCEEDED', String(slow));
  assert.equal(received[2]![TIMEOUT_HEADER], '100', 'the sidecar is told the deadline');

  // A call the manifest does not declare is refused before it leaves.
  assert.throws(() => member.client('hr-portal'), /does not call hr-portal/);

  await member.close();
  assert.deepEqual(mesh.cp.registry.of('hr-portal'), [], 'close deregisters');
});

test('sdk: the HTTP example apps run behind stand-ins for their sidecars: registered, 202, one trace id', { timeout: 90_000 }, async (t) => {
  const mesh = await startExampleMesh('ceq');
  t.after(() => mesh.stop());
  const [outbound, appPort] = await freePorts(2);
  // Where the apps and their (stand-in) sidecars listen on this host.
  const meshYml = parseDocument(fs.readFileSync(path.join(mesh.dir, 'mesh.yml'), 'utf8'));
  meshYml.setIn(['ports', 'outbound'], outbound);
  fs.writeFileSync(path.join(mesh.dir, 'mesh.yml'), meshYml.toString());
  const gpManifest = path.join(mesh.dir, 'services', 'grant-pay.yml');
  fs.writeFileSync(gpManifest, fs.readFileSync(gpManifest, 'utf8').replace(/^port: 9000$/m, `port: ${appPort}`));
  // Not Envoy (none in the test environment): a forwarder doing what the two sidecars do for
  // this call: route by Host, keep the caller's x-request-id, tell grant-pay who called, answer x-trace.
  const sidecars = http.createServer((req, res) => {
    assert.equal(req.headers.host, 'grant-pay');
    const id = String(req.headers['x-request-id']);
    const up = http.request({ host: '127.0.0.1', port: appPort, method: req.method, path: req.url, headers: { ...req.headers, 'x-forwarded-client-cert': 'By=spiffe://ceq.gov/svc/grant-pay;URI=spiffe://ceq.gov/svc/impact-calc' } }, (r) => {
      res.writeHead(r.statusCode ?? 502, { ...r.headers, 'x-trace': id });
      r.pipe(res);
    });
    req.pipe(up);
  });
  await new Promise<void>((resolve) => sidecars.listen(outbound, '127.0.0.1', resolve));
  mesh.track(() => new Promise<void>((resolve) => {
    sidecars.closeAllConnections();
    sidecars.close(() => resolve());
  }));
  const procs = new ProcessGroup(mesh.dir);
  mesh.track(() => procs.stopAll());
  const env = { HMS_MESH_DIR: mesh.dir };
  const gp = procs.start('grant-pay', [path.join(HTTP_APPS, 'grant-pay.js')], { ...env, VERSION: 'v1' });
  await eventually(() => mesh.cp.registry.of('grant-pay').length === 1, 30_000, 'grant-pay registered');
  assert.equal(mesh.cp.registry.of('grant-pay')[0]!.port, 15090, 'its sidecar\'s mesh_port');
  await eventually(() => new Promise<boolean>((resolve) => {
    const probe = http.get({ host: '127.0.0.1', port: appPort, path: '/' }, (r) => resolve(r.resume() !== undefined)).on('error', () => resolve(false));
    probe.end();
  }), 10_000, 'grant-pay listening');

  const ic = procs.start('impact-calc', [path.join(HTTP_APPS, 'impact-calc.js')], env);
  const status = await ic.waitFor(/^Status: /, 30_000, 'status line');
  const m = /^Status: 202 Trace: (\S+)$/.exec(status.text);
  assert.ok(m, status.text);
  assert.equal(await Promise.race([ic.exited, sleep(15_000).then(() => 'still running')]), 0);
  const ach = await gp.waitFor(/^\[ACH\]/, 5000, 'ACH line');
  assert.equal(ach.text, `[ACH] paying $200000 for HWY-94 (caller spiffe://ceq.gov/svc/impact-calc, trace ${m[1]})`);
});
