export * from './types';
export { compareStrings, sortedBy, sortedStrings, uniqueSorted } from './sort';
