/**
 * Small pure pieces: durations, SPIFFE IDs, serial numbers (with properties).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { formatDuration, identitySpiffeId, parseDuration, parseSpiffeId, service, admin, controlPlane } from '../../src/pki';
import { randomSerialHex } from '../../src/pki/x509';

describe('durations', () => {
  it('parses s, m, h, d, y and rejects everything else with PKI008', () => {
    assert.equal(parseDuration('24h'), 86_400_000);
    assert.equal(parseDuration('90m'), 5_400_000);
    assert.equal(parseDuration('1.5h'), 5_400_000);
    assert.equal(parseDuration('365d'), 365 * 86_400_000);
    assert.equal(parseDuration('1y'), 365 * 86_400_000);
    for (const bad of ['24', 'h', '-1h', '0h', '1w', '1 day', '']) {
      assert.throws(() => parseDuration(bad, '--validity'), (e: Error & { code?: string }) => e.code === 'PKI008' && e.message.includes('--validity'), bad);
    }
  });

  it('formats for people', () => {
    assert.equal(formatDuration(8 * 3_600_000), '8h');
    assert.equal(formatDuration(90_061_000), '1d 1h 1m');
    assert.equal(formatDuration(-3_600_000), '-1h');
    assert.equal(formatDuration(5_000), '5s');
  });
});

describe('SPIFFE IDs', () => {
  it('round-trips every identity kind (property)', () => {
    const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?$/);
    const td = fc.stringMatching(/^[a-z0-9][a-z0-9.-]{0,20}$/);
    fc.assert(
      fc.property(td, label, fc.constantFrom('svc', 'admin', 'cp'), (trustDomain, name, kind) => {
        const id = kind === 'svc' ? service(name) : kind === 'admin' ? admin(name) : controlPlane;
        assert.deepEqual(parseSpiffeId(identitySpiffeId(trustDomain, id)), { trustDomain, identity: id });
      }),
    );
  });

  it('rejects what is not a SPIFFE ID and leaves foreign paths without an identity', () => {
    for (const bad of ['https://td/svc/a', 'spiffe://', 'spiffe://TD/svc/a', 'spiffe://td/svc/a?x=1', 'spiffe://td/svc/a#f', 'spiffe://td/a b']) {
      assert.equal(parseSpiffeId(bad), undefined, bad);
    }
    assert.deepEqual(parseSpiffeId('spiffe://td/ns/default/sa/x'), { trustDomain: 'td', identity: undefined });
    assert.equal(identitySpiffeId('ceq.gov', service('grant-pay')), 'spiffe://ceq.gov/svc/grant-pay');
  });
});

describe('serial numbers', () => {
  it('are positive, minimally encoded and at most 16 bytes (property)', () => {
    fc.assert(
      fc.property(fc.constant(null), () => {
        const hex = randomSerialHex();
        assert.equal(hex.length % 2, 0);
        assert.ok(hex.length <= 32 && hex.length >= 2);
        const first = parseInt(hex.slice(0, 2), 16);
        assert.ok(first < 0x80, 'top bit clear: a positive INTEGER');
        // DER: a leading 0x00 octet is only allowed (and needed) before an octet >= 0x80.
        if (hex.length > 2 && first === 0) assert.ok(parseInt(hex.slice(2, 4), 16) >= 0x80, hex);
      }),
      { numRuns: 5000 },
    );
  });

  it('do not repeat', () => {
    const seen = new Set(Array.from({ length: 10_000 }, randomSerialHex));
    assert.equal(seen.size, 10_000);
  });
});
