/**
 * The one place that turns text into a version for out/: sha256, first 16 hex
 * digits. (On the wire the xDS server versions resources by a hash of their
 * deterministic protobuf bytes instead: src/xds/prepared.ts.)
 */
import { createHash } from 'node:crypto';

export const VERSION_HEX_LENGTH = 16;

export function textHash(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex').slice(0, VERSION_HEX_LENGTH);
}
