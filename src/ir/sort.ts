/**
 * Ordering helpers. We compare by UTF-16 code units (`<`), never with
 * localeCompare: the output must be byte-identical on every machine and locale.
 */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A new array sorted by the string key; the input is not touched. */
export function sortedBy<T>(items: readonly T[], key: (item: T) => string): T[] {
  return [...items].sort((a, b) => compareStrings(key(a), key(b)));
}

export function sortedStrings(items: readonly string[]): string[] {
  return [...items].sort(compareStrings);
}

/** Sorted and without duplicates. */
export function uniqueSorted(items: Iterable<string>): string[] {
  return [...new Set(items)].sort(compareStrings);
}
