/** The cap on a per-call deadline, shared by the routes to mesh services (route.ts) and to external systems (external.ts). */
import { duration, type JsonObject } from './proto-json';

/**
 * How far past the route's timeout the cap sits. Envoy starts the route
 * timeout once the request has been read and the stream duration when the
 * stream starts: with equal values the cap would always fire first and the
 * policy's own timeout would lose its UT flag (mesh.timeout, the tap).
 */
export const DEADLINE_CAP_SLACK_MS = 100;

/**
 * A per-call deadline may only shorten the route's timeout (docs/sdk.md,
 * "Deadlines"). The local app's x-envoy-upstream-rq-timeout-ms is honoured on
 * the outbound listener (listener.ts), and Envoy lets it replace the route
 * timeout, longer or shorter; the stream's max duration caps a longer one at
 * the timeout (+ DEADLINE_CAP_SLACK_MS), answered 504 `x-mesh-error: timeout`.
 * `request: none` (0) has nothing to cap.
 */
export function deadlineCap(timeoutMs: number): JsonObject {
  return timeoutMs > 0 ? { max_stream_duration: { max_stream_duration: duration(timeoutMs + DEADLINE_CAP_SLACK_MS) } } : {};
}
