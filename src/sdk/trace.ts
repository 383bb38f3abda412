/**
 * Trace ids. Every call carries one in `x-trace`: the id of the request being
 * handled when the call is made from inside a handler (so a whole call chain
 * shares one id), else a fresh one. Handlers wrapped by the SDK run inside an
 * AsyncLocalStorage context holding the incoming id, so onward calls pick it
 * up without the app passing it along.
 *
 * Behind an Envoy sidecar the id is Envoy's request id: the sidecar keeps an
 * `x-request-id` the app sends (requests from loopback are internal), puts it
 * in its access log as `trace_id`, and returns it to the app as `x-trace`
 * (docs/compiler.md).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';

export const TRACE_HEADER = 'x-trace';
/** Envoy's request id header: what a sidecar propagates and logs. */
export const REQUEST_ID_HEADER = 'x-request-id';

export interface TraceContext {
  readonly trace: string;
  /** The caller's SPIFFE ID, when the handler was reached over mTLS. */
  readonly caller?: string;
}

const storage = new AsyncLocalStorage<TraceContext>();

/** 128 random bits in hex, the size of a W3C trace id. */
export function newTraceId(): string {
  return randomBytes(16).toString('hex');
}

/** The trace id of the request being handled, if any. */
export function currentTrace(): string | undefined {
  return storage.getStore()?.trace;
}

export function currentContext(): TraceContext | undefined {
  return storage.getStore();
}

/** The id an outgoing call should carry: the current one, else a new one. */
export function traceForOutgoingCall(): string {
  return currentTrace() ?? newTraceId();
}

export function runWithTrace<T>(ctx: TraceContext, fn: () => T): T {
  return storage.run(ctx, fn);
}

/** Accepts what a peer sent only if it looks like an id (no header injection through logs). */
export function sanitizeTrace(value: unknown): string | undefined {
  const s = Array.isArray(value) ? value[0] : value;
  if (typeof s !== 'string' && !Buffer.isBuffer(s)) return undefined;
  const text = s.toString();
  return /^[A-Za-z0-9._-]{1,128}$/.test(text) ? text : undefined;
}

/** `[TRACE 1a2b3c] xds:///grant-pay Payout OK 0.012s`, the chapter's sidecar log line. */
export function traceLine(trace: string, target: string, what: string, outcome: string, elapsedMs: number): string {
  return `[TRACE ${trace.slice(0, 6)}] ${target} ${what} ${outcome} ${(elapsedMs / 1000).toFixed(3)}s\n`;
}
