/** Data from files and nodes reaches a terminal only escaped, short, and never when it looks like a secret. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { escapeControls, excerpt, looksSecret } from '../../src/diag/excerpt';
import { formatText } from '../../src/diag/format';
import { formatStatus } from '../../src/cli/status';
import type { StatusReport } from '../../src/xds/control-plane';

const ESC = '\u001b';

test('mesh status escapes control characters a node put in its NACK message and its node id', () => {
  const report = {
    revision: 'r1',
    nodes: [
      {
        node: `evil${ESC}]0;pwned\u0007`,
        connected: true,
        connectedSince: '2026-12-06T00:00:00Z',
        nacked: true,
        types: { listeners: { acked: 'a', pending: 'b', current: 'b', lastNack: { version: 'b', message: `bad ${ESC}[2J${ESC}[31mred\r\nnext line` } } },
      },
    ],
  } as unknown as StatusReport;
  const text = formatStatus(report);
  assert.doesNotMatch(text, /[\u0000-\u0009\u000b-\u001f\u007f]/, 'only the table\'s own newlines');
  assert.match(text, /evil\\x1b\]0;pwned\\x07/);
  assert.match(text, /bad \\x1b\[2J\\x1b\[31mred\\r\\nnext line/);
});

test('diagnostics in text format escape control characters from files (file names, keys)', () => {
  const line = formatText({ file: `services/a${ESC}[8m.yml`, line: 1, col: 1, severity: 'error', code: 'MESH020', message: `unknown key "x${ESC}[2J"` });
  assert.equal(line, 'services/a\\x1b[8m.yml:1:1: error MESH020: unknown key "x\\x1b[2J"\n');
});

test('excerpts are short, escaped, and withheld when they look like key material or a token', () => {
  assert.equal(excerpt('short'), '"short"');
  assert.equal(excerpt('a'.repeat(100)), `"${'a'.repeat(24)}…"`);
  assert.equal(excerpt(`x${ESC}y`), '"x\\x1by"');
  for (const secret of [
    '-----BEGIN RSA PRIVATE KEY-----',
    '//registry.npmjs.org/:_authToken=npm_A1b2C3d4E5f6G7h8I9j0',
    'ghp_abcdefghijklmnopqrstuvwxyz0123456789',
    'AKIAIOSFODNN7EXAMPLE',
    'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig',
    'MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7',
    'password: hunter2',
  ]) {
    assert.ok(looksSecret(secret), secret);
    assert.match(excerpt(secret), /looks like a secret; not shown/);
    assert.ok(!excerpt(secret).includes(secret.slice(0, 12)), secret);
  }
  assert.equal(looksSecret('grant-pay'), false);
  assert.equal(escapeControls('a\nb', true), 'a\nb');
  assert.equal(escapeControls('a\u2028b\u009b'), 'a\\u2028b\\x9b');
});
