/**
 * The guards `mesh build` relies on (isPathInside, assertNoKeyMaterial) and
 * the atomic private write.
 */
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { UserError } from '../../src/diag/errors';
import { assertNoKeyMaterial, findKeyMaterial, isPathInside } from '../../src/pki';
import { ensurePrivateDir, writeFileAtomic } from '../../src/pki/fs-secure';
import { listTree, modeOf, tempDir } from './helpers';

const pkcs8 = (): string =>
  crypto.generateKeyPairSync('ec', { namedCurve: 'P-256', privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } }).privateKey;
const pkcs1 = (): string => crypto.createPrivateKey(pkcs8()).export({ type: 'sec1', format: 'pem' }).toString();

describe('isPathInside', () => {
  it('accepts the folder itself and anything below it, rejects siblings and parents', (t) => {
    const root = tempDir(t);
    const out = path.join(root, 'out');
    fs.mkdirSync(out);
    assert.equal(isPathInside(out, out), true);
    assert.equal(isPathInside(path.join(out, 'a/b/not-yet-created'), out), true);
    assert.equal(isPathInside(path.join(out, '..', 'pki'), out), false);
    assert.equal(isPathInside(`${out}-sibling/x`, out), false, 'a shared name prefix is not containment');
    assert.equal(isPathInside(root, out), false);
    assert.equal(isPathInside(path.join(out, '..foo'), out), true, "'..foo' is a file name, not a parent");
  });

  it('judges symbolic links by where they point', (t) => {
    const root = tempDir(t);
    const out = path.join(root, 'out');
    const pki = path.join(root, 'pki');
    fs.mkdirSync(out);
    fs.mkdirSync(pki);
    fs.symlinkSync(pki, path.join(out, 'escape'));
    fs.symlinkSync(out, path.join(root, 'out-link'));
    assert.equal(isPathInside(path.join(out, 'escape', 'key.pem'), out), false);
    assert.equal(isPathInside(path.join(root, 'out-link', 'pki'), out), true);
  });

  it('holds for generated relative paths (property)', (t) => {
    const out = path.join(tempDir(t), 'out');
    const segment = fc.stringMatching(/^[a-z0-9_-]{1,8}$/);
    fc.assert(
      fc.property(fc.array(segment, { maxLength: 5 }), segment, (segs, name) => {
        assert.equal(isPathInside(path.join(out, ...segs), out), true);
        assert.equal(isPathInside(path.join(out, ...segs, ...segs.map(() => '..'), '..', name), out), false);
      }),
    );
  });
});

describe('assertNoKeyMaterial', () => {
  it('passes a folder with certificates and config only, and a folder that does not exist', (t) => {
    const out = tempDir(t);
    fs.mkdirSync(path.join(out, 'envoy'));
    fs.writeFileSync(path.join(out, 'envoy/bootstrap.yaml'), 'tls_certificate_sds_secret_configs: []\n');
    fs.writeFileSync(path.join(out, 'ca.pem'), '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    assertNoKeyMaterial(out);
    assertNoKeyMaterial(path.join(out, 'missing'));
  });

  it('finds PEM keys (PKCS#8, SEC1), base64-wrapped PEM and keys behind symbolic links, and fails with PKI014 / exit 1', (t) => {
    const out = tempDir(t);
    const elsewhere = tempDir(t);
    fs.mkdirSync(path.join(out, 'deep/er'), { recursive: true });
    fs.writeFileSync(path.join(out, 'deep/er/key.pem'), pkcs8());
    fs.writeFileSync(path.join(out, 'ec.key'), pkcs1());
    fs.writeFileSync(path.join(out, 'secret.json'), JSON.stringify({ inline_bytes: Buffer.from(pkcs8()).toString('base64') }));
    fs.writeFileSync(path.join(out, 'inline.yaml'), `inline_string: ${JSON.stringify(pkcs8())}\n`);
    fs.writeFileSync(path.join(elsewhere, 'key.pem'), pkcs8());
    fs.symlinkSync(path.join(elsewhere, 'key.pem'), path.join(out, 'link.pem'));
    fs.symlinkSync(elsewhere, path.join(out, 'dir-link')); // not followed: no loops
    fs.writeFileSync(path.join(out, 'clean.txt'), 'nothing here');
    assert.deepEqual(findKeyMaterial(out), ['deep/er/key.pem', 'ec.key', 'inline.yaml', 'link.pem', 'secret.json']);
    assert.throws(
      () => assertNoKeyMaterial(out),
      (err: unknown) => err instanceof UserError && err.code === 'PKI014' && err.exitCode === 1 && /deep\/er\/key\.pem/.test(err.message),
    );
  });
});

describe('private writes', () => {
  it('writes atomically with mode 0600 whatever the umask, replacing the old content', (t) => {
    const dir = path.join(tempDir(t), 'a', 'b');
    const old = process.umask(0);
    try {
      ensurePrivateDir(dir);
      writeFileAtomic(path.join(dir, 'key.pem'), 'one', 0o600);
      writeFileAtomic(path.join(dir, 'key.pem'), 'two', 0o600);
    } finally {
      process.umask(old);
    }
    assert.equal(fs.readFileSync(path.join(dir, 'key.pem'), 'utf8'), 'two');
    assert.equal(modeOf(path.join(dir, 'key.pem')), 0o600);
    assert.equal(modeOf(dir), 0o700);
    assert.equal(modeOf(path.dirname(dir)), 0o700);
    assert.deepEqual(listTree(dir), ['key.pem']);
  });

  it('leaves the mode of a folder that already existed alone', (t) => {
    const dir = tempDir(t);
    fs.chmodSync(dir, 0o755);
    ensurePrivateDir(dir);
    assert.equal(modeOf(dir), 0o755);
  });
});
