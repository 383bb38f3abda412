/**
 * mTLS and access on a live proxyless data plane. grant-pay's XdsServer gets
 * its listener (DownstreamTlsContext requiring a client certificate, RBAC
 * allowing impact-calc) from the control plane; we knock on its port with
 * every kind of caller.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { initCa, issueIdentities, service } from '../../src/pki';
import { meshClient, startMember, startMesh, TRUST_DOMAIN } from './harness';

/** A direct (non-xDS) call to 127.0.0.1:<port>, to test what the server enforces on its own. */
function dial(port: number, creds: grpc.ChannelCredentials): Promise<{ code: string; details: string }> {
  const client = new grpc.Client(`127.0.0.1:${port}`, creds, { 'grpc.ssl_target_name_override': 'grant-pay' });
  return new Promise((resolve) => {
    client.makeUnaryRequest('/ceq.GrantPay/Payout', () => Buffer.alloc(0), (b: Buffer) => b, {}, { deadline: Date.now() + 3000 }, (err) => {
      client.close();
      resolve(err ? { code: grpc.status[err.code]!, details: err.details } : { code: 'OK', details: '' });
    });
  });
}

function identityCreds(pkiDir: string, name: string | undefined, caDir = pkiDir): grpc.ChannelCredentials {
  const ca = fs.readFileSync(path.join(caDir, 'trust-bundle.pem'));
  if (name === undefined) return grpc.credentials.createSsl(ca);
  return grpc.credentials.createSsl(ca, fs.readFileSync(path.join(pkiDir, 'svc', name, 'key.pem')), fs.readFileSync(path.join(pkiDir, 'svc', name, 'chain.pem')));
}

test('security: only callers with a mesh identity get in, and only those access allows get an answer', { timeout: 90_000 }, async (t) => {
  const mesh = await startMesh({
    services: {
      'grant-pay': 'version: v1\nprotocol: grpc\nport: 9000\ncalls: []\n',
      'impact-calc': 'version: v1\nprotocol: grpc\nport: 8081\ncalls: [grant-pay]\n',
      'public-docs': 'version: v1\nprotocol: grpc\nport: 8083\ncalls: []\n',
    },
    policies: 'access:\n  grant-pay:\n    allow: [impact-calc]\n',
  });
  const foreign = fs.mkdtempSync(path.join(os.tmpdir(), 'hms-e2e-foreign-'));
  t.after(async () => {
    await mesh.stop();
    fs.rmSync(foreign, { recursive: true, force: true });
  });
  const gp = await startMember(mesh, { service: 'grant-pay', version: 'v1' });

  // The allowed caller, through the mesh: mTLS both ways, and the server sees who called.
  const allowed = meshClient(mesh, 'impact-calc', 'grant-pay');
  assert.equal((await allowed.call()).code, 'OK');
  assert.deepEqual([...new Set(gp.callers)], [`spiffe://${TRUST_DOMAIN}/svc/impact-calc`]);

  // No mesh identity at all: plaintext, then TLS without a client certificate.
  const plaintext = await dial(gp.port, grpc.credentials.createInsecure());
  assert.equal(plaintext.code, 'UNAVAILABLE', `plaintext: ${plaintext.details}`);
  const anonymous = await dial(gp.port, identityCreds(mesh.pkiDir, undefined));
  assert.equal(anonymous.code, 'UNAVAILABLE', `TLS without a client certificate: ${anonymous.details}`);

  // A certificate for the right name from another CA: not a mesh identity.
  await initCa(foreign, { trustDomain: TRUST_DOMAIN });
  await issueIdentities(foreign, [service('impact-calc')], { trustDomain: TRUST_DOMAIN });
  const impostor = await dial(gp.port, identityCreds(foreign, 'impact-calc', mesh.pkiDir));
  assert.equal(impostor.code, 'UNAVAILABLE', `impostor: ${impostor.details}`);

  // A mesh identity the access policy does not list: RBAC answers PERMISSION_DENIED...
  const denied = await dial(gp.port, identityCreds(mesh.pkiDir, 'public-docs'));
  assert.equal(denied.code, 'PERMISSION_DENIED', denied.details);
  // ...where the listed identity, on the very same path, is served.
  assert.equal((await dial(gp.port, identityCreds(mesh.pkiDir, 'impact-calc'))).code, 'OK');

  // And through xDS, public-docs has no route to grant-pay at all: its config has no
  // listener of that name. (Not dialled with a real channel here: grpc-js-xds 1.14.1
  // leaves its 15 s does-not-exist timer running after the channel closes, which
  // would hold this test process open; the lab shows a revoked route live.)
  assert.equal(mesh.cp.cache.get('public-docs')!.types.listeners.resources.has('grant-pay'), false);

  const hits = gp.hits;
  assert.equal(hits, 2, 'only the two allowed calls reached the handler');
});
