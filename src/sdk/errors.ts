/** Errors the SDK throws: a setup problem (files, control plane), or a failed call. */

/** Misconfiguration: a missing mesh file or certificate, an unknown service, a control plane that refuses. */
export class MeshSdkError extends Error {
  override readonly name = 'MeshSdkError';
}

/**
 * A call that did not succeed. For gRPC `code` is the status code and
 * `codeName` its name (`UNAVAILABLE`, `PERMISSION_DENIED`...); for HTTP only
 * transport failures and timeouts reject (an HTTP status is a result).
 */
export class MeshCallError extends Error {
  override readonly name = 'MeshCallError';
  constructor(
    readonly code: number,
    readonly codeName: string,
    readonly details: string,
    /** The trace id the call carried. */
    readonly trace: string,
    readonly elapsedMs: number,
  ) {
    super(`${codeName}: ${details}`);
  }
}
