/**
 * Every shell block of README.md and docs/*.md marked `<!-- runnable -->` is
 * run, as written, on a temp copy of the repository's examples/, out/ and
 * envoy/ (cwd: that copy, `mesh` and `node bin/mesh.js` both reach this
 * checkout's CLI), and must exit 0, or the code the marker names
 * (`<!-- runnable: exit 1 -->`). So the commands a new user copies from the
 * docs keep working. Only cheap, deterministic commands are marked (lint,
 * build, validate, explain, graph, certs); never `mesh serve`, Docker or Envoy.
 * The convention is described in README.md ("Development").
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PACKAGE_ROOT } from '../../src/paths';

interface RunnableBlock {
  readonly file: string;
  readonly line: number;
  readonly script: string;
  readonly exit: number;
}

const MARKER = /^<!-- runnable(?:: exit (\d+))? -->$/;
const SHELL_FENCE = /^```(sh|bash|shell)$/;
/** Long-running or environment-bound commands: marking them runnable is a mistake the test reports. */
const NOT_RUNNABLE = /\bmesh serve\b|\bdocker\b|\benvoy -c\b|\bnpm (ci|test|start|run bench)\b/;
/** Copied into each block's folder: what the documented commands read. */
const COPIED = ['examples', 'out', 'envoy'];

export function runnableBlocks(file: string, text: string): { blocks: RunnableBlock[]; problems: string[] } {
  const lines = text.split('\n');
  const blocks: RunnableBlock[] = [];
  const problems: string[] = [];
  lines.forEach((l, i) => {
    const m = MARKER.exec(l.trim());
    if (!m) return;
    const fence = lines[i + 1] ?? '';
    if (!SHELL_FENCE.test(fence.trim())) {
      problems.push(`${file}:${i + 1}: a runnable marker must be followed directly by a \`\`\`sh or \`\`\`bash block`);
      return;
    }
    const end = lines.findIndex((x, j) => j > i + 1 && x.trim() === '```');
    if (end < 0) {
      problems.push(`${file}:${i + 2}: unclosed block`);
      return;
    }
    const script = lines.slice(i + 2, end).join('\n');
    if (NOT_RUNNABLE.test(script)) problems.push(`${file}:${i + 2}: a runnable block may not run ${NOT_RUNNABLE.exec(script)![0]}`);
    blocks.push({ file, line: i + 2, script, exit: m[1] !== undefined ? Number(m[1]) : 0 });
  });
  return { blocks, problems };
}

function docFiles(): string[] {
  const docs = fs.readdirSync(path.join(PACKAGE_ROOT, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => path.join('docs', f));
  return ['README.md', ...docs];
}

/** A folder with copies of what the commands read, and `mesh` on PATH. */
function workspace(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hms-docs-'));
  for (const d of COPIED) fs.cpSync(path.join(PACKAGE_ROOT, d), path.join(dir, d), { recursive: true });
  // The PKI stores of a developer's checkout are not copied: a block starts from the committed state.
  for (const ex of fs.readdirSync(path.join(dir, 'examples'))) fs.rmSync(path.join(dir, 'examples', ex, 'pki'), { recursive: true, force: true });
  fs.mkdirSync(path.join(dir, 'bin'));
  fs.symlinkSync(path.join(PACKAGE_ROOT, 'bin', 'mesh.js'), path.join(dir, 'bin', 'mesh.js'));
  fs.mkdirSync(path.join(dir, '.bin'));
  fs.writeFileSync(path.join(dir, '.bin', 'mesh'), `#!/bin/sh\nexec "${process.execPath}" "${path.join(PACKAGE_ROOT, 'bin', 'mesh.js')}" "$@"\n`, { mode: 0o755 });
  return dir;
}

function run(block: RunnableBlock): Promise<{ code: number | null; output: string }> {
  const cwd = workspace();
  return new Promise((resolve) => {
    // -e: every command of the block must succeed (the last one decides a non-zero `exit N`).
    const child = spawn('bash', ['-e', '-o', 'pipefail', '-c', block.script], {
      cwd,
      env: { ...process.env, PATH: `${path.join(cwd, '.bin')}${path.delimiter}${process.env.PATH ?? ''}` },
    });
    let output = '';
    child.stdout.on('data', (b: Buffer) => (output += b.toString()));
    child.stderr.on('data', (b: Buffer) => (output += b.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      fs.rmSync(cwd, { recursive: true, force: true });
      resolve({ code, output });
    });
  });
}

const found = docFiles().map((f) => runnableBlocks(f, fs.readFileSync(path.join(PACKAGE_ROOT, f), 'utf8')));
const blocks = found.flatMap((f) => f.blocks);

test('runnable markers are well placed and mark only cheap, local commands', () => {
  assert.deepEqual(found.flatMap((f) => f.problems), []);
  assert.ok(blocks.length >= 6, `only ${blocks.length} runnable blocks`);
  assert.ok(blocks.some((b) => b.file === 'README.md'), 'README.md has a runnable block');
});

test('every runnable block of README.md and docs/ exits as documented', { timeout: 120_000 }, async () => {
  // A few at a time: each block spawns several CLI processes.
  const results: Array<{ block: RunnableBlock; code: number | null; output: string }> = [];
  const queue = [...blocks];
  await Promise.all(
    Array.from({ length: 3 }, async () => {
      for (let b = queue.shift(); b; b = queue.shift()) results.push({ block: b, ...(await run(b)) });
    }),
  );
  const failed = results.filter((r) => r.code !== r.block.exit);
  assert.deepEqual(
    failed.map((r) => `${r.block.file}:${r.block.line}: exit ${r.code}, expected ${r.block.exit}\n${r.output.slice(-1500)}`),
    [],
  );
});
