/**
 * Real handshakes on 127.0.0.1: Node's tls (OpenSSL) decides, with
 * requestCert + rejectUnauthorized on the server and the SPIFFE check on the
 * client. Then verifyPeerChain, the same decision without a socket.
 */
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tls from 'node:tls';
import { UserError } from '../../src/diag/errors';
import {
  admin,
  controlPlane,
  type Credentials,
  initCa,
  issueIdentities,
  loadCredentials,
  loadServiceCredentials,
  loadSigningCa,
  loadTrustBundle,
  mintLeaf,
  parseCertificates,
  peerIdentityOf,
  service,
  spiffeIdFromSan,
  spiffeServerIdentityCheck,
  verifyPeerChain,
} from '../../src/pki';
import { HOUR, TD } from './helpers';

interface Side {
  readonly key: string;
  readonly cert: string;
  readonly ca: string;
}

interface ClientSide extends Side {
  readonly checkServerIdentity?: (host: string, cert: tls.PeerCertificate) => Error | undefined;
  readonly servername?: string;
}

interface HandshakeResult {
  /** The server verified the client and the request/response went through. */
  readonly ok: boolean;
  readonly serverSawPeer?: string;
  readonly clientSawPeer?: string;
  readonly clientError?: NodeJS.ErrnoException;
  readonly serverError?: NodeJS.ErrnoException;
}

const side = (c: Credentials): Side => ({ key: c.keyPem, cert: c.chainPem, ca: c.trustBundlePem });

/** One mTLS exchange: the server checks the client's SPIFFE ID after the handshake and answers "ok". */
function handshake(server: Side, client: ClientSide): Promise<HandshakeResult> {
  const trust = parseCertificates(server.ca, 'server ca');
  const r: { -readonly [K in keyof HandshakeResult]?: HandshakeResult[K] } = {};
  return new Promise((resolve) => {
    const srv = tls.createServer({ ...server, requestCert: true, rejectUnauthorized: true }, (socket) => {
      try {
        r.serverSawPeer = peerIdentityOf(socket, trust, { trustDomain: TD }).spiffeId;
        socket.end('ok');
      } catch (err) {
        r.serverError = err as NodeJS.ErrnoException;
        socket.destroy();
      }
    });
    srv.on('tlsClientError', (err) => (r.serverError ??= err));
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      let data = '';
      const c = tls.connect({ host: '127.0.0.1', port, ...client });
      c.on('secureConnect', () => (r.clientSawPeer = spiffeIdFromSan(c.getPeerCertificate().subjectaltname).spiffeId));
      c.on('data', (d: Buffer) => (data += d.toString()));
      c.on('error', (err) => (r.clientError ??= err));
      c.on('close', () => srv.close(() => resolve({ ...r, ok: data === 'ok' })));
    });
  });
}

const spiffe = (name: string): string => `spiffe://${TD}/svc/${name}`;
const past = (hours: number): Date => new Date(Date.now() - hours * HOUR);

