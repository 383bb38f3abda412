/**
 * The sidecar side: an HTTP member calls other services through its Envoy's
 * outbound listener on 127.0.0.1 (plain HTTP; the sidecar does discovery,
 * mTLS, retries, circuit breaking), naming the callee in the Host header, and
 * its handlers run inside the trace context of the request the sidecar
 * forwarded.
 */
import * as http from 'node:http';
import { MeshCallError } from './errors';
import { newTraceId, REQUEST_ID_HEADER, runWithTrace, sanitizeTrace, TRACE_HEADER, traceForOutgoingCall, traceLine } from './trace';
import type { CallOptions } from './grpc';

export interface HttpResult<T> {
  /** The HTTP status; a 5xx is a result, not an exception (like `requests`). */
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  /** Parsed JSON when the response says so, else the text. */
  readonly body: T;
  /** `x-trace` from the sidecar (its request id), else the id this call sent. */
  readonly trace: string;
  readonly elapsedMs: number;
  /**
   * Set when the caller's own sidecar answered instead of the callee (its
   * `x-mesh-error` header, src/envoy/listener.ts): `circuit-open` (no instance
   * of the callee can take calls: the circuit breaker ejected them all, or none
   * is registered), `timeout` (the request timeout passed), `no-route` (not a
   * callee this service declares), `guardrail` (a compliance guardrail rule
   * refused the request, named in `x-mesh-guardrail`; the callee saw nothing).
   * Undefined for every answer of the callee.
   */
  readonly meshError?: MeshErrorKind;
}

export type MeshErrorKind = 'circuit-open' | 'timeout' | 'no-route' | 'guardrail';
const MESH_ERRORS: readonly string[] = ['circuit-open', 'timeout', 'no-route', 'guardrail'];

/** The per-call deadline handed to the sidecar (honoured from the local app only, and only to shorten the route's timeout). */
export const TIMEOUT_HEADER = 'x-envoy-upstream-rq-timeout-ms';
/** How much longer than the deadline the app waits for the sidecar's own 504 (it says what happened) before giving up itself. */
export const DEADLINE_GRACE_MS = 1000;

export interface HttpRequestOptions extends CallOptions {
  readonly headers?: Readonly<Record<string, string>>;
}

/** A client of one HTTP service of the mesh. */
export class HttpServiceClient {
  readonly protocol = 'http' as const;

  constructor(
    readonly service: string,
    private readonly outboundPort: number,
    private readonly traceLog: boolean,
  ) {}

  post<T = unknown>(path: string, body: unknown, opts: HttpRequestOptions = {}): Promise<HttpResult<T>> {
    return this.request<T>('POST', path, body, opts);
  }

  get<T = unknown>(path: string, opts: HttpRequestOptions = {}): Promise<HttpResult<T>> {
    return this.request<T>('GET', path, undefined, opts);
  }

  request<T = unknown>(method: string, path: string, body: unknown, opts: HttpRequestOptions = {}): Promise<HttpResult<T>> {
    if (opts.timeoutMs !== undefined && !(opts.timeoutMs > 0)) return Promise.reject(new RangeError(`timeoutMs must be a positive number, not ${opts.timeoutMs}`));
    const trace = traceForOutgoingCall();
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string | number> = {
      ...opts.headers,
      host: this.service,
      // Envoy keeps an internal caller's request id: the whole chain shares it.
      [REQUEST_ID_HEADER]: trace,
      ...(payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {}),
      // One deadline: the sidecar gives up at the same moment (504, meshError 'timeout').
      ...(opts.timeoutMs !== undefined ? { [TIMEOUT_HEADER]: String(Math.max(1, Math.floor(opts.timeoutMs))) } : {}),
    };
    const started = performance.now();
    const target = `http://${this.service}${path}`;
    const log = (outcome: string, id: string): number => {
      const elapsedMs = performance.now() - started;
      if (this.traceLog) process.stderr.write(traceLine(id, target, method, outcome, elapsedMs));
      return elapsedMs;
    };
    return new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: this.outboundPort, method, path, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          if ((res.headers['content-type'] ?? '').includes('json')) {
            try {
              parsed = JSON.parse(text);
            } catch {
              /* keep the text */
            }
          }
          const id = sanitizeTrace(res.headers[TRACE_HEADER]) ?? trace;
          const marked = String(res.headers['x-mesh-error'] ?? '');
          const meshError = MESH_ERRORS.includes(marked) ? (marked as MeshErrorKind) : undefined;
          const outcome = meshError ? `${res.statusCode} ${meshError}` : String(res.statusCode);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed as T, trace: id, elapsedMs: log(outcome, id), ...(meshError ? { meshError } : {}) });
        });
      });
      if (opts.timeoutMs !== undefined) {
        const deadline = opts.timeoutMs;
        req.setTimeout(deadline + DEADLINE_GRACE_MS, () => req.destroy(Object.assign(new Error(`no answer within ${deadline} ms (not even the sidecar's)`), { code: 'ETIMEDOUT' })));
      }
      req.on('error', (err: NodeJS.ErrnoException) => {
        // Same codes as gRPC, so callers handle both kinds of service alike.
        const timeout = err.code === 'ETIMEDOUT';
        const name = timeout ? 'DEADLINE_EXCEEDED' : 'UNAVAILABLE';
        const details = timeout ? err.message : `the local sidecar (127.0.0.1:${this.outboundPort}) is unreachable: ${err.code ?? err.message}`;
        reject(new MeshCallError(timeout ? 4 : 14, name, details, trace, log(name, trace)));
      });
      req.end(payload);
    });
  }
}

/**
 * Wraps an HTTP request handler of an app behind a sidecar: it runs inside the
 * trace context of the request (the sidecar's `x-request-id`), the response
 * carries `x-trace`, and the caller's SPIFFE ID (from the sidecar's
 * `x-forwarded-client-cert`) is available through `mesh.context()`.
 */
export function httpHandler(fn: (req: http.IncomingMessage, res: http.ServerResponse) => void | Promise<void>): http.RequestListener {
  return (req, res) => {
    const trace = sanitizeTrace(req.headers[REQUEST_ID_HEADER]) ?? sanitizeTrace(req.headers[TRACE_HEADER]) ?? newTraceId();
    const caller = /URI=(spiffe:\/\/[^;,\s]+)/.exec(String(req.headers['x-forwarded-client-cert'] ?? ''))?.[1];
    res.setHeader(TRACE_HEADER, trace);
    runWithTrace({ trace, ...(caller ? { caller } : {}) }, () =>
      Promise.resolve()
        .then(() => fn(req, res))
        .catch((err: unknown) => {
          if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: (err as Error).message ?? String(err) }));
        }),
    );
  };
}
