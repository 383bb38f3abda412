import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { PACKAGE_ROOT } from '../../src/paths';
import { NODE_DIR } from './helpers';

const MESH = path.join(PACKAGE_ROOT, 'bin', 'mesh.js');

function mesh(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MESH, ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'mesh-validate-'));
}

describe('mesh validate', () => {
  it('exits 0 on the valid node folder', () => {
    const r = mesh('validate', NODE_DIR);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /0 error\(s\), 0 warning\(s\) in 6 file\(s\), 1 node\(s\)/);
  });

  it('prints file:line:col, code, message and path for YAML input, exit 1', () => {
    const dir = tempDir();
    const file = path.join(dir, 'cluster.yaml');
    fs.writeFileSync(
      file,
      [
        '"@type": type.googleapis.com/envoy.config.cluster.v3.Cluster',
        'name: web',
        'connect_timeout: 1s',
        'outlier_detection:',
        '  interval: -1s',
        '  consecutive_5xxx: 5',
        '',
      ].join('\n'),
    );
    const r = mesh('validate', file);
    assert.equal(r.code, 1);
    const lines = r.stdout.split('\n').filter((l) => !l.startsWith('    hint:') && l !== '');
    assert.deepEqual(lines, [
      `${file}:5:3: error ENVOY012: OutlierDetection.interval: duration must be greater than 0s (got -1s) (outlier_detection.interval)`,
      `${file}:6:3: error ENVOY001: unknown field "consecutive_5xxx" in envoy.config.cluster.v3.OutlierDetection (outlier_detection.consecutive_5xxx)`,
    ]);
  });

  it('gives JSON positions too, and --format json', () => {
    const dir = tempDir();
    const file = path.join(dir, 'clusters.json');
    const text = fs.readFileSync(path.join(NODE_DIR, 'clusters.json'), 'utf8').replace('"LEAST_REQUEST"', '"LEAST"');
    fs.writeFileSync(file, text);
    const r = mesh('validate', '--format', 'json', file);
    assert.equal(r.code, 1);
    const report = JSON.parse(r.stdout) as { diagnostics: { code: string; line: number; col: number; path: string }[]; errors: number };
    assert.equal(report.errors, 1);
    const line = text.split('\n').findIndex((l) => l.includes('"LEAST"')) + 1;
    assert.deepEqual(
      report.diagnostics.map((d) => [d.code, d.line, d.path]),
      [['ENVOY003', line, 'resources[0].lb_policy']],
    );
  });

  it('cross-references all files of one folder as one node', () => {
    const dir = path.join(tempDir(), 'node-a');
    fs.cpSync(NODE_DIR, dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'secrets.json'), JSON.stringify({ version_info: '1', resources: [] }));
    const r = mesh('validate', path.dirname(dir));
    assert.equal(r.code, 1);
    assert.equal(r.stdout.match(/ENVOY033/g)?.length, 8, r.stdout);
  });

  it('reports YAML syntax errors with their position', () => {
    const file = path.join(tempDir(), 'broken.yaml');
    fs.writeFileSync(file, 'resources:\n  - name: [a,\n');
    const r = mesh('validate', file);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /broken\.yaml:\d+:\d+: error ENVOY040: cannot parse/);
  });

  it('exits 2 for missing inputs and bad usage', () => {
    assert.equal(mesh('validate', path.join(tempDir(), 'nope.yaml')).code, 2);
    assert.equal(mesh('validate', '--format', 'xml', NODE_DIR).code, 2);
    assert.equal(mesh('validate').code, 2);
  });
});
