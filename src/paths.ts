import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * The package root (where package.json, schemas/ and templates/ live).
 * Compiled code runs from dist/src/..., sources from src/...: walk up instead
 * of hard-coding a depth so both work.
 */
function findPackageRoot(): string {
  let dir = __dirname;
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'schemas'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`hms-svc: cannot find package root above ${__dirname}`);
    dir = parent;
  }
}

export const PACKAGE_ROOT = findPackageRoot();
export const SCHEMAS_DIR = path.join(PACKAGE_ROOT, 'schemas');
export const TEMPLATES_DIR = path.join(PACKAGE_ROOT, 'templates');
export const EXAMPLES_DIR = path.join(PACKAGE_ROOT, 'examples');
/** Envoy API protos shipped by @grpc/grpc-js-xds (pinned in package.json). */
export const XDS_DEPS_DIR = path.join(path.dirname(require.resolve('@grpc/grpc-js-xds/package.json')), 'deps');
