/**
 * The package entry (`main` in package.json): the SDK applications use, and
 * nothing heavy. The compiler, PKI and control plane are reached through the
 * `mesh` CLI (bin/mesh.js), not from here.
 */
export * from './sdk';