describe('mTLS handshakes on 127.0.0.1', { timeout: 60_000 }, () => {
  let root: string;
  let pki: string;
  let pkiInter: string;
  let pkiOther: string;
  let expired: Credentials;
  before(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'hms-pki-tls-'));
    [pki, pkiInter, pkiOther] = ['root', 'inter', 'other'].map((d) => path.join(root, d));
    // The CA starts three days ago so the test can also mint an already-expired leaf from it.
    await initCa(pki, { trustDomain: TD, now: past(72) });
    await initCa(pkiInter, { trustDomain: TD, intermediate: true });
    await initCa(pkiOther, { trustDomain: TD });
    await issueIdentities(pki, [service('alpha'), service('beta'), admin('ops'), controlPlane], { trustDomain: TD });
    await issueIdentities(pkiInter, [service('alpha'), service('beta')], { trustDomain: TD });
    await issueIdentities(pkiOther, [service('alpha')], { trustDomain: TD });
    const old = await mintLeaf(loadSigningCa(pki), service('alpha'), { trustDomain: TD, now: past(48), validityMs: 24 * HOUR });
    expired = { ...loadServiceCredentials(pki, 'alpha'), certPem: old.certPem, chainPem: old.chainPem, keyPem: old.keyPem };
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  for (const mode of ['root', 'intermediate'] as const) {
    it(`two services complete mTLS and see each other's SPIFFE ID (${mode} CA)`, async () => {
      const store = mode === 'root' ? pki : pkiInter;
      const alpha = loadServiceCredentials(store, 'alpha');
      const beta = loadServiceCredentials(store, 'beta');
      const r = await handshake(side(alpha), { ...side(beta), checkServerIdentity: spiffeServerIdentityCheck(spiffe('alpha')) });
      assert.equal(r.clientError, undefined);
      assert.equal(r.serverError, undefined);
      assert.ok(r.ok);
      assert.equal(r.serverSawPeer, spiffe('beta'));
      assert.equal(r.clientSawPeer, spiffe('alpha'));
    });
  }

  it('rejects a server certificate from another CA', async () => {
    const mallory = loadServiceCredentials(pkiOther, 'alpha');
    const beta = loadServiceCredentials(pki, 'beta');
    const r = await handshake({ ...side(mallory), ca: beta.trustBundlePem }, { ...side(beta), checkServerIdentity: spiffeServerIdentityCheck(spiffe('alpha')) });
    assert.equal(r.ok, false);
    assert.equal(r.clientError?.code, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });

  it('rejects a client certificate from another CA (requestCert + rejectUnauthorized)', async () => {
    const alpha = loadServiceCredentials(pki, 'alpha');
    const mallory = loadServiceCredentials(pkiOther, 'alpha');
    const r = await handshake(side(alpha), { ...side(mallory), ca: alpha.trustBundlePem, checkServerIdentity: spiffeServerIdentityCheck(spiffe('alpha')) });
    assert.equal(r.ok, false);
    assert.equal(r.serverSawPeer, undefined);
    assert.ok(r.serverError, 'the server reports the rejected client');
  });

  it('rejects an expired server certificate', async () => {
    const beta = loadServiceCredentials(pki, 'beta');
    const r = await handshake(side(expired), { ...side(beta), checkServerIdentity: spiffeServerIdentityCheck(spiffe('alpha')) });
    assert.equal(r.ok, false);
    assert.equal(r.clientError?.code, 'CERT_HAS_EXPIRED');
  });

  it('rejects an expired client certificate', async () => {
    const beta = loadServiceCredentials(pki, 'beta');
    const r = await handshake(side(beta), { ...side(expired), checkServerIdentity: spiffeServerIdentityCheck(spiffe('beta')) });
    assert.equal(r.ok, false);
    assert.equal(r.serverSawPeer, undefined);
    assert.ok(r.serverError);
  });

  it('rejects a server whose SPIFFE ID is not the expected one (SAN mismatch)', async () => {
    const alpha = loadServiceCredentials(pki, 'alpha');
    const beta = loadServiceCredentials(pki, 'beta');
    const r = await handshake(side(alpha), { ...side(beta), checkServerIdentity: spiffeServerIdentityCheck(spiffe('gamma')) });
    assert.equal(r.ok, false);
    assert.ok(r.clientError instanceof UserError);
    assert.equal((r.clientError as UserError).code, 'PKI013');
    assert.match(r.clientError.message, /peer is spiffe:\/\/test\.mesh\/svc\/alpha, expected spiffe:\/\/test\.mesh\/svc\/gamma/);
  });

  it('fails the default host-name check for a workload on 127.0.0.1 (why mesh clients check SPIFFE IDs)', async () => {
    const alpha = loadServiceCredentials(pki, 'alpha');
    const beta = loadServiceCredentials(pki, 'beta');
    const r = await handshake(side(alpha), side(beta));
    assert.equal(r.ok, false);
    assert.equal(r.clientError?.code, 'ERR_TLS_CERT_ALTNAME_INVALID');
  });

  for (const servername of [undefined, 'localhost']) {
    it(`control-plane passes the standard host-name check (${servername ?? '127.0.0.1'}); an admin client is seen as admin`, async () => {
      const cp = loadCredentials(pki, controlPlane);
      const ops = loadCredentials(pki, admin('ops'));
      const r = await handshake(side(cp), { ...side(ops), servername });
      assert.equal(r.clientError, undefined);
      assert.ok(r.ok);
      assert.equal(r.clientSawPeer, `spiffe://${TD}/control-plane`);
      assert.equal(r.serverSawPeer, `spiffe://${TD}/admin/ops`);
    });
  }

  describe('verifyPeerChain', () => {
    const chainOf = (c: Credentials): crypto.X509Certificate[] => parseCertificates(c.chainPem, 'chain');
    const codeOf = (fn: () => unknown): string | undefined => {
      try {
        fn();
        return undefined;
      } catch (err) {
        return (err as UserError).code;
      }
    };

    it('returns the SPIFFE ID and identity of a good chain (leaf + intermediate)', () => {
      const peer = verifyPeerChain(chainOf(loadServiceCredentials(pkiInter, 'beta')), loadTrustBundle(pkiInter).certs, { trustDomain: TD });
      assert.deepEqual(peer, { trustDomain: TD, identity: { kind: 'svc', name: 'beta' }, spiffeId: spiffe('beta') });
    });

    it('rejects another CA, a missing intermediate, an expired leaf, and a CA posing as a leaf (PKI012)', () => {
      const bundle = loadTrustBundle(pki).certs;
      assert.equal(codeOf(() => verifyPeerChain(chainOf(loadServiceCredentials(pkiOther, 'alpha')), bundle)), 'PKI012');
      const interLeafOnly = parseCertificates(loadServiceCredentials(pkiInter, 'alpha').certPem, 'cert');
      assert.equal(codeOf(() => verifyPeerChain(interLeafOnly, loadTrustBundle(pkiInter).certs)), 'PKI012');
      assert.throws(() => verifyPeerChain(chainOf(expired), bundle), /expired/);
      assert.equal(verifyPeerChain(chainOf(expired), bundle, { now: past(36) }).spiffeId, spiffe('alpha'));
      assert.equal(codeOf(() => verifyPeerChain(bundle, bundle)), 'PKI012');
      assert.equal(codeOf(() => verifyPeerChain([], bundle)), 'PKI012');
    });

    it('rejects a wrong trust domain or an unexpected SPIFFE ID (PKI013)', () => {
      const chain = chainOf(loadServiceCredentials(pki, 'alpha'));
      const bundle = loadTrustBundle(pki).certs;
      assert.equal(codeOf(() => verifyPeerChain(chain, bundle, { trustDomain: 'other.mesh' })), 'PKI013');
      assert.equal(codeOf(() => verifyPeerChain(chain, bundle, { expectSpiffeId: [spiffe('beta'), spiffe('gamma')] })), 'PKI013');
      assert.equal(verifyPeerChain(chain, bundle, { expectSpiffeId: [spiffe('beta'), spiffe('alpha')] }).spiffeId, spiffe('alpha'));
    });

    it('accepts exactly one spiffe:// URI SAN with a path', () => {
      assert.equal(codeOf(() => spiffeIdFromSan('URI:spiffe://a/svc/x, URI:spiffe://a/svc/y')), 'PKI013');
      assert.equal(codeOf(() => spiffeIdFromSan('DNS:x')), 'PKI013');
      assert.equal(codeOf(() => spiffeIdFromSan('URI:spiffe://a')), 'PKI013');
      assert.equal(codeOf(() => spiffeIdFromSan('URI:https://a/svc/x')), 'PKI013');
      // Node quotes values with special characters: a comma inside cannot smuggle in a second entry.
      assert.equal(codeOf(() => spiffeIdFromSan('URI:"spiffe://a/svc/x, URI:spiffe://a/svc/admin"')), 'PKI013');
      assert.equal(spiffeIdFromSan('DNS:x, URI:spiffe://a/svc/x').spiffeId, 'spiffe://a/svc/x');
    });
  });
});
