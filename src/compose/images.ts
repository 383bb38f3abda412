/**
 * The container images of the real-Envoy composition, pinned here and nowhere
 * else: the rendered docker-compose.yml, the availability check of
 * `npm run test:envoy` and docs/envoy.md all read these constants.
 *
 * ENVOY_IMAGE is the official image (docker.io/envoyproxy/envoy) at an exact
 * patch release, never a floating `-latest` tag, so a run next year starts
 * the Envoy the suite was written against. Changing the version is a
 * one-line change here followed by `mesh build examples/ceq --target compose
 * --out envoy/ceq` (the committed rendering is checked by a unit test).
 */
export const ENVOY_VERSION = 'v1.31.10';
export const ENVOY_IMAGE = `envoyproxy/envoy:${ENVOY_VERSION}`;

/**
 * The control plane and the example apps run on Node (the repository is
 * mounted read-only; its dependencies are pure JavaScript, so the host's
 * node_modules work inside the Linux container). Major version as in
 * package.json "engines".
 */
export const NODE_IMAGE = 'node:20-bookworm-slim';
