/**
 * Files that are not what they look like: devices, FIFOs, folders named like
 * manifests, links out of the mesh directory, files larger than stat says,
 * CR-only line endings, bad bytes. Each is read at most once, bounded, and
 * reported at its place; none hangs, none is read forever, none is echoed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { lintMesh } from '../../src/lint';
import { firstInvalidUtf8Offset, MAX_FILE_BYTES, readRegularFile } from '../../src/config/source-file';
import { readMeshSources } from '../../src/xds/control-plane';
import { UserError } from '../../src/diag/errors';
import { PACKAGE_ROOT } from '../../src/paths';
import { copyExample } from '../helpers/mesh-dir';

const MESH = path.join(PACKAGE_ROOT, 'bin/mesh.js');

function lintCodes(dir: string): string[] {
  return lintMesh(dir).diagnostics.filter((d) => d.severity === 'error').map((d) => `${path.relative(dir, d.file)}:${d.line}:${d.col} ${d.code} ${d.message}`);
}

function withMesh(fn: (dir: string) => void | Promise<void>): () => Promise<void> {
  return async () => {
    const { dir, cleanup } = copyExample();
    try {
      await fn(dir);
    } finally {
      cleanup();
    }
  };
}

/** `mesh lint` in a child, so that a hang is a failed test, not a hung suite. */
async function lintChild(dir: string, timeoutMs = 20_000): Promise<{ code: number | null; out: string; timedOut: boolean }> {
  const child = spawn(process.execPath, [MESH, 'lint', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, timeoutMs);
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  clearTimeout(timer);
  return { code, out, timedOut };
}

test('a manifest that is /dev/zero through a symlink is refused at once: only regular files are read', withMesh(async (dir) => {
  const file = path.join(dir, 'services', 'zero.yml');
  fs.symlinkSync('/dev/zero', file);
  // Inside the mesh rules (MESH007) would refuse the link first: follow external links to reach the device check.
  process.env.MESH_FOLLOW_EXTERNAL_LINKS = '1';
  try {
    assert.deepEqual(lintCodes(dir).filter((l) => l.startsWith('services/zero.yml')), ['services/zero.yml:1:1 MESH003 cannot read file: it is a character device, not a regular file; only regular files are read']);
  } finally {
    delete process.env.MESH_FOLLOW_EXTERNAL_LINKS;
  }
  const r = await lintChild(dir);
  assert.equal(r.timedOut, false);
  assert.equal(r.code, 2, r.out);
  assert.match(r.out, /services\/zero\.yml:1:1: error MESH007: file is a symbolic link to a file outside the mesh directory/);
}));

test('a FIFO named like a manifest does not hang lint, build or apply', withMesh(async (dir) => {
  const fifo = path.join(dir, 'services', 'pipe.yml');
  const made = spawnSync('mkfifo', [fifo]);
  assert.equal(made.status, 0, String(made.stderr));
  const r = await lintChild(dir);
  assert.equal(r.timedOut, false, 'lint returned');
  assert.equal(r.code, 2, r.out);
  assert.match(r.out, /services\/pipe\.yml:1:1: error MESH003: cannot read file: it is a FIFO \(named pipe\), not a regular file/);
  const b = spawnSync(process.execPath, [MESH, 'build', dir, '--out', path.join(dir, 'out')], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(b.status, 1, b.stdout + b.stderr);
  assert.equal(fs.existsSync(path.join(dir, 'out')), false);
  assert.throws(() => readMeshSources(dir), (e: unknown) => e instanceof UserError && e.code === 'MESH003' && /pipe\.yml: cannot read file: it is a FIFO/.test(e.message));
}));

test('the size limit holds while reading, not by stat alone: a file whose stat says 0 bytes is cut at the limit', withMesh((dir) => {
  const big = path.join(dir, 'services', 'big.yml');
  fs.writeFileSync(big, '');
  fs.truncateSync(big, MAX_FILE_BYTES + 1);
  assert.match(lintCodes(dir).find((l) => l.startsWith('services/big.yml')) ?? '', /MESH004 file is 8388609 bytes; the limit is 8388608 bytes/);
  // /dev/urandom says size 0 and never ends: the reader refuses it as a device before reading a byte.
  const r = readRegularFile('/dev/urandom', 'urandom.yml');
  assert.ok(!Buffer.isBuffer(r) && r.code === 'MESH003');
  // /proc files say size 0 and are regular: read, bounded, whatever their length.
  const proc = readRegularFile('/proc/self/status', 'status.yml');
  assert.ok(Buffer.isBuffer(proc) && proc.length > 0 && proc.length <= MAX_FILE_BYTES);
  assert.equal(fs.statSync('/proc/self/status').size, 0, 'stat says 0 bytes');
  // With a limit below its length, reading stops one byte past the limit.
  const capped = readRegularFile('/proc/self/status', 'status.yml', { maxBytes: 100 });
  assert.ok(!Buffer.isBuffer(capped) && capped.code === 'MESH004' && /file is more than 100 bytes/.test(capped.message));
}));

test('a folder named services/x.yml is an error, not silently skipped', withMesh((dir) => {
  fs.mkdirSync(path.join(dir, 'services', 'x.yml'));
  assert.deepEqual(lintCodes(dir), ['services/x.yml:1:1 MESH003 cannot read file: it is a directory, not a file']);
}));

test('a symlinked manifest that leaves the mesh directory is not read, and nothing of its content is echoed (MESH007)', withMesh(async (dir) => {
  const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'hms-secret-'));
  try {
    const token = 'npm_' + 'A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8';
    fs.writeFileSync(path.join(outside, 'npmrc'), `//registry.npmjs.org/:_authToken=${token}\n`);
    fs.symlinkSync(path.join(outside, 'npmrc'), path.join(dir, 'services', 'evil.yml'));
    const lines = lintCodes(dir);
    assert.deepEqual(lines, ['services/evil.yml:1:1 MESH007 file is a symbolic link to a file outside the mesh directory; it was not read']);
    // Followed on request: the schema error shows at most a short excerpt, and never a token.
    process.env.MESH_FOLLOW_EXTERNAL_LINKS = '1';
    try {
      const followed = lintMesh(dir).diagnostics.map((d) => `${d.message} ${d.hint ?? ''}`).join('\n');
      assert.doesNotMatch(followed, /npm_A1b2|_authToken=/);
    } finally {
      delete process.env.MESH_FOLLOW_EXTERNAL_LINKS;
    }
    // A link that stays inside the mesh directory is read as usual.
    fs.rmSync(path.join(dir, 'services', 'evil.yml'));
    fs.mkdirSync(path.join(dir, 'shared'));
    fs.renameSync(path.join(dir, 'services', 'public-docs.yml'), path.join(dir, 'shared', 'public-docs.yml'));
    fs.symlinkSync('../shared/public-docs.yml', path.join(dir, 'services', 'public-docs.yml'));
    assert.deepEqual(lintCodes(dir), []);
  } finally {
    fs.rmSync(outside, { recursive: true, force: true });
  }
}));

