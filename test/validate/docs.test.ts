import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { it } from 'node:test';
import { PACKAGE_ROOT } from '../../src/paths';
import { ENVOY_CODES } from '../../src/validate';

it('docs/validate.md documents every ENVOY code, and no other', () => {
  const doc = fs.readFileSync(path.join(PACKAGE_ROOT, 'docs', 'validate.md'), 'utf8');
  const documented = [...doc.matchAll(/^\| (ENVOY\d{3}) \|/gm)].map((m) => m[1]).sort();
  assert.deepEqual(documented, Object.values(ENVOY_CODES).sort());
});
