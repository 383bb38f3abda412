/**
 * What of a user's value or a node's text may be printed. Diagnostics quote
 * values so that the user finds them; a file may be something else entirely
 * (a symlink to a token or a key), and a node's NACK message is whatever the
 * node sent. So: a short excerpt, control characters escaped (no terminal
 * escape sequence reaches the operator), and nothing that looks like a secret.
 */

import { containsKeyMaterial } from '../pki/fs-secure';

/** Longest excerpt of a value quoted in a message. */
export const EXCERPT_CHARS = 24;

/** Tokens and credentials; key material is recognised as the PKI store recognises it (containsKeyMaterial). */
const SECRET_PATTERNS: readonly RegExp[] = [
  /-----BEGIN [A-Z0-9 ]+-----/, // any PEM block
  /\b(npm_|ghp_|gho_|ghu_|ghs_|ghr_|github_pat_|glpat-|xox[abprs]-|sk_live_|sk-|AKIA|ASIA)[A-Za-z0-9_-]{8,}/,
  /\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/, // a JWT
  /(_authToken|password|passwd|secret|token|api[_-]?key)\s*[=:]/i,
  /(?=[A-Za-z0-9+/]*[0-9])(?=[A-Za-z0-9+/]*[A-Z])(?=[A-Za-z0-9+/]*[a-z])[A-Za-z0-9+/]{40,}/, // long base64 of mixed case and digits: key material or a token
  /\b(?=[0-9a-f]*[0-9])(?=[0-9a-f]*[a-f])[0-9a-f]{40,}\b/i, // long hex: a key or a token
];

/** Does `text` look like it holds a credential or key material? */
export function looksSecret(text: string): boolean {
  // The head is enough to tell, and keeps the look-aheads linear-ish on a 100 KB value.
  const head = text.length > 4096 ? text.slice(0, 4096) : text;
  return containsKeyMaterial(head) || SECRET_PATTERNS.some((re) => re.test(head));
}

/** Control characters (C0, DEL, C1) and line/paragraph separators as visible escapes. */
export function escapeControls(text: string, keepNewlines = false): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => {
    if (keepNewlines && c === '\n') return c;
    if (c === '\n') return '\\n';
    if (c === '\r') return '\\r';
    if (c === '\t') return '\\t';
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** A quoted, sanitized excerpt of a string value for a message. */
export function excerpt(value: string): string {
  if (looksSecret(value)) return `(a value of ${value.length} characters that looks like a secret; not shown)`;
  const chars = [...value];
  const short = chars.length > EXCERPT_CHARS ? `${chars.slice(0, EXCERPT_CHARS).join('')}…` : value;
  return `"${escapeControls(short).replace(/"/g, '\\"')}"`;
}
