/**
 * Issue 16, docs: docs/sdk.md shows the server side too. Each ```ts block
 * marked `<!-- from <file> -->` must be that example app's code, line for line
 * (in order, blank lines and leading indentation aside), so the snippet is
 * what tsc compiles and the e2e tests and `npm start` run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PACKAGE_ROOT } from '../../src/paths';

const doc = fs.readFileSync(path.join(PACKAGE_ROOT, 'docs', 'sdk.md'), 'utf8');
const blocks = [...doc.matchAll(/^<!-- from (\S+) -->\n```ts\n([^]*?)\n```$/gm)].map((m) => ({ file: m[1]!, code: m[2]! }));

test('docs/sdk.md has a server-side example for both kinds of member', () => {
  const files = blocks.map((b) => b.file).sort();
  assert.deepEqual(files, ['examples/ceq/apps/grpc/grant-pay.ts', 'examples/ceq/apps/http/grant-pay.ts']);
  assert.match(doc, /^## Serving: the callee side$/m);
});

for (const { file, code } of blocks) {
  test(`the docs/sdk.md snippet from ${file} is that file's code`, () => {
    const source = fs.readFileSync(path.join(PACKAGE_ROOT, file), 'utf8').split('\n').map((l) => l.trim());
    let at = 0;
    for (const line of code.split('\n').map((l) => l.trim()).filter((l) => l !== '' && l !== '// ...')) {
      const found = source.indexOf(line, at);
      assert.ok(found >= 0, `not in ${file} (after line ${at}): ${line}`);
      at = found + 1;
    }
  });
}
