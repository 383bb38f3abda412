/** `--header k=v` (or `k: v`) flags -> request headers, names lowercased as HTTP/2 sends them. */
import { UserError } from '../../diag/errors';

export function parseHeaderFlags(flags: readonly string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const flag of flags) {
    const m = /^([^=:\s]+)\s*[=:]\s*(.*)$/.exec(flag);
    if (!m) throw new UserError('MESH111', `--header "${flag}" is not name=value`);
    headers[m[1].toLowerCase()] = m[2];
  }
  return headers;
}
