/**
 * The one place that turns text into a version for out/: sha256, first 16 hex
 * digits. (On the wire the xDS server versions resources by a hash of their
 * deterministic protobuf bytes instead: src/xds/prepared.ts.)
 */
import * as crypto from 'node:crypto';

export const VERSION_HEX_LENGTH = 16;

// crypto.hash (Node >= 20.12) is the one-shot form: no Hash object per call, which
// matters for the ~200,000 resources of a 10,000-service build.
const oneShot = (crypto as { hash?: (alg: string, data: string, enc: 'hex') => string }).hash;

export function textHash(text: string): string {
  const hex = oneShot ? oneShot('sha256', text, 'hex') : crypto.createHash('sha256').update(text, 'utf8').digest('hex');
  return hex.slice(0, VERSION_HEX_LENGTH);
}
