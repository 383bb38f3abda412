/**
 * The skeleton parser must give exactly what the YAML parser gives, for every
 * bootstrap of real meshes and for texts built to break it; anything it cannot
 * be sure of goes to the full parser.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import * as YAML from 'yaml';
import { compileMesh } from '../../src/envoy';
import { TemplateYamlParser } from '../../src/envoy/template-yaml';
import { lintMesh } from '../../src/lint';
import { EXAMPLES_DIR } from '../../src/paths';

test('every Envoy bootstrap of the examples parses to exactly what the YAML parser gives, with one skeleton parse per shape', () => {
  const parser = new TemplateYamlParser();
  let count = 0;
  for (const example of ['ceq', 'agency']) {
    const { model } = lintMesh(path.join(EXAMPLES_DIR, example));
    for (const node of compileMesh(model!).nodes) {
      if (node.kind !== 'envoy') continue;
      assert.deepEqual(parser.parse(node.bootstrap!.text), YAML.parse(node.bootstrap!.text), `${example}/${node.id}`);
      count++;
    }
  }
  assert.ok(count >= 10);
  assert.ok(parser.skeletonHits >= count - 4, `only ${parser.skeletonHits} of ${count} reused a skeleton`);
  assert.equal(parser.fullParses, 0);
});

test('texts the skeleton cannot be sure of fall back to the YAML parser, with its errors and values', () => {
  const parser = new TemplateYamlParser();
  const cases = [
    'a: "x"\nb: "y"\n',
    'a: "x"\nb: "y"\n', // same shape
    'a: "\\e"\n', // a YAML-only escape: JSON.parse refuses it
    'msg: it is "quoted" inside\nq: \'say "hi"\'\n', // literals inside plain and single-quoted scalars
    '# a "comment"\nk: "v"\n',
    '"k1": 1\n"k2": 2\n',
    'list: ["a", "b", {"c": "d"}]\n',
    'a: "\uE000"\n', // our marker characters in the text itself
  ];
  for (const text of cases) assert.deepEqual(parser.parse(text), YAML.parse(text), text);
  // Duplicate keys after substitution are reported by the real parser.
  parser.parse('"a": 1\n"b": 2\n');
  assert.throws(() => parser.parse('"a": 1\n"a": 2\n'), /unique/i);
});
