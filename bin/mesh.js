#!/usr/bin/env node
'use strict';
// Thin launcher: the CLI is compiled to dist/ by `npm run build`.
// Node 20.15 is the oldest with what the build cache and the apply use (zlib.crc32,
// crypto.hash): say so plainly rather than fail later with a TypeError.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 15)) {
  process.stderr.write(`mesh: Node.js ${process.versions.node} is too old: HMS-SVC needs Node.js 20.15 or later (package.json "engines")\n`);
  process.exit(1);
}
require('../dist/src/cli/main.js').main(process.argv).then((code) => { process.exitCode = code; });
