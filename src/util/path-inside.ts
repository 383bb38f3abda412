import * as path from 'node:path';

/** `child` is `parent` or below it (both absolute, already resolved as the caller needs). */
export function isInside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}
