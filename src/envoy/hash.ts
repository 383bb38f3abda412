/**
 * The one place that turns content into a version. Today: sha256 of the
 * stable JSON text, first 16 hex digits. The validate stage will offer a
 * deterministic protobuf encoder; swapping this function to hash the encoded
 * bytes changes every version at once and nothing else.
 */
import { createHash } from 'node:crypto';
import { stableStringify } from './stable-json';

export const VERSION_HEX_LENGTH = 16;

export function contentHash(value: unknown): string {
  return textHash(stableStringify(value));
}

export function textHash(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex').slice(0, VERSION_HEX_LENGTH);
}
