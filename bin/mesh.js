#!/usr/bin/env node
'use strict';
// Thin launcher: the CLI is compiled to dist/ by `npm run build`.
require('../dist/src/cli/main.js').main(process.argv).then((code) => { process.exitCode = code; });
