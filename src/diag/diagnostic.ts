/**
 * Diagnostics are data: every stage returns its result plus a list of these.
 * Exceptions are reserved for bugs and I/O failures; user errors never throw.
 */
export type Severity = 'error' | 'warning' | 'info';

/** A 1-based position in a source file (line and column as editors show them). */
export interface SourcePos {
  readonly file: string;
  readonly line: number;
  readonly col: number;
  /** Optional end of the range, for SARIF and editors. */
  readonly endLine?: number;
  readonly endCol?: number;
}

export interface Diagnostic {
  readonly severity: Severity;
  /** Stable code, e.g. MESH012; documented in docs/diagnostics.md. */
  readonly code: string;
  readonly message: string;
  readonly file: string;
  readonly line: number;
  readonly col: number;
  readonly endLine?: number;
  readonly endCol?: number;
  /** Path inside the document (e.g. `circuit_breakers.grant-pay.max_failures`) when known. */
  readonly path?: string;
  /** How to fix it, when we know. */
  readonly hint?: string;
  /** The service the finding is about, whose manifest may acknowledge it (src/lint/acknowledge.ts). */
  readonly subject?: string;
}

export function hasErrors(diags: readonly Diagnostic[]): boolean {
  return diags.some((d) => d.severity === 'error');
}

/** Diagnostics are printed sorted by file, line, column, then code, so output is stable. */
export function sortDiagnostics(diags: readonly Diagnostic[]): Diagnostic[] {
  return [...diags].sort(
    (a, b) =>
      cmp(a.file, b.file) || a.line - b.line || a.col - b.col || cmp(a.code, b.code) || cmp(a.message, b.message),
  );
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function diagAt(
  pos: SourcePos,
  severity: Severity,
  code: string,
  message: string,
  extra: { path?: string; hint?: string; subject?: string } = {},
): Diagnostic {
  const d: Diagnostic = {
    severity,
    code,
    message,
    file: pos.file,
    line: pos.line,
    col: pos.col,
    ...(pos.endLine !== undefined ? { endLine: pos.endLine, endCol: pos.endCol } : {}),
    ...(extra.path !== undefined ? { path: extra.path } : {}),
    ...(extra.hint !== undefined ? { hint: extra.hint } : {}),
    ...(extra.subject !== undefined ? { subject: extra.subject } : {}),
  };
  return d;
}
