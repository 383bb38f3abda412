/**
 * mTLS by default: who may connect, which node a certificate may claim, which
 * secrets it receives, and who may use the admin API and the registry.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { adminRequest } from '../../src/xds/admin-client';
import { readMeshSources } from '../../src/xds/control-plane';
import type { RunningControlPlane } from '../../src/xds/serve';
import { AdsTestClient, decodeSotw, TYPE } from '../helpers/ads-client';
import { copyExample } from '../helpers/mesh-dir';
import { identityTls, makePki, nodeCredentials, startTestPlane, tmp } from '../helpers/control-plane';

let mesh: { dir: string; cleanup: () => void };
let pki: string;
let otherPki: string;
let plane: RunningControlPlane;
let addr: string;

before(async () => {
  mesh = copyExample();
  pki = await makePki(tmp('hms-pki-'), 'ceq.gov', ['impact-calc', 'grant-pay', 'public-docs', 'citizen-gw']);
  otherPki = await makePki(tmp('hms-pki-other-'), 'ceq.gov', ['impact-calc']);
  plane = await startTestPlane({ meshDir: mesh.dir, pkiDir: pki, proxyless: true });
  addr = `127.0.0.1:${plane.ports.xds}`;
});

after(async () => {
  await plane.stop();
  mesh.cleanup();
  fs.rmSync(pki, { recursive: true, force: true });
  fs.rmSync(otherPki, { recursive: true, force: true });
});

const tlsOf = (dir: string, folder: string): ReturnType<typeof identityTls> => identityTls(dir, folder, pki);

test('a client without a mesh certificate cannot open an xDS stream', async () => {
  const client = new AdsTestClient(addr, grpc.credentials.createSsl(fs.readFileSync(path.join(pki, 'trust-bundle.pem'))));
  try {
    const s = client.sotw();
    s.send({ node: { id: 'impact-calc' }, type_url: TYPE.clusters });
    const st = await s.closed;
    assert.equal(st.code, grpc.status.UNAVAILABLE, st.details);
  } finally {
    client.close();
  }
});

test('a certificate from another CA is refused', async () => {
  const creds = grpc.credentials.createSsl(
    fs.readFileSync(path.join(pki, 'trust-bundle.pem')),
    fs.readFileSync(path.join(otherPki, 'svc/impact-calc/key.pem')),
    fs.readFileSync(path.join(otherPki, 'svc/impact-calc/chain.pem')),
  );
  const client = new AdsTestClient(addr, creds);
  try {
    const s = client.sotw();
    s.send({ node: { id: 'impact-calc' }, type_url: TYPE.clusters });
    assert.equal((await s.closed).code, grpc.status.UNAVAILABLE);
  } finally {
    client.close();
  }
});

test("grant-pay's certificate claiming node id impact-calc gets nothing but PERMISSION_DENIED", async () => {
  const client = new AdsTestClient(addr, nodeCredentials(pki, 'svc/grant-pay'));
  try {
    const s = client.sotw();
    s.send({ node: { id: 'impact-calc' }, type_url: TYPE.clusters });
    const st = await s.closed;
    assert.equal(st.code, grpc.status.PERMISSION_DENIED);
    assert.match(st.details, /node "impact-calc" must present the identity spiffe:\/\/ceq\.gov\/svc\/impact-calc; this stream presented spiffe:\/\/ceq\.gov\/svc\/grant-pay/);
    assert.equal(s.pending(), 0, 'no response was sent before the refusal');
  } finally {
    client.close();
  }
});

test('a node receives its own secrets, filled from the PKI store, and no other node\'s', async () => {
  const client = new AdsTestClient(addr, nodeCredentials(pki, 'svc/impact-calc'));
  try {
    const s = client.sotw();
    s.send({ node: { id: 'impact-calc' }, type_url: TYPE.secrets, resource_names: ['spiffe://ceq.gov/svc/impact-calc', 'spiffe://ceq.gov', 'spiffe://ceq.gov/svc/grant-pay'] });
    const r = decodeSotw(await s.next());
    assert.deepEqual(r.names, ['spiffe://ceq.gov', 'spiffe://ceq.gov/svc/impact-calc']);
    const own = r.resources.find((x) => x.name === 'spiffe://ceq.gov/svc/impact-calc') as { tls_certificate: { certificate_chain: { inline_string: string }; private_key: { inline_string: string } } };
    assert.equal(own.tls_certificate.certificate_chain.inline_string, fs.readFileSync(path.join(pki, 'svc/impact-calc/chain.pem'), 'utf8'));
    assert.equal(own.tls_certificate.private_key.inline_string, fs.readFileSync(path.join(pki, 'svc/impact-calc/key.pem'), 'utf8'));
    const bundle = r.resources.find((x) => x.name === 'spiffe://ceq.gov') as { validation_context: { trusted_ca: { inline_string: string } } };
    assert.equal(bundle.validation_context.trusted_ca.inline_string, fs.readFileSync(path.join(pki, 'trust-bundle.pem'), 'utf8'));
    s.cancel();
  } finally {
    client.close();
  }
});

test('the plaintext proxyless port serves no Envoy sidecar: a local process cannot claim one\'s node id, read its config or post NACKs in its name', async () => {
  const client = new AdsTestClient(`127.0.0.1:${plane.ports.proxyless}`);
  try {
    for (const type of [TYPE.listeners, TYPE.secrets]) {
      const s = client.sotw();
      s.send({ node: { id: 'impact-calc' }, type_url: type });
      const st = await s.closed;
      assert.equal(st.code, grpc.status.PERMISSION_DENIED, st.details);
      assert.match(st.details, /impact-calc" is an Envoy sidecar: it is served over mTLS only/);
    }
    // A NACK posted there never reaches the status board.
    const s = client.sotw();
    s.send({ node: { id: 'impact-calc' }, type_url: TYPE.clusters, version_info: 'x', response_nonce: '1', error_detail: { code: 3, message: 'fake NACK' } });
    assert.equal((await s.closed).code, grpc.status.PERMISSION_DENIED);
    const ic = plane.cp.statusReport().nodes.find((n) => n.node === 'impact-calc')!;
    assert.equal(ic.nacked, false);
    assert.ok(!JSON.stringify(ic).includes('fake NACK'));
  } finally {
    client.close();
  }
});

test('the plaintext proxyless port (loopback) serves proxyless gRPC nodes their routing config, never secrets', async () => {
  const grpcMesh = copyExample('ceq-grpc');
  const grpcPki = await makePki(tmp('hms-pki-grpc-'), 'ceq.gov', ['impact-calc', 'grant-pay', 'public-docs', 'citizen-gw']);
  const p = await startTestPlane({ meshDir: grpcMesh.dir, pkiDir: grpcPki, proxyless: true });
  const client = new AdsTestClient(`127.0.0.1:${p.ports.proxyless}`);
  try {
    const s = client.sotw();
    s.send({ node: { id: 'impact-calc' }, type_url: TYPE.secrets, resource_names: ['spiffe://ceq.gov/svc/impact-calc', 'spiffe://ceq.gov'] });
    const r = decodeSotw(await s.next());
    assert.deepEqual(r.names, []);
    s.send({ type_url: TYPE.clusters, node: { id: 'impact-calc' } });
    assert.ok(decodeSotw(await s.next()).names.length > 0, 'routing config is served there');
    s.cancel();
  } finally {
    client.close();
    await p.stop();
    grpcMesh.cleanup();
    fs.rmSync(grpcPki, { recursive: true, force: true });
  }
});

test('the admin API requires an admin identity: apply with a service certificate is refused, nothing changes', async () => {
  const server = `https://127.0.0.1:${plane.ports.admin}`;
  const revision = plane.cp.revision;
  const asService = await adminRequest<{ error: string }>({ server, tls: tlsOf(pki, 'svc/impact-calc') }, 'POST', '/v1/apply', { sources: readMeshSources(mesh.dir) });
  assert.equal(asService.status, 403);
  assert.match(asService.body.error, /requires an admin identity/);
  assert.equal(plane.cp.revision, revision);
  const status = await adminRequest<unknown>({ server, tls: tlsOf(pki, 'svc/impact-calc') }, 'GET', '/v1/status');
  assert.equal(status.status, 403);
  const asAdmin = await adminRequest<{ ok: boolean; revision: string }>({ server, tls: tlsOf(pki, 'admin/ops') }, 'POST', '/v1/apply', { sources: readMeshSources(mesh.dir) });
  assert.equal(asAdmin.status, 200);
  assert.equal(asAdmin.body.ok, true);
  // Without any client certificate the TLS handshake itself fails.
  await assert.rejects(adminRequest({ server, tls: { ...tlsOf(pki, 'admin/ops'), certPem: '', keyPem: '' } }, 'GET', '/healthz'));
});

test('the server proves it is the control plane; a client refuses any other identity', async () => {
  // A grant-pay certificate posing as the control plane: build a tiny HTTPS server with it.
  const https = await import('node:https');
  const fake = https.createServer({ ...(() => { const t = tlsOf(pki, 'svc/grant-pay'); return { key: t.keyPem, cert: t.certPem }; })() }, (_q, r) => r.end('{}'));
  await new Promise<void>((r) => fake.listen(0, '127.0.0.1', () => r()));
  try {
    const port = (fake.address() as { port: number }).port;
    await assert.rejects(adminRequest({ server: `https://127.0.0.1:${port}`, tls: tlsOf(pki, 'admin/ops') }, 'GET', '/v1/status'), /not the control-plane identity|control plane/);
  } finally {
    fake.close();
  }
});

test('registry governance: a service registers only itself, only if declared, only with a declared version', async () => {
  const server = `https://127.0.0.1:${plane.ports.admin}`;
  const gp = { server, tls: tlsOf(pki, 'svc/grant-pay') };
  const ok = await adminRequest<{ id: string }>(gp, 'POST', '/v1/registry/register', { service: 'grant-pay', version: 'v1', address: '127.0.0.1', port: 25001, ttl_ms: 60_000 });
  assert.equal(ok.status, 200);
  const spoof = await adminRequest<{ error: string }>(gp, 'POST', '/v1/registry/register', { service: 'impact-calc', version: 'v1', address: '127.0.0.1', port: 25002 });
  assert.equal(spoof.status, 403);
  assert.match(spoof.body.error, /not the identity of "impact-calc"/);
  const badVersion = await adminRequest<{ error: string }>(gp, 'POST', '/v1/registry/register', { service: 'grant-pay', version: 'v9', address: '127.0.0.1', port: 25003 });
  assert.equal(badVersion.status, 403);
  assert.match(badVersion.body.error, /version "v9" of "grant-pay" is not declared \(declared: v1, v2\)/);
  const admin = { server, tls: tlsOf(pki, 'admin/ops') };
  const undeclared = await adminRequest<{ error: string }>(admin, 'POST', '/v1/registry/register', { service: 'billing', version: 'v1', address: '127.0.0.1', port: 25004 });
  assert.equal(undeclared.status, 403);
  assert.match(undeclared.body.error, /service "billing" is not declared in the mesh/);
  const dereg = await adminRequest<{ deregistered: boolean }>(gp, 'POST', '/v1/registry/deregister', { service: 'grant-pay', id: ok.body.id });
  assert.equal(dereg.body.deregistered, true);
});

test('registry addresses and strings are validated: each refusal is a 400 with its code, nothing is stored or served; an IPv6 literal is accepted', async () => {
  const server = `https://127.0.0.1:${plane.ports.admin}`;
  const gp = { server, tls: tlsOf(pki, 'svc/grant-pay') };
  const admin = { server, tls: tlsOf(pki, 'admin/ops') };
  const edsBefore = plane.cp.cache.get('impact-calc')!.types.endpoints.version;
  const countBefore = plane.cp.registry.size;
  // 10 KB: long enough to be refused by its field's cap, short of the 64 KiB body cap (a larger body is 413, unread: hardening.test.ts).
  const big = 'a'.repeat(10 * 1024);
  const base = { service: 'grant-pay', version: 'v1', address: '10.0.0.1', port: 25010 };
  const refused: Array<[string, Record<string, unknown>, string, RegExp]> = [
    ['a name with a command after it', { address: 'not an ip; evil.example.com' }, 'MESH120', /not an IPv4 or IPv6 literal/],
    ['a host name', { address: 'evil.example.com' }, 'MESH120', /not an IPv4 or IPv6 literal/],
    ['an IPv6 zone id', { address: 'fe80::1%eth0' }, 'MESH120', /not an IPv4 or IPv6 literal/],
    ['an empty address', { address: '' }, 'MESH122', /address must be a non-empty string/],
    ['a missing address', { address: undefined }, 'MESH122', /address must be a non-empty string/],
    ['a 10 KB address', { address: big }, 'MESH123', /address is 10240 characters long; at most 45/],
    ['the metadata address', { address: '169.254.169.254' }, 'MESH121', /instance-metadata address/],
    ['the IPv6 metadata address', { address: 'fd00:ec2::254' }, 'MESH121', /instance-metadata address/],
    ['the metadata address, IPv4-mapped', { address: '::ffff:169.254.169.254' }, 'MESH121', /instance-metadata address/],
    ['an IPv4 link-local address', { address: '169.254.10.1' }, 'MESH121', /link-local .*registry\.allow_link_local/],
    ['an IPv6 link-local address', { address: 'fe80::1' }, 'MESH121', /link-local/],
    ['the unspecified IPv4 address', { address: '0.0.0.0' }, 'MESH121', /unspecified/],
    ['the unspecified IPv6 address', { address: '::' }, 'MESH121', /unspecified/],
    ['an IPv4 multicast address', { address: '224.0.0.251' }, 'MESH121', /multicast/],
    ['an IPv6 multicast address', { address: 'ff02::1' }, 'MESH121', /multicast/],
    ['the broadcast address', { address: '255.255.255.255' }, 'MESH121', /broadcast/],
    ['port 0', { port: 0 }, 'MESH122', /port must be an integer from 1 to 65535, got 0/],
    ['port 65536', { port: 65536 }, 'MESH122', /got 65536/],
    ['a fractional port', { port: 80.5 }, 'MESH122', /got 80.5/],
    ['a port as a string', { port: '8080' }, 'MESH122', /got a string/],
    ['a 10 KB version', { version: big }, 'MESH123', /version is 10240 characters long; at most 253/],
    ['a version with a newline', { version: 'v1\nX-Injected: yes' }, 'MESH123', /version contains control characters/],
    ['an empty version', { version: '' }, 'MESH122', /version must be a non-empty string/],
    ['a 10 KB service name', { service: big }, 'MESH123', /service is 10240 characters long/],
    ['a ttl that is not a number', { ttl_ms: 'forever' }, 'MESH122', /ttl_ms must be a number/],
  ];
  for (const [what, change, code, message] of refused) {
    const r = await adminRequest<{ error: string; code: string }>(gp, 'POST', '/v1/registry/register', { ...base, ...change });
    assert.equal(r.status, 400, `${what}: ${JSON.stringify(r.body).slice(0, 200)}`);
    assert.equal(r.body.code, code, what);
    assert.match(r.body.error, message, what);
    assert.ok(r.body.error.length < 400, `${what}: the value is not echoed back`);
  }
  const hb = await adminRequest<{ error: string; code: string }>(gp, 'POST', '/v1/registry/heartbeat', { service: 'grant-pay', id: big });
  assert.deepEqual([hb.status, hb.body.code], [400, 'MESH123']);
  const listed = await adminRequest<{ instances: Array<{ address: string }> }>(admin, 'GET', '/v1/registry');
  assert.equal(plane.cp.registry.size, countBefore, 'nothing was stored');
  assert.equal(listed.body.instances.length, countBefore);
  assert.equal(plane.cp.cache.get('impact-calc')!.types.endpoints.version, edsBefore, 'nothing was served');

  const v6 = await adminRequest<{ id: string }>(gp, 'POST', '/v1/registry/register', { ...base, address: '2001:db8::10', port: 25011 });
  assert.equal(v6.status, 200);
  assert.equal(v6.body.id, 'grant-pay@2001:db8::10:25011');
  const cla = plane.cp.cache.get('impact-calc')!.types.endpoints.resources.get('outbound|grant-pay|v1')!;
  assert.ok(cla.any.includes(Buffer.from('2001:db8::10')), 'the IPv6 instance is in EDS');
  assert.equal((await adminRequest<{ deregistered: boolean }>(gp, 'POST', '/v1/registry/deregister', { service: 'grant-pay', id: v6.body.id })).body.deregistered, true);
});