test('CR-only line endings read as line breaks (YAML says so), with the same positions as LF', withMesh((dir) => {
  const file = path.join(dir, 'services', 'public-docs.yml');
  const lf = fs.readFileSync(file, 'utf8');
  const before = lintMesh(dir);
  fs.writeFileSync(file, lf.replace(/\n/g, '\r'));
  const after = lintMesh(dir);
  assert.deepEqual(after.diagnostics, before.diagnostics);
  assert.deepEqual(after.model?.services.find((s) => s.name === 'public-docs'), before.model?.services.find((s) => s.name === 'public-docs'));
  // And a CR-only file with an error points at the right line.
  fs.writeFileSync(file, lf.replace(/\n/g, '\r').replace('public-docs', 'Public Docs!'));
  const bad = lintCodes(dir);
  const lfLine = lf.split('\n').findIndex((l) => l.includes('public-docs')) + 1;
  assert.ok(bad.some((l) => l.startsWith(`services/public-docs.yml:${lfLine}:`)), bad.join('\n'));
}));

test('a bad byte is reported with its value and offset', withMesh((dir) => {
  const file = path.join(dir, 'services', 'public-docs.yml');
  const text = fs.readFileSync(file, 'utf8');
  const at = text.indexOf('\n', text.indexOf('\n') + 1) + 3; // line 3, after its first character
  // A valid 2-byte letter before it (é), then a lone 0xE9 (Latin-1 é) followed by ASCII.
  const bytes = Buffer.concat([Buffer.from(text.slice(0, at - 1), 'utf8'), Buffer.from('#é', 'utf8'), Buffer.from([0xe9, 0x41]), Buffer.from(text.slice(at - 1), 'utf8')]);
  fs.writeFileSync(file, bytes);
  const offset = Buffer.byteLength(text.slice(0, at - 1), 'utf8') + 3;
  assert.deepEqual(lintCodes(dir), [`services/public-docs.yml:3:4 MESH005 file is not valid UTF-8 (bad byte 0xe9 at offset ${offset})`]);
  // The scanner on its own: truncated, overlong, surrogate and out-of-range sequences.
  assert.equal(firstInvalidUtf8Offset(Buffer.from([0x61, 0xe2, 0x82])), 1);
  assert.equal(firstInvalidUtf8Offset(Buffer.from([0xc0, 0xaf])), 0);
  assert.equal(firstInvalidUtf8Offset(Buffer.from([0x61, 0x62, 0xed, 0xa0, 0x80])), 2);
  assert.equal(firstInvalidUtf8Offset(Buffer.from([0xf4, 0x90, 0x80, 0x80])), 0);
  assert.equal(firstInvalidUtf8Offset(Buffer.from('héllo ✓ 😀', 'utf8')), Buffer.byteLength('héllo ✓ 😀'));
}));
