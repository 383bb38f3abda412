/**
 * Durations for `--validity` and `--threshold`: an integer or decimal number
 * followed by a unit (s, m, h, d, y), e.g. `24h`, `90m`, `365d`, `1.5h`.
 * A year is 365 days: certificate lifetimes do not care about leap years.
 */
import { PkiCode, pkiError } from './errors';

const UNIT_MS: Readonly<Record<string, number>> = {
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  y: 365 * 86_400_000,
};

export const HOUR_MS = UNIT_MS.h;
export const DAY_MS = UNIT_MS.d;

/** Parses `24h` into milliseconds; throws PKI008 for anything else (including 0 and negatives). */
export function parseDuration(text: string, flag = 'duration'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([smhdy])\s*$/.exec(text);
  const ms = m ? Math.round(Number(m[1]) * UNIT_MS[m[2]]) : NaN;
  if (!Number.isFinite(ms) || ms <= 0) {
    throw pkiError(PkiCode.badDuration, `invalid ${flag} '${text}': expected a positive number and a unit s, m, h, d or y (e.g. 24h)`);
  }
  return ms;
}

/** 90061000 -> "1d 1h 1m": for messages and the check table, not for parsing back. */
export function formatDuration(ms: number): string {
  const sign = ms < 0 ? '-' : '';
  let rest = Math.abs(ms);
  const parts: string[] = [];
  for (const unit of ['d', 'h', 'm'] as const) {
    const n = Math.floor(rest / UNIT_MS[unit]);
    rest -= n * UNIT_MS[unit];
    if (n > 0) parts.push(`${n}${unit}`);
  }
  return parts.length ? sign + parts.join(' ') : `${sign}${Math.floor(rest / 1000)}s`;
}
